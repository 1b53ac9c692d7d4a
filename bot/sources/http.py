"""The one HTTP client every source uses: timeouts, retries, politeness.

Upstream services fail in ordinary ways (a dropped connection, a 502 from a proxy, a 429
when we are too eager), so every request gets a timeout and a few retries with
exponential backoff and jitter. A ``Retry-After`` header is obeyed rather than guessed
at. arXiv asks for one request at a time and at most one every three seconds; a shared
:class:`Throttle` enforces that across the listing feeds and the lookup API.

A request that still fails raises :class:`RequestFailed` with a one-line reason; callers
count it and carry on with the other pages and sources.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from bot.config import SourcesSettings

log = logging.getLogger(__name__)

# Longer than this and we give up instead of sleeping: an ingest must not hang for an hour.
MAX_RETRY_AFTER = 120.0
MAX_BACKOFF = 60.0


class RequestFailed(Exception):
    """A request that failed for good (after retries). The message is one line."""


class Throttle:
    """At most one request per ``interval`` seconds, one at a time (arXiv's rule).

    Held for the whole request, so a second caller waits for the first to finish, then
    for the interval measured from when the previous request ended: the gap the server
    sees is never shorter than the interval, however slow the connection was.
    """

    def __init__(self, interval: float) -> None:
        self.interval = max(0.0, interval)
        self._lock = asyncio.Lock()
        self._last_end: float | None = None

    async def __aenter__(self) -> Throttle:
        await self._lock.acquire()
        if self._last_end is not None:
            wait = self._last_end + self.interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._last_end = time.monotonic()
        self._lock.release()


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: either a number or an HTTP date. ``None`` if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_seconds(attempt: int, base: float) -> float:
    """Exponential backoff with jitter: ``base * 2**attempt``, scaled by 0.5-1.0 at random,
    so many clients failing together do not retry in lock-step."""
    return min(MAX_BACKOFF, base * 2**attempt) * random.uniform(0.5, 1.0)


def _retryable_status(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


class HttpClient:
    """An ``httpx.AsyncClient`` with our User-Agent, retries and per-request timeouts.

    Use as ``async with HttpClient(settings) as http: await http.get(url, timeout=...)``.
    ``requests``, ``retried`` and ``failed`` count what happened, for the ingest summary.
    """

    def __init__(
        self, settings: SourcesSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.retries = max(0, settings.retries)
        self.backoff = max(0.0, settings.retry_backoff)
        self._client = httpx.AsyncClient(
            headers={"User-Agent": settings.user_agent},
            follow_redirects=True,
            transport=transport,
        )
        self.requests = 0
        self.retried = 0
        self.failed = 0

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        timeout: float,
        throttle: Throttle | None = None,
    ) -> httpx.Response:
        """GET with retries; returns a 2xx response with its body read, or raises."""
        attempt = 0
        while True:
            self.requests += 1
            wait: float | None = None
            try:
                if throttle is not None:
                    async with throttle:
                        response = await self._client.get(url, params=params, timeout=timeout)
                else:
                    response = await self._client.get(url, params=params, timeout=timeout)
            except httpx.TransportError as exc:
                # Timeouts, refused connections, and bodies cut short (RemoteProtocolError).
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            except httpx.RequestError as exc:  # too many redirects, undecodable body
                self.failed += 1
                raise RequestFailed(f"GET {url}: {type(exc).__name__}: {exc}") from exc
            else:
                if response.is_success:
                    return response
                reason = f"HTTP {response.status_code}"
                if not _retryable_status(response.status_code):
                    self.failed += 1
                    raise RequestFailed(f"GET {response.request.url}: {reason}")
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                if wait is not None and wait > MAX_RETRY_AFTER:
                    self.failed += 1
                    raise RequestFailed(
                        f"GET {response.request.url}: {reason}, asked to wait {wait:.0f} s"
                    )
            if attempt >= self.retries:
                self.failed += 1
                raise RequestFailed(f"GET {url}: {reason} (after {attempt + 1} attempts)")
            if wait is None:
                wait = backoff_seconds(attempt, self.backoff)
            log.info("GET %s: %s; retrying in %.1f s", url, reason, wait)
            attempt += 1
            self.retried += 1
            await asyncio.sleep(wait)
