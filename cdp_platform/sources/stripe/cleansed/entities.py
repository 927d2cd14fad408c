"""Stripe's cleansed entities: customers (a person-like source), charges and refunds.

A raw customer row is either a customer as listed or a ``customer.updated`` event around one;
fields are declared on the customer (``$.email``) and ``prepare`` reads them from an event's
``data.object`` on event rows, so one table holds both, the latest version of each customer winning on ``updated_at``.

Amounts arrive as integers in the currency's minor unit. ``amount`` divides by the currency's own
exponent (``1999`` usd = 19.99, ``1999`` jpy = 1999, ``1990`` kwd = 1.990), kept as Decimal(20, 3)
so three-decimal currencies lose nothing; a Pandera check proves every amount converts back to
its minor units exactly. ``settled_amount`` is the charge's balance transaction: what reached the
account, in its currency, which is what purchases are counted in.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from cdp_platform.cleansed import columns
from cdp_platform.cleansed.derived import parts_from_full_name
from cdp_platform.cleansed.entity import RAW_PAYLOAD, CleansedEntity, Field, PersonKey

# Stripe's currencies without a minor unit, and with three decimals (API_FACTS.md, Stripe).
ZERO_DECIMAL = (
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
)  # fmt: skip
THREE_DECIMAL = ("bhd", "jod", "kwd", "omr", "tnd")
MONEY = pl.Decimal(20, 3)


def exponent(currency: pl.Expr) -> pl.Expr:
    """Digits of the currency's minor unit (0, 2 or 3); null without a currency."""
    lowered = currency.str.to_lowercase()
    return (
        pl.when(lowered.is_null())
        .then(None)
        .when(lowered.is_in(ZERO_DECIMAL))
        .then(0)
        .when(lowered.is_in(THREE_DECIMAL))
        .then(3)
        .otherwise(2)
        .cast(pl.Int64)
    )


def major_units(minor: str, currency: str) -> pl.Expr:
    """An integer amount in minor units as a decimal in the currency's own units."""
    scale = pl.lit(10, pl.Int64).pow(exponent(pl.col(currency))).cast(pl.Float64)
    return (pl.col(minor).cast(pl.Float64) / scale).round(3).cast(MONEY)


def _from_events(fields: tuple[Field, ...]):
    """A ``prepare`` step: on rows that are events, each field's text from the event's
    ``data.object`` (the object after the change) instead of from the event itself."""

    def prepare(frame: pl.DataFrame) -> pl.DataFrame:
        payload = pl.col(RAW_PAYLOAD)
        is_event = payload.str.json_path_match("$.object") == "event"
        return frame.with_columns(
            pl.when(is_event)
            .then(payload.str.json_path_match("$.data.object" + f.path[1:]))
            .otherwise(pl.col(f"__raw_{f.name}"))
            .alias(f"__raw_{f.name}")
            for f in fields
            if f.path is not None and f.path.startswith("$.")
        )

    return prepare


def money() -> pa.Column:
    return pa.Column(MONEY, nullable=True, checks=pa.Check.ge(0))


def minor_units() -> pa.Column:
    return pa.Column(pl.Int64, nullable=True, checks=pa.Check.ge(0))


def currency_code() -> pa.Column:
    """ISO 4217, lowercase, as Stripe writes it."""
    return pa.Column(pl.String, nullable=True, checks=pa.Check.str_matches(r"^[a-z]{3}$"))


def converts_back(amount: str, minor: str, currency: str) -> pa.Check:
    """``amount`` * 10^exponent is exactly the minor units the vendor sent: no amount was read with
    another currency's exponent, and no digit was rounded away."""

    def check(data) -> pl.LazyFrame:
        frame = data.lazyframe
        scale = pl.lit(10, pl.Int64).pow(exponent(pl.col(currency)))
        back = (pl.col(amount).cast(pl.Float64) * scale.cast(pl.Float64)).round(0).cast(pl.Int64)
        return frame.select(
            (pl.col(amount).is_null() | pl.col(minor).is_null() | (back == pl.col(minor))).alias("ok")
        )

    return pa.Check(check, name=f"{amount}_converts_back_to_{minor}", error=f"{amount} is {minor} in its currency's units")


CUSTOMER_FIELDS = (
    Field("customer_id", "string", "$.id", required=True, json_type="string"),
    Field("created_at", "timestamp", "$.created", required=True, json_type="number"),
    Field("email", "email", "$.email"),
    Field("phone", "phone", "$.phone", region_from="country"),
    Field("full_name", "name", "$.name"),
    Field("street", "string", "$.address.line1"),
    Field("city", "string", "$.address.city"),
    Field("postcode", "string", "$.address.postal_code"),
    Field("country", "string", "$.address.country"),
    Field("country_code", "country", "$.address.country"),
    Field("currency", "string", "$.currency"),
    Field("is_deleted", "boolean", "$.deleted"),
)

CUSTOMERS = CleansedEntity(
    source="stripe",
    entity="customers",
    raw_stream="customers",
    # A customer is one identity candidate, stripe:customers:<cus_id> (int_identity_candidates).
    person_keys=(PersonKey("record_id", "customers"),),
    fields=CUSTOMER_FIELDS,
    prepare=_from_events(CUSTOMER_FIELDS),
    extra_columns=parts_from_full_name,
    schema=pa.DataFrameSchema(
        {
            "record_id": columns.identifier(),
            "customer_id": columns.identifier(),
            "created_at": columns.timestamp(nullable=False),
            **columns.person_columns(),
            "street": columns.text(),
            "city": columns.text(),
            "postcode": columns.text(),
            "country": columns.text(),
            "country_code": columns.country_code(),
            "currency": currency_code(),
            "is_deleted": columns.flag(),
        }
    ),
    key_columns=("record_id", "customer_id"),
    # The customer object as Stripe documents it (API reference, "The Customer object"); null
    # values carry the field's documented type. ``metadata`` holds the merchant's own keys. The
    # stream also holds customer.updated events (the customer inside, under data.object): their
    # envelope is declared too, and a customer field is absent from a day that holds only events
    # (``?``), while a new field or a changed type is drift either way.
    expected_payload={
        "id": "string",
        "object": "string",
        "address": "object?",
        "address.city": "string?",
        "address.country": "string?",
        "address.line1": "string?",
        "address.line2": "string?",
        "address.postal_code": "string?",
        "address.state": "string?",
        "balance": "number?",
        "created": "number",
        "currency": "string?",
        "default_source": "string?",
        "delinquent": "boolean?",
        "description": "string?",
        "discount": "object?",
        "email": "string?",
        "invoice_prefix": "string?",
        "invoice_settings": "object?",
        "invoice_settings.custom_fields": "array?",
        "invoice_settings.default_payment_method": "string?",
        "invoice_settings.footer": "string?",
        "invoice_settings.rendering_options": "object?",
        "livemode": "boolean",
        "metadata": "map?",
        "name": "string?",
        "next_invoice_sequence": "number?",
        "phone": "string?",
        "preferred_locales": "array?",
        "shipping": "object?",
        "tax_exempt": "string?",
        "test_clock": "string?",
        # The event envelope ("The Event object").
        "api_version": "string?",
        "data": "object?",
        "data.object": "map?",
        "data.previous_attributes": "map?",
        "pending_webhooks": "number?",
        "request": "map?",
        "type": "string?",
    },
    description="Stripe customers (people), the latest version of each: emails checked, phones E.164, "
    "addresses with ISO country codes; changed customers come from customer.updated events.",
)


def _with_amounts(frame: pl.DataFrame) -> pl.DataFrame:
    extra = [major_units("amount_minor", "currency").alias("amount")]
    if "amount_refunded_minor" in frame.columns:
        extra.append(major_units("amount_refunded_minor", "currency").alias("amount_refunded"))
    if "settled_amount_minor" in frame.columns:
        extra.append(major_units("settled_amount_minor", "settled_currency").alias("settled_amount"))
    return frame.with_columns(extra)


CHARGES = CleansedEntity(
    source="stripe",
    entity="charges",
    raw_stream="charges",
    # A charge is its paying customer's (erasure and suppression follow it there).
    person_keys=(PersonKey("customer_id", "customers"),),
    fields=(
        Field("charge_id", "string", "$.id", required=True, json_type="string"),
        Field("created_at", "timestamp", "$.created", required=True, json_type="number"),
        Field("customer_id", "string", "$.customer", json_type="string"),
        Field("amount_minor", "integer", "$.amount", required=True, json_type="number"),
        Field("amount_refunded_minor", "integer", "$.amount_refunded", json_type="number"),
        Field("currency", "string", "$.currency", required=True, pattern=r"^[a-z]{3}$"),
        Field("settled_amount_minor", "integer", "$.balance_transaction.amount", json_type="number"),
        Field("settled_currency", "string", "$.balance_transaction.currency", pattern=r"^[a-z]{3}$"),
        Field("status", "string", "$.status"),
        Field("paid", "boolean", "$.paid"),
        Field("refunded", "boolean", "$.refunded"),
        Field("billing_email", "email", "$.billing_details.email"),
        Field("billing_name", "string", "$.billing_details.name"),
        Field("description", "string", "$.description"),
    ),
    extra_columns=_with_amounts,
    schema=pa.DataFrameSchema(
        {
            "record_id": columns.identifier(),
            "charge_id": columns.identifier(),
            "created_at": columns.timestamp(nullable=False),
            "customer_id": columns.reference(),
            "amount_minor": minor_units(),
            "amount_refunded_minor": minor_units(),
            "currency": currency_code(),
            "settled_amount_minor": minor_units(),
            "settled_currency": currency_code(),
            "status": columns.one_of(("succeeded", "pending", "failed")),
            "paid": columns.flag(),
            "refunded": columns.flag(),
            "billing_email": columns.email(),
            "billing_name": columns.text(),
            "description": columns.text(),
            "amount": money(),
            "amount_refunded": money(),
            "settled_amount": money(),
        },
        checks=[
            converts_back("amount", "amount_minor", "currency"),
            converts_back("settled_amount", "settled_amount_minor", "settled_currency"),
        ],
    ),
    key_columns=("record_id", "charge_id"),
    # The charge object as Stripe documents it ("The Charge object"), balance_transaction expanded
    # (the stream asks for it); null values carry the documented type. Card details are those of
    # card payments: another payment method's details show as drift, by name.
    expected_payload={
        "id": "string",
        "object": "string",
        "amount": "number",
        "amount_captured": "number",
        "amount_refunded": "number",
        "application": "string",
        "application_fee": "string",
        "application_fee_amount": "number",
        "balance_transaction": "object",
        "balance_transaction.amount": "number",
        "balance_transaction.available_on": "number",
        "balance_transaction.balance_type": "string",
        "balance_transaction.created": "number",
        "balance_transaction.currency": "string",
        "balance_transaction.description": "string",
        "balance_transaction.exchange_rate": "number",
        "balance_transaction.fee": "number",
        "balance_transaction.fee_details": "array",
        "balance_transaction.id": "string",
        "balance_transaction.net": "number",
        "balance_transaction.object": "string",
        "balance_transaction.reporting_category": "string",
        "balance_transaction.source": "string",
        "balance_transaction.status": "string",
        "balance_transaction.type": "string",
        "billing_details": "object",
        "billing_details.address": "object",
        "billing_details.address.city": "string",
        "billing_details.address.country": "string",
        "billing_details.address.line1": "string",
        "billing_details.address.line2": "string",
        "billing_details.address.postal_code": "string",
        "billing_details.address.state": "string",
        "billing_details.email": "string",
        "billing_details.name": "string",
        "billing_details.phone": "string",
        "billing_details.tax_id": "string",
        "calculated_statement_descriptor": "string",
        "captured": "boolean",
        "created": "number",
        "currency": "string",
        "customer": "string",
        "description": "string",
        "disputed": "boolean",
        "failure_balance_transaction": "string",
        "failure_code": "string",
        "failure_message": "string",
        "fraud_details": "object",
        "livemode": "boolean",
        "metadata": "map",
        "on_behalf_of": "string",
        "outcome": "object",
        "outcome.network_status": "string",
        "outcome.reason": "string",
        "outcome.risk_level": "string",
        "outcome.seller_message": "string",
        "outcome.type": "string",
        "paid": "boolean",
        "payment_intent": "string",
        "payment_method": "string",
        "payment_method_details": "object",
        "payment_method_details.card": "object?",
        "payment_method_details.card.brand": "string?",
        "payment_method_details.card.country": "string?",
        "payment_method_details.card.exp_month": "number?",
        "payment_method_details.card.exp_year": "number?",
        "payment_method_details.card.funding": "string?",
        "payment_method_details.card.last4": "string?",
        "payment_method_details.type": "string",
        "receipt_email": "string",
        "receipt_number": "string",
        "receipt_url": "string",
        "refunded": "boolean",
        "review": "string",
        "shipping": "object",
        "source": "object",
        "source_transfer": "string",
        "statement_descriptor": "string",
        "statement_descriptor_suffix": "string",
        "status": "string",
        "transfer_data": "object",
        "transfer_group": "string",
    },
    description="Stripe charges: amounts in the currency's units (minor units / 10^exponent: 0 for jpy, "
    "3 for kwd) and the amount settled in the account's currency; succeeded ones are purchases.",
)

REFUNDS = CleansedEntity(
    source="stripe",
    entity="refunds",
    raw_stream="refunds",
    fields=(
        Field("refund_id", "string", "$.id", required=True, json_type="string"),
        Field("created_at", "timestamp", "$.created", required=True, json_type="number"),
        Field("charge_id", "string", "$.charge", required=True, json_type="string"),
        Field("amount_minor", "integer", "$.amount", required=True, json_type="number"),
        Field("currency", "string", "$.currency", required=True, pattern=r"^[a-z]{3}$"),
        Field("status", "string", "$.status"),
        Field("reason", "string", "$.reason"),
    ),
    extra_columns=_with_amounts,
    schema=pa.DataFrameSchema(
        {
            "record_id": columns.identifier(),
            "refund_id": columns.identifier(),
            "created_at": columns.timestamp(nullable=False),
            "charge_id": columns.reference(),
            "amount_minor": minor_units(),
            "currency": currency_code(),
            "status": columns.one_of(("succeeded", "pending", "requires_action", "failed", "canceled")),
            "reason": columns.text(),
            "amount": money(),
        },
        checks=[converts_back("amount", "amount_minor", "currency")],
    ),
    key_columns=("record_id", "refund_id"),
    expected_payload={
        "id": "string",
        "object": "string",
        "amount": "number",
        "charge": "string",
        "created": "number",
        "currency": "string",
        "status": "string",
    },
    description="Stripe refunds, amounts in the currency's units; subtracted from their charges' purchases.",
)

ENTITIES = (CUSTOMERS, CHARGES, REFUNDS)
