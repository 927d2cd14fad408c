with

source as (

    select * from {{ source('cleansed_facebook', 'page_posts') }}

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
        post_id,
        text,
        created_at,
        updated_at,
        partition_date,

    from latest

)

select * from renamed
