{#- HubSpot's CRM records for the profile's CRM facts and consent (int_client_crm_records): every
    live contact with its company, by its identity candidate key. -#}

with

contacts as (

    select
        {{ record_key_prefix('hubspot', 'contacts') }} || contacts.record_id as record_id,
        'hubspot/contacts' as source,
        contacts.company_id as account_id,
        coalesce(companies.account_name, contacts.account_name) as account_name,
        companies.industry as account_industry,
        contacts.lifecycle_stage,
        contacts.email_opt_out,
        coalesce(contacts.last_modified_at, contacts.updated_at) as changed_at,
    from {{ ref('stg_hubspot__contacts') }} as contacts
    left join {{ ref('stg_hubspot__companies') }} as companies
        on contacts.company_id = companies.company_id
    where not coalesce(contacts.is_deleted, false)

)

select * from contacts
