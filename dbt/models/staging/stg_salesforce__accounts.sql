with

source as (

    select * from {{ source('cleansed_salesforce', 'accounts') }}

),

latest as (

    {{ latest_version('source') }}

),

renamed as (

    select
        record_id,
        crm_id as account_id,
        account_name,
        account_type,
        industry,
        city,
        country,
        country_code,
        phone,
        phone_original,
        website,
        employees,
        is_deleted,
        created_at,
        last_modified_at,
        system_modstamp,
        updated_at,
        partition_date,

    from latest

)

select * from renamed
