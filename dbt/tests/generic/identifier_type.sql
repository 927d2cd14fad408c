{#- Every non-null value of the column is an identifier column of the identity input
    (identifier_columns: generic, declared by the sources, web client id). The failing rows are the
    other values, with how many rows hold each. -#}
{% test identifier_type(model, column_name) %}

select {{ column_name }} as value, count(*) as rows
from {{ model }}
where {{ column_name }} is not null
    and {{ column_name }} not in ({% for value in identifier_columns() %}{{ sql_string(value) }}{{ ', ' if not loop.last }}{% endfor %})
group by 1

{% endtest %}
