{#- What the contributors of `union` declare under `meta.<key>` in their YAML, merged: a mapping
    (each contributor's entries; a key given twice is an error, so two sources cannot both rank
    the same one), a list (concatenated, sorted), or with kind='any' the names either gives (a
    list's items, a mapping's keys; sorted). For facts about a source that the union's
    rows do not carry (its survivorship rank, whether its records name a person), so they stay in
    the source's folder and no intermediate model spells them.

    Read from the graph, which exists only when dbt executes: while parsing it returns the empty
    value (nothing is run then; these are not refs, so the DAG does not depend on them). -#}
{% macro contribution_meta(union, key, kind='mapping') -%}
    {%- if kind not in ('mapping', 'list', 'any') -%}
        {{ exceptions.raise_compiler_error("contribution_meta: kind must be mapping, list or any, got " ~ kind) }}
    {%- endif -%}
    {%- set merged = {} if kind == 'mapping' else [] -%}
    {%- if execute -%}
        {%- set names = contributors(union) -%}
        {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name in names -%}
            {%- set value = node.config.meta.get(key) -%}
            {%- if value is none -%}
            {%- elif kind == 'mapping' and value is mapping -%}
                {%- for name, item in value.items() -%}
                    {%- if name in merged -%}
                        {{ exceptions.raise_compiler_error("meta." ~ key ~ ": " ~ name ~ " is declared twice (again by " ~ node.name ~ ")") }}
                    {%- endif -%}
                    {%- do merged.update({name: item}) -%}
                {%- endfor -%}
            {%- elif kind == 'any' and value is mapping -%}
                {%- do merged.extend(value.keys() | list) -%}
            {%- elif kind in ('list', 'any') and value is iterable and value is not string and value is not mapping -%}
                {%- do merged.extend(value) -%}
            {%- else -%}
                {{ exceptions.raise_compiler_error("meta." ~ key ~ " of " ~ node.name ~ " must be a " ~ kind ~ ", got " ~ value) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(merged if kind == 'mapping' else (merged | unique | sort)) }}
{%- endmacro %}


{#- The SQL string literal of `value` (quotes doubled), for values written from declarations. -#}
{% macro sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}


{#- The kinds of interaction the profile counts per client (int_client_social_engagement, then
    client_360): [(interaction_type, column)] in the declared positions. Each source declares the
    ones it gives in its interactions' meta.cdp_interaction_counts:
    {column: {interaction_type: ..., position: ...}}. -#}
{% macro interaction_counts() -%}
    {%- set declared = contribution_meta('interactions', 'cdp_interaction_counts') -%}
    {%- set counts = [] -%}
    {%- for column, count in declared.items() -%}
        {%- if count is not mapping or count.get('interaction_type') is none or count.get('position') is not number -%}
            {{ exceptions.raise_compiler_error("meta.cdp_interaction_counts." ~ column ~ ": give {interaction_type: <type>, position: <number>}, got " ~ count) }}
        {%- endif -%}
        {%- do counts.append((count['position'], count['interaction_type'], column)) -%}
    {%- endfor -%}
    {%- set ordered = [] -%}
    {%- for position, interaction_type, column in counts | sort -%}
        {%- do ordered.append((interaction_type, column)) -%}
    {%- endfor -%}
    {{ return(ordered) }}
{%- endmacro %}
