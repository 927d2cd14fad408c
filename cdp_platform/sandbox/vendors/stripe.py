"""Stripe as the sandbox serves it: customers, charges, refunds and events of the web shop.

Who and what: the web shop's customers are the persons of the population whose purchases the
purchase process routes to Stripe (``SYSTEM_SHOP`` in :mod:`cdp_platform.sandbox.purchases`), so
identity truth exists for every customer (email, name, phone and address typed with the "stripe"
noise profile) and every succeeded charge is one simulated purchase (its USD amount is the
settlement amount of the charge's balance transaction). A few card payments fail first, some charges
are refunded later (in full or in part), and half of the customers change their details after
signing up (a phone or an address added at a later checkout, or the other mailbox).

How, as the real API (API_FACTS.md, Stripe): ``GET /v1/customers``, ``/v1/charges``,
``/v1/refunds`` and ``/v1/events`` are list objects ``{"object": "list", "url", "has_more",
"data"}``, newest first, filtered by ``created[gte|gt|lt|lte]`` (unix seconds), paged by ``limit``
(1-100, default 10) and ``starting_after``/``ending_before`` (an object id, no cursor field). Lists
show objects as they are *now*: a customer changed after it was created is still listed under its
creation time, and only ``/v1/events`` (``customer.updated``, ``charge.refunded``..., kept 30
days) says that and when it changed. Amounts are integers in the currency's minor unit: most
customers pay in their country's currency (usd, gbp, eur), and a few in the card's own currency
(jpy has no minor unit, kwd three decimals). ``expand[]=data.customer`` and
``expand[]=data.balance_transaction`` inline those objects. Auth is ``Authorization: Bearer
<secret key>`` (or HTTP Basic with the key as user name); every response carries ``Request-Id``;
there are no quota headers: a 429 says ``Stripe-Should-Retry``.

Storm faults on a list page: a malformed object, a page that starts one object early (a record on
two pages), a page that ignores ``starting_after`` (the same last id again: the loop a cursor-less
paginator must notice), ``has_more: true`` on the last page (the next page is empty), and a number
served as a string (schema drift). Nothing is kept per request: a page is a range of positions in
a sorted index, so a million persons cost a few arrays.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import functools
import hashlib
import hmac
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from cdp_platform.sandbox.faults import FaultPlan
from cdp_platform.sandbox.plugins import EmulatedVendor, Mount, PurchaseRecords, WebhookSender
from cdp_platform.sandbox.population import (
    SourceProfile,
    format_phone,
    key_of,
    record_random,
    source_view,
    uniforms,
)
from cdp_platform.sandbox.purchases import SYSTEM_SHOP
from cdp_platform.sandbox.records import SandboxData
from cdp_platform.sandbox.vendors.common import (
    SandboxState,
    apply_drift,
    apply_malformed,
    drift_first_number,
    json_response,
    plan_of,
)

STRIPE_SECRET_KEY = "sk_test_51SandboxCdpStripeSecretKey0000000000"  # noqa: S105 - test mode, synthetic data
PREFIX = "/stripe"
API_VERSION = "2024-06-20"
DEFAULT_LIMIT, MAX_LIMIT = 10, 100
EVENT_RETENTION_DAYS = 30
# Requests per second of one account (Stripe's documented default: 100 in live mode, 25 in test
# mode; the sandbox key is a test-mode key).
READS_PER_SECOND_TEST_MODE = 25

# Shares of the shop's records.
UPDATED_CUSTOMER_SHARE = 0.5
FAILED_ATTEMPT_SHARE = 0.05  # purchases preceded by a declined card
REFUND_SHARE = 0.08  # of succeeded charges, refunded within 30 days
FULL_REFUND_SHARE = 0.4  # of refunds
# Most customers pay in their country's currency; a few pay in their card's currency.
COUNTRY_CURRENCY = {"US": "usd", "GB": "gbp", "DE": "eur", "FR": "eur"}
FOREIGN_CURRENCIES = (("jpy", 0.03), ("kwd", 0.02))
# Units of the currency per US dollar (fixed in the sandbox; the settlement amount is the truth).
USD_RATES = {"usd": 1.0, "gbp": 0.79, "eur": 0.92, "jpy": 151.3, "kwd": 0.3075}
# Stripe's currencies without a minor unit, and with three decimals (API_FACTS.md).
ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})

# Event kinds, in the order of their code in an event id.
EVENT_TYPES = ("customer.created", "customer.updated", "charge.succeeded", "charge.failed", "charge.refunded")

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_WIDTH = {"cus": 14, "ch": 24, "re": 24, "evt": 24, "txn": 24, "pm": 24}
_DECLINES = (("card_declined", "Your card was declined."), ("insufficient_funds", "Your card has insufficient funds."))
_BRANDS = ("visa", "mastercard", "amex")


def exponent(currency: str) -> int:
    """Digits of the currency's minor unit as Stripe counts them (``1999`` jpy is 1,999 yen)."""
    currency = currency.lower()
    return 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2


# ---- ids ---------------------------------------------------------------------------------------------


def _id_offset(seed: int, prefix: str) -> int:
    return key_of(seed, "stripe-id", prefix)


@functools.lru_cache(maxsize=16)
def _id_multiplier(prefix: str) -> int:
    """A multiplier spanning the id space (so consecutive numbers get unrelated ids) and coprime to
    62 (odd, not a multiple of 31), so the permutation can be inverted."""
    modulus = 62 ** _ID_WIDTH[prefix]
    value = 0
    for part in range(4):
        value = (value << 64) | key_of(0, "stripe-id-multiplier", prefix, part)
    value = (value % modulus) | 1
    while value % 31 == 0:
        value += 2
    return value


def object_id(seed: int, prefix: str, number: int) -> str:
    """``cus_`` + base62: a bijection of the record number, so an id is decoded without a table."""
    width = _ID_WIDTH[prefix]
    modulus = 62**width
    number = int(number)  # a numpy integer would overflow in the product
    value = (number * _id_multiplier(prefix) + _id_offset(seed, prefix)) % modulus
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        chars.append(_ALPHABET[digit])
    return f"{prefix}_{''.join(reversed(chars))}"


def object_number(seed: int, prefix: str, text: str) -> int | None:
    """The record number an id of this prefix encodes, or None for anything else."""
    width = _ID_WIDTH[prefix]
    head, _, body = text.partition("_")
    if head != prefix or len(body) != width or any(c not in _ALPHABET for c in body):
        return None
    value = 0
    for char in body:
        value = value * 62 + _ALPHABET.index(char)
    modulus = 62**width
    return ((value - _id_offset(seed, prefix)) * pow(_id_multiplier(prefix), -1, modulus)) % modulus


# ---- the shop's records ---------------------------------------------------------------------------------


class Listing:
    """One list endpoint's objects in Stripe's order: newest first (ties: higher number first)."""

    def __init__(self, created_s: np.ndarray) -> None:
        self.created_s = created_s.astype(np.int64)
        numbers = np.arange(created_s.size, dtype=np.int64)
        self.order = np.lexsort((-numbers, -self.created_s)).astype(np.int64)
        self._negated = -self.created_s[self.order]  # ascending, for searchsorted
        self.position = np.empty_like(self.order)
        self.position[self.order] = np.arange(self.order.size, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.order.size)

    def window(self, gte: int | None, lt: int | None) -> tuple[int, int]:
        """Positions [lo, hi) of the objects created in [gte, lt)."""
        lo = 0 if lt is None else int(np.searchsorted(self._negated, -lt, side="right"))
        hi = len(self) if gte is None else int(np.searchsorted(self._negated, -gte, side="right"))
        return lo, max(lo, hi)


class StripeData:
    """The web shop's customers, charges, refunds and events, derived from one SandboxData."""

    def __init__(self, data: SandboxData) -> None:
        self.data = data
        self.seed = seed = data.config.seed
        pop = data.population
        purchases = data.purchases
        self.start_s = pop.start_ms // 1000
        self.end_s = pop.end_ms // 1000  # exclusive: the sandbox's "now"
        stripe = np.flatnonzero(purchases.system == SYSTEM_SHOP).astype(np.int64)
        self.purchase = stripe  # succeeded charge k is purchase stripe[k]
        buyers = purchases.person[stripe].astype(np.int64)
        self.persons = np.unique(buyers)  # customer c is person persons[c]
        n_customers = self.persons.size
        first = stripe[np.searchsorted(buyers, self.persons, side="left")] if stripe.size else stripe
        customers = np.arange(n_customers, dtype=np.int64)
        # A customer is created at checkout, one to sixty minutes before the first payment.
        before = (60_000 + uniforms(key_of(seed, "stripe", "signup"), customers) * 3_540_000).astype(np.int64)
        created_ms = np.maximum(purchases.time_ms[first] - before, pop.start_ms) if n_customers else customers
        self.customer_created = (created_ms // 1000).astype(np.int64)
        updated = uniforms(key_of(seed, "stripe", "updated"), customers) < UPDATED_CUSTOMER_SHARE
        room = np.maximum(self.end_s - 1 - (self.customer_created + 1), 0)
        when = self.customer_created + 1 + (uniforms(key_of(seed, "stripe", "update_at"), customers) * room)
        self.customer_updated = np.where(updated & (room > 0), when.astype(np.int64), -1)
        self.customer_of_person = {int(p): c for c, p in enumerate(self.persons.tolist())}

        # Charges: one succeeded per purchase, then the declined attempts that preceded some.
        n_succeeded = stripe.size
        succeeded_s = purchases.time_ms[stripe] // 1000
        attempts = np.arange(n_succeeded, dtype=np.int64)
        failed = np.flatnonzero(uniforms(key_of(seed, "stripe", "declined"), attempts) < FAILED_ATTEMPT_SHARE)
        failed_s = succeeded_s[failed] - (60 + uniforms(key_of(seed, "stripe", "declined_at"), failed) * 540)
        failed_s = np.maximum(failed_s.astype(np.int64), self.customer_created[self._customer(stripe[failed])])
        self.n_succeeded = n_succeeded
        self.failed_of = failed  # failed charge n_succeeded + j precedes succeeded charge failed_of[j]
        self.charge_created = np.concatenate((succeeded_s, failed_s)).astype(np.int64)
        self.charge_customer = np.concatenate((self._customer(stripe), self._customer(stripe[failed])))
        self.charge_purchase = np.concatenate((stripe, stripe[failed]))
        self.currency = self._currencies(np.arange(self.charge_created.size, dtype=np.int64))

        # Refunds of succeeded charges, within 30 days and before the sandbox's now.
        refund_u = uniforms(key_of(seed, "stripe", "refund"), attempts)
        refund_s = succeeded_s + 3600 + (uniforms(key_of(seed, "stripe", "refund_at"), attempts) * 30 * 86_400)
        refunded = np.flatnonzero((refund_u < REFUND_SHARE) & (refund_s.astype(np.int64) < self.end_s))
        self.refund_charge = refunded.astype(np.int64)  # refund r refunds charge refund_charge[r]
        self.refund_created = refund_s[refunded].astype(np.int64)
        self.refund_of_charge = {int(k): r for r, k in enumerate(refunded.tolist())}

        self.customers = Listing(self.customer_created)
        self.charges = Listing(self.charge_created)
        self.refunds = Listing(self.refund_created)
        # Events: (kind, number) pairs, kind indexing EVENT_TYPES.
        upd = np.flatnonzero(self.customer_updated >= 0)
        kinds = [
            np.zeros(n_customers, np.int64),
            np.ones(upd.size, np.int64),
            np.full(n_succeeded, 2, np.int64),
            np.full(failed.size, 3, np.int64),
            np.full(refunded.size, 4, np.int64),
        ]
        numbers = [customers, upd, attempts, n_succeeded + np.arange(failed.size), self.refund_charge]
        times = [
            self.customer_created,
            self.customer_updated[upd],
            succeeded_s,
            failed_s,
            self.refund_created,
        ]
        self.event_kind = np.concatenate(kinds).astype(np.int64)
        self.event_number = np.concatenate(numbers).astype(np.int64)
        self.events = Listing(np.concatenate(times).astype(np.int64))

    def _customer(self, purchase_indices: np.ndarray) -> np.ndarray:
        persons = self.data.purchases.person[purchase_indices].astype(np.int64)
        return np.searchsorted(self.persons, persons).astype(np.int64)

    def _currencies(self, charges: np.ndarray) -> list[str]:
        countries = self.data.population.countries(self.persons[self.charge_customer[charges]])
        codes = [("US", "GB", "DE", "FR")[int(c)] for c in countries]
        u = uniforms(key_of(self.seed, "stripe", "card_currency"), charges)
        out = []
        for code, draw in zip(codes, u.tolist(), strict=True):
            currency, edge = COUNTRY_CURRENCY[code], 0.0
            for foreign, share in FOREIGN_CURRENCIES:
                edge += share
                if draw < edge:
                    currency = foreign
                    break
            out.append(currency)
        return out

    # ---- ids

    def customer_id(self, c: int) -> str:
        return object_id(self.seed, "cus", c)

    def charge_id(self, k: int) -> str:
        return object_id(self.seed, "ch", k)

    def refund_id(self, r: int) -> str:
        return object_id(self.seed, "re", r)

    def event_id(self, e: int) -> str:
        return object_id(self.seed, "evt", int(self.event_kind[e]) * 2**40 + int(self.event_number[e]))

    def event_position(self, text: str) -> int | None:
        code = object_number(self.seed, "evt", text)
        if code is None:
            return None
        kind, number = divmod(code, 2**40)
        matches = np.flatnonzero((self.event_kind == kind) & (self.event_number == number))
        return int(self.events.position[matches[0]]) if matches.size else None

    # ---- objects

    def charge_amount(self, k: int) -> tuple[int, str, int]:
        """(amount in the charge currency's minor unit, currency, settled USD cents)."""
        usd_cents = int(self.data.purchases.amount_cents[self.charge_purchase[k]])
        currency = self.currency[k]
        digits = exponent(currency)
        amount = max(1, round(usd_cents / 100 * USD_RATES[currency] * 10**digits))
        return amount, currency, usd_cents

    def refund_amount(self, r: int) -> int:
        k = int(self.refund_charge[r])
        amount, _, _ = self.charge_amount(k)
        rng = record_random(self.seed, "stripe/refunds", r)
        if rng.random() < FULL_REFUND_SHARE:
            return amount
        return max(1, min(amount - 1, round(amount * (0.1 + 0.4 * rng.random())))) if amount > 1 else amount

    def customer(self, c: int, version: int | None = None) -> dict[str, Any]:
        """Customer ``c`` as it is now (``version`` None), at creation (0) or after its update (1)."""
        if version is None:
            version = 1 if self.customer_updated[c] >= 0 else 0
        person = self.data.population.person(int(self.persons[c]))
        view = source_view(self.seed, person, "stripe")
        email, phone = view.email, view.phone
        has_address = view.street is not None
        if version == 1:
            rng = record_random(self.seed, "stripe/customers", c, "update")
            if phone is None:
                phone = format_phone(person.phone_e164, person.country, rng)
            elif not has_address:
                has_address = True
            else:
                other = person.work_email if email.strip().lower() == person.personal_email else person.personal_email
                email = other
        address = (
            {
                "city": person.city,
                "country": person.country,
                "line1": person.street,
                "line2": None,
                "postal_code": person.postcode,
                "state": None,
            }
            if has_address
            else None
        )
        cid = self.customer_id(c)
        return {
            "id": cid,
            "object": "customer",
            "address": address,
            "balance": 0,
            "created": int(self.customer_created[c]),
            "currency": COUNTRY_CURRENCY[person.country],
            "default_source": None,
            "delinquent": False,
            "description": None,
            "discount": None,
            "email": email,
            "invoice_prefix": cid[4:12].upper(),
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
                "rendering_options": None,
            },
            "livemode": False,
            "metadata": {},
            "name": f"{view.first_name} {view.last_name}",
            "next_invoice_sequence": 1,
            "phone": phone,
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }

    def customer_changes(self, c: int) -> dict[str, Any]:
        """``previous_attributes`` of the customer's update: the changed fields' old values."""
        before, after = self.customer(c, 0), self.customer(c, 1)
        return {key: before[key] for key in after if before[key] != after[key]}

    def balance_transaction(self, k: int) -> dict[str, Any]:
        amount, currency, usd_cents = self.charge_amount(k)
        fee = round(usd_cents * 0.029) + 30
        created = int(self.charge_created[k])
        rate = None if currency == "usd" else round(usd_cents / 100 / (amount / 10 ** exponent(currency)), 6)
        return {
            "id": object_id(self.seed, "txn", k),
            "object": "balance_transaction",
            "amount": usd_cents,
            "available_on": created + 2 * 86_400,
            "balance_type": "payments",
            "created": created,
            "currency": "usd",
            "description": None,
            "exchange_rate": rate,
            "fee": fee,
            "fee_details": [
                {"amount": fee, "application": None, "currency": "usd", "description": "Stripe processing fees", "type": "stripe_fee"}
            ],
            "net": usd_cents - fee,
            "reporting_category": "charge",
            "source": self.charge_id(k),
            "status": "available",
            "type": "charge",
        }

    def charge(self, k: int, refunded_now: bool | None = None, expand: frozenset[str] = frozenset()) -> dict[str, Any]:
        """Charge ``k`` as it is now, or before (False) / after (True) its refund."""
        amount, currency, _ = self.charge_amount(k)
        c = int(self.charge_customer[k])
        succeeded = k < self.n_succeeded
        refund = self.refund_of_charge.get(k)
        if refunded_now is None:
            refunded_now = refund is not None
        amount_refunded = self.refund_amount(refund) if (refund is not None and refunded_now) else 0
        customer = self.customer(c)
        rng = record_random(self.seed, "stripe/charges", k)
        decline = _DECLINES[rng.randrange(len(_DECLINES))]
        address = customer["address"]
        cid = self.charge_id(k)
        billing = {
            "address": address
            or {"city": None, "country": None, "line1": None, "line2": None, "postal_code": None, "state": None},
            "email": customer["email"],
            "name": customer["name"],
            "phone": customer["phone"],
            "tax_id": None,
        }
        return {
            "id": cid,
            "object": "charge",
            "amount": amount,
            "amount_captured": amount if succeeded else 0,
            "amount_refunded": amount_refunded,
            "application": None,
            "application_fee": None,
            "application_fee_amount": None,
            "balance_transaction": (
                (self.balance_transaction(k) if "data.balance_transaction" in expand else object_id(self.seed, "txn", k))
                if succeeded
                else None
            ),
            "billing_details": billing,
            "calculated_statement_descriptor": "CDP SHOP",
            "captured": succeeded,
            "created": int(self.charge_created[k]),
            "currency": currency,
            "customer": customer if "data.customer" in expand else customer["id"],
            "description": f"Web shop order {int(self.charge_purchase[k]):08d}",
            "disputed": False,
            "failure_balance_transaction": None,
            "failure_code": None if succeeded else decline[0],
            "failure_message": None if succeeded else decline[1],
            "fraud_details": {},
            "livemode": False,
            "metadata": {"order_id": f"{int(self.charge_purchase[k]):08d}"},
            "on_behalf_of": None,
            "outcome": {
                "network_status": "approved_by_network" if succeeded else "declined_by_network",
                "reason": None if succeeded else "generic_decline",
                "risk_level": "normal",
                "seller_message": "Payment complete." if succeeded else "The bank did not return any further details.",
                "type": "authorized" if succeeded else "issuer_declined",
            },
            "paid": succeeded,
            "payment_intent": None,
            "payment_method": object_id(self.seed, "pm", k),
            "payment_method_details": {
                "card": {
                    "brand": _BRANDS[rng.randrange(len(_BRANDS))],
                    "country": self.data.population.person(int(self.persons[c])).country,
                    "exp_month": 1 + rng.randrange(12),
                    "exp_year": 2027 + rng.randrange(5),
                    "funding": "credit",
                    "last4": f"{rng.randrange(10_000):04d}",
                },
                "type": "card",
            },
            "receipt_email": customer["email"],
            "receipt_number": None,
            "receipt_url": None,
            "refunded": bool(refund is not None and refunded_now and amount_refunded == amount),
            "review": None,
            "shipping": None,
            "source": None,
            "source_transfer": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": "succeeded" if succeeded else "failed",
            "transfer_data": None,
            "transfer_group": None,
        }

    def refund(self, r: int) -> dict[str, Any]:
        k = int(self.refund_charge[r])
        _, currency, _ = self.charge_amount(k)
        return {
            "id": self.refund_id(r),
            "object": "refund",
            "amount": self.refund_amount(r),
            "balance_transaction": object_id(self.seed, "txn", 10**12 + r),
            "charge": self.charge_id(k),
            "created": int(self.refund_created[r]),
            "currency": currency,
            "destination_details": {"card": {"type": "refund"}, "type": "card"},
            "metadata": {},
            "payment_intent": None,
            "reason": "requested_by_customer",
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": "succeeded",
            "transfer_reversal": None,
        }

    def event(self, e: int) -> dict[str, Any]:
        kind, number = int(self.event_kind[e]), int(self.event_number[e])
        data: dict[str, Any]
        if kind == 0:
            data = {"object": self.customer(number, 0)}
        elif kind == 1:
            data = {"object": self.customer(number, 1), "previous_attributes": self.customer_changes(number)}
        elif kind in (2, 3):
            data = {"object": self.charge(number, refunded_now=False)}
        else:
            data = {
                "object": self.charge(number, refunded_now=True),
                "previous_attributes": {"amount_refunded": 0, "refunded": False},
            }
        return {
            "id": self.event_id(e),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(self.events.created_s[e]),
            "data": data,
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": None, "idempotency_key": None},
            "type": EVENT_TYPES[kind],
        }

    # ---- truth

    def customer_person(self, c: int) -> int:
        return int(self.persons[c])


_CACHE: weakref.WeakKeyDictionary[SandboxData, StripeData] = weakref.WeakKeyDictionary()


def stripe_data(data: SandboxData) -> StripeData:
    """The shop of one SandboxData, built on first use (the other vendors never pay for it)."""
    shop = _CACHE.get(data)
    if shop is None:
        shop = _CACHE[data] = StripeData(data)
    return shop


# ---- HTTP ------------------------------------------------------------------------------------------


def stripe_error(
    status: int, message: str, kind: str = "invalid_request_error", code: str | None = None, param: str | None = None
) -> tuple[int, dict[str, Any]]:
    error: dict[str, Any] = {"message": message, "type": kind}
    if code is not None:
        error["code"] = code
        error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if param is not None:
        error["param"] = param
    return status, {"error": error}


class _BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None, code: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.param, self.code, self.status = message, param, code, status


_LIST_PARAMS = frozenset({"limit", "starting_after", "ending_before", "created", "expand[]"})
_CREATED_OPS = ("gte", "gt", "lt", "lte")


def _integer(text: str, param: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _BadRequest(f"Invalid integer: {text}", param, "parameter_invalid_integer") from None


def _created_bounds(params: Any) -> tuple[int | None, int | None]:
    """``created[gte]`` and friends, or ``created=<unix>``, as a half-open [gte, lt)."""
    gte: int | None = None
    lt: int | None = None
    if "created" in params:
        exact = _integer(params["created"], "created")
        return exact, exact + 1
    for op in _CREATED_OPS:
        name = f"created[{op}]"
        if name in params:
            value = _integer(params[name], name)
            if op in ("gte", "gt"):
                bound = value if op == "gte" else value + 1
                gte = bound if gte is None else max(gte, bound)
            else:
                bound = value if op == "lt" else value + 1
                lt = bound if lt is None else min(lt, bound)
    return gte, lt


class Stripe:
    """Routes and behaviour of the emulated Stripe API for the web shop's account."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    @property
    def shop(self) -> StripeData:
        return stripe_data(self.state.data)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v1/customers", self._list("customers"), methods=["GET"]),
            Route("/v1/charges", self._list("charges"), methods=["GET"]),
            Route("/v1/refunds", self._list("refunds"), methods=["GET"]),
            Route("/v1/events", self._list("events"), methods=["GET"]),
            Route("/v1/customers/{id}", self._retrieve("customers"), methods=["GET"]),
            Route("/v1/charges/{id}", self._retrieve("charges"), methods=["GET"]),
            Route("/v1/refunds/{id}", self._retrieve("refunds"), methods=["GET"]),
            Route("/v1/events/{id}", self._retrieve("events"), methods=["GET"]),
        ]

    @staticmethod
    def is_data_path(path: str) -> bool:
        return path.startswith("/v1/")

    # ---- plumbing

    def _headers(self, request: Request | None, plan: FaultPlan | None, salt: str = "") -> dict[str, str]:
        token = plan.token(f"request-id{salt}") if plan is not None else format(key_of(self.state.config.seed, "req", str(id(request))), "x")
        version = (request.headers.get("stripe-version") if request is not None else None) or API_VERSION
        return {"Request-Id": f"req_{token[:14]}", "Stripe-Version": version}

    def _error(self, request: Request | None, plan: FaultPlan | None, status: int, body: dict, **extra: str) -> Response:
        return json_response(body, status, {**self._headers(request, plan, "error"), **extra})

    def _authorize(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        key = None
        if scheme.lower() == "bearer":
            key = value.strip()
        elif scheme.lower() == "basic":
            try:
                key = base64.b64decode(value.strip()).decode().partition(":")[0]
            except (ValueError, binascii.Error, UnicodeDecodeError):
                key = ""
        plan = plan_of(request)
        if not key:
            status, body = stripe_error(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication "
                "for details, or we can help at https://support.stripe.com/.",
            )
            return self._error(request, plan, status, body)
        if key != self.state.credentials.stripe_secret_key:
            shown = f"{key[:8]}****{key[-4:]}" if len(key) > 12 else "****"
            status, body = stripe_error(401, f"Invalid API Key provided: {shown}")
            return self._error(request, plan, status, body)
        usage = self.state.limiter.acquire(
            "stripe/requests", "account", limit=READS_PER_SECOND_TEST_MODE, nominal_seconds=1, rolling=True
        )
        if not usage.allowed:
            self.state.stats.add("throttled", "stripe", "requests")
            return self._throttled(request, plan)
        return None

    def _throttled(self, request: Request | None, plan: FaultPlan | None) -> Response:
        status, body = stripe_error(
            429,
            "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
            code="rate_limit",
        )
        return self._error(request, plan, status, body, **{"Stripe-Should-Retry": "true"})

    def _list(self, kind: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            denied = self._authorize(request)
            if denied is not None:
                return denied
            return await self.state.build_page(lambda: self._page(request, kind))

        return endpoint

    def _retrieve(self, kind: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            denied = self._authorize(request)
            if denied is not None:
                return denied
            text = request.path_params["id"]
            position = self._position_of(kind, text)
            plan = plan_of(request)
            if position is None:
                status, body = stripe_error(
                    404, f"No such {kind[:-1]}: '{text}'", code="resource_missing", param="id"
                )
                return self._error(request, plan, status, body)
            expand = frozenset(request.query_params.getlist("expand[]"))
            number = int(self._listing(kind).order[position])
            obj = self._object(kind, number, frozenset(f"data.{e}" for e in expand))
            return json_response(obj, headers=self._headers(request, plan))

        return endpoint

    def _listing(self, kind: str) -> Listing:
        return getattr(self.shop, kind)

    def _position_of(self, kind: str, text: str) -> int | None:
        shop = self.shop
        if kind == "events":
            return shop.event_position(text)
        prefix = {"customers": "cus", "charges": "ch", "refunds": "re"}[kind]
        number = object_number(shop.seed, prefix, text)
        listing = self._listing(kind)
        if number is None or number >= len(listing):
            return None
        return int(listing.position[number])

    def _object(self, kind: str, number: int, expand: frozenset[str]) -> dict[str, Any]:
        shop = self.shop
        if kind == "customers":
            return shop.customer(number)
        if kind == "charges":
            return shop.charge(number, expand=expand)
        if kind == "refunds":
            return shop.refund(number)
        return shop.event(number)

    def _page(self, request: Request, kind: str) -> Response:
        plan = plan_of(request)
        try:
            body = self._list_body(request, kind, plan)
        except _BadRequest as bad:
            status, error = stripe_error(bad.status, bad.message, code=bad.code, param=bad.param)
            return self._error(request, plan, status, error)
        return json_response(body, headers=self._headers(request, plan))

    def _candidates(self, request: Request, kind: str, gte: int | None, lt: int | None) -> np.ndarray:
        """Positions (in list order) of the objects the filters select."""
        shop = self.shop
        listing = self._listing(kind)
        if kind == "events":
            floor = shop.end_s - EVENT_RETENTION_DAYS * 86_400
            gte = floor if gte is None else max(gte, floor)
        lo, hi = listing.window(gte, lt)
        positions = np.arange(lo, hi, dtype=np.int64)
        params = request.query_params
        if kind == "events":
            wanted = self._event_types(params)
            if wanted is not None:
                numbers = listing.order[positions]
                positions = positions[np.isin(shop.event_kind[numbers], sorted(wanted))]
        if kind == "charges" and params.get("customer"):
            number = object_number(shop.seed, "cus", params["customer"])
            numbers = listing.order[positions]
            positions = positions[shop.charge_customer[numbers] == (-1 if number is None else number)]
        if kind == "refunds" and params.get("charge"):
            number = object_number(shop.seed, "ch", params["charge"])
            numbers = listing.order[positions]
            positions = positions[shop.refund_charge[numbers] == (-1 if number is None else number)]
        return positions

    @staticmethod
    def _event_types(params: Any) -> set[int] | None:
        names = params.getlist("types[]")
        single = params.get("type")
        if single and names:
            raise _BadRequest("You may only specify one of these parameters: type, types.", "type")
        if len(names) > 20:
            raise _BadRequest("You may pass at most 20 types.", "types")
        if single:
            names = [single]
        if not names:
            return None
        wanted: set[int] = set()
        for name in names:
            if name.endswith(".*"):
                wanted |= {i for i, t in enumerate(EVENT_TYPES) if t.startswith(name[:-1])}
            elif name in EVENT_TYPES:
                wanted.add(EVENT_TYPES.index(name))
            elif "." not in name:
                raise _BadRequest(f"Invalid event type: {name}", "types" if len(names) > 1 or not single else "type")
        return wanted

    def _list_body(self, request: Request, kind: str, plan: FaultPlan | None) -> dict[str, Any]:
        params = request.query_params
        allowed = _LIST_PARAMS | {f"created[{op}]" for op in _CREATED_OPS} | {
            "events": {"type", "types[]", "delivery_success"},
            "charges": {"customer", "payment_intent", "transfer_group"},
            "refunds": {"charge", "payment_intent"},
            "customers": {"email", "test_clock"},
        }[kind]
        for name in params:
            if name not in allowed:
                raise _BadRequest(f"Received unknown parameter: {name}", name)
        limit = _integer(params.get("limit", str(DEFAULT_LIMIT)), "limit")
        if not 1 <= limit <= MAX_LIMIT:
            raise _BadRequest(
                f"This value must be {'less than or equal to 100' if limit > MAX_LIMIT else 'greater than or equal to 1'}.",
                "limit",
            )
        if "starting_after" in params and "ending_before" in params:
            raise _BadRequest("You may only specify one of these parameters: ending_before, starting_after.", "ending_before")
        expand = frozenset(params.getlist("expand[]"))
        expandable = {"charges": {"data.customer", "data.balance_transaction"}}.get(kind, set())
        for path in expand:
            if path not in expandable:
                raise _BadRequest(f"This property cannot be expanded ({path.removeprefix('data.')}).", "expand")
        gte, lt = _created_bounds(params)
        candidates = self._candidates(request, kind, gte, lt)
        if plan is not None and plan.page_max is not None:
            limit = min(limit, plan.page_max)
        start, stop = 0, min(limit, candidates.size)
        anchor_param = "starting_after" if "starting_after" in params else "ending_before" if "ending_before" in params else None
        if anchor_param is not None:
            anchor = self._position_of(kind, params[anchor_param])
            if anchor is None:
                noun = {"customers": "customer", "charges": "charge", "refunds": "refund", "events": "event"}[kind]
                raise _BadRequest(f"No such {noun}: '{params[anchor_param]}'", anchor_param, "resource_missing")
            if anchor_param == "starting_after":
                start = int(np.searchsorted(candidates, anchor, side="right"))
                if plan is not None and start > 0 and plan.wants("repeated_cursor"):
                    # The page the client already had, ending at the same object (the loop).
                    start = max(0, start - limit)
                    plan.applied.add("repeated_cursor")
                elif plan is not None and start > 0 and plan.wants("duplicate_record"):
                    start -= 1  # data changed while paging: the last object shows up again
                    plan.applied.add("duplicate_record")
                stop = min(candidates.size, start + limit)
            else:
                stop = int(np.searchsorted(candidates, anchor, side="left"))
                start = max(0, stop - limit)
        has_more = stop < candidates.size if anchor_param != "ending_before" else start > 0
        if plan is not None and not has_more and stop > start and plan.wants("empty_last_page"):
            has_more = True  # the next page will be empty
            plan.applied.add("empty_last_page")
        listing = self._listing(kind)
        numbers = listing.order[candidates[start:stop]].tolist()
        data = [self._object(kind, int(n), expand) for n in numbers]
        data = apply_drift(apply_malformed(data, plan, _corrupt), plan, _drift)
        return {"object": "list", "data": data, "has_more": bool(has_more), "url": f"/v1/{kind}"}

    # ---- faults

    def throttled(self, scope: Scope, plan: FaultPlan, retry_after_zero: bool) -> Response:
        """Stripe sends no Retry-After and no quota headers: both throttle kinds look alike."""
        return self._throttled(Request(scope), plan)

    def server_error(self, scope: Scope, plan: FaultPlan) -> Response:
        status, body = stripe_error(
            500,
            "An unknown error occurred",
            kind="api_error",
        )
        return self._error(Request(scope), plan, status, body, **{"Stripe-Should-Retry": "true"})

    def expired(self, scope: Scope, plan: FaultPlan) -> Response | None:
        """Never: a secret key does not expire; it is revoked (then every call is a 401)."""
        return None


def _corrupt(record: dict, variant: str) -> dict | None:
    if variant == "missing_id":
        return {k: v for k, v in record.items() if k != "id"}
    if variant == "bad_email":
        if isinstance(record.get("email"), str):
            return {**record, "email": record["email"].replace("@", " at ")}
        billing = record.get("billing_details")
        if isinstance(billing, dict) and isinstance(billing.get("email"), str):
            return {**record, "billing_details": {**billing, "email": billing["email"].replace("@", " at ")}}
        return None
    if variant == "other_date_format" and isinstance(record.get("created"), int):
        moment = datetime.datetime.fromtimestamp(record["created"], tz=datetime.UTC)
        return {**record, "created": moment.strftime("%m/%d/%Y %H:%M:%S")}
    if variant == "wrong_type" and isinstance(record.get("amount"), int):
        return {**record, "amount": f"{record['amount'] / 100:.2f}"}
    return None


def _drift(record: dict) -> dict | None:
    """A count or amount served as a string: ``"amount": "1999"`` (``created`` and ids stay)."""
    return drift_first_number(record, skip=frozenset({"created", "id"}))


__all__ = [
    "API_VERSION",
    "EVENT_TYPES",
    "Stripe",
    "StripeData",
    "exponent",
    "object_id",
    "object_number",
    "stripe_data",
]


# ---- ground truth ----------------------------------------------------------------------------------


def truth_records(data: SandboxData) -> list[tuple[str, list[str], np.ndarray, np.ndarray]]:
    """Per Stripe stream: (stream, record ids, true person index, last change in epoch ms).

    A customer's last change is its update (else its creation); a charge's, its refund (else its
    creation). Written into the sandbox truth's ``records.parquet`` beside the other streams.
    """
    shop = stripe_data(data)
    n_charges = shop.charge_created.size
    charge_changed = shop.charge_created.copy()
    charge_changed[shop.refund_charge] = shop.refund_created
    customer_changed = np.where(shop.customer_updated >= 0, shop.customer_updated, shop.customer_created)
    return [
        (
            "stripe/customers",
            [shop.customer_id(c) for c in range(shop.persons.size)],
            shop.persons.astype(np.int64),
            customer_changed * 1000,
        ),
        (
            "stripe/charges",
            [shop.charge_id(k) for k in range(n_charges)],
            shop.persons[shop.charge_customer].astype(np.int64),
            charge_changed * 1000,
        ),
        (
            "stripe/refunds",
            [shop.refund_id(r) for r in range(shop.refund_charge.size)],
            shop.persons[shop.charge_customer[shop.refund_charge]].astype(np.int64),
            shop.refund_created * 1000,
        ),
    ]


def expected_partition(data: SandboxData, stream: str, start_s: int, end_s: int) -> dict[str, dict[str, Any]]:
    """What raw partition [start_s, end_s) of ``stream`` must hold: record id → the object (the
    customer after the change for one changed in the window, else as it is now)."""
    shop = stripe_data(data)
    out: dict[str, dict[str, Any]] = {}
    if stream == "stripe/customers":
        for c in np.flatnonzero((shop.customer_created >= start_s) & (shop.customer_created < end_s)).tolist():
            out[shop.customer_id(c)] = shop.customer(c)
        floor = shop.end_s - EVENT_RETENTION_DAYS * 86_400
        changed = (shop.customer_updated >= max(start_s, floor)) & (shop.customer_updated < end_s)
        for c in np.flatnonzero(changed).tolist():
            out[shop.customer_id(c)] = shop.customer(c, 1)
    elif stream == "stripe/charges":
        for k in np.flatnonzero((shop.charge_created >= start_s) & (shop.charge_created < end_s)).tolist():
            out[shop.charge_id(k)] = shop.charge(k, expand=frozenset({"data.balance_transaction"}))
    elif stream == "stripe/refunds":
        for r in np.flatnonzero((shop.refund_created >= start_s) & (shop.refund_created < end_s)).tolist():
            out[shop.refund_id(r)] = shop.refund(r)
    else:
        raise KeyError(f"unknown Stripe stream {stream!r}")
    return out


# ---- webhooks: the signature (the sandbox sends no Stripe events by itself yet) -------------------


def webhook_sign(body: bytes, url: str, secrets: Mapping[str, str], now: float) -> dict[str, str]:
    """``Stripe-Signature``: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`` with the endpoint secret."""
    stamp = str(int(now))
    message = stamp.encode() + b"." + body
    digest = hmac.new(secrets["CDP_STRIPE_WEBHOOK_SECRET"].encode(), message, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={stamp},v1={digest}"}


# ---- its part of the truth: its records as identity candidates ---------------------------------------

def _identity_keys(data: Any) -> list[tuple[list[str], Any]]:
    """The web shop's customers, one candidate each."""
    for stream, record_ids, owners, _ in truth_records(data):
        if stream == "stripe/customers":
            return [(["stripe:customers:" + record_id for record_id in record_ids], owners.tolist())]
    return []


# ---- the sandbox plug-in (cdp_platform.sandbox.plugins) --------------------------------------------

VENDOR = EmulatedVendor(
    position=60,
    api=Stripe,
    mounts=(Mount("stripe", "stripe", credentials={"api_key": STRIPE_SECRET_KEY}),),
    accepts={"stripe_secret_key": STRIPE_SECRET_KEY},
    public={"STRIPE_SECRET_KEY": STRIPE_SECRET_KEY},
    webhooks=(
        WebhookSender("stripe", secrets={"CDP_STRIPE_WEBHOOK_SECRET": "whsec_sandbox"}, sign=webhook_sign),
    ),
    truth_records=lambda data: truth_records(data),
    # The web shop's succeeded charges, numbered like its purchases.
    purchases=(PurchaseRecords(SYSTEM_SHOP, "stripe/charges", lambda data, number: stripe_data(data).charge_id(number)),),
    identity_keys=_identity_keys,
    # A checkout form typed by the customer: the personal mailbox, a phone and an address often
    # left out, the card holder's name as written (nicknames, the odd slip).
    noise_profiles={"stripe": SourceProfile(0.15, 0.4, 0.35, 1.0, 0.20, 0.03, 0.15, 0.05, 0.25, ("code",))},
)
