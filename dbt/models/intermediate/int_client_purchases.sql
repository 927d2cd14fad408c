{#-
    Every purchase (a won Salesforce opportunity, a won HubSpot deal, or a succeeded Stripe charge
    net of its refunds) with the client of its buyer,
    the input of the predictive asset client_scores. A purchase whose buyer is not in identity_map
    (a contact deleted since, or not resolved yet) is kept with a null client_id, so revenue is
    never dropped silently; client_scores reads only attributed rows.
-#}

with

interactions as (

    select * from {{ ref('int_interactions_unioned') }}
    where interaction_type = 'purchase'

),

{#- Stripe: what the account kept of each succeeded charge. Refunds are in the charge's currency,
    so they take their share of the settled amount; a charge refunded in full is no purchase. -#}
stripe_refunded as (

    select
        charge_id,
        sum(amount_minor) as refunded_minor,

    from {{ ref('stg_stripe__refunds') }}
    where status = 'succeeded'
    group by charge_id

),

stripe_purchases as (

    select
        'stripe:charges:' || charges.record_id as interaction_id,
        'stripe:customers:' || charges.customer_id as person_record_id,
        'stripe' as channel,
        charges.created_at as occurred_at,
        round(
            charges.settled_amount
            * (charges.amount_minor - coalesce(stripe_refunded.refunded_minor, 0))
            / charges.amount_minor,
            2
        )::decimal(18, 2) as amount,

    from {{ ref('stg_stripe__charges') }} as charges
    left join stripe_refunded
        on charges.record_id = stripe_refunded.charge_id
    where charges.status = 'succeeded'
        and charges.customer_id is not null
        and charges.settled_amount is not null
        and charges.amount_minor > coalesce(stripe_refunded.refunded_minor, 0)

),

purchases as (

    select interaction_id, person_record_id, channel, occurred_at, amount from interactions
    union all
    select interaction_id, person_record_id, channel, occurred_at, amount from stripe_purchases

),

identity_map as (

    select * from {{ source('identity', 'identity_map') }}

),

attributed as (

    select
        identity_map.client_id,
        purchases.occurred_at as purchased_at,
        purchases.amount,
        purchases.channel as source,
        purchases.interaction_id as record_id,
        purchases.person_record_id,

    from purchases
    left join identity_map
        on purchases.person_record_id = identity_map.record_id

)

select * from attributed
