{#- Instagram's part of the timeline (int_interactions_unioned): comments on the account's media,
    by their commenter, with the medium's caption as context. -#}

with

comments as (

    select * from {{ ref('stg_instagram__media_comments') }}
    where instagram_username is not null

),

media as (

    select * from {{ ref('stg_instagram__media') }}

),

comment_interactions as (

    select
        {{ record_key_prefix('instagram', 'media_comments') }} || comments.record_id as interaction_id,
        {{ record_key_prefix('instagram', 'commenters') }} || comments.instagram_username as person_record_id,
        'instagram' as channel,
        'instagram_comment' as interaction_type,
        comments.created_at as occurred_at,
        comments.text,
        media.text as context_text,

    from comments
    left join media
        on comments.media_id = media.media_id

)

select * from comment_interactions
