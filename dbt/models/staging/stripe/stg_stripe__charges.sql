{#- Stripe charges, one row each. Amounts: `amount` in the charge's currency (minor units by the
    currency's exponent), `settled_amount` what reached the account, in its currency. -#}

with

source as (

    select * from {{ source('cleansed_stripe', 'charges') }}

),

latest as (

    {{ latest_version('source') }}

),

renamed as (

    select
        record_id,
        charge_id,
        customer_id,
        status,
        paid,
        refunded,
        amount_minor,
        currency,
        amount,
        settled_amount_minor,
        settled_currency,
        settled_amount,
        billing_email,
        billing_name,
        description,
        created_at,
        updated_at,
        partition_date,

    from latest

)

select * from renamed
