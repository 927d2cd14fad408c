{#- Every row the sources contribute to `union` (identity_candidates, interactions, crm_records,
    web_activity): the models that declare `config.meta.cdp_contributes: <union>` in their YAML,
    each with columns of the union's shape (see the intermediate model that reads it), stacked by
    column name: a contribution's columns may come in any order, and it leaves out those it has
    nothing for (null in the union), so a source never spells another's columns. The list comes
    from contributors() (dbt/macros/contributors.sql, generated from those declarations, because
    dbt infers refs while parsing, before the graph exists); an intermediate model never names a
    source.

    A union nobody contributes to is an error, not an empty table: it would be a profile without
    that part, built without complaint. -#}
{% macro union_contributions(union) -%}
    {%- set models = contributors(union) -%}
    {%- if models | length == 0 -%}
        {{ exceptions.raise_compiler_error("union_contributions(" ~ union ~ "): no model declares meta.cdp_contributes: " ~ union) }}
    {%- endif -%}
    {%- for name in models %}
    {% if not loop.first %}union all by name
    {% endif %}select * from {{ ref(name) }}
    {%- endfor %}
{%- endmacro %}
