{#- Salesforce's part of the timeline (int_interactions_unioned): every won, live opportunity with
    a contact is a purchase by that contact. A deal is closed on a date; without one, its last
    change is when it was won. -#}

with

opportunities as (

    select * from {{ ref('stg_salesforce__opportunities') }}
    where is_won
        and not coalesce(is_deleted, false)
        and contact_id is not null

),

purchases as (

    select
        {{ record_key_prefix('salesforce', 'opportunities') }} || record_id as interaction_id,
        {{ record_key_prefix('salesforce', 'contacts') }} || contact_id as person_record_id,
        'salesforce' as channel,
        'purchase' as interaction_type,
        coalesce({{ utc_midnight('close_date') }}, last_modified_at, updated_at) as occurred_at,
        amount::decimal(18, 2) as amount,

    from opportunities

)

select * from purchases
