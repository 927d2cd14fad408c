{#- The start of a calendar date in UTC, as a timestamptz. A plain cast would read the date in the
    session's time zone, which is the machine's: the profile must not change with where it runs. -#}
{% macro utc_midnight(date_expression) -%}
    ({{ date_expression }})::timestamp at time zone 'UTC'
{%- endmacro %}
