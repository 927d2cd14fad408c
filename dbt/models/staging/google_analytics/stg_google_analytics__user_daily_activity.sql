with

source as (

    select * from {{ source('cleansed_google_analytics', 'user_daily_activity') }}

),

latest as (

    {{ latest_version('source') }}

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
