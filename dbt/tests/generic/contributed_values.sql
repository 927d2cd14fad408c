{#- Every non-null value of the column is one the sources declare: the accepted values of a column
    whose values are the sources' own (a record's source, an interaction's channel or type, an
    identifier type), read from the meta.<key> of the models contributing to `union` (a list, or
    a mapping's keys), plus the generic values in `also`. So the accepted values stay in each
    source's folder, and a new source is accepted by declaring itself, not by an edit here.

    The declarations are read when dbt executes (contribution_meta); none at all is an error,
    not a test that accepts nothing (or everything). The failing rows are the values no source
    declares, with how many rows hold each. -#}
{% test contributed_values(model, column_name, union, key, also=[]) %}

{%- set declared = contribution_meta(union, key, kind='any') %}
{%- set accepted = (also + declared) | unique | sort %}
{%- if execute and not declared %}
    {{ exceptions.raise_compiler_error("contributed_values on " ~ column_name ~ ": no model contributing to " ~ union ~ " declares meta." ~ key) }}
{%- endif %}

select {{ column_name }} as value, count(*) as rows
from {{ model }}
where {{ column_name }} is not null
    {%- if accepted %}
    and {{ column_name }} not in ({% for value in accepted %}{{ sql_string(value) }}{{ ', ' if not loop.last }}{% endfor %})
    {%- endif %}
group by 1

{% endtest %}
