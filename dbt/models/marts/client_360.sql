{#-
    One row per client: the golden record. Survivorship (documented in client_360.yml): for each
    attribute block (name, email, phone, address) the value comes from one record, chosen by
    source priority, then recency (the record's last_seen_at), then completeness (how many parts
    of the block it fills), then record_id so the choice is deterministic.

    Web activity windows end on the var as_of (a date; default: the latest activity date in the
    data): the 30 and 90 days ending on as_of, and the lifetime up to as_of.
-#}

{%- set as_of = var('as_of', none) -%}

with

identity_map as (

    select * from {{ source('identity', 'identity_map') }}

),

candidates as (

    select * from {{ ref('int_identity_candidates') }}

),

interactions as (

    select * from {{ ref('int_interactions_unioned') }}

),

sentiment as (

    select * from {{ source('predictive', 'interaction_sentiment') }}

),

purchases as (

    select * from {{ ref('int_client_purchases') }}
    where client_id is not null

),

web_activity as (

    select * from {{ ref('stg_google_analytics__user_daily_activity') }}
    where ga_client_id is not null

),

salesforce_contacts as (

    select * from {{ ref('stg_salesforce__contacts') }}

),

salesforce_leads as (

    select * from {{ ref('stg_salesforce__leads') }}

),

hubspot_contacts as (

    select * from {{ ref('stg_hubspot__contacts') }}

),

hubspot_companies as (

    select * from {{ ref('stg_hubspot__companies') }}

),

salesforce_accounts as (

    select * from {{ ref('stg_salesforce__accounts') }}

),

scores as (

    select * from {{ source('predictive', 'client_scores') }}

),

{#- Lower is preferred: the CRM a salesperson maintains, then marketing's CRM, then unconverted
    leads, then what people typed into a form, then public profiles. -#}
source_priority as (

    select * from (
        values
            ('salesforce/contacts', 1),
            ('hubspot/contacts', 2),
            ('salesforce/leads', 3),
            ('facebook/leads', 4),
            ('twitter/mentions', 5),
            ('facebook/post_comments', 6),
            ('instagram/media_comments', 7),
            ('google_analytics/user_daily_activity', 8)
    ) as priorities (source, priority)

),

clients as (

    select distinct client_id from identity_map

),

client_records as (

    select
        identity_map.client_id,
        candidates.*,
        coalesce(source_priority.priority, 99) as priority,

    from candidates
    inner join identity_map
        on candidates.record_id = identity_map.record_id
    left join source_priority
        on candidates.source = source_priority.source

),

{#- Identified: the client holds a record that names a person (a CRM or lead record, a social
    profile) or a web visitor who logged in. A client made only of anonymous web cookies is kept
    (its visits and purchases count) but is not yet a known person. -#}
identified as (

    select
        client_id,
        bool_or(source <> 'google_analytics/user_daily_activity' or crm_id is not null) as is_identified,
    from client_records
    group by client_id

),

best_name as (

    select
        client_id,
        first_name,
        last_name,
        coalesce(full_name, nullif(concat_ws(' ', first_name, last_name), '')) as full_name,
        source as name_source,
    from client_records
    where coalesce(first_name, last_name, full_name) is not null
    qualify row_number() over (
        partition by client_id
        order by
            priority,
            last_seen_at desc nulls last,
            (first_name is not null)::int + (last_name is not null)::int + (full_name is not null)::int desc,
            record_id
    ) = 1

),

best_email as (

    select
        client_id,
        email,
        source as email_source,
    from client_records
    where email is not null
    qualify row_number() over (
        partition by client_id
        order by priority, last_seen_at desc nulls last, record_id
    ) = 1

),

best_phone as (

    select
        client_id,
        phone,
        source as phone_source,
    from client_records
    where phone is not null
    qualify row_number() over (
        partition by client_id
        order by priority, last_seen_at desc nulls last, record_id
    ) = 1

),

best_address as (

    select
        client_id,
        street,
        city,
        postcode,
        country,
        source as address_source,
    from client_records
    where coalesce(street, city, postcode, country) is not null
    qualify row_number() over (
        partition by client_id
        order by
            priority,
            last_seen_at desc nulls last,
            (street is not null)::int + (city is not null)::int + (postcode is not null)::int + (country is not null)::int desc,
            record_id
    ) = 1

),

best_date_of_birth as (

    select
        client_id,
        date_of_birth,
    from client_records
    where date_of_birth is not null
    qualify row_number() over (
        partition by client_id
        order by priority, last_seen_at desc nulls last, record_id
    ) = 1

),

identifiers as (

    select
        client_id,
        list_sort(list_distinct(list(record_id))) as record_ids,
        list_sort(list_distinct(list(source))) as sources,
        list_sort(list_distinct(list(email))) as emails,
        list_sort(list_distinct(list(phone))) as phones,
        list_sort(list_distinct(list(crm_id))) as crm_ids,
        list_sort(list_distinct(list(twitter_handle))) as twitter_handles,
        list_sort(list_distinct(list(instagram_username))) as instagram_usernames,
        list_sort(list_distinct(list(facebook_id))) as facebook_ids,
        list_sort(list_distinct(list(ga_client_id))) as ga_client_ids,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
    from client_records
    group by client_id

),

{#- CRM facts come from the client's CRM records, the most recently changed first. -#}
crm_records as (

    select
        identity_map.client_id,
        'salesforce/contacts' as source,
        salesforce_contacts.account_id,
        salesforce_contacts.account_name,
        salesforce_accounts.industry as account_industry,
        null::varchar as lifecycle_stage,
        null::varchar as lead_status,
        salesforce_contacts.lead_source,
        salesforce_contacts.email_opt_out,
        coalesce(salesforce_contacts.last_modified_at, salesforce_contacts.updated_at) as changed_at,
    from salesforce_contacts
    inner join identity_map
        on identity_map.record_id = 'salesforce:contacts:' || salesforce_contacts.record_id
    left join salesforce_accounts
        on salesforce_contacts.account_id = salesforce_accounts.account_id
    where not coalesce(salesforce_contacts.is_deleted, false)

    union all by name

    select
        identity_map.client_id,
        'salesforce/leads' as source,
        null::varchar as account_id,
        salesforce_leads.account_name,
        null::varchar as account_industry,
        null::varchar as lifecycle_stage,
        salesforce_leads.lead_status,
        salesforce_leads.lead_source,
        salesforce_leads.email_opt_out,
        coalesce(salesforce_leads.last_modified_at, salesforce_leads.updated_at) as changed_at,
    from salesforce_leads
    inner join identity_map
        on identity_map.record_id = 'salesforce:leads:' || salesforce_leads.record_id
    where not coalesce(salesforce_leads.is_deleted, false)

    union all by name

    select
        identity_map.client_id,
        'hubspot/contacts' as source,
        hubspot_contacts.company_id as account_id,
        coalesce(hubspot_companies.account_name, hubspot_contacts.account_name) as account_name,
        hubspot_companies.industry as account_industry,
        hubspot_contacts.lifecycle_stage,
        null::varchar as lead_status,
        null::varchar as lead_source,
        hubspot_contacts.email_opt_out,
        coalesce(hubspot_contacts.last_modified_at, hubspot_contacts.updated_at) as changed_at,
    from hubspot_contacts
    inner join identity_map
        on identity_map.record_id = 'hubspot:contacts:' || hubspot_contacts.record_id
    left join hubspot_companies
        on hubspot_contacts.company_id = hubspot_companies.company_id
    where not coalesce(hubspot_contacts.is_deleted, false)

),

crm_facts as (

    select
        client_id,
        arg_max(account_id, changed_at) filter (where account_id is not null) as account_id,
        arg_max(account_name, changed_at) filter (where account_name is not null) as account_name,
        arg_max(source, changed_at) filter (where account_name is not null) as account_source,
        arg_max(account_industry, changed_at) filter (where account_industry is not null) as account_industry,
        arg_max(lifecycle_stage, changed_at) filter (where lifecycle_stage is not null) as lifecycle_stage,
        arg_max(lead_status, changed_at) filter (where lead_status is not null) as lead_status,
        arg_max(lead_source, changed_at) filter (where lead_source is not null) as lead_source,
    from crm_records
    group by client_id

),

{#- Consent: the latest change wins. Of the client's CRM records that answer, the most recently
    changed one gives the flag, its source and its time, so opting back in (or out) in either CRM
    takes effect. On the same instant the opt-out wins: when in doubt, do not email. -#}
consent as (

    select
        client_id,
        email_opt_out,
        source as email_opt_out_source,
        changed_at as email_opt_out_at,
    from crm_records
    where email_opt_out is not null
    qualify row_number() over (
        partition by client_id
        order by changed_at desc nulls last, email_opt_out desc, source
    ) = 1

),

{%- if as_of is none %}
as_of as (

    select max(activity_date) as as_of_date from web_activity

),
{%- else %}
as_of as (

    select '{{ as_of }}'::date as as_of_date

),
{%- endif %}

web_days as (

    select
        identity_map.client_id,
        web_activity.activity_date,
        web_activity.sessions,
        web_activity.engaged_sessions,
        web_activity.page_views,
        web_activity.conversions,
        web_activity.revenue,
        as_of.as_of_date - web_activity.activity_date as days_before_as_of,
    from web_activity
    inner join identity_map
        on identity_map.record_id = 'google_analytics:visitors:' || web_activity.ga_client_id
    cross join as_of
    where web_activity.activity_date <= as_of.as_of_date

),

web_facts as (

    select
        client_id,
        {%- for window, days in [('30d', 30), ('90d', 90)] %}
        coalesce(sum(sessions) filter (where days_before_as_of < {{ days }}), 0) as sessions_{{ window }},
        coalesce(sum(engaged_sessions) filter (where days_before_as_of < {{ days }}), 0) as engaged_sessions_{{ window }},
        coalesce(sum(page_views) filter (where days_before_as_of < {{ days }}), 0) as page_views_{{ window }},
        coalesce(sum(conversions) filter (where days_before_as_of < {{ days }}), 0) as conversions_{{ window }},
        coalesce(sum(revenue) filter (where days_before_as_of < {{ days }}), 0) as revenue_{{ window }},
        {%- endfor %}
        coalesce(sum(sessions), 0) as sessions_lifetime,
        coalesce(sum(engaged_sessions), 0) as engaged_sessions_lifetime,
        coalesce(sum(page_views), 0) as page_views_lifetime,
        coalesce(sum(conversions), 0) as conversions_lifetime,
        coalesce(sum(revenue), 0) as revenue_lifetime,
        max(activity_date) as last_web_activity_date,
    from web_days
    group by client_id

),

{#- From the timeline itself rather than client_interactions, which holds only the partition
    windows built so far: the profile counts everything. -#}
social_facts as (

    select
        identity_map.client_id,
        count(*) filter (where interactions.interaction_type = 'tweet') as twitter_mentions,
        count(*) filter (where interactions.interaction_type = 'facebook_comment') as facebook_comments,
        count(*) filter (where interactions.interaction_type = 'instagram_comment') as instagram_comments,
        count(*) filter (where interactions.interaction_type = 'lead_form') as lead_forms,
        avg(sentiment.sentiment_compound) as average_sentiment,
        count(sentiment.sentiment_compound) as scored_texts,
    from interactions
    inner join identity_map
        on interactions.person_record_id = identity_map.record_id
    left join sentiment
        on interactions.interaction_id = sentiment.interaction_id
    group by identity_map.client_id

),

purchase_facts as (

    select
        client_id,
        count(*) as purchases,
        sum(amount) as purchases_total,
        min(purchased_at) as first_purchase_at,
        max(purchased_at) as last_purchase_at,
        avg(amount) as average_purchase_value,
    from purchases
    group by client_id

),

final as (

    select
        clients.client_id,
        identified.is_identified,
        best_name.first_name,
        best_name.last_name,
        best_name.full_name,
        best_name.name_source,
        best_email.email,
        best_email.email_source,
        best_phone.phone,
        best_phone.phone_source,
        best_address.street,
        best_address.city,
        best_address.postcode,
        best_address.country,
        best_address.address_source,
        best_date_of_birth.date_of_birth,
        identifiers.record_ids,
        identifiers.sources,
        identifiers.emails,
        identifiers.phones,
        identifiers.crm_ids,
        identifiers.twitter_handles,
        identifiers.instagram_usernames,
        identifiers.facebook_ids,
        identifiers.ga_client_ids,
        crm_facts.account_id,
        crm_facts.account_name,
        crm_facts.account_source,
        crm_facts.account_industry,
        crm_facts.lifecycle_stage,
        crm_facts.lead_status,
        crm_facts.lead_source,
        consent.email_opt_out,
        consent.email_opt_out_source,
        consent.email_opt_out_at,
        identifiers.first_seen_at,
        identifiers.last_seen_at,
        as_of.as_of_date as web_activity_as_of,
        {%- for window in ['30d', '90d', 'lifetime'] %}
        {%- for metric in ['sessions', 'engaged_sessions', 'page_views', 'conversions', 'revenue'] %}
        coalesce(web_facts.{{ metric }}_{{ window }}, 0) as {{ metric }}_{{ window }},
        {%- endfor %}
        {%- endfor %}
        web_facts.last_web_activity_date,
        coalesce(social_facts.twitter_mentions, 0) as twitter_mentions,
        coalesce(social_facts.facebook_comments, 0) as facebook_comments,
        coalesce(social_facts.instagram_comments, 0) as instagram_comments,
        coalesce(social_facts.lead_forms, 0) as lead_forms,
        social_facts.average_sentiment,
        coalesce(social_facts.scored_texts, 0) as scored_texts,
        coalesce(purchase_facts.purchases, 0) as purchases,
        coalesce(purchase_facts.purchases_total, 0) as purchases_total,
        purchase_facts.first_purchase_at,
        purchase_facts.last_purchase_at,
        purchase_facts.average_purchase_value,
        scores.p_alive,
        scores.churn_probability,
        scores.expected_purchases_90d,
        scores.expected_average_value,
        scores.clv_12m,

    from clients
    cross join as_of
    left join identified on clients.client_id = identified.client_id
    left join best_name on clients.client_id = best_name.client_id
    left join best_email on clients.client_id = best_email.client_id
    left join best_phone on clients.client_id = best_phone.client_id
    left join best_address on clients.client_id = best_address.client_id
    left join best_date_of_birth on clients.client_id = best_date_of_birth.client_id
    left join identifiers on clients.client_id = identifiers.client_id
    left join crm_facts on clients.client_id = crm_facts.client_id
    left join consent on clients.client_id = consent.client_id
    left join web_facts on clients.client_id = web_facts.client_id
    left join social_facts on clients.client_id = social_facts.client_id
    left join purchase_facts on clients.client_id = purchase_facts.client_id
    left join scores on clients.client_id = scores.client_id

)

select * from final
