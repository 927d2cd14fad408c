with

source as (

    select * from {{ source('cleansed_google_analytics', 'user_daily_activity') }}

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
        activity_date,
        ga_client_id,
        crm_id,
        source_medium,
        sessions,
        engaged_sessions,
        page_views,
        conversions,
        revenue,
        updated_at,
        partition_date,

    from latest

)

select * from renamed
