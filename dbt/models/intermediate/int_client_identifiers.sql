{#- One row per client that has a record: whether it names a person, every identifier of its
    records (sorted, distinct lists) and when it was first and last seen. -#}

with

client_records as (

    select * from {{ ref('int_client_records') }}

),

identifiers as (

    select
        client_id,
        {#- Identified: the client holds a record that names a person (a CRM or lead record, a
            social profile) or a web visitor who logged in. A client made only of anonymous web
            cookies is kept (its visits and purchases count) but is not yet a known person; which
            sources are anonymous, each says in its folder (meta.cdp_anonymous_sources). #}
        {%- set anonymous = contribution_meta('identity_candidates', 'cdp_anonymous_sources', kind='list') %}
        bool_or(
            {%- if anonymous %}
            source not in ({% for source in anonymous %}{{ sql_string(source) }}{{ ', ' if not loop.last }}{% endfor %})
            {%- else %}
            true
            {%- endif %}
            or crm_id is not null
        ) as is_identified,
        {%- for column in ['record_id', 'source'] + identifier_columns() %}
        list_sort(list_distinct(list({{ column }}))) as {{ column }}s,
        {%- endfor %}
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
    from client_records
    group by client_id

)

select * from identifiers
