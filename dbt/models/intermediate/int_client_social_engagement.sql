{#- One row per client with an interaction: the kinds of interaction the sources declare countable
    (meta.cdp_interaction_counts of their interactions: tweets, comments, lead forms) counted, and
    the mean sentiment of its texts. From the timeline itself rather than client_interactions, which holds
    only the partition windows built so far: the profile counts everything. -#}

with

interactions as (

    select * from {{ ref('int_interactions_unioned') }}

),

identity_map as (

    select * from {{ source('identity', 'identity_map') }}

),

sentiment as (

    select * from {{ source('predictive', 'interaction_sentiment') }}

),

social_facts as (

    select
        identity_map.client_id,
        {%- for interaction_type, column in interaction_counts() %}
        count(*) filter (where interactions.interaction_type = {{ sql_string(interaction_type) }}) as {{ column }},
        {%- endfor %}
        {#- In a fixed order: a sum of doubles depends on the order of its terms (by one unit in the
            last place), and the order rows reach an aggregate depends on the join plan. #}
        avg(sentiment.sentiment_compound order by interactions.interaction_id) as average_sentiment,
        count(sentiment.sentiment_compound) as scored_texts,
    from interactions
    inner join identity_map
        on interactions.person_record_id = identity_map.record_id
    left join sentiment
        on interactions.interaction_id = sentiment.interaction_id
    group by identity_map.client_id

)

select * from social_facts
