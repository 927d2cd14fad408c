{#- Facebook's people for identity resolution (int_identity_candidates): each lead ad form is a
    person; a commenter appears on many comments and is folded to one candidate per facebook_id,
    with the latest name they used. -#}

with

leads as (

    select * from {{ ref('stg_facebook__leads') }}

),

comments as (

    select * from {{ ref('stg_facebook__post_comments') }}
    where facebook_id is not null

),

lead_candidates as (

    select
        {{ record_key_prefix('facebook', 'leads') }} || record_id as record_id,
        'facebook/leads' as source,
        {{ person_details() }}
        created_at as first_seen_at,
        created_at as last_seen_at,

    from leads

),

commenter_candidates as (

    select
        {{ record_key_prefix('facebook', 'commenters') }} || facebook_id as record_id,
        'facebook/post_comments' as source,
        arg_max(first_name, created_at) as first_name,
        arg_max(last_name, created_at) as last_name,
        arg_max(full_name, created_at) as full_name,
        facebook_id,
        min(created_at) as first_seen_at,
        max(created_at) as last_seen_at,

    from comments
    group by facebook_id

)

select * from lead_candidates
union all by name
select * from commenter_candidates
