{#- Google Analytics' daily web activity for the profile's activity windows (int_client_web_activity):
    one row per visitor and day, by the visitor's identity candidate key. -#}

with

web_activity as (

    select * from {{ ref('stg_google_analytics__user_daily_activity') }}
    where ga_client_id is not null

),

visitor_days as (

    select
        {{ record_key_prefix('google_analytics', 'visitors') }} || ga_client_id as person_record_id,
        activity_date,
        sessions,
        engaged_sessions,
        page_views,
        conversions,
        revenue,

    from web_activity

)

select * from visitor_days
