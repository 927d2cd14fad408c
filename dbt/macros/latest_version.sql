{#- The newest version of each record of `relation`: the cleansed layer keeps every version it
    fetched (one row per record and daily partition it was seen in), and the profile reads a record
    as it is now. Newest by the record's own change time, then by the partition it was fetched in,
    so a record re-fetched unchanged on a later day keeps its later partition_date. -#}
{% macro latest_version(relation, key='record_id', order_by='updated_at desc, partition_date desc') -%}
    select * from {{ relation }}
    qualify row_number() over (
        partition by {{ key }}
        order by {{ order_by }}
    ) = 1
{%- endmacro %}
