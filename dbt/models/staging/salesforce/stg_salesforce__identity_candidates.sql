{#- Salesforce's people for identity resolution (int_identity_candidates): every live contact and
    lead, one candidate each. Deleted records are no longer anybody's profile. -#}

with

contacts as (

    select * from {{ ref('stg_salesforce__contacts') }}
    where not coalesce(is_deleted, false)

),

leads as (

    select * from {{ ref('stg_salesforce__leads') }}
    where not coalesce(is_deleted, false)

),

contact_candidates as (

    select
        {{ record_key_prefix('salesforce', 'contacts') }} || record_id as record_id,
        'salesforce/contacts' as source,
        {{ person_details() }}
        contact_id as crm_id,
        {{ person_handles() }}
        created_at as first_seen_at,
        coalesce(last_modified_at, updated_at) as last_seen_at,

    from contacts

),

lead_candidates as (

    select
        {{ record_key_prefix('salesforce', 'leads') }} || record_id as record_id,
        'salesforce/leads' as source,
        {{ person_details(without=['date_of_birth']) }}
        lead_id as crm_id,
        {{ person_handles() }}
        created_at as first_seen_at,
        coalesce(last_modified_at, updated_at) as last_seen_at,

    from leads

)

select * from contact_candidates
union all by name
select * from lead_candidates
