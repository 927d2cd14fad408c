{#- A country as typed ("Germany", "DE", "DEU", "Deutschland", "USA") as its ISO 3166-1 alpha-2
    code, from the seed country_spellings (made by scripts/generate_country_seeds.py, committed:
    nothing is downloaded at run time). Null when empty or when the spelling is unknown; an
    unknown spelling is not lost: staging keeps the typed value as country_original and
    int_countries_unmapped lists every one, with a warning test on it. -#}
{% macro country_code(expression) -%}
    (
        select spellings.country_code
        from {{ ref('country_spellings') }} as spellings
        where spellings.spelling = lower(trim({{ expression }}, ' ' || chr(9) || chr(10) || chr(13)))
    )
{%- endmacro %}
