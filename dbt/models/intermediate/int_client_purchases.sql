{#-
    Every purchase (an interaction of type purchase: a won CRM deal, a succeeded payment) with the
    client of its buyer, the input of the predictive asset client_scores. A purchase whose buyer is not in identity_map
    (a contact deleted since, or not resolved yet) is kept with a null client_id, so revenue is
    never dropped silently; client_scores reads only attributed rows.
-#}

with

interactions as (

    select * from {{ ref('int_interactions_unioned') }}
    where interaction_type = 'purchase'

),

identity_map as (

    select * from {{ source('identity', 'identity_map') }}

),

attributed as (

    select
        identity_map.client_id,
        interactions.occurred_at as purchased_at,
        interactions.amount,
        interactions.channel as source,
        interactions.interaction_id as record_id,
        interactions.person_record_id,

    from interactions
    left join identity_map
        on interactions.person_record_id = identity_map.record_id

)

select * from attributed
