"""Fixtures of the webhook tests: the machine's real Redis (an empty database claimed for the test
and emptied after), a queue under a namespace of its own, and the vendors' test secrets."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from cdp_platform.webhooks.queue import EventQueue
from cdp_platform.webhooks.vendor_specs import WEBHOOK_SPECS
from cdp_platform_tests.support.services import require_service

# Claims database N when it is empty, in one step, so two test runs never share one.
CLAIM = (
    "if redis.call('DBSIZE') == 0 then redis.call('SET', KEYS[1], ARGV[1], 'EX', 600) return 1 end return 0"
)

SECRETS = {
    "CDP_HUBSPOT_CLIENT_SECRET": "hubspot-test-client-secret",
    "CDP_FACEBOOK_APP_SECRET": "facebook-test-app-secret",
    "CDP_FACEBOOK_WEBHOOK_VERIFY_TOKEN": "facebook-verify-token",
    "CDP_INSTAGRAM_APP_SECRET": "instagram-test-app-secret",
    "CDP_INSTAGRAM_WEBHOOK_VERIFY_TOKEN": "instagram-verify-token",
    "CDP_STRIPE_WEBHOOK_SECRET": "whsec_test_secret",
    "CDP_TWITTER_CONSUMER_SECRET": "twitter-consumer-secret",
}


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A URL of an empty Redis database of the machine's server, emptied again afterwards."""
    require_service("Redis", "127.0.0.1", 6379)
    import redis

    token = uuid.uuid4().hex
    for number in range(1, 16):
        client = redis.Redis(host="127.0.0.1", port=6379, db=number)
        if client.eval(CLAIM, 1, "cdp_platform_tests:claim", token):
            try:
                yield f"redis://127.0.0.1:6379/{number}"
            finally:
                client.flushdb()
                client.close()
            return
        client.close()
    pytest.fail("no empty Redis database among 1..15 to run the webhook test in")


@pytest.fixture
def queue(redis_url: str) -> Iterator[EventQueue]:
    with EventQueue(redis_url, namespace=f"test.{uuid.uuid4().hex[:8]}", visibility_timeout=2) as q:
        yield q


@pytest.fixture
def specs():
    return WEBHOOK_SPECS
