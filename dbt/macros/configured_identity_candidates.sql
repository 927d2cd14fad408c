{#- The identity candidates of the sources declared in YAML files (CDP_SOURCES_DIR): one table per
    cleansed entity in the schema identity_candidates, written by the Dagster assets
    identity_candidates/<source>/<entity> (cdp_platform/sources/yaml_source_candidates.py) in the
    columns of int_identity_candidates. Those sources are configured when the code location loads,
    after this project was parsed, so the tables are found when the model runs, not named here;
    Dagster makes the model depend on their assets. Without any, this adds nothing. -#}
{% macro configured_identity_candidates() -%}
    {%- set tables = [] -%}
    {%- if execute -%}
        {%- set found = run_query(
            "select table_name from information_schema.tables"
            " where table_schema = 'identity_candidates' and table_catalog = '" ~ target.database ~ "'"
            " order by table_name"
        ) -%}
        {%- set tables = found.columns[0].values() -%}
    {%- endif -%}
    {%- for table in tables %}
    union all by name
    select * from {{ adapter.quote(target.database) }}.identity_candidates.{{ adapter.quote(table) }}
    {%- endfor %}
{%- endmacro %}
