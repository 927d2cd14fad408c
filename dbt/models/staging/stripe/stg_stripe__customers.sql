{#- Stripe customers, the latest version of each (a customer.updated event beats the listing). -#}

with

source as (

    select * from {{ source('cleansed_stripe', 'customers') }}

),

latest as (

    {{ latest_version('source') }}

),

renamed as (

    select
        record_id,
        customer_id,
        first_name,
        last_name,
        full_name,
        email,
        email_original,
        phone,
        phone_original,
        street,
        city,
        postcode,
        country,
        country_code,
        currency,
        coalesce(is_deleted, false) as is_deleted,
        created_at,
        updated_at,
        partition_date,

    from latest

)

select * from renamed
