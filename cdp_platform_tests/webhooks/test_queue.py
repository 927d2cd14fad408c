"""The durable queue through kombu against the machine's real brokers: Redis (local and tests) and,
for one test, RabbitMQ (production's AMQP path): persistence, acknowledgement, redelivery of what a
consumer took and never acknowledged, dead letters with their reason."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from cdp_platform.webhooks.events import WebhookEvent
from cdp_platform.webhooks.queue import EventQueue, QueueUnavailable, message_json
from cdp_platform_tests.support.services import free_port, require_service


def event(event_id: str, source: str = "stripe") -> WebhookEvent:
    return WebhookEvent(
        source=source,
        event_id=event_id,
        event_type="charge.succeeded",
        object_id=f"ch_{event_id}",
        occurred_at=1_764_700_000.0,
        received_at=1_764_700_001.5,
        payload={"id": event_id, "amount": 1999},
    )


@pytest.mark.redis
def test_publish_take_ack_roundtrip_and_depth(queue: EventQueue):
    queue.publish_events([event("evt_1"), event("evt_2"), event("evt_3")])
    assert queue.depth() == 3
    taken = queue.take(limit=2)
    assert [WebhookEvent.from_message(message_json(m)) for m in taken] == [event("evt_1"), event("evt_2")]
    assert taken[0].headers["event_key"] == "stripe:evt_1"
    for message in taken:
        message.ack()
    assert queue.depth() == 1
    rest = queue.take()
    assert [message_json(m)["event_id"] for m in rest] == ["evt_3"]
    rest[0].ack()
    assert queue.depth() == 0 and queue.take() == []


@pytest.mark.redis
def test_messages_a_killed_consumer_held_come_back_after_the_visibility_timeout(redis_url: str):
    """A consumer process takes two messages and is SIGKILLed before acknowledging: they are not
    lost. On Redis they are handed out again once the visibility timeout (2 s here) has passed."""
    namespace = f"test.{uuid.uuid4().hex[:8]}"
    with EventQueue(redis_url, namespace=namespace, visibility_timeout=2) as queue:
        queue.publish_events([event("evt_a"), event("evt_b")])
    consumer = textwrap.dedent(
        f"""
        import os, signal
        from cdp_platform.webhooks.queue import EventQueue
        queue = EventQueue({redis_url!r}, namespace={namespace!r}, visibility_timeout=2)
        assert len(queue.take()) == 2
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run([sys.executable, "-c", consumer], capture_output=True, timeout=60)
    assert done.returncode == -9, done.stderr
    with EventQueue(redis_url, namespace=namespace, visibility_timeout=2) as queue:
        assert queue.depth() == 0 and queue.take() == []  # still invisible: taken 0-2 s ago
        time.sleep(2.5)
        again = queue.take()
        assert sorted(message_json(m)["event_id"] for m in again) == ["evt_a", "evt_b"]
        for message in again:
            message.ack()


@pytest.mark.redis
def test_closing_without_ack_gives_messages_back_at_once(redis_url: str):
    namespace = f"test.{uuid.uuid4().hex[:8]}"
    with EventQueue(redis_url, namespace=namespace, visibility_timeout=300) as queue:
        queue.publish_events([event("evt_c")])
        assert len(queue.take()) == 1
    with EventQueue(redis_url, namespace=namespace, visibility_timeout=300) as queue:
        assert [message_json(m)["event_id"] for m in queue.take()] == ["evt_c"]


@pytest.mark.redis
def test_dead_letter_keeps_the_reason_and_removes_the_message(queue: EventQueue):
    queue.publish_events([event("evt_bad")])
    (message,) = queue.take()
    queue.dead_letter(message, "event time is not a date")
    assert queue.depth() == 0
    (letter,) = queue.dead_letters()
    assert letter.reason == "event time is not a date"
    assert letter.body["event_id"] == "evt_bad"
    time.sleep(2.5)
    assert queue.take() == []  # acknowledged: not redelivered after the visibility timeout


def test_unreachable_broker_is_a_clear_error_without_the_url():
    with pytest.raises(QueueUnavailable) as raised:
        EventQueue(f"redis://:hunter2@127.0.0.1:{free_port()}/0", connect_timeout=1)
    assert "redis" in str(raised.value) and "hunter2" not in str(raised.value)


def test_rabbitmq_publish_confirm_take_and_redelivery_on_disconnect():
    """Production's AMQP path on the machine's RabbitMQ (guest/guest): a published event survives a
    consumer that disconnects without acknowledging, and is gone once acknowledged."""
    require_service("RabbitMQ", "127.0.0.1", 5672)
    url = os.environ.get("CDP_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
    namespace = f"test.{uuid.uuid4().hex[:8]}"
    with EventQueue(url, namespace=namespace) as queue:
        try:
            queue.publish_events([event("evt_r1"), event("evt_r2")])
            assert queue.depth() == 2
            with EventQueue(url, namespace=namespace) as consumer:
                assert len(consumer.take()) == 2
            # The consumer's connection closed without acks: RabbitMQ requeued both.
            again = queue.take()
            assert sorted(message_json(m)["event_id"] for m in again) == ["evt_r1", "evt_r2"]
            for message in again:
                message.ack()
            assert queue.depth() == 0
        finally:
            channel = queue.connection.default_channel
            for q in queue.queues.values():
                q(channel).delete()
            queue.exchange(channel).delete()
