with

source as (

    select * from {{ source('cleansed_hubspot', 'contacts') }}

),

latest as (

    {{ latest_version('source') }}

),

renamed as (

    select
        record_id,
        crm_id as contact_id,
        company_id,
        company as account_name,
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
        job_title as title,
        lifecycle_stage,
        email_opt_out,
        {{ person_handles() }}
        archived as is_deleted,
        created_at,
        last_modified_at,
        updated_at,
        partition_date,

    from latest

)

select * from renamed
