{#-
    One row per person-like record of every source: the input of identity resolution
    (asset identity_map). CRM records and Facebook lead ads are people one record each; social
    authors and web visitors appear on many rows of their source (one per comment, tweet or day), so
    they are folded to one candidate per platform id, carrying the latest name or handle they used.
    Deleted or archived CRM records are left out: they are no longer anybody's profile. The
    sources declared in YAML files add their candidates as they are (configured_identity_candidates).
-#}

with

salesforce_contacts as (

    select * from {{ ref('stg_salesforce__contacts') }}
    where not coalesce(is_deleted, false)

),

salesforce_leads as (

    select * from {{ ref('stg_salesforce__leads') }}
    where not coalesce(is_deleted, false)

),

hubspot_contacts as (

    select * from {{ ref('stg_hubspot__contacts') }}
    where not coalesce(is_deleted, false)

),

facebook_leads as (

    select * from {{ ref('stg_facebook__leads') }}

),

facebook_comments as (

    select * from {{ ref('stg_facebook__post_comments') }}
    where facebook_id is not null

),

instagram_comments as (

    select * from {{ ref('stg_instagram__media_comments') }}
    where instagram_username is not null

),

twitter_mentions as (

    select * from {{ ref('stg_twitter__mentions') }}
    where author_id is not null

),

web_activity as (

    select * from {{ ref('stg_google_analytics__user_daily_activity') }}
    where ga_client_id is not null

),

stripe_customers as (

    select * from {{ ref('stg_stripe__customers') }}
    where not is_deleted

),

salesforce_contact_candidates as (

    select
        'salesforce:contacts:' || record_id as record_id,
        'salesforce/contacts' as source,
        first_name,
        last_name,
        full_name,
        email,
        phone,
        date_of_birth,
        street,
        city,
        postcode,
        country,
        contact_id as crm_id,
        twitter_handle,
        instagram_username,
        null::varchar as facebook_id,
        null::varchar as ga_client_id,
        created_at as first_seen_at,
        coalesce(last_modified_at, updated_at) as last_seen_at,

    from salesforce_contacts

),

salesforce_lead_candidates as (

    select
        'salesforce:leads:' || record_id as record_id,
        'salesforce/leads' as source,
        first_name,
        last_name,
        full_name,
        email,
        phone,
        null::date as date_of_birth,
        street,
        city,
        postcode,
        country,
        lead_id as crm_id,
        twitter_handle,
        null::varchar as instagram_username,
        null::varchar as facebook_id,
        null::varchar as ga_client_id,
        created_at as first_seen_at,
        coalesce(last_modified_at, updated_at) as last_seen_at,

    from salesforce_leads

),

hubspot_contact_candidates as (

    select
        'hubspot:contacts:' || record_id as record_id,
        'hubspot/contacts' as source,
        first_name,
        last_name,
        full_name,
        email,
        phone,
        date_of_birth,
        street,
        city,
        postcode,
        country,
        contact_id as crm_id,
        twitter_handle,
        instagram_username,
        null::varchar as facebook_id,
        null::varchar as ga_client_id,
        created_at as first_seen_at,
        coalesce(last_modified_at, updated_at) as last_seen_at,

    from hubspot_contacts

),

facebook_lead_candidates as (

    select
        'facebook:leads:' || record_id as record_id,
        'facebook/leads' as source,
        first_name,
        last_name,
        full_name,
        email,
        phone,
        date_of_birth,
        street,
        city,
        postcode,
        country,
        null::varchar as crm_id,
        null::varchar as twitter_handle,
        null::varchar as instagram_username,
        null::varchar as facebook_id,
        null::varchar as ga_client_id,
        created_at as first_seen_at,
        created_at as last_seen_at,

    from facebook_leads

),

{#- A web shop customer as typed at checkout: email, card holder's name, phone, address. -#}
stripe_customer_candidates as (

    select
        'stripe:customers:' || record_id as record_id,
        'stripe/customers' as source,
        first_name,
        last_name,
        full_name,
        email,
        phone,
        null::date as date_of_birth,
        street,
        city,
        postcode,
        country,
        null::varchar as crm_id,
        null::varchar as twitter_handle,
        null::varchar as instagram_username,
        null::varchar as facebook_id,
        null::varchar as ga_client_id,
        created_at as first_seen_at,
        updated_at as last_seen_at,

    from stripe_customers

),

facebook_commenter_candidates as (

    select
        'facebook:commenters:' || facebook_id as record_id,
        'facebook/post_comments' as source,
        arg_max(first_name, created_at) as first_name,
        arg_max(last_name, created_at) as last_name,
        arg_max(full_name, created_at) as full_name,
        null::varchar as email,
        null::varchar as phone,
        null::date as date_of_birth,
        null::varchar as street,
        null::varchar as city,
        null::varchar as postcode,
        null::varchar as country,
        null::varchar as crm_id,
        null::varchar as twitter_handle,
        null::varchar as instagram_username,
        facebook_id,
        null::varchar as ga_client_id,
        min(created_at) as first_seen_at,
        max(created_at) as last_seen_at,

    from facebook_comments
    group by facebook_id

),

instagram_commenter_candidates as (

    select
        'instagram:commenters:' || instagram_username as record_id,
        'instagram/media_comments' as source,
        null::varchar as first_name,
        null::varchar as last_name,
        null::varchar as full_name,
        null::varchar as email,
        null::varchar as phone,
        null::date as date_of_birth,
        null::varchar as street,
        null::varchar as city,
        null::varchar as postcode,
        null::varchar as country,
        null::varchar as crm_id,
        null::varchar as twitter_handle,
        instagram_username,
        null::varchar as facebook_id,
        null::varchar as ga_client_id,
        min(created_at) as first_seen_at,
        max(created_at) as last_seen_at,

    from instagram_comments
    group by instagram_username

),

twitter_author_candidates as (

    select
        'twitter:authors:' || author_id as record_id,
        'twitter/mentions' as source,
        arg_max(first_name, created_at) as first_name,
        arg_max(last_name, created_at) as last_name,
        arg_max(full_name, created_at) as full_name,
        null::varchar as email,
        null::varchar as phone,
        null::date as date_of_birth,
        null::varchar as street,
        null::varchar as city,
        null::varchar as postcode,
        null::varchar as country,
        null::varchar as crm_id,
        arg_max(twitter_handle, created_at) as twitter_handle,
        null::varchar as instagram_username,
        null::varchar as facebook_id,
        null::varchar as ga_client_id,
        min(created_at) as first_seen_at,
        max(created_at) as last_seen_at,

    from twitter_mentions
    group by author_id

),

{#- A visitor who logged in on several days keeps the CRM contact of the latest login: a shared
    device is one visitor to GA, and the latest login is the person using it now. -#}
web_visitor_candidates as (

    select
        'google_analytics:visitors:' || ga_client_id as record_id,
        'google_analytics/user_daily_activity' as source,
        null::varchar as first_name,
        null::varchar as last_name,
        null::varchar as full_name,
        null::varchar as email,
        null::varchar as phone,
        null::date as date_of_birth,
        null::varchar as street,
        null::varchar as city,
        null::varchar as postcode,
        null::varchar as country,
        arg_max(crm_id, activity_date) filter (where crm_id is not null) as crm_id,
        null::varchar as twitter_handle,
        null::varchar as instagram_username,
        null::varchar as facebook_id,
        ga_client_id,
        {{ utc_midnight('min(activity_date)') }} as first_seen_at,
        {{ utc_midnight('max(activity_date)') }} as last_seen_at,

    from web_activity
    group by ga_client_id

),

unioned as (

    select * from salesforce_contact_candidates
    union all by name
    select * from salesforce_lead_candidates
    union all by name
    select * from hubspot_contact_candidates
    union all by name
    select * from facebook_lead_candidates
    union all by name
    select * from facebook_commenter_candidates
    union all by name
    select * from instagram_commenter_candidates
    union all by name
    select * from twitter_author_candidates
    union all by name
    select * from web_visitor_candidates
    union all by name
    select * from stripe_customer_candidates
    {{ configured_identity_candidates() }}

),

final as (

    select
        record_id,
        source,
        first_name,
        last_name,
        full_name,
        email,
        phone,
        date_of_birth,
        street,
        city,
        postcode,
        country,
        crm_id,
        twitter_handle,
        instagram_username,
        facebook_id,
        ga_client_id,
        first_seen_at,
        last_seen_at,

    from unioned

)

select * from final
