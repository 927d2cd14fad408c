{#- Every live CRM record of a client (Salesforce contacts and leads, HubSpot contacts) with the
    facts the profile takes from CRMs and the record's last change: the input of the CRM facts
    (int_client_crm_facts) and of consent (int_client_consent). -#}

with

identity_map as (

    select * from {{ source('identity', 'identity_map') }}

),

crm_records as (

    select
        identity_map.client_id,
        'salesforce/contacts' as source,
        contacts.account_id,
        contacts.account_name,
        accounts.industry as account_industry,
        null::varchar as lifecycle_stage,
        null::varchar as lead_status,
        contacts.lead_source,
        contacts.email_opt_out,
        coalesce(contacts.last_modified_at, contacts.updated_at) as changed_at,
    from {{ ref('stg_salesforce__contacts') }} as contacts
    inner join identity_map
        on identity_map.record_id = 'salesforce:contacts:' || contacts.record_id
    left join {{ ref('stg_salesforce__accounts') }} as accounts
        on contacts.account_id = accounts.account_id
    where not coalesce(contacts.is_deleted, false)

    union all by name

    select
        identity_map.client_id,
        'salesforce/leads' as source,
        null::varchar as account_id,
        leads.account_name,
        null::varchar as account_industry,
        null::varchar as lifecycle_stage,
        leads.lead_status,
        leads.lead_source,
        leads.email_opt_out,
        coalesce(leads.last_modified_at, leads.updated_at) as changed_at,
    from {{ ref('stg_salesforce__leads') }} as leads
    inner join identity_map
        on identity_map.record_id = 'salesforce:leads:' || leads.record_id
    where not coalesce(leads.is_deleted, false)

    union all by name

    select
        identity_map.client_id,
        'hubspot/contacts' as source,
        contacts.company_id as account_id,
        coalesce(companies.account_name, contacts.account_name) as account_name,
        companies.industry as account_industry,
        contacts.lifecycle_stage,
        null::varchar as lead_status,
        null::varchar as lead_source,
        contacts.email_opt_out,
        coalesce(contacts.last_modified_at, contacts.updated_at) as changed_at,
    from {{ ref('stg_hubspot__contacts') }} as contacts
    inner join identity_map
        on identity_map.record_id = 'hubspot:contacts:' || contacts.record_id
    left join {{ ref('stg_hubspot__companies') }} as companies
        on contacts.company_id = companies.company_id
    where not coalesce(contacts.is_deleted, false)

)

select * from crm_records
