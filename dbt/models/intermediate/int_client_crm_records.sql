{#- Every live CRM record of a client with the facts the profile takes from CRMs and the record's
    last change: the input of the CRM facts (int_client_crm_facts) and of consent
    (int_client_consent). Each CRM contributes its records from its own folder (a model declaring
    `meta.cdp_contributes: crm_records`, keyed by the identity candidate's record_id). -#}

with

identity_map as (

    select * from {{ source('identity', 'identity_map') }}

),

contributed as (

    {{ union_contributions('crm_records') }}

),

crm_records as (

    select
        identity_map.client_id,
        contributed.source,
        contributed.account_id,
        contributed.account_name,
        contributed.account_industry,
        contributed.lifecycle_stage,
        contributed.lead_status,
        contributed.lead_source,
        contributed.email_opt_out,
        contributed.changed_at,
    from contributed
    inner join identity_map
        on identity_map.record_id = contributed.record_id

)

select * from crm_records
