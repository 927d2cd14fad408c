{#- HubSpot's part of the timeline (int_interactions_unioned): every won, live deal with a contact
    is a purchase by that contact. A deal is closed on a date; without one, its last change is when
    it was won. -#}

with

deals as (

    select * from {{ ref('stg_hubspot__deals') }}
    where is_won
        and not coalesce(is_deleted, false)
        and contact_id is not null

),

purchases as (

    select
        {{ record_key_prefix('hubspot', 'deals') }} || record_id as interaction_id,
        {{ record_key_prefix('hubspot', 'contacts') }} || contact_id as person_record_id,
        'hubspot' as channel,
        'purchase' as interaction_type,
        coalesce({{ utc_midnight('close_date') }}, last_modified_at, updated_at) as occurred_at,
        amount::decimal(18, 2) as amount,

    from deals

)

select * from purchases
