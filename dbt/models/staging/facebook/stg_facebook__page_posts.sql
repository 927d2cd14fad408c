with

source as (

    select * from {{ source('cleansed_facebook', 'page_posts') }}

),

latest as (

    {{ latest_version('source') }}

),

renamed as (

    select
        record_id,
        post_id,
        text,
        created_at,
        updated_at,
        partition_date,

    from latest

)

select * from renamed
