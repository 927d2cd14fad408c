{#- Instagram's people for identity resolution (int_identity_candidates): a commenter appears on
    many comments and is folded to one candidate per username. -#}

with

comments as (

    select * from {{ ref('stg_instagram__media_comments') }}
    where instagram_username is not null

),

commenter_candidates as (

    select
        {{ record_key_prefix('instagram', 'commenters') }} || instagram_username as record_id,
        'instagram/media_comments' as source,
        instagram_username,
        min(created_at) as first_seen_at,
        max(created_at) as last_seen_at,

    from comments
    group by instagram_username

)

select * from commenter_candidates
