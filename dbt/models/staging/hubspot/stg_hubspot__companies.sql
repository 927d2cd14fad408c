with

source as (

    select * from {{ source('cleansed_hubspot', 'companies') }}

),

latest as (

    {{ latest_version('source') }}

),

renamed as (

    select
        record_id,
        crm_id as company_id,
        company_name as account_name,
        domain as website,
        industry,
        city,
        -- ISO 3166-1 alpha-2 from the country as typed; the typed value stays as country_original,
        -- so a spelling the seed does not know stays visible (the country_is_mapped warning lists it).
        {{ country_code('country') }} as country,
        country as country_original,
        country_code,
        employees,
        phone,
        phone_original,
        archived as is_deleted,
        created_at,
        last_modified_at,
        updated_at,
        partition_date,

    from latest

)

select * from renamed
