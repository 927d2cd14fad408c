{#-
    One row per person-like record of every source: the input of identity resolution
    (asset identity_map). Each source contributes its candidates from its own folder (a model
    declaring `meta.cdp_contributes: identity_candidates`, see union_contributions): people who are
    one record each (CRM contacts and leads, lead forms, shop customers), and authors or visitors
    folded to one candidate per platform id, carrying the latest name or handle they used. Deleted
    or archived records are left out by their source: they are no longer anybody's profile. The
    sources declared in YAML files add their candidates as they are (configured_identity_candidates).
-#}

with

unioned as (

    {{ union_contributions('identity_candidates') }}
    {{ configured_identity_candidates() }}

),

final as (

    select
        record_id,
        source,
        {{ person_details() }}
        crm_id,
        {%- for column in profile_identifiers() %}
        {{ column }},
        {%- endfor %}
        ga_client_id,
        first_seen_at,
        last_seen_at,

    from unioned

)

select * from final
