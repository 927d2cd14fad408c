with

source as (

    select * from {{ source('cleansed_salesforce', 'contacts') }}

),

latest as (

    {{ latest_version('source') }}

),

renamed as (

    select
        record_id,
        crm_id as contact_id,
        account_id,
        account_name,
        first_name,
        last_name,
        full_name,
        email,
        email_original,
        phone,
        phone_original,
        date_of_birth,
        street,
        city,
        postcode,
        country,
        country_code,
        title,
        lead_source,
        email_opt_out,
        twitter_handle,
        instagram_username,
        is_deleted,
        created_at,
        last_modified_at,
        system_modstamp,
        updated_at,
        partition_date,

    from latest

)

select * from renamed
