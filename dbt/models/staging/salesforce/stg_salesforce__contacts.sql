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
        -- ISO 3166-1 alpha-2 from the country as typed; the typed value stays as country_original,
        -- so a spelling the seed does not know stays visible (the country_is_mapped warning lists it).
        {{ country_code('country') }} as country,
        country as country_original,
        country_code,
        title,
        lead_source,
        email_opt_out,
        {{ person_handles() }}
        is_deleted,
        created_at,
        last_modified_at,
        system_modstamp,
        updated_at,
        partition_date,

    from latest

)

select * from renamed
