{#- Twitter's part of the timeline (int_interactions_unioned): every tweet mentioning the brand,
    by its author. -#}

with

mentions as (

    select * from {{ ref('stg_twitter__mentions') }}
    where author_id is not null

),

tweets as (

    select
        {{ record_key_prefix('twitter', 'mentions') }} || record_id as interaction_id,
        {{ record_key_prefix('twitter', 'authors') }} || author_id as person_record_id,
        'twitter' as channel,
        'tweet' as interaction_type,
        created_at as occurred_at,
        text,

    from mentions

)

select * from tweets
