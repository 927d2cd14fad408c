{#- Facebook's part of the timeline (int_interactions_unioned): comments on the page's posts (with
    the post's message as context), by their commenter, and lead ad forms, by the lead. -#}

with

comments as (

    select * from {{ ref('stg_facebook__post_comments') }}
    where facebook_id is not null

),

posts as (

    select * from {{ ref('stg_facebook__page_posts') }}

),

leads as (

    select * from {{ ref('stg_facebook__leads') }}

),

comment_interactions as (

    select
        {{ record_key_prefix('facebook', 'post_comments') }} || comments.record_id as interaction_id,
        {{ record_key_prefix('facebook', 'commenters') }} || comments.facebook_id as person_record_id,
        'facebook' as channel,
        'facebook_comment' as interaction_type,
        comments.created_at as occurred_at,
        comments.text,
        posts.text as context_text,

    from comments
    left join posts
        on comments.post_id = posts.post_id

),

lead_forms as (

    select
        {{ record_key_prefix('facebook', 'leads') }} || record_id as interaction_id,
        {{ record_key_prefix('facebook', 'leads') }} || record_id as person_record_id,
        'facebook' as channel,
        'lead_form' as interaction_type,
        created_at as occurred_at,

    from leads

)

select * from comment_interactions
union all by name
select * from lead_forms
