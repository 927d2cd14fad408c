with

source as (

    select * from {{ source('cleansed_hubspot', 'deals') }}

),

latest as (

    select * from source
    qualify row_number() over (
        partition by record_id
        order by updated_at desc, partition_date desc
    ) = 1

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
