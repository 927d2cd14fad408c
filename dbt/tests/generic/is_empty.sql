{#- The model has no rows: for a model that lists problems (int_countries_unmapped). Its rows are
    the failures, so the warning counts them and the model itself shows them. -#}
{% test is_empty(model) %}

select * from {{ model }}

{% endtest %}
