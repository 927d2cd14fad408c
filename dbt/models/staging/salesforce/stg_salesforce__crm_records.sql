{#- Salesforce's CRM records for the profile's CRM facts and consent (int_client_crm_records):
    every live contact (with its Account's industry) and lead, by its identity candidate key. -#}

with

contacts as (

    select
        {{ record_key_prefix('salesforce', 'contacts') }} || contacts.record_id as record_id,
        'salesforce/contacts' as source,
        contacts.account_id,
        contacts.account_name,
        accounts.industry as account_industry,
        contacts.lead_source,
        contacts.email_opt_out,
        coalesce(contacts.last_modified_at, contacts.updated_at) as changed_at,
    from {{ ref('stg_salesforce__contacts') }} as contacts
    left join {{ ref('stg_salesforce__accounts') }} as accounts
        on contacts.account_id = accounts.account_id
    where not coalesce(contacts.is_deleted, false)

),

leads as (

    select
        {{ record_key_prefix('salesforce', 'leads') }} || leads.record_id as record_id,
        'salesforce/leads' as source,
        leads.account_name,
        leads.lead_status,
        leads.lead_source,
        leads.email_opt_out,
        coalesce(leads.last_modified_at, leads.updated_at) as changed_at,
    from {{ ref('stg_salesforce__leads') }} as leads
    where not coalesce(leads.is_deleted, false)

)

select * from contacts
union all by name
select * from leads
