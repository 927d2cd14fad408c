with

source as (

    select * from {{ source('cleansed_facebook', 'leads') }}

),

latest as (

    {{ latest_version('source') }}

),

renamed as (

    select
        record_id,
        lead_id,
        ad_id,
        form_id,
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
        -- ISO 3166-1 alpha-2 from the country as typed; the typed value stays as country_original,
        -- so a spelling the seed does not know stays visible (the country_is_mapped warning lists it).
        {{ country_code('country') }} as country,
        country as country_original,
        country_code,
        date_of_birth,
        created_at,
        updated_at,
        partition_date,

    from latest

)

select * from renamed
