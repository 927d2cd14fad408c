{#- Twitter's people for identity resolution (int_identity_candidates): an author appears on many
    mentions and is folded to one candidate per author_id, with the latest name and handle. -#}

with

mentions as (

    select * from {{ ref('stg_twitter__mentions') }}
    where author_id is not null

),

author_candidates as (

    select
        {{ record_key_prefix('twitter', 'authors') }} || author_id as record_id,
        'twitter/mentions' as source,
        arg_max(first_name, created_at) as first_name,
        arg_max(last_name, created_at) as last_name,
        arg_max(full_name, created_at) as full_name,
        arg_max(twitter_handle, created_at) as twitter_handle,
        min(created_at) as first_seen_at,
        max(created_at) as last_seen_at,

    from mentions
    group by author_id

)

select * from author_candidates
