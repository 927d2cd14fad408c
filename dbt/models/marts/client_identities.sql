{#-
    Every identifier of every client, one row per (client, identifier type, value, record): the
    lookup table to find a client from an email, a phone, a CRM id, a handle or a device, with why
    the record belongs to the client (identity_map's link_rule, match_probability, link_evidence).
-#}

{%- set identifier_columns = identifier_columns() %}

with

candidates as (

    select * from {{ ref('int_identity_candidates') }}

),

identity_map as (

    select * from {{ source('identity', 'identity_map') }}

),

resolved as (

    select
        identity_map.client_id,
        identity_map.link_rule,
        identity_map.match_probability,
        identity_map.link_evidence,
        candidates.*,

    from candidates
    inner join identity_map
        on candidates.record_id = identity_map.record_id

),

unpivoted as (

    unpivot (
        select
            client_id,
            source,
            record_id,
            link_rule,
            match_probability,
            link_evidence,
            {%- for column in identifier_columns %}
            {{ column }},
            {%- endfor %}
        from resolved
    )
    on {{ identifier_columns | join(', ') }}
    into
        name identifier_type
        value identifier_value

),

final as (

    select distinct
        client_id,
        identifier_type,
        identifier_value,
        source,
        record_id,
        link_rule,
        match_probability,
        link_evidence,

    from unpivoted
    where identifier_value is not null

)

select * from final
