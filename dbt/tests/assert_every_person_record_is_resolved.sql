{#-
    Reconciliation: every person-like record in staging has a client in identity_map, and that
    client's row in client_360 lists the record. Recomputes the candidate ids from the staging views
    (not from int_identity_candidates), so a person the candidates model drops by mistake fails
    here too. Each failing row says which step lost the record. An asset check of client_360 in
    Dagster (meta below), so it runs after identity_map was rebuilt from the latest candidates.
-#}
{{ config(meta={'dagster': {'ref': {'name': 'client_360'}}}) }}

with

salesforce_contacts as (

    select 'salesforce:contacts:' || record_id as record_id,
    from {{ ref('stg_salesforce__contacts') }}
    where not coalesce(is_deleted, false)

),

salesforce_leads as (

    select 'salesforce:leads:' || record_id as record_id,
    from {{ ref('stg_salesforce__leads') }}
    where not coalesce(is_deleted, false)

),

hubspot_contacts as (

    select 'hubspot:contacts:' || record_id as record_id,
    from {{ ref('stg_hubspot__contacts') }}
    where not coalesce(is_deleted, false)

),

facebook_leads as (

    select 'facebook:leads:' || record_id as record_id,
    from {{ ref('stg_facebook__leads') }}

),

facebook_commenters as (

    select distinct 'facebook:commenters:' || facebook_id as record_id,
    from {{ ref('stg_facebook__post_comments') }}
    where facebook_id is not null

),

instagram_commenters as (

    select distinct 'instagram:commenters:' || instagram_username as record_id,
    from {{ ref('stg_instagram__media_comments') }}
    where instagram_username is not null

),

twitter_authors as (

    select distinct 'twitter:authors:' || author_id as record_id,
    from {{ ref('stg_twitter__mentions') }}
    where author_id is not null

),

web_visitors as (

    select distinct 'google_analytics:visitors:' || ga_client_id as record_id,
    from {{ ref('stg_google_analytics__user_daily_activity') }}
    where ga_client_id is not null

),

person_records as (

    select * from salesforce_contacts
    union all
    select * from salesforce_leads
    union all
    select * from hubspot_contacts
    union all
    select * from facebook_leads
    union all
    select * from facebook_commenters
    union all
    select * from instagram_commenters
    union all
    select * from twitter_authors
    union all
    select * from web_visitors

),

identity_map as (

    select * from {{ source('identity', 'identity_map') }}

),

profiled_records as (

    select
        client_id,
        unnest(record_ids) as record_id,
    from {{ ref('client_360') }}

),

unresolved as (

    select
        person_records.record_id,
        case
            when identity_map.record_id is null then 'not in identity_map'
            else 'not in client_360'
        end as lost_at,
    from person_records
    left join identity_map
        on person_records.record_id = identity_map.record_id
    left join profiled_records
        on person_records.record_id = profiled_records.record_id
        and identity_map.client_id = profiled_records.client_id
    where profiled_records.record_id is null

)

select * from unresolved
