with

source as (

    select * from {{ source('cleansed_salesforce', 'leads') }}

),

latest as (

    {{ latest_version('source') }}

),

renamed as (

    select
        record_id,
        crm_id as lead_id,
        first_name,
        last_name,
        full_name,
        company as account_name,
        title,
        email,
        email_original,
        phone,
        phone_original,
        street,
        city,
        postcode,
        country,
        country_code,
        lead_source,
        status as lead_status,
        is_converted,
        email_opt_out,
        twitter_handle,
        is_deleted,
        created_at,
        last_modified_at,
        system_modstamp,
        updated_at,
        partition_date,

    from latest

)

select * from renamed
