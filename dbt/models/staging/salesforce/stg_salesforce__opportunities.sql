with

source as (

    select * from {{ source('cleansed_salesforce', 'opportunities') }}

),

latest as (

    {{ latest_version('source') }}

),

renamed as (

    select
        record_id,
        crm_id as opportunity_id,
        opportunity_name,
        account_id,
        account_name,
        contact_id,
        amount,
        close_date,
        stage,
        probability,
        is_closed,
        is_won,
        opportunity_type,
        lead_source,
        is_deleted,
        created_at,
        last_modified_at,
        system_modstamp,
        updated_at,
        partition_date,

    from latest

)

select * from renamed
