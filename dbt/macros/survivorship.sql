{#- Survivorship: which of a client's records gives an attribute (see client_360.yml).

    survivorship() keeps, per `by`, the one record that wins a block of attributes (a name, an
    address), so the parts of a block always come from the same record: among the records that
    fill at least one part of `block`, the most trusted source first (`priority`, lower wins), then
    the most recent (`last_seen_at`), then, for a block of several parts, the most complete, then
    the smallest record_id so the choice never depends on row order. `columns` are the expressions
    selected from the winner; `order_by` replaces the whole order when an attribute follows
    another rule (consent: the latest change). -#}
{% macro survivorship(relation, block, columns, by='client_id', order_by=none) -%}
    {%- if order_by is none -%}
        {%- set order_by = ['priority', 'last_seen_at desc nulls last'] -%}
        {%- if block | length > 1 -%}
            {%- set filled = [] -%}
            {%- for part in block -%}{%- do filled.append('(' ~ part ~ ' is not null)::int') -%}{%- endfor -%}
            {%- do order_by.append(filled | join(' + ') ~ ' desc') -%}
        {%- endif -%}
        {%- do order_by.append('record_id') -%}
    {%- endif %}
    select
        {{ by }},
        {%- for column in columns %}
        {{ column }},
        {%- endfor %}
    from {{ relation }}
    where {% if block | length > 1 %}coalesce({{ block | join(', ') }}){% else %}{{ block[0] }}{% endif %} is not null
    qualify row_number() over (
        partition by {{ by }}
        order by {{ order_by | join(', ') }}
    ) = 1
{%- endmacro %}


{#- The value of `column` on the most recently changed row (by `at`) that has one; `present` names
    the column whose presence counts when it is not `column` itself (the source of an account name
    is the source of the row that gave the name). For facts that survive one by one, not as a block. -#}
{% macro most_recent(column, at='changed_at', present=none) -%}
    arg_max({{ column }}, {{ at }}) filter (where {{ present or column }} is not null)
{%- endmacro %}
