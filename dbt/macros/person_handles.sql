{#- The handles a CRM's person records carry, one select item each, in the identity input's order:
    one column per handle a network declares (handle_columns, generated from the declarations),
    null where the account maps no field to it (cdp_platform/cleansed/handles.py). A CRM's staging
    and identity candidates pass them on without naming a network. -#}
{% macro person_handles() -%}
    {%- for column in handle_columns() %}
        {{ column }},
    {%- endfor %}
{%- endmacro %}
