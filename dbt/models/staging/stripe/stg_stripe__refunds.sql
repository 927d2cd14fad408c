{#- Stripe refunds, one row each, in the refunded charge's currency. -#}

with

source as (

    select * from {{ source('cleansed_stripe', 'refunds') }}

),

latest as (

    {{ latest_version('source') }}

),

renamed as (

    select
        record_id,
        refund_id,
        charge_id,
        status,
        reason,
        amount_minor,
        currency,
        amount,
        created_at,
        updated_at,
        partition_date,

    from latest

)

select * from renamed
