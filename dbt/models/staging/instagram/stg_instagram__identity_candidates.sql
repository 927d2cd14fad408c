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

    from comments
    group by instagram_username

)

select * from commenter_candidates
