"""Credentials: how requests are signed and how an expired credential is renewed.

The schemes shared by many APIs live here (a bearer token); a vendor's own token exchange lives in
its source's folder, built on :class:`Auth`, :func:`bearer_of` and :class:`RenewLock`.

Credentials arrive as plain strings from the caller (who reads them from Dagster ``EnvVar``).
An auth object adds them to each request (``apply``), may need a first exchange before any call
(``ensure``: an OAuth token request), and gets one chance per request to renew an expired
credential (``refresh``) before the client gives up. ``secrets()`` lists the live values so
redaction can mask them literally wherever they surface.

Renewals are guarded: when many concurrent requests fail on the same expired token, the first one
renews it and the others see that the token they used is no longer current and simply retry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import httpx

from .errors import ErrorInfo

if TYPE_CHECKING:
    from .client import VendorClient


class Auth:
    """No credentials. Also the interface every auth implements."""

    base_url: str | None = None
    """A base URL learned from the credential exchange (an OAuth answer's ``instance_url``), else None."""

    async def ensure(self, client: VendorClient) -> None:
        """Obtain a credential before the first request, if the scheme needs one."""

    def apply(self, request: httpx.Request) -> None:
        """Add the current credential to ``request``."""

    async def refresh(self, client: VendorClient, info: ErrorInfo, request: httpx.Request) -> bool:
        """Renew after ``request`` failed with expired credentials; True if it should be sent again."""
        return False

    def secrets(self) -> list[str]:
        return []


def bearer_of(request: httpx.Request) -> str | None:
    value = request.headers.get("authorization", "")
    return value[7:] if value.lower().startswith("bearer ") else None


class RenewLock:
    """An asyncio.Lock per event loop: an auth object may outlive the loop of one run."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None

    def get(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            self._loop, self._lock = loop, asyncio.Lock()
        return self._lock


class BearerAuth(Auth):
    """``Authorization: Bearer <token>``.

    ``renew`` is an optional coroutine returning a fresh token (an OAuth refresh or a service
    account grant the caller implements); without it a 401 fails the request with the vendor's
    message.
    """

    def __init__(self, token: str, *, renew: Callable[[], Awaitable[str]] | None = None) -> None:
        self.token = token
        self._renew = renew
        self._lock = RenewLock()

    def apply(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self.token}"

    async def refresh(self, client: VendorClient, info: ErrorInfo, request: httpx.Request) -> bool:
        if self._renew is None:
            return False
        async with self._lock.get():
            if bearer_of(request) != self.token:
                return True
            self.token = await self._renew()
            return True

    def secrets(self) -> list[str]:
        return [self.token]
