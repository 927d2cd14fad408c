{#- One row per client with a CRM record: each fact (account and its industry, lifecycle stage,
    lead status, lead source) from the client's most recently changed CRM record that has it.
    Facts survive one by one: the account may come from a contact, the lead status from a lead. -#}

with

crm_records as (

    select * from {{ ref('int_client_crm_records') }}

),

crm_facts as (

    select
        client_id,
        {{ most_recent('account_id') }} as account_id,
        {{ most_recent('account_name') }} as account_name,
        {{ most_recent('source', present='account_name') }} as account_source,
        {{ most_recent('account_industry') }} as account_industry,
        {{ most_recent('lifecycle_stage') }} as lifecycle_stage,
        {{ most_recent('lead_status') }} as lead_status,
        {{ most_recent('lead_source') }} as lead_source,
    from crm_records
    group by client_id

)

select * from crm_facts
