"""The Stripe emulator answers as Stripe does (API_FACTS.md, Stripe) and holds the purchase process's truth."""

from __future__ import annotations

import asyncio
import base64
import datetime

import httpx
import numpy as np
import pytest

from cdp_platform.sandbox.app import create_app
from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.credentials import STRIPE_SECRET_KEY
from cdp_platform.sandbox.faults import ConnectionCut
from cdp_platform.sandbox.purchases import SYSTEM_STRIPE
from cdp_platform.sandbox.records import SandboxData
from cdp_platform.sandbox.vendors.stripe import (
    EVENT_TYPES,
    exponent,
    object_id,
    object_number,
    stripe_data,
)

CONFIG = SandboxConfig(persons=2000, seed=7, today=datetime.date(2026, 11, 26), span_days=120)
AUTH = {"Authorization": f"Bearer {STRIPE_SECRET_KEY}"}


@pytest.fixture(scope="module")
def data() -> SandboxData:
    return SandboxData(CONFIG)


@pytest.fixture(scope="module")
def app(data):
    return create_app(CONFIG, data=data, rate_limits=False)


def get(app, path: str, params=None, headers=AUTH) -> httpx.Response:
    async def send() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s/stripe") as c:
            return await c.get(path, params=params, headers=headers)

    return asyncio.run(send())


def test_ids_are_stripe_shaped_and_decode_to_their_numbers():
    for prefix, width in (("cus", 14), ("ch", 24), ("evt", 24)):
        ids = [object_id(7, prefix, n) for n in range(50)]
        assert len(set(ids)) == 50 and all(i.startswith(f"{prefix}_") and len(i) == len(prefix) + 1 + width for i in ids)
        assert [object_number(7, prefix, i) for i in ids] == list(range(50))
    assert object_number(7, "cus", "cus_nonsense") is None
    assert object_id(7, "cus", 1) != object_id(8, "cus", 1)


def test_currency_exponents_follow_stripe():
    assert (exponent("usd"), exponent("JPY"), exponent("krw"), exponent("kwd"), exponent("bhd")) == (2, 0, 0, 3, 3)


def test_every_succeeded_charge_is_a_routed_purchase_settled_at_its_amount(data):
    shop = stripe_data(data)
    routed = np.flatnonzero(data.purchases.system == SYSTEM_STRIPE)
    assert shop.n_succeeded == routed.size > 0
    for k in range(min(shop.n_succeeded, 200)):
        amount, currency, settled = shop.charge_amount(k)
        assert settled == int(data.purchases.amount_cents[routed[k]])
        # The presentment amount is the settled dollars at the fixed rate, in the currency's minor unit.
        assert shop.charge(k)["balance_transaction"] == object_id(7, "txn", k)
        if currency == "jpy":
            assert abs(amount - settled / 100 * 151.3) <= 0.5
        if currency == "kwd":
            assert abs(amount - settled / 100 * 0.3075 * 1000) <= 0.5
    assert {"jpy", "kwd"} <= set(shop.currency), "the zero- and three-decimal currencies never occur"
    # A customer is created before its first charge and belongs to a person in a CRM.
    first = shop.charge_created[: shop.n_succeeded]
    assert np.all(shop.customer_created[shop.charge_customer[: shop.n_succeeded]] <= first)


def test_lists_are_newest_first_and_page_after_the_last_id(app):
    first = get(app, "/v1/customers", {"limit": 5}).json()
    assert first["object"] == "list" and first["url"] == "/v1/customers" and first["has_more"] is True
    created = [c["created"] for c in first["data"]]
    assert created == sorted(created, reverse=True)
    second = get(app, "/v1/customers", {"limit": 5, "starting_after": first["data"][-1]["id"]}).json()
    assert second["data"][0]["created"] <= created[-1]
    assert not {c["id"] for c in first["data"]} & {c["id"] for c in second["data"]}
    back = get(app, "/v1/customers", {"limit": 5, "ending_before": second["data"][0]["id"]}).json()
    assert [c["id"] for c in back["data"]] == [c["id"] for c in first["data"]]


def test_created_filters_select_a_window_and_every_object_once(app, data):
    shop = stripe_data(data)
    start = int(datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC).timestamp())
    end = start + 14 * 86_400
    seen, after = [], None
    while True:
        params = {"created[gte]": start, "created[lt]": end, "limit": 7}
        if after:
            params["starting_after"] = after
        page = get(app, "/v1/charges", params).json()
        seen += [c["id"] for c in page["data"]]
        if not page["has_more"]:
            break
        after = page["data"][-1]["id"]
    want = {shop.charge_id(k) for k in np.flatnonzero((shop.charge_created >= start) & (shop.charge_created < end))}
    assert len(seen) == len(set(seen)) and set(seen) == want and want


def test_events_say_what_changed_and_are_kept_thirty_days(app, data):
    shop = stripe_data(data)
    updated = get(app, "/v1/events", {"types[]": ["customer.updated"], "limit": 100}).json()["data"]
    assert updated and all(e["type"] == "customer.updated" and e["object"] == "event" for e in updated)
    event = updated[0]
    customer = event["data"]["object"]
    assert set(event["data"]["previous_attributes"]) <= set(customer)
    assert get(app, f"/v1/customers/{customer['id']}").json() == customer  # the list shows it as it is now
    oldest = min(e["created"] for e in get(app, "/v1/events", {"limit": 100, "created[lt]": shop.end_s - 29 * 86_400}).json()["data"])
    assert oldest >= shop.end_s - 30 * 86_400
    wildcard = get(app, "/v1/events", {"type": "charge.*", "limit": 100}).json()["data"]
    assert wildcard and {e["type"] for e in wildcard} <= {t for t in EVENT_TYPES if t.startswith("charge.")}


def test_expand_inlines_the_customer_and_the_balance_transaction(app):
    page = get(app, "/v1/charges", {"limit": 3, "expand[]": ["data.customer", "data.balance_transaction"]}).json()
    charge = page["data"][0]
    assert charge["customer"]["object"] == "customer" and charge["balance_transaction"]["object"] == "balance_transaction"
    assert get(app, "/v1/refunds", {"expand[]": ["data.customer"]}).status_code == 400


def test_auth_and_parameter_errors_are_stripes(app):
    missing = get(app, "/v1/customers", headers={})
    assert missing.status_code == 401 and "You did not provide an API key" in missing.json()["error"]["message"]
    wrong = get(app, "/v1/customers", headers={"Authorization": "Bearer sk_test_notthekey1234"})
    assert wrong.status_code == 401 and wrong.json()["error"]["message"].endswith("****1234")
    assert wrong.json()["error"]["type"] == "invalid_request_error" and wrong.headers["request-id"].startswith("req_")
    basic = base64.b64encode(f"{STRIPE_SECRET_KEY}:".encode()).decode()
    assert get(app, "/v1/customers", headers={"Authorization": f"Basic {basic}"}).status_code == 200
    too_many = get(app, "/v1/customers", {"limit": 101})
    assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "limit"
    unknown = get(app, "/v1/customers", {"colour": "blue"})
    assert unknown.json()["error"]["message"] == "Received unknown parameter: colour"
    gone = get(app, "/v1/customers", {"starting_after": "cus_doesnotexist00"})
    assert gone.status_code == 400 and gone.json()["error"]["code"] == "resource_missing"
    assert get(app, "/v1/charges/ch_nope").status_code == 404


def test_throttled_answers_carry_stripe_should_retry(data):
    limited = create_app(CONFIG, data=data, faults={"stripe": "storm"})
    statuses = []
    for n in range(60):
        try:
            response = get(limited, "/v1/customers", {"limit": 1, "created[gte]": n})
        except ConnectionCut:  # the storm also cuts connections mid-body
            continue
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.headers["stripe-should-retry"] == "true"
            assert response.json()["error"]["code"] == "rate_limit"
            assert "retry-after" not in response.headers  # Stripe sends no quota headers
    assert 429 in statuses
