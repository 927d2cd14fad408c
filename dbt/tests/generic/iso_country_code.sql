{#- Every non-null value of the column is an ISO 3166-1 alpha-2 code. The codes are read from the
    seed country_spellings (every code is a spelling of itself there; its own tests tie it to
    iso_3166_countries): that seed is upstream of every model with a country, so under the
    project's "buildable" test selection this test runs in the same invocation as its model.
    The failing rows are the values that are not codes, with how many rows hold each. -#}
{% test iso_country_code(model, column_name) %}

select {{ column_name }} as country, count(*) as rows
from {{ model }}
where {{ column_name }} is not null
    and {{ column_name }} not in (select country_code from {{ ref('country_spellings') }})
group by 1

{% endtest %}
