{#- Google Analytics' part of the timeline (int_interactions_unioned): a visitor's day on the web
    site, with the day's revenue, by the visitor. -#}

with

web_activity as (

    select * from {{ ref('stg_google_analytics__user_daily_activity') }}
    where ga_client_id is not null

),

web_session_days as (

    select
        {{ record_key_prefix('google_analytics', 'user_daily_activity') }} || record_id as interaction_id,
        {{ record_key_prefix('google_analytics', 'visitors') }} || ga_client_id as person_record_id,
        'google_analytics' as channel,
        'web_session_day' as interaction_type,
        {{ utc_midnight('activity_date') }} as occurred_at,
        revenue::decimal(18, 2) as amount,

    from web_activity

)

select * from web_session_days
