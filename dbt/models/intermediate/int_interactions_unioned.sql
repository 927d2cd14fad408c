{#-
    The cross-channel timeline: one row per thing a person did, tied to the identity candidate
    (int_identity_candidates.record_id) who did it. Each source contributes its interactions from
    its own folder (a model declaring `meta.cdp_contributes: interactions`, see
    union_contributions). Clients are attached downstream, in client_interactions, so that this
    model does not depend on identity_map and sentiment can be scored from it before identities
    are resolved.
-#}

with

unioned as (

    {{ union_contributions('interactions') }}

),

final as (

    select
        interaction_id,
        person_record_id,
        channel,
        interaction_type,
        occurred_at,
        text,
        context_text,
        amount,

    from unioned

)

select * from final
