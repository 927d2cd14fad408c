"""Signing requests as each vendor documents it (../shared/API_FACTS.md), written here from the
vendors' descriptions rather than with the receiver's own schemes, so a mistake in a scheme cannot
cancel itself out in the tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from cdp_platform_tests.webhooks.conftest import SECRETS


def _mac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def body_of(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def hubspot_headers(body: bytes, uri: str, *, secret: str | None = None, at_ms: int | None = None) -> dict:
    at_ms = int(time.time() * 1000) if at_ms is None else at_ms
    secret = SECRETS["CDP_HUBSPOT_CLIENT_SECRET"] if secret is None else secret
    signature = base64.b64encode(_mac(secret, b"POST" + uri.encode() + body + str(at_ms).encode())).decode()
    return {
        "X-HubSpot-Signature-v3": signature,
        "X-HubSpot-Request-Timestamp": str(at_ms),
        "content-type": "application/json",
    }


def graph_headers(body: bytes, *, secret: str | None = None, vendor: str = "facebook") -> dict:
    secret = SECRETS[f"CDP_{vendor.upper()}_APP_SECRET"] if secret is None else secret
    return {"X-Hub-Signature-256": "sha256=" + _mac(secret, body).hex(), "content-type": "application/json"}


def stripe_headers(body: bytes, *, secret: str | None = None, at: int | None = None) -> dict:
    at = int(time.time()) if at is None else at
    secret = SECRETS["CDP_STRIPE_WEBHOOK_SECRET"] if secret is None else secret
    return {
        "Stripe-Signature": f"t={at},v1=" + _mac(secret, f"{at}.".encode() + body).hex(),
        "content-type": "application/json",
    }


def twitter_headers(body: bytes, *, secret: str | None = None) -> dict:
    secret = SECRETS["CDP_TWITTER_CONSUMER_SECRET"] if secret is None else secret
    return {
        "x-twitter-webhooks-signature": "sha256=" + base64.b64encode(_mac(secret, body)).decode(),
        "content-type": "application/json",
    }


def hubspot_events(count: int, start: int = 1, at_ms: int | None = None) -> list[dict]:
    at_ms = int(time.time() * 1000) if at_ms is None else at_ms
    return [
        {
            "eventId": start + i,
            "subscriptionId": 7,
            "portalId": 62515,
            "occurredAt": at_ms,
            "subscriptionType": "contact.propertyChange",
            "objectId": 1000 + start + i,
            "propertyName": "email",
            "propertyValue": f"person{start + i}@example.com",
            "attemptNumber": 0,
        }
        for i in range(count)
    ]


def graph_leads(*leadgen_ids: str, at: int | None = None) -> dict:
    at = int(time.time()) if at is None else at
    return {
        "object": "page",
        "entry": [
            {
                "id": "page-1",
                "time": at,
                "changes": [
                    {
                        "field": "leadgen",
                        "value": {
                            "leadgen_id": lead,
                            "page_id": "page-1",
                            "form_id": "form-1",
                            "created_time": at,
                        },
                    }
                    for lead in leadgen_ids
                ],
            }
        ],
    }


def stripe_event(event_id: str, at: int | None = None) -> dict:
    at = int(time.time()) if at is None else at
    return {
        "id": event_id,
        "object": "event",
        "type": "charge.succeeded",
        "created": at,
        "data": {"object": {"id": f"ch_{event_id}", "object": "charge", "amount": 1999, "customer": "cus_1"}},
    }


def twitter_mentions(*tweet_ids: str, at_ms: int | None = None) -> dict:
    at_ms = int(time.time() * 1000) if at_ms is None else at_ms
    return {
        "for_user_id": "2244994945",
        "tweet_create_events": [
            {"id_str": tweet, "text": "@brand hello", "timestamp_ms": str(at_ms), "user": {"id_str": "99"}}
            for tweet in tweet_ids
        ],
    }
