{#- Stripe's part of the timeline (int_interactions_unioned): a succeeded charge is a purchase by
    its customer at what the account kept of it. Refunds are in the charge's currency, so they take
    their share of the settled amount; a charge refunded in full is no purchase. -#}

with

refunded as (

    select
        charge_id,
        sum(amount_minor) as refunded_minor,

    from {{ ref('stg_stripe__refunds') }}
    where status = 'succeeded'
    group by charge_id

),

purchases as (

    select
        {{ record_key_prefix('stripe', 'charges') }} || charges.record_id as interaction_id,
        {{ record_key_prefix('stripe', 'customers') }} || charges.customer_id as person_record_id,
        'stripe' as channel,
        'purchase' as interaction_type,
        charges.created_at as occurred_at,
        round(
            charges.settled_amount
            * (charges.amount_minor - coalesce(refunded.refunded_minor, 0))
            / charges.amount_minor,
            2
        )::decimal(18, 2) as amount,

    from {{ ref('stg_stripe__charges') }} as charges
    left join refunded
        on charges.record_id = refunded.charge_id
    where charges.status = 'succeeded'
        and charges.customer_id is not null
        and charges.settled_amount is not null
        and charges.amount_minor > coalesce(refunded.refunded_minor, 0)

)

select * from purchases
