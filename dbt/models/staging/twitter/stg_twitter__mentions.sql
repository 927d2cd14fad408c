with

source as (

    select * from {{ source('cleansed_twitter', 'mentions') }}

),

latest as (

    {{ latest_version('source') }}

),

renamed as (

    select
        record_id,
        tweet_id,
        text,
        lang,
        author_id,
        twitter_handle,
        first_name,
        last_name,
        full_name,
        retweet_count,
        reply_count,
        like_count,
        quote_count,
        bookmark_count,
        impression_count,
        created_at,
        updated_at,
        partition_date,

    from latest

)

select * from renamed
