{#-
    The timeline of every client across channels, with sentiment on texts.

    Incremental on interaction_id. Dagster runs it per daily partition with the window [min_date,
    max_date) (as CDP_TIMELINE_MIN_DATE and CDP_TIMELINE_MAX_DATE in its environment; by hand, the
    vars min_date and max_date): only interactions that occurred in the window are rebuilt, and
    those whose record changed client since they were written, and delete+insert on
    interaction_id replaces them, so a re-run of a window never doubles a row. Without a window (a
    plain `dbt build`) every interaction is rebuilt.
-#}

{{
    config(
        materialized='incremental',
        unique_key='interaction_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
    )
}}

{#- Dagster passes the window in the environment (CDP_TIMELINE_MIN_DATE / _MAX_DATE), which keeps
    dbt's partial parsing (vars on the command line make dbt parse the whole project again). -#}
{%- set min_date = var('min_date', none) or env_var('CDP_TIMELINE_MIN_DATE', '') or none -%}
{%- set max_date = var('max_date', none) or env_var('CDP_TIMELINE_MAX_DATE', '') or none -%}

with

interactions as (

    select * from {{ ref('int_interactions_unioned') }}
    {%- if min_date is not none and max_date is not none %}
    where (
        occurred_at >= {{ utc_midnight("'" ~ min_date ~ "'::date") }}
        and occurred_at < {{ utc_midnight("'" ~ max_date ~ "'::date") }}
    )
    {%- if is_incremental() %}
        -- With the window, every interaction whose record identity resolution has moved to
        -- another client since its row was written (a new record joined two clients): else a row
        -- outside the window keeps a client id the map no longer holds.
        or interaction_id in (
            select timeline.interaction_id
            from {{ this }} as timeline
            inner join {{ source('identity', 'identity_map') }} as current_map
                on timeline.person_record_id = current_map.record_id
            where timeline.client_id != current_map.client_id
        )
    {%- endif %}
    {%- endif %}

),

identity_map as (

    select * from {{ source('identity', 'identity_map') }}

),

sentiment as (

    select * from {{ source('predictive', 'interaction_sentiment') }}

),

joined as (

    select
        interactions.interaction_id,
        identity_map.client_id,
        interactions.person_record_id,
        interactions.channel,
        interactions.interaction_type,
        interactions.occurred_at,
        interactions.text,
        interactions.amount,
        sentiment.sentiment_compound,
        sentiment.sentiment_label,

    from interactions
    inner join identity_map
        on interactions.person_record_id = identity_map.record_id
    left join sentiment
        on interactions.interaction_id = sentiment.interaction_id

)

select * from joined
