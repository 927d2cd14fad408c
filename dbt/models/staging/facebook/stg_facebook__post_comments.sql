with

source as (

    select * from {{ source('cleansed_facebook', 'post_comments') }}

),

latest as (

    {{ latest_version('source') }}

),

renamed as (

    select
        record_id,
        comment_id,
        post_id,
        -- The comment this one replies to (null for a top-level comment): the comments edge is read
        -- with filter=stream, which returns replies too (API_FACTS, Graph comments).
        parent_comment_id,
        text,
        facebook_id,
        first_name,
        last_name,
        full_name,
        created_at,
        updated_at,
        partition_date,

    from latest

)

select * from renamed
