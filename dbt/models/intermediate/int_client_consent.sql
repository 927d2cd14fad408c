{#- Consent: the latest change wins. Of the client's CRM records that answer, the most recently
    changed one gives the flag, its source and its time, so opting back in (or out) in either CRM
    takes effect. On the same instant the opt-out wins: when in doubt, do not email. -#}

with

crm_records as (

    select * from {{ ref('int_client_crm_records') }}

),

consent as (
    {{ survivorship(
        'crm_records',
        ['email_opt_out'],
        ['email_opt_out', 'source as email_opt_out_source', 'changed_at as email_opt_out_at'],
        order_by=['changed_at desc nulls last', 'email_opt_out desc', 'source'],
    ) }}
)

select * from consent
