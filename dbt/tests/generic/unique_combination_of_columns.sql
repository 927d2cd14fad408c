{#- Fails for every combination of the columns that appears more than once (the shape of
    dbt_utils' test of the same name, without the package: dbt runs offline here). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with

grouped as (

    select
        {{ combination_of_columns | join(',\n        ') }},
        count(*) as occurrences,

    from {{ model }}
    group by all
    having count(*) > 1

)

select * from grouped

{% endtest %}
