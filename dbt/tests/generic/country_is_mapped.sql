{#- A warning, with the list: every country spelling of the model that the seed country_spellings
    does not map (the column is null, the typed value is not empty). Staging keeps the typed value
    in `typed` (country_original); the failures are stored, so the list can be read in the
    warehouse: dbt_test__audit.country_is_mapped_<model>_<column>, one row per spelling with the
    number of records holding it. Add the spelling to scripts/generate_country_seeds.py (or to the
    cleansed layer's aliases) and regenerate the seeds to map it. -#}
{% test country_is_mapped(model, column_name, typed='country_original') %}

{{ config(severity='warn', store_failures=true) }}

select {{ typed }} as typed_country, count(*) as records
from {{ model }}
where {{ column_name }} is null and nullif(trim({{ typed }}), '') is not null
group by 1

{% endtest %}
