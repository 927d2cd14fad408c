{#- One row per client (every client of identity_map): web activity in windows ending on the var
    as_of (a date; default the latest activity date in the data): the 30 and 90 days ending on
    as_of and the lifetime up to as_of; zero when the client had none. web_activity_as_of is the
    end date itself, on every row. -#}

{%- set as_of = var('as_of', none) %}
{%- set metrics = ['sessions', 'engaged_sessions', 'page_views', 'conversions', 'revenue'] %}
{%- set windows = [('30d', 30), ('90d', 90), ('lifetime', none)] %}

with

identity_map as (

    select * from {{ source('identity', 'identity_map') }}

),

web_activity as (

    {{ union_contributions('web_activity') }}

),

as_of as (
{%- if as_of is none %}
    select max(activity_date) as as_of_date from web_activity
{%- else %}
    select '{{ as_of }}'::date as as_of_date
{%- endif %}
),

web_days as (

    select
        identity_map.client_id,
        web_activity.activity_date,
        {%- for metric in metrics %}
        web_activity.{{ metric }},
        {%- endfor %}
        as_of.as_of_date - web_activity.activity_date as days_before_as_of,
    from web_activity
    inner join identity_map
        on identity_map.record_id = web_activity.person_record_id
    cross join as_of
    where web_activity.activity_date <= as_of.as_of_date

),

web_facts as (

    select
        client_id,
        {%- for window, days in windows %}{% for metric in metrics %}
        coalesce(sum({{ metric }}){% if days %} filter (where days_before_as_of < {{ days }}){% endif %}, 0) as {{ metric }}_{{ window }},
        {%- endfor %}{% endfor %}
        max(activity_date) as last_web_activity_date,
    from web_days
    group by client_id

),

clients as (

    select distinct client_id from identity_map

),

final as (

    select
        clients.client_id,
        as_of.as_of_date as web_activity_as_of,
        {%- for window, _ in windows %}{% for metric in metrics %}
        coalesce(web_facts.{{ metric }}_{{ window }}, 0) as {{ metric }}_{{ window }},
        {%- endfor %}{% endfor %}
        web_facts.last_web_activity_date,
    from clients
    cross join as_of
    left join web_facts on clients.client_id = web_facts.client_id

)

select * from final
