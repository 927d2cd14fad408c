{#-
    The cross-channel timeline: one row per thing a person did, tied to the identity candidate
    (int_identity_candidates.record_id) who did it. Clients are attached downstream, in
    client_interactions, so that this model does not depend on identity_map and sentiment can be
    scored from it before identities are resolved.
-#}

with

web_activity as (

    select * from {{ ref('stg_google_analytics__user_daily_activity') }}
    where ga_client_id is not null

),

twitter_mentions as (

    select * from {{ ref('stg_twitter__mentions') }}
    where author_id is not null

),

facebook_comments as (

    select * from {{ ref('stg_facebook__post_comments') }}
    where facebook_id is not null

),

facebook_posts as (

    select * from {{ ref('stg_facebook__page_posts') }}

),

instagram_comments as (

    select * from {{ ref('stg_instagram__media_comments') }}
    where instagram_username is not null

),

instagram_media as (

    select * from {{ ref('stg_instagram__media') }}

),

facebook_leads as (

    select * from {{ ref('stg_facebook__leads') }}

),

salesforce_opportunities as (

    select * from {{ ref('stg_salesforce__opportunities') }}
    where is_won
        and not coalesce(is_deleted, false)
        and contact_id is not null

),

hubspot_deals as (

    select * from {{ ref('stg_hubspot__deals') }}
    where is_won
        and not coalesce(is_deleted, false)
        and contact_id is not null

),

web_session_days as (

    select
        'google_analytics:user_daily_activity:' || record_id as interaction_id,
        'google_analytics:visitors:' || ga_client_id as person_record_id,
        'google_analytics' as channel,
        'web_session_day' as interaction_type,
        {{ utc_midnight('activity_date') }} as occurred_at,
        null::varchar as text,
        revenue::decimal(18, 2) as amount,

    from web_activity

),

tweets as (

    select
        'twitter:mentions:' || record_id as interaction_id,
        'twitter:authors:' || author_id as person_record_id,
        'twitter' as channel,
        'tweet' as interaction_type,
        created_at as occurred_at,
        text,
        null::decimal(18, 2) as amount,

    from twitter_mentions

),

facebook_comment_interactions as (

    select
        'facebook:post_comments:' || facebook_comments.record_id as interaction_id,
        'facebook:commenters:' || facebook_comments.facebook_id as person_record_id,
        'facebook' as channel,
        'facebook_comment' as interaction_type,
        facebook_comments.created_at as occurred_at,
        facebook_comments.text,
        null::decimal(18, 2) as amount,
        facebook_posts.text as context_text,

    from facebook_comments
    left join facebook_posts
        on facebook_comments.post_id = facebook_posts.post_id

),

instagram_comment_interactions as (

    select
        'instagram:media_comments:' || instagram_comments.record_id as interaction_id,
        'instagram:commenters:' || instagram_comments.instagram_username as person_record_id,
        'instagram' as channel,
        'instagram_comment' as interaction_type,
        instagram_comments.created_at as occurred_at,
        instagram_comments.text,
        null::decimal(18, 2) as amount,
        instagram_media.text as context_text,

    from instagram_comments
    left join instagram_media
        on instagram_comments.media_id = instagram_media.media_id

),

lead_forms as (

    select
        'facebook:leads:' || record_id as interaction_id,
        'facebook:leads:' || record_id as person_record_id,
        'facebook' as channel,
        'lead_form' as interaction_type,
        created_at as occurred_at,
        null::varchar as text,
        null::decimal(18, 2) as amount,

    from facebook_leads

),

{#- A deal is closed on a date; without one, its last change is when it was won. -#}
salesforce_purchases as (

    select
        'salesforce:opportunities:' || record_id as interaction_id,
        'salesforce:contacts:' || contact_id as person_record_id,
        'salesforce' as channel,
        'purchase' as interaction_type,
        coalesce({{ utc_midnight('close_date') }}, last_modified_at, updated_at) as occurred_at,
        null::varchar as text,
        amount::decimal(18, 2) as amount,

    from salesforce_opportunities

),

hubspot_purchases as (

    select
        'hubspot:deals:' || record_id as interaction_id,
        'hubspot:contacts:' || contact_id as person_record_id,
        'hubspot' as channel,
        'purchase' as interaction_type,
        coalesce({{ utc_midnight('close_date') }}, last_modified_at, updated_at) as occurred_at,
        null::varchar as text,
        amount::decimal(18, 2) as amount,

    from hubspot_deals

),

{#- Stripe: a succeeded charge is a purchase at what the account kept of it. Refunds are in the
    charge's currency, so they take their share of the settled amount; a charge refunded in full
    is no purchase. -#}
stripe_refunded as (

    select
        charge_id,
        sum(amount_minor) as refunded_minor,

    from {{ ref('stg_stripe__refunds') }}
    where status = 'succeeded'
    group by charge_id

),

stripe_purchases as (

    select
        'stripe:charges:' || charges.record_id as interaction_id,
        'stripe:customers:' || charges.customer_id as person_record_id,
        'stripe' as channel,
        'purchase' as interaction_type,
        charges.created_at as occurred_at,
        null::varchar as text,
        round(
            charges.settled_amount
            * (charges.amount_minor - coalesce(stripe_refunded.refunded_minor, 0))
            / charges.amount_minor,
            2
        )::decimal(18, 2) as amount,

    from {{ ref('stg_stripe__charges') }} as charges
    left join stripe_refunded
        on charges.record_id = stripe_refunded.charge_id
    where charges.status = 'succeeded'
        and charges.customer_id is not null
        and charges.settled_amount is not null
        and charges.amount_minor > coalesce(stripe_refunded.refunded_minor, 0)

),

unioned as (

    select * from web_session_days
    union all by name
    select * from tweets
    union all by name
    select * from facebook_comment_interactions
    union all by name
    select * from instagram_comment_interactions
    union all by name
    select * from lead_forms
    union all by name
    select * from salesforce_purchases
    union all by name
    select * from hubspot_purchases
    union all by name
    select * from stripe_purchases

),

final as (

    select
        interaction_id,
        person_record_id,
        channel,
        interaction_type,
        occurred_at,
        text,
        context_text,
        amount,

    from unioned

)

select * from final
