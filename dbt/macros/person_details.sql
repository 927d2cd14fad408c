{#- The columns in which a source writes a person down as they gave themselves (names, email,
    phone, birth date, address), in the identity input's order: one list for every source's
    identity_candidates contribution and for int_identity_candidates. A contribution passes the
    ones it has no column for in `without` (the union by name fills them with null). -#}
{% macro person_details(without=[]) -%}
    {%- for column in ['first_name', 'last_name', 'full_name', 'email', 'phone', 'date_of_birth',
                       'street', 'city', 'postcode', 'country'] if column not in without %}
        {{ column }},
    {%- endfor %}
{%- endmacro %}
