"""A cache of listings (the records of a paginated request, all pages) shared by the streams and
runs of one day, so a listing already fetched is not asked of the vendor again.

Vendors bill and throttle by the request. A fan-out stream lists its parents before asking each for
its children; a retry, a resume, a re-materialization or another stream over the same parents on
the same day would list them again. An entry is keyed by (source, endpoint, parameters, day of the
fetch), so it is never served on another day, and expires after a time to live besides.

Where: Redis when ``CDP_REDIS_URL`` is set (or ``CDP_EVENTS_BROKER_URL``, the event queue's
setting, names a Redis), else the lake under ``_cache/listings/<day>/``. A cache that fails (Redis
down, an unreadable entry) is a miss and a warning: the caller asks the vendor, so a cache can cost
a request but never a record.

What may be cached is the caller's decision: a listing whose window had ended when it was fetched
(its parents can no longer change; a window still open gains parents by the minute).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

log = logging.getLogger(__name__)

REDIS_URL_VAR = "CDP_REDIS_URL"
BROKER_URL_VAR = "CDP_EVENTS_BROKER_URL"
TTL_VAR = "CDP_LISTING_CACHE_TTL_SECONDS"
DEFAULT_TTL_SECONDS = 6 * 3600
LAKE_ROOT = "_cache/listings"
REDIS_PREFIX = "cdp:listing:"


class ByteStore(Protocol):
    """What the lake-backed cache needs of a lake (``cdp_platform.io.lake.Lake`` has it)."""

    def write_bytes(self, key: str, data: bytes) -> None: ...
    def read_bytes(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete_prefix(self, prefix: str) -> None: ...
    def list_keys(self, prefix: str) -> Iterator[str]: ...


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def listing_key(source: str, endpoint: str, params: Mapping[str, Any], day: str | None = None) -> str:
    """The entry of one listing: source, endpoint, parameters (in any order) and the day fetched."""
    if not source or not endpoint:
        raise ValueError("a listing cache key needs the source and the endpoint")
    text = json.dumps(
        {"source": source, "endpoint": endpoint, "params": dict(params)},
        sort_keys=True,
        default=str,
        separators=(",", ":"),
    )
    return f"{day or today()}/{source}/{hashlib.sha256(text.encode()).hexdigest()[:32]}"


class ListingCache:
    """get/put of JSON values by :func:`listing_key`; failures are misses, never errors."""

    kind = "none"

    def __init__(self, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"listing cache time to live must be positive, got {ttl_seconds}")
        self.ttl_seconds = ttl_seconds
        self.hits = 0
        self.misses = 0
        self.failures = 0

    def get(self, key: str) -> Any | None:
        try:
            value = self._get(key)
        except Exception as exc:  # a cache is never a reason to lose or fail a read
            self.failures += 1
            log.warning(
                "listing cache (%s) read failed, asking the vendor: %s", self.kind, type(exc).__name__
            )
            value = None
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def put(self, key: str, value: Any) -> None:
        try:
            self._put(key, json.dumps(value, separators=(",", ":"), default=str).encode())
        except Exception as exc:
            self.failures += 1
            log.warning("listing cache (%s) write failed, not cached: %s", self.kind, type(exc).__name__)

    def _get(self, key: str) -> Any | None:
        return None

    def _put(self, key: str, data: bytes) -> None:
        return None


class LakeListingCache(ListingCache):
    """One JSON file per entry under ``_cache/listings/<day>/``; days before today are deleted when
    a new entry is written (an entry holds its expiry time too, for the time to live)."""

    kind = "lake"

    def __init__(self, lake: ByteStore, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        super().__init__(ttl_seconds)
        self.lake = lake

    def _path(self, key: str) -> str:
        return f"{LAKE_ROOT}/{key}.json"

    def _get(self, key: str) -> Any | None:
        path = self._path(key)
        if not self.lake.exists(path):
            return None
        entry = json.loads(self.lake.read_bytes(path))
        if entry["expires_at"] <= time.time():
            return None
        return entry["value"]

    def _put(self, key: str, data: bytes) -> None:
        entry = b'{"expires_at":%f,"value":%s}' % (time.time() + self.ttl_seconds, data)
        self.lake.write_bytes(self._path(key), entry)
        self._drop_old_days(key.split("/", 1)[0])

    def _drop_old_days(self, day: str) -> None:
        days = {k[len(LAKE_ROOT) + 1 :].split("/", 1)[0] for k in self.lake.list_keys(LAKE_ROOT)}
        for old in sorted(d for d in days if d < day):
            self.lake.delete_prefix(f"{LAKE_ROOT}/{old}/")


class RedisListingCache(ListingCache):
    """Entries as Redis strings with an expiry (``SET ... EX``): every worker of every run shares them."""

    kind = "redis"

    def __init__(self, url: str, ttl_seconds: float = DEFAULT_TTL_SECONDS, client: Any = None) -> None:
        super().__init__(ttl_seconds)
        if client is None:
            import redis

            # Short timeouts: a cache that hangs would cost more than the request it saves.
            client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.client = client

    def _get(self, key: str) -> Any | None:
        data = self.client.get(REDIS_PREFIX + key)
        return None if data is None else json.loads(data)

    def _put(self, key: str, data: bytes) -> None:
        self.client.set(REDIS_PREFIX + key, data, ex=max(1, int(self.ttl_seconds)))


def configured_redis_url(environ: Mapping[str, str] | None = None) -> str | None:
    """``CDP_REDIS_URL``, else the event queue's broker URL when it names a Redis; None otherwise."""
    environ = os.environ if environ is None else environ
    url = (environ.get(REDIS_URL_VAR) or "").strip()
    if url:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{REDIS_URL_VAR} must be a redis://, rediss:// or unix:// URL")
        return url
    broker = (environ.get(BROKER_URL_VAR) or "").strip()
    return broker if broker.startswith(("redis://", "rediss://")) else None


def ttl_seconds(environ: Mapping[str, str] | None = None) -> float:
    environ = os.environ if environ is None else environ
    raw = (environ.get(TTL_VAR) or "").strip()
    if not raw:
        return DEFAULT_TTL_SECONDS
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{TTL_VAR} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{TTL_VAR} must be positive, got {raw!r}")
    return value


_REDIS_CACHES: dict[str, RedisListingCache] = {}


def listing_cache(lake: ByteStore | None, environ: Mapping[str, str] | None = None) -> ListingCache:
    """The configured cache: Redis when configured, else the lake, else one that never hits."""
    url = configured_redis_url(environ)
    ttl = ttl_seconds(environ)
    if url:
        cache = _REDIS_CACHES.get(url)
        if cache is None or cache.ttl_seconds != ttl:
            cache = _REDIS_CACHES[url] = RedisListingCache(url, ttl)
        return cache
    if lake is not None:
        return LakeListingCache(lake, ttl)
    return ListingCache(ttl)
