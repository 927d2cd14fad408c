"""Stripe amounts by the currency's exponent, and the Pandera checks that catch a wrong one."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

import pandera.errors
import polars as pl
import pytest

from cdp_platform.cleansed.entity import cleanse
from cdp_platform.sources.stripe.cleansed.entities import CHARGES, CUSTOMERS
from cdp_platform.sources.stripe.source import object_id


def raw(records: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "record_id": [object_id(r) for r in records],  # as the raw layer keys them
            "updated_at": [datetime.datetime(2026, 11, 25, tzinfo=datetime.UTC)] * len(records),
            "payload": [json.dumps(r) for r in records],
            "context": [None] * len(records),
        },
        schema_overrides={"updated_at": pl.Datetime("us", "UTC"), "context": pl.String},
    )


def charge(charge_id: str, amount, currency: str, settled: int | None = 1999) -> dict:
    return {
        "id": charge_id, "object": "charge", "amount": amount, "amount_refunded": 0, "currency": currency,
        "created": 1795564800, "customer": "cus_A", "status": "succeeded", "paid": True, "refunded": False,
        "balance_transaction": None if settled is None else {"amount": settled, "currency": "usd"},
        "billing_details": {"email": "A@Example.org", "name": "Ann Lee"},
    }  # fmt: skip


def test_amounts_use_the_currency_exponent():
    result = cleanse(
        raw([charge("ch_usd", 1999, "usd"), charge("ch_jpy", 1999, "jpy"), charge("ch_kwd", 1990, "kwd")]),
        CHARGES,
        datetime.date(2026, 11, 25),
    )
    assert result.rejected.height == 0
    amounts = dict(zip(result.clean["charge_id"], result.clean["amount"], strict=True))
    assert amounts == {"ch_usd": Decimal("19.990"), "ch_jpy": Decimal("1999.000"), "ch_kwd": Decimal("1.990")}
    assert set(result.clean["settled_amount"]) == {Decimal("19.990")}
    CHARGES.schema.validate(result.clean)


def test_an_amount_read_with_another_exponent_fails_the_check():
    result = cleanse(raw([charge("ch_kwd", 1995, "kwd")]), CHARGES, datetime.date(2026, 11, 25))
    wrong = result.clean.with_columns(pl.lit(Decimal("19.950")).cast(pl.Decimal(20, 3)).alias("amount"))
    with pytest.raises(pandera.errors.SchemaError, match="converts_back"):
        CHARGES.schema.validate(wrong)


def test_a_drifted_or_damaged_amount_is_quarantined_not_guessed():
    result = cleanse(
        raw([charge("ch_text", "1999", "usd"), charge("ch_major", "19.99", "usd"), charge("ch_ok", 5, "usd")]),
        CHARGES,
        datetime.date(2026, 11, 25),
    )
    assert result.clean["charge_id"].to_list() == ["ch_ok"]
    assert set(result.rejected["rule"]) == {"wrong_type"}


def test_a_changed_customer_reads_its_fields_from_the_event_object():
    listed = {"id": "cus_A", "object": "customer", "created": 1795564800, "email": "OLD@example.org",
              "name": "Ann Lee", "phone": None, "address": None, "currency": "usd"}  # fmt: skip
    after = {**listed, "email": "new@example.org", "phone": "+1 415 555 0100",
             "address": {"line1": "1 Main St", "city": "Springfield", "postal_code": "11111", "country": "US"}}  # fmt: skip
    event = {"id": "evt_1", "object": "event", "type": "customer.updated", "created": 1795600000,
             "data": {"object": after, "previous_attributes": {"email": "OLD@example.org"}}}  # fmt: skip
    frame = raw([listed, event]).with_columns(
        pl.Series("updated_at", [datetime.datetime(2026, 11, 25, tzinfo=datetime.UTC),
                                 datetime.datetime(2026, 11, 25, 10, tzinfo=datetime.UTC)])
    )
    result = cleanse(frame, CUSTOMERS, datetime.date(2026, 11, 25))
    assert result.clean.height == 1 and result.collapsed == 1
    row = result.clean.row(0, named=True)
    assert (row["email"], row["phone"], row["country_code"]) == ("new@example.org", "+14155550100", "US")
    assert (row["first_name"], row["last_name"]) == ("Ann", "Lee")
    CUSTOMERS.schema.validate(result.clean)


def test_the_client_paces_under_the_keys_documented_rate():
    from cdp_platform.http.pacing import reset_pacers
    from cdp_platform.sources.stripe.source import StripeResource

    reset_pacers()
    try:
        test_mode = StripeResource(base_url="https://api.stripe.com", api_key="sk_test_abc")
        assert test_mode.requests_per_second() == 25 * 0.9
        assert StripeResource(base_url="https://api.stripe.com", api_key="rk_live_abc").requests_per_second() == 90
        client = test_mode.client()
        assert client.pacer.min_interval == pytest.approx(1 / 22.5)
        assert client.pacer is StripeResource(base_url="https://api.stripe.com", api_key="sk_test_abc").client().pacer
    finally:
        reset_pacers()
