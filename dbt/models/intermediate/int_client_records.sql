{#- Every candidate record of every client, with its source's priority: the input of survivorship
    (int_client_golden_record) and of the client's identifiers (int_client_identifiers). -#}

with

identity_map as (

    select * from {{ source('identity', 'identity_map') }}

),

candidates as (

    select * from {{ ref('int_identity_candidates') }}

),

{#- Lower is preferred; a source without a rank comes last (99). Each source ranks its own
    records in its folder (meta.cdp_source_priority of its identity candidates): the CRM a
    salesperson maintains, then marketing's CRM, then unconverted leads, then what people typed
    into a form, then public profiles (the order is documented in client_360.yml). -#}
{%- set priorities = contribution_meta('identity_candidates', 'cdp_source_priority') %}
source_priority as (

    {%- if priorities %}
    select * from (
        values
        {%- for source, priority in priorities | dictsort(by='value') %}
            ({{ sql_string(source) }}, {{ priority | int }}){{ ',' if not loop.last }}
        {%- endfor %}
    ) as priorities (source, priority)
    {%- else %}
    select null::varchar as source, null::integer as priority where false
    {%- endif %}

),

client_records as (

    select
        identity_map.client_id,
        candidates.*,
        coalesce(source_priority.priority, 99) as priority,

    from candidates
    inner join identity_map
        on candidates.record_id = identity_map.record_id
    left join source_priority
        on candidates.source = source_priority.source

)

select * from client_records
