{#- Every country spelling in staging that the seed country_spellings does not map to an ISO code,
    with the model it is in and how many records hold it. Staging sets country to null for these
    and keeps the typed value in country_original; this list (and the warning test on it) is where
    they show, so a new spelling is added to the seed instead of silently lost. -#}

{%- set models = [
    'stg_salesforce__contacts', 'stg_salesforce__leads', 'stg_salesforce__accounts',
    'stg_hubspot__contacts', 'stg_hubspot__companies', 'stg_facebook__leads',
] %}

with

unmapped as (
    {%- for model in models %}

    select
        '{{ model }}' as model,
        country_original,
        count(*) as records,
    from {{ ref(model) }}
    where country is null and nullif(trim(country_original), '') is not null
    group by country_original
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

)

select * from unmapped
order by model, country_original
