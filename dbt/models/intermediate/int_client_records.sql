{#- Every candidate record of every client, with its source's priority: the input of survivorship
    (int_client_golden_record) and of the client's identifiers (int_client_identifiers). -#}

with

identity_map as (

    select * from {{ source('identity', 'identity_map') }}

),

candidates as (

    select * from {{ ref('int_identity_candidates') }}

),

{#- Lower is preferred: the CRM a salesperson maintains, then marketing's CRM, then unconverted
    leads, then what people typed into a form, then public profiles. -#}
source_priority as (

    select * from (
        values
            ('salesforce/contacts', 1),
            ('hubspot/contacts', 2),
            ('salesforce/leads', 3),
            ('facebook/leads', 4),
            ('twitter/mentions', 5),
            ('facebook/post_comments', 6),
            ('instagram/media_comments', 7),
            ('google_analytics/user_daily_activity', 8)
    ) as priorities (source, priority)

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
