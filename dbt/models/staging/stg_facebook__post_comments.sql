with

source as (

    select * from {{ source('cleansed_facebook', 'post_comments') }}

),

latest as (

    select * from source
    qualify row_number() over (
        partition by record_id
        order by updated_at desc, partition_date desc
    ) = 1

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
