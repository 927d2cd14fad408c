"""The durable event queue between the receiver and the landing, through kombu.

One direct exchange ``cdp.webhooks`` with three durable queues: ``events`` (what the receiver
accepted), ``dead`` (what could not be landed, with the reason) and ``stats`` (the receivers'
counter deltas, so that refusals, which are never enqueued as events, still reach the landing
run's metadata whichever broker is used).

The broker is chosen by URL: Redis locally and in tests (``redis://127.0.0.1:6379/0``), RabbitMQ
(``amqp://``) or SQS (``sqs://``) in production through ``CDP_EVENTS_BROKER_URL``. Guarantees:

- Publishing is persistent (``delivery_mode=2``) and, on RabbitMQ, waits for the broker's publisher
  confirm; on Redis the push has returned once Redis holds it (durable across a Redis restart only
  with AOF persistence, see the README). The receiver answers 2xx only after this returns.
- Consuming never auto-acknowledges: a message is acknowledged by the landing only after its event
  is in the lake. A consumer that dies holding messages gives them back: RabbitMQ at once (the
  connection drops), Redis after ``visibility_timeout`` seconds (kombu's ack emulation keeps a copy
  in an ``unacked`` hash; :meth:`EventQueue.drain` sweeps expired copies back first, since kombu
  only does so itself inside its consume loop). Redelivery means at-least-once; the landing makes
  it exactly-once by event id.
"""

from __future__ import annotations

import json
import queue as queue_module
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kombu import Connection, Exchange, Queue
from kombu.message import Message

from cdp_platform.webhooks.events import WebhookEvent

DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"
BROKER_URL_VAR = "CDP_EVENTS_BROKER_URL"
EXCHANGE = "cdp.webhooks"
EVENTS, DEAD, STATS = "events", "dead", "stats"
# How long a message taken by a landing run stays invisible on Redis before it is handed out again.
# Longer than a landing run of one batch takes (seconds); short enough that a killed run's events
# are landed by the next run within minutes.
DEFAULT_VISIBILITY_TIMEOUT = 300.0
_PUBLISH_RETRY = {"max_retries": 3, "interval_start": 0.0, "interval_step": 0.2, "interval_max": 1.0}


class QueueUnavailable(RuntimeError):
    """The broker could not be reached or refused a publish; the message names the broker kind only
    (a broker URL may embed a password)."""


def broker_kind(url: str) -> str:
    return url.split("://", 1)[0] if "://" in url else "unknown"


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    body: Any
    dead_at: float


class EventQueue:
    """A connection to the broker with the three queues declared.

    Publishing is thread-safe: a kombu producer is not, so each publish borrows one of up to
    ``publishers`` connections with their own producer, and concurrent requests' round trips to
    the broker overlap instead of queueing behind one lock (measured in
    benchmarks/webhook_latency.py). Messages go through the broker's default exchange straight to
    the queue by name: on Redis a publish to a named exchange first reads the exchange's bindings,
    one more round trip per event for a routing that never changes.
    """

    def __init__(
        self,
        broker_url: str = DEFAULT_BROKER_URL,
        *,
        namespace: str = EXCHANGE,
        visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT,
        connect_timeout: float = 5.0,
        publishers: int = 4,
    ) -> None:
        self.kind = broker_kind(broker_url)
        self.namespace = namespace
        self.exchange = Exchange(namespace, type="direct", durable=True)
        self.queues = {
            name: Queue(f"{namespace}.{name}", exchange=self.exchange, routing_key=name, durable=True)
            for name in (EVENTS, DEAD, STATS)
        }
        self.connection = Connection(
            broker_url,
            connect_timeout=connect_timeout,
            transport_options={
                # RabbitMQ: publish() returns only once the broker confirmed the message.
                "confirm_publish": True,
                # Redis and SQS: how long a taken, unacknowledged message stays hidden.
                "visibility_timeout": visibility_timeout,
                # Redis: our own ack-emulation keys, so a Celery app on the same database neither
                # restores our messages with its timeout nor we its.
                "unacked_key": f"{namespace}.unacked",
                "unacked_index_key": f"{namespace}.unacked_index",
                "unacked_mutex_key": f"{namespace}.unacked_mutex",
            },
        )
        self._idle: queue_module.SimpleQueue = queue_module.SimpleQueue()
        self._slots = threading.BoundedSemaphore(max(1, publishers))
        self._publishing: list[Connection] = []
        try:
            self.connection.ensure_connection(max_retries=1)
            channel = self.connection.default_channel
            for queue in self.queues.values():
                queue(channel).declare()
        except Exception as exc:
            raise QueueUnavailable(
                f"the {self.kind} event broker cannot be reached ({type(exc).__name__})"
            ) from None

    def close(self) -> None:
        # On Redis a graceful close restores this connection's unacknowledged messages at once.
        for connection in self._publishing:
            connection.release()
        self.connection.release()

    def __enter__(self) -> EventQueue:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _publish(self, name: str, bodies: Iterable[tuple[dict, dict[str, Any]]]) -> None:
        queue_name = self.queues[name].name
        with self._slots:
            try:
                connection, producer = self._idle.get_nowait()
            except queue_module.Empty:
                connection = self.connection.clone()
                self._publishing.append(connection)
                producer = connection.Producer(serializer="json")
            try:
                for body, headers in bodies:
                    producer.publish(
                        body,
                        exchange="",
                        routing_key=queue_name,
                        delivery_mode=2,
                        headers=headers,
                        retry=True,
                        retry_policy=_PUBLISH_RETRY,
                    )
            except Exception as exc:
                # This connection may be broken: it is not reused; the next publish opens another.
                self._publishing.remove(connection)
                connection.release()
                raise QueueUnavailable(
                    f"the {self.kind} event broker refused or lost a publish ({type(exc).__name__})"
                ) from None
            self._idle.put((connection, producer))

    def publish_events(self, events: Iterable[WebhookEvent], headers: dict[str, str] | None = None) -> None:
        """Enqueue events durably; returns only when the broker holds all of them. ``headers`` go
        with every message (the receipt span's trace context)."""
        extra = headers or {}
        self._publish(EVENTS, ((event.to_message(), {**extra, "event_key": event.key}) for event in events))

    def publish_stats(self, delta: dict[str, Any]) -> None:
        self._publish(STATS, [(delta, {})])

    def dead_letter(self, message: Message, reason: str) -> None:
        """Put a message that cannot be landed on the dead-letter queue with its reason, then
        acknowledge it (in that order: a crash in between leaves a copy in both, never in neither)."""
        try:
            body: Any = message.decode()
        except Exception:
            body = (
                message.body.decode("utf-8", "replace") if isinstance(message.body, bytes) else message.body
            )
        self._publish(DEAD, [({"reason": reason, "body": body, "dead_at": time.time()}, {"reason": reason})])
        message.ack()

    def restore_expired(self) -> None:
        """Redis: hand out again the messages a dead consumer took more than ``visibility_timeout``
        ago. Other brokers do this themselves."""
        qos = getattr(self.connection.default_channel, "qos", None)
        restore = getattr(qos, "restore_visible", None)
        if restore is not None:
            restore(num=None, interval=1)

    def take(self, name: str = EVENTS, limit: int = 1000) -> list[Message]:
        """Up to ``limit`` messages, unacknowledged: the caller acks each once it is safely stored."""
        if name == EVENTS:
            self.restore_expired()
        queue = self.queues[name](self.connection.default_channel)
        messages = []
        while len(messages) < limit:
            message = queue.get(no_ack=False, accept=["json"])
            if message is None:
                break
            messages.append(message)
        return messages

    def depth(self, name: str = EVENTS) -> int:
        """Messages waiting (not counting those taken and not yet acknowledged). A declare, not a
        passive one: kombu's Redis transport reports an empty queue as missing."""
        _, count, _ = self.queues[name](self.connection.default_channel).queue_declare(passive=False)
        return int(count)

    def purge(self) -> None:
        """Empty all three queues (tests and the benchmark start from nothing)."""
        for queue in self.queues.values():
            queue(self.connection.default_channel).purge()

    def dead_letters(self, limit: int = 1000) -> list[DeadLetter]:
        """Read and acknowledge dead letters (for inspection and tests; they are removed)."""
        letters = []
        for message in self.take(DEAD, limit):
            body = message.decode()
            letters.append(DeadLetter(reason=body["reason"], body=body["body"], dead_at=body["dead_at"]))
            message.ack()
        return letters


def message_json(message: Message) -> dict[str, Any]:
    body = message.decode()
    if isinstance(body, str | bytes):
        body = json.loads(body)
    return body
