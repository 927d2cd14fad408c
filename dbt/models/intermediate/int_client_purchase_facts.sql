{#- One row per client with a purchase: how many, how much, when first and last, and the mean
    value. Purchases whose buyer is not resolved (a null client_id) are left out here. -#}

with

purchases as (

    select * from {{ ref('int_client_purchases') }}
    where client_id is not null

),

purchase_facts as (

    select
        client_id,
        count(*) as purchases,
        sum(amount) as purchases_total,
        min(purchased_at) as first_purchase_at,
        max(purchased_at) as last_purchase_at,
        avg(amount) as average_purchase_value,
    from purchases
    group by client_id

)

select * from purchase_facts
