with

source as (

    select * from {{ source('cleansed_hubspot', 'deals') }}

),

latest as (

    {{ latest_version('source') }}

),

renamed as (

    select
        record_id,
        crm_id as deal_id,
        deal_name,
        contact_id,
        company_id,
        amount,
        close_date,
        stage,
        pipeline,
        is_won,
        archived as is_deleted,
        created_at,
        last_modified_at,
        updated_at,
        partition_date,

    from latest

)

select * from renamed
