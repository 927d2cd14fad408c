{#- One row per client (every client_id of identity_map): the golden record. Each part is an
    intermediate model (survivorship, identifiers, CRM facts, consent, web activity, social
    engagement, purchases) or a Python asset (scores); this model only joins them. Columns are
    listed, not taken with `*`, so a column added to an intermediate model does not change the
    mart's contract by itself. -#}

{%- set golden_columns = [
    'first_name', 'last_name', 'full_name', 'name_source', 'email', 'email_source', 'phone',
    'phone_source', 'street', 'city', 'postcode', 'country', 'address_source', 'date_of_birth',
] %}
{#- The lists of every record, source and identifier (identifier_columns). -#}
{%- set identifier_lists = [] %}
{%- for column in ['record_id', 'source'] + identifier_columns() %}
    {%- do identifier_lists.append(column ~ 's') %}
{%- endfor %}
{%- set crm_columns = [
    'account_id', 'account_name', 'account_source', 'account_industry', 'lifecycle_stage',
    'lead_status', 'lead_source',
] %}
{%- set web_metrics = ['sessions', 'engaged_sessions', 'page_views', 'conversions', 'revenue'] %}
{%- set social_counts = [] %}
{%- for _, column in interaction_counts() %}{% do social_counts.append(column) %}{% endfor %}
{%- set score_columns = ['p_alive', 'churn_probability', 'expected_purchases_90d', 'expected_average_value', 'clv_12m'] %}

with

clients as (

    select distinct client_id from {{ source('identity', 'identity_map') }}

),

final as (

    select
        clients.client_id,
        identifiers.is_identified,
        {%- for column in golden_columns %}
        golden.{{ column }},
        {%- endfor %}
        {%- for column in identifier_lists %}
        identifiers.{{ column }},
        {%- endfor %}
        {%- for column in crm_columns %}
        crm_facts.{{ column }},
        {%- endfor %}
        consent.email_opt_out,
        consent.email_opt_out_source,
        consent.email_opt_out_at,
        identifiers.first_seen_at,
        identifiers.last_seen_at,
        web.web_activity_as_of,
        {%- for window in ['30d', '90d', 'lifetime'] %}{% for metric in web_metrics %}
        web.{{ metric }}_{{ window }},
        {%- endfor %}{% endfor %}
        web.last_web_activity_date,
        {%- for column in social_counts %}
        coalesce(social.{{ column }}, 0) as {{ column }},
        {%- endfor %}
        social.average_sentiment,
        coalesce(social.scored_texts, 0) as scored_texts,
        coalesce(purchases.purchases, 0) as purchases,
        coalesce(purchases.purchases_total, 0) as purchases_total,
        purchases.first_purchase_at,
        purchases.last_purchase_at,
        purchases.average_purchase_value,
        {%- for column in score_columns %}
        scores.{{ column }},
        {%- endfor %}

    from clients
    left join {{ ref('int_client_identifiers') }} as identifiers on clients.client_id = identifiers.client_id
    left join {{ ref('int_client_golden_record') }} as golden on clients.client_id = golden.client_id
    left join {{ ref('int_client_crm_facts') }} as crm_facts on clients.client_id = crm_facts.client_id
    left join {{ ref('int_client_consent') }} as consent on clients.client_id = consent.client_id
    left join {{ ref('int_client_web_activity') }} as web on clients.client_id = web.client_id
    left join {{ ref('int_client_social_engagement') }} as social on clients.client_id = social.client_id
    left join {{ ref('int_client_purchase_facts') }} as purchases on clients.client_id = purchases.client_id
    left join {{ source('predictive', 'client_scores') }} as scores on clients.client_id = scores.client_id

)

select * from final
