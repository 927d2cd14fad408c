{#- Google Analytics' people for identity resolution (int_identity_candidates): a web visitor
    appears on one row per day and is folded to one candidate per ga_client_id. A visitor who
    logged in on several days keeps the CRM contact of the latest login: a shared device is one
    visitor to GA, and the latest login is the person using it now. -#}

with

web_activity as (

    select * from {{ ref('stg_google_analytics__user_daily_activity') }}
    where ga_client_id is not null

),

visitor_candidates as (

    select
        {{ record_key_prefix('google_analytics', 'visitors') }} || ga_client_id as record_id,
        'google_analytics/user_daily_activity' as source,
        arg_max(crm_id, activity_date) filter (where crm_id is not null) as crm_id,
        ga_client_id,
        {{ utc_midnight('min(activity_date)') }} as first_seen_at,
        {{ utc_midnight('max(activity_date)') }} as last_seen_at,

    from web_activity
    group by ga_client_id

)

select * from visitor_candidates
