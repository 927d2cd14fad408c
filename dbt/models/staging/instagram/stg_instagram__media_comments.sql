with

source as (

    select * from {{ source('cleansed_instagram', 'media_comments') }}

),

latest as (

    {{ latest_version('source') }}

),

renamed as (

    select
        record_id,
        comment_id,
        media_id,
        text,
        instagram_username,
        like_count,
        created_at,
        updated_at,
        partition_date,

    from latest

)

select * from renamed
