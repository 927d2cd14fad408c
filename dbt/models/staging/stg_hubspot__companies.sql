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
        country,
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
