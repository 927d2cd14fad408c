{#- Every identifier column of the identity input, in its order: the generic ones (email, phone,
    CRM id), the networks' (profile_identifiers, generated from the sources' declarations), the
    web client id. client_identities has one identifier_type per column; client_360 a list each. -#}
{% macro identifier_columns() -%}
    {{ return(['email', 'phone', 'crm_id'] + profile_identifiers() + ['ga_client_id']) }}
{%- endmacro %}
