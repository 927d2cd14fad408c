{#- HubSpot's people for identity resolution (int_identity_candidates): every live contact, one
    candidate each. Archived contacts are no longer anybody's profile. -#}

with

contacts as (

    select * from {{ ref('stg_hubspot__contacts') }}
    where not coalesce(is_deleted, false)

),

contact_candidates as (

    select
        {{ record_key_prefix('hubspot', 'contacts') }} || record_id as record_id,
        'hubspot/contacts' as source,
        {{ person_details() }}
        contact_id as crm_id,
        {{ person_handles() }}
        created_at as first_seen_at,
        coalesce(last_modified_at, updated_at) as last_seen_at,

    from contacts

)

select * from contact_candidates
