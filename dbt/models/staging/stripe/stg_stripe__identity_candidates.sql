{#- Stripe's people for identity resolution (int_identity_candidates): a web shop customer as
    typed at checkout (email, card holder's name, phone, address), one candidate each; deleted
    customers are left out. -#}

with

customers as (

    select * from {{ ref('stg_stripe__customers') }}
    where not is_deleted

),

customer_candidates as (

    select
        {{ record_key_prefix('stripe', 'customers') }} || record_id as record_id,
        'stripe/customers' as source,
        {{ person_details(without=['date_of_birth']) }}
        created_at as first_seen_at,
        updated_at as last_seen_at,

    from customers

)

select * from customer_candidates
