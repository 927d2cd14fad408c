"""The receiver in process (Starlette TestClient) against the machine's real Redis: every vendor's
valid request is enqueued, every kind of bad request is refused with the vendor's status, counted,
and never enqueued, and nothing of a body reaches the logs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging

import pytest
from starlette.testclient import TestClient

from cdp_platform.webhooks.queue import EventQueue, message_json
from cdp_platform.webhooks.receiver import Receiver
from cdp_platform_tests.webhooks import signing as sign
from cdp_platform_tests.webhooks.conftest import SECRETS

pytestmark = [
    pytest.mark.redis,
    # Starlette 1.10 suggests httpx2 for its TestClient; httpx 0.28 is what the project pins.
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`"),
]

BASE = "http://testserver"


@pytest.fixture
def receiver(specs, queue: EventQueue) -> Receiver:
    return Receiver(specs, SECRETS, queue)


@pytest.fixture
def client(receiver: Receiver):
    with TestClient(receiver.app(), base_url=BASE) as test_client:
        yield test_client


def queued(queue: EventQueue) -> list[dict]:
    messages = queue.take(limit=10_000)
    for message in messages:
        message.ack()
    return [message_json(m) for m in messages]


def test_each_vendor_valid_request_is_enqueued_with_its_event_ids(client, queue, receiver):
    hubspot = sign.body_of(sign.hubspot_events(3, start=10))
    assert (
        client.post(
            "/webhooks/hubspot",
            content=hubspot,
            headers=sign.hubspot_headers(hubspot, f"{BASE}/webhooks/hubspot"),
        ).status_code
        == 200
    )
    leads = sign.body_of(sign.graph_leads("lead-1", "lead-2"))
    assert (
        client.post("/webhooks/facebook", content=leads, headers=sign.graph_headers(leads)).status_code == 200
    )
    charge = sign.body_of(sign.stripe_event("evt_1"))
    assert (
        client.post("/webhooks/stripe", content=charge, headers=sign.stripe_headers(charge)).status_code
        == 200
    )
    tweets = sign.body_of(sign.twitter_mentions("1850000000000000001"))
    assert (
        client.post("/webhooks/twitter", content=tweets, headers=sign.twitter_headers(tweets)).status_code
        == 200
    )

    events = queued(queue)
    assert sorted((e["source"], e["event_id"]) for e in events) == sorted(
        [
            ("hubspot", "10"),
            ("hubspot", "11"),
            ("hubspot", "12"),
            ("facebook", "lead-1"),
            ("facebook", "lead-2"),
            ("stripe", "evt_1"),
            ("twitter", "1850000000000000001"),
        ]
    )
    stripe_event = next(e for e in events if e["source"] == "stripe")
    assert stripe_event["object_id"] == "ch_evt_1" and stripe_event["event_type"] == "charge.succeeded"
    assert abs(stripe_event["occurred_at"] - stripe_event["received_at"]) < 5
    assert receiver.counters.totals() == {
        "facebook": {"received": 2},
        "hubspot": {"received": 3},
        "stripe": {"received": 1},
        "twitter": {"received": 1},
    }


def test_bad_signatures_are_refused_with_each_vendors_status_and_never_enqueued(client, queue, receiver):
    hubspot = sign.body_of(sign.hubspot_events(1))
    leads = sign.body_of(sign.graph_leads("lead-9"))
    charge = sign.body_of(sign.stripe_event("evt_9"))
    tweets = sign.body_of(sign.twitter_mentions("9"))
    cases = [
        ("hubspot", hubspot, sign.hubspot_headers(hubspot, f"{BASE}/webhooks/hubspot", secret="wrong"), 401),
        ("facebook", leads, sign.graph_headers(leads, secret="wrong"), 403),
        # The Instagram route checks with the Instagram app secret, not Facebook's.
        ("instagram", leads, sign.graph_headers(leads, vendor="facebook"), 403),
        ("stripe", charge, sign.stripe_headers(charge, secret="whsec_wrong"), 400),
        ("twitter", tweets, sign.twitter_headers(tweets, secret="wrong"), 401),
        ("stripe", charge, {"content-type": "application/json"}, 400),  # no signature at all
    ]
    for vendor, body, headers, status in cases:
        response = client.post(f"/webhooks/{vendor}", content=body, headers=headers)
        assert response.status_code == status, vendor
    # A signature over other bytes than those sent (a body altered in transit).
    response = client.post("/webhooks/facebook", content=leads + b" ", headers=sign.graph_headers(leads))
    assert response.status_code == 403
    assert queued(queue) == []
    totals = receiver.counters.totals()
    assert totals["hubspot"] == {"refused:bad_signature": 1}
    assert totals["facebook"] == {"refused:bad_signature": 2}
    assert totals["stripe"] == {"refused:bad_signature": 1, "refused:missing_signature": 1}


def test_stale_timestamps_are_refused(client, queue, receiver):
    import time

    hubspot = sign.body_of(sign.hubspot_events(1))
    old_ms = int((time.time() - 301) * 1000)
    response = client.post(
        "/webhooks/hubspot",
        content=hubspot,
        headers=sign.hubspot_headers(hubspot, f"{BASE}/webhooks/hubspot", at_ms=old_ms),
    )
    assert response.status_code == 401 and response.text == "stale_timestamp"
    charge = sign.body_of(sign.stripe_event("evt_old"))
    response = client.post(
        "/webhooks/stripe", content=charge, headers=sign.stripe_headers(charge, at=int(time.time()) - 301)
    )
    assert response.status_code == 400 and response.text == "stale_timestamp"
    # Within the window a slightly old request is fine (vendors' clocks and retries).
    response = client.post(
        "/webhooks/stripe", content=charge, headers=sign.stripe_headers(charge, at=int(time.time()) - 200)
    )
    assert response.status_code == 200
    assert [e["event_id"] for e in queued(queue)] == ["evt_old"]
    assert receiver.counters.totals()["hubspot"] == {"refused:stale_timestamp": 1}


def test_hubspot_signature_covers_the_uri(client, queue):
    body = sign.body_of(sign.hubspot_events(1))
    headers = sign.hubspot_headers(body, f"{BASE}/webhooks/hubspot?portal=1")
    assert client.post("/webhooks/hubspot", content=body, headers=headers).status_code == 401
    assert client.post("/webhooks/hubspot?portal=1", content=body, headers=headers).status_code == 200
    assert len(queued(queue)) == 1


def test_unknown_route_oversized_and_malformed_bodies_are_refused(client, queue, receiver):
    assert client.post("/webhooks/myspace", content=b"{}").status_code == 404
    assert client.post("/somewhere/else", content=b"{}").status_code == 404
    big = sign.body_of({"object": "page", "entry": [], "pad": "x" * 1_000_001})
    response = client.post("/webhooks/facebook", content=big, headers=sign.graph_headers(big))
    assert response.status_code == 413
    not_json = b'{"object": "page", "entry": [ '
    response = client.post("/webhooks/facebook", content=not_json, headers=sign.graph_headers(not_json))
    assert response.status_code == 400 and response.text == "malformed_json"
    wrong_shape = sign.body_of({"object": "page"})
    response = client.post("/webhooks/facebook", content=wrong_shape, headers=sign.graph_headers(wrong_shape))
    assert response.status_code == 400 and response.text == "unexpected_shape"
    assert queued(queue) == []
    totals = receiver.counters.totals()
    assert totals["unknown"] == {"refused:unknown_route": 2}
    assert totals["facebook"] == {
        "refused:body_too_large": 1,
        "refused:malformed_json": 1,
        "refused:unexpected_shape": 1,
    }


def test_body_over_the_limit_without_content_length_is_cut_off(specs, queue):
    receiver = Receiver(specs, SECRETS, queue, max_body_bytes=1000)

    def chunks():
        for _ in range(10):
            yield b"x" * 500

    with TestClient(receiver.app(), base_url=BASE) as client:
        response = client.post(
            "/webhooks/stripe", content=chunks(), headers={"Stripe-Signature": "t=1,v1=00"}
        )
    assert response.status_code == 413
    assert queued(queue) == []


def test_a_redelivered_event_is_answered_but_not_enqueued_again(client, queue, receiver):
    body = sign.body_of(sign.stripe_event("evt_twice"))
    first = client.post("/webhooks/stripe", content=body, headers=sign.stripe_headers(body))
    again = client.post("/webhooks/stripe", content=body, headers=sign.stripe_headers(body))
    assert first.status_code == again.status_code == 200
    assert again.json() == {"accepted": 0, "duplicates": 1}
    assert [e["event_id"] for e in queued(queue)] == ["evt_twice"]
    assert receiver.counters.totals()["stripe"] == {"received": 1, "duplicates": 1}


def test_handshakes(client):
    ok = client.get(
        "/webhooks/facebook",
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": "facebook-verify-token",
            "hub.challenge": "1158201444",
        },
    )
    assert ok.status_code == 200 and ok.text == "1158201444"
    wrong = client.get(
        "/webhooks/facebook",
        params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"},
    )
    assert wrong.status_code == 403 and "1158201444" not in wrong.text
    crc = client.get("/webhooks/twitter", params={"crc_token": "challenge-abc"})
    expected = base64.b64encode(
        hmac.new(b"twitter-consumer-secret", b"challenge-abc", hashlib.sha256).digest()
    ).decode()
    assert crc.status_code == 200 and crc.json() == {"response_token": f"sha256={expected}"}
    assert client.get("/webhooks/stripe").status_code == 405


def test_a_vendor_without_its_secret_has_no_route(specs, queue):
    secrets = {k: v for k, v in SECRETS.items() if k != "CDP_STRIPE_WEBHOOK_SECRET"}
    receiver = Receiver(specs, secrets, queue)
    body = sign.body_of(sign.stripe_event("evt_1"))
    with TestClient(receiver.app(), base_url=BASE) as client:
        assert (
            client.post("/webhooks/stripe", content=body, headers=sign.stripe_headers(body)).status_code
            == 404
        )
    assert "stripe" not in receiver.specs and queued(queue) == []


def test_nothing_of_a_body_or_secret_is_logged(client, queue, caplog):
    caplog.set_level(logging.DEBUG)
    marker = "person-secret-marker@example.com"
    body = sign.body_of(
        {
            "object": "page",
            "entry": [{"id": "1", "time": 1, "changes": [{"field": "leadgen", "value": {"email": marker}}]}],
        }
    )
    client.post("/webhooks/facebook", content=body, headers=sign.graph_headers(body, secret="wrong"))
    client.post("/webhooks/facebook", content=body[:-3], headers=sign.graph_headers(body[:-3]))
    client.get(
        "/webhooks/facebook",
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": "facebook-verify-token-x",
            "hub.challenge": marker,
        },
    )
    # httpx's own records are the test client's (the vendor's side), not the receiver's.
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert "webhook refused" in logged  # the refusals were logged...
    assert marker not in logged and "facebook-verify-token" not in logged  # ...without the body or token
    assert queued(queue) == []


def test_stats_deltas_are_shipped_over_the_queue(client, queue, receiver):
    import anyio

    body = sign.body_of(sign.stripe_event("evt_s"))
    client.post("/webhooks/stripe", content=body, headers=sign.stripe_headers(body))
    client.post("/webhooks/stripe", content=body, headers=sign.stripe_headers(body, secret="whsec_no"))
    anyio.run(receiver.ship_stats)
    anyio.run(receiver.ship_stats)  # nothing new: nothing shipped
    stats = [message_json(m) for m in queue.take("stats")]
    assert len(stats) == 1
    assert stats[0]["counters"] == {"stripe": {"received": 1, "refused:bad_signature": 1}}
