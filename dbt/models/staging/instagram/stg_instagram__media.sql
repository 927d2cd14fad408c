with

source as (

    select * from {{ source('cleansed_instagram', 'media') }}

),

latest as (

    {{ latest_version('source') }}

),

renamed as (

    select
        record_id,
        media_id,
        text,
        media_type,
        permalink,
        like_count,
        comments_count,
        created_at,
        updated_at,
        partition_date,

    from latest

)

select * from renamed
