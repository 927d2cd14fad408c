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
# How amounts are sent and read, in the columns' descriptions.
MINOR_UNITS = "an integer in the currency's minor unit as Stripe sends it (1999 usd = 19.99)"
MAJOR_UNITS = (
    "divided by 10 to the currency's exponent (2; 0 for zero-decimal currencies such as jpy, 3 for bhd, "
    "jod, kwd, omr and tnd)"
)


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

    return pa.Check(
        check, name=f"{amount}_converts_back_to_{minor}", error=f"{amount} is {minor} in its currency's units"
    )


# The customer object as Stripe documents it (API reference, "The Customer object"); null values
# carry the field's documented type. The stream also holds customer.updated events (the customer
# inside, under data.object), so a customer key is absent from a day that holds only events
# (``may_be_absent``), while a new field or a changed type is drift either way.
CUSTOMER_FIELDS = (
    Field(
        "customer_id",
        "string",
        "$.id",
        required=True,
        json_type="string",
        column=columns.identifier(),
        description="The customer's Stripe id (id, cus_...).",
    ),
    Field(
        "created_at",
        "timestamp",
        "$.created",
        required=True,
        json_type="number",
        description="When the customer was created at Stripe (created, unix seconds).",
    ),
    Field(
        "email", "email", "$.email", may_be_absent=True, description="The customer's email address (email)."
    ),
    Field(
        "phone",
        "phone",
        "$.phone",
        region_from="country",
        may_be_absent=True,
        description="The customer's phone number (phone).",
    ),
    Field(
        "full_name",
        "name",
        "$.name",
        may_be_absent=True,
        description="The customer's full name or business name (name).",
    ),
    Field(
        "street",
        "string",
        "$.address.line1",
        may_be_absent=True,
        description="The first line of the customer's address (address.line1).",
    ),
    Field(
        "city",
        "string",
        "$.address.city",
        may_be_absent=True,
        description="The city of the customer's address (address.city).",
    ),
    Field(
        "postcode",
        "string",
        "$.address.postal_code",
        may_be_absent=True,
        description="The postal code of the customer's address (address.postal_code).",
    ),
    Field(
        "country",
        "string",
        "$.address.country",
        may_be_absent=True,
        description="The country of the customer's address as Stripe holds it (address.country, a "
        "two-letter code).",
    ),
    Field(
        "country_code",
        "country",
        "$.address.country",
        may_be_absent=True,
        description="The country of the customer's address (address.country) as a code.",
    ),
    Field(
        "currency",
        "string",
        "$.currency",
        may_be_absent=True,
        column=currency_code(),
        description="The currency the customer is charged in for recurring billing (currency, lowercase "
        "ISO 4217); null until Stripe sets one.",
    ),
    # Only a deleted customer carries ``deleted`` (``{"id", "object", "deleted": true}``).
    Field(
        "is_deleted",
        "boolean",
        "$.deleted",
        may_be_absent=True,
        description="Whether the customer was deleted at Stripe (deleted, carried by a deleted customer "
        "only).",
    ),
    Field(
        "first_name",
        "name",
        computed=True,
        description="The first word of full_name: Stripe holds a customer's name in one field.",
    ),
    Field(
        "last_name",
        "name",
        computed=True,
        description="The last word of full_name when it has more than one; null otherwise.",
    ),
)

# What the customer object and the event around one carry beside the keys the fields read.
# ``metadata`` holds the merchant's own keys.
CUSTOMER_ENVELOPE = {
    "object": "string",
    "address.line2": "string?",
    "address.state": "string?",
    "balance": "number?",
    "default_source": "string?",
    "delinquent": "boolean?",
    "description": "string?",
    "discount": "object?",
    "invoice_prefix": "string?",
    "invoice_settings": "object?",
    "invoice_settings.custom_fields": "array?",
    "invoice_settings.default_payment_method": "string?",
    "invoice_settings.footer": "string?",
    "invoice_settings.rendering_options": "object?",
    "livemode": "boolean",
    "metadata": "map?",
    "next_invoice_sequence": "number?",
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
}

CUSTOMERS = CleansedEntity(
    source="stripe",
    entity="customers",
    raw_stream="customers",
    # A customer is one identity candidate, stripe:customers:<cus_id> (int_identity_candidates).
    person_keys=(PersonKey("record_id", "customers"),),
    fields=CUSTOMER_FIELDS,
    prepare=_from_events(CUSTOMER_FIELDS),
    extra_columns=parts_from_full_name,
    key_columns=("record_id", "customer_id"),
    envelope_payload=CUSTOMER_ENVELOPE,
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
        Field(
            "charge_id",
            "string",
            "$.id",
            required=True,
            json_type="string",
            column=columns.identifier(),
            description="The charge's Stripe id (id, ch_...).",
        ),
        Field(
            "created_at",
            "timestamp",
            "$.created",
            required=True,
            json_type="number",
            description="When the charge was created (created, unix seconds).",
        ),
        Field(
            "customer_id",
            "string",
            "$.customer",
            json_type="string",
            column=columns.reference(),
            description="The Stripe id of the paying customer (customer); null for a guest checkout.",
        ),
        Field(
            "amount_minor",
            "integer",
            "$.amount",
            required=True,
            json_type="number",
            column=minor_units(),
            description=f"The amount charged (amount), {MINOR_UNITS}.",
        ),
        Field(
            "amount_refunded_minor",
            "integer",
            "$.amount_refunded",
            json_type="number",
            description=f"The amount refunded so far (amount_refunded), {MINOR_UNITS}.",
        ),
        Field(
            "currency",
            "string",
            "$.currency",
            required=True,
            pattern=r"^[a-z]{3}$",
            column=currency_code(),
            description="The charge's currency (currency, lowercase ISO 4217).",
        ),
        Field(
            "settled_amount_minor",
            "integer",
            "$.balance_transaction.amount",
            json_type="number",
            description="What reached the account, in the minor unit of the currency it settled in "
            "(balance_transaction.amount); null without a balance transaction.",
        ),
        Field(
            "settled_currency",
            "string",
            "$.balance_transaction.currency",
            pattern=r"^[a-z]{3}$",
            column=currency_code(),
            description="The currency the account settled the charge in (balance_transaction.currency).",
        ),
        Field(
            "status",
            "string",
            "$.status",
            column=columns.one_of(("succeeded", "pending", "failed")),
            description="The charge's status (status: succeeded, pending or failed); succeeded ones are "
            "purchases.",
        ),
        Field(
            "paid",
            "boolean",
            "$.paid",
            description="Whether the charge succeeded or was authorized for later capture (paid).",
        ),
        Field(
            "refunded",
            "boolean",
            "$.refunded",
            description="Whether the charge was fully refunded (refunded; false while partly refunded).",
        ),
        Field(
            "billing_email",
            "email",
            "$.billing_details.email",
            description="The email in the payment's billing details (billing_details.email).",
        ),
        Field(
            "billing_name",
            "string",
            "$.billing_details.name",
            description="The name in the payment's billing details (billing_details.name).",
        ),
        Field(
            "description",
            "string",
            "$.description",
            description="The charge's description (description), as the merchant wrote it.",
        ),
        Field(
            "amount",
            "amount",
            computed=True,
            column=money(),
            description=f"amount_minor in the currency's own units: {MAJOR_UNITS}.",
        ),
        Field(
            "amount_refunded",
            "amount",
            computed=True,
            column=money(),
            description=f"amount_refunded_minor in the currency's own units: {MAJOR_UNITS}.",
        ),
        Field(
            "settled_amount",
            "amount",
            computed=True,
            column=money(),
            description="settled_amount_minor in the settlement currency's own units, what purchases are "
            "counted in.",
        ),
    ),
    extra_columns=_with_amounts,
    checks=(
        converts_back("amount", "amount_minor", "currency"),
        converts_back("settled_amount", "settled_amount_minor", "settled_currency"),
    ),
    key_columns=("record_id", "charge_id"),
    # The charge object as Stripe documents it ("The Charge object"), balance_transaction expanded
    # (the stream asks for it), beside the keys the fields read; null values carry the documented
    # type. Card details are those of card payments: another payment method's details show as
    # drift, by name.
    envelope_payload={
        "object": "string",
        "amount_captured": "number",
        "application": "string",
        "application_fee": "string",
        "application_fee_amount": "number",
        "balance_transaction.available_on": "number",
        "balance_transaction.balance_type": "string",
        "balance_transaction.created": "number",
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
        "billing_details.address": "object",
        "billing_details.address.city": "string",
        "billing_details.address.country": "string",
        "billing_details.address.line1": "string",
        "billing_details.address.line2": "string",
        "billing_details.address.postal_code": "string",
        "billing_details.address.state": "string",
        "billing_details.phone": "string",
        "billing_details.tax_id": "string",
        "calculated_statement_descriptor": "string",
        "captured": "boolean",
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
        "review": "string",
        "shipping": "object",
        "source": "object",
        "source_transfer": "string",
        "statement_descriptor": "string",
        "statement_descriptor_suffix": "string",
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
        Field(
            "refund_id",
            "string",
            "$.id",
            required=True,
            json_type="string",
            column=columns.identifier(),
            description="The refund's Stripe id (id, re_...).",
        ),
        Field(
            "created_at",
            "timestamp",
            "$.created",
            required=True,
            json_type="number",
            description="When the refund was created (created, unix seconds).",
        ),
        Field(
            "charge_id",
            "string",
            "$.charge",
            required=True,
            json_type="string",
            column=columns.reference(),
            description="The Stripe id of the refunded charge (charge).",
        ),
        Field(
            "amount_minor",
            "integer",
            "$.amount",
            required=True,
            json_type="number",
            column=minor_units(),
            description=f"The amount refunded (amount), {MINOR_UNITS}.",
        ),
        Field(
            "currency",
            "string",
            "$.currency",
            required=True,
            pattern=r"^[a-z]{3}$",
            column=currency_code(),
            description="The refund's currency (currency, lowercase ISO 4217).",
        ),
        Field(
            "status",
            "string",
            "$.status",
            column=columns.one_of(("succeeded", "pending", "requires_action", "failed", "canceled")),
            description="The refund's status (status: succeeded, pending, requires_action, failed or canceled).",
        ),
        Field(
            "reason",
            "string",
            "$.reason",
            description="Why the charge was refunded (reason, e.g. duplicate, fraudulent, requested_by_customer); "
            "null when no reason was given.",
        ),
        Field(
            "amount",
            "amount",
            computed=True,
            column=money(),
            description=f"amount_minor in the currency's own units: {MAJOR_UNITS}; subtracted from its "
            "charge's purchase.",
        ),
    ),
    extra_columns=_with_amounts,
    checks=(converts_back("amount", "amount_minor", "currency"),),
    key_columns=("record_id", "refund_id"),
    envelope_payload={"object": "string"},
    description="Stripe refunds, amounts in the currency's units; subtracted from their charges' purchases.",
)

ENTITIES = (CUSTOMERS, CHARGES, REFUNDS)
