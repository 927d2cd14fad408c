{#- One row per client that has a record: the name, email, phone, address and date of birth that
    survive (the survivorship macro; the rule is documented in client_360.yml). Each block comes
    whole from one record, so a street never mixes with another record's city. -#}

with

client_records as (

    select * from {{ ref('int_client_records') }}

),

best_name as (
    {{ survivorship('client_records', ['first_name', 'last_name', 'full_name'], [
        'first_name',
        'last_name',
        "coalesce(full_name, nullif(concat_ws(' ', first_name, last_name), '')) as full_name",
        'source as name_source',
    ]) }}
),

best_email as (
    {{ survivorship('client_records', ['email'], ['email', 'source as email_source']) }}
),

best_phone as (
    {{ survivorship('client_records', ['phone'], ['phone', 'source as phone_source']) }}
),

best_address as (
    {{ survivorship('client_records', ['street', 'city', 'postcode', 'country'], [
        'street', 'city', 'postcode', 'country', 'source as address_source',
    ]) }}
),

best_date_of_birth as (
    {{ survivorship('client_records', ['date_of_birth'], ['date_of_birth']) }}
),

clients as (

    select distinct client_id from client_records

),

final as (

    select
        clients.client_id,
        best_name.first_name,
        best_name.last_name,
        best_name.full_name,
        best_name.name_source,
        best_email.email,
        best_email.email_source,
        best_phone.phone,
        best_phone.phone_source,
        best_address.street,
        best_address.city,
        best_address.postcode,
        best_address.country,
        best_address.address_source,
        best_date_of_birth.date_of_birth,

    from clients
    left join best_name on clients.client_id = best_name.client_id
    left join best_email on clients.client_id = best_email.client_id
    left join best_phone on clients.client_id = best_phone.client_id
    left join best_address on clients.client_id = best_address.client_id
    left join best_date_of_birth on clients.client_id = best_date_of_birth.client_id

)

select * from final
