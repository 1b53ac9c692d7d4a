"""The one HTTP client every source uses: timeouts, retries, politeness.

Upstream services fail in ordinary ways (a dropped connection, a 502 from a proxy, a 429
when we are too eager), so every request gets a timeout and a few retries with
exponential backoff and jitter. A ``Retry-After`` header is obeyed rather than guessed
at. arXiv asks for one request at a time and at most one every three seconds; a shared
:class:`Throttle` enforces that across the listing feeds and the lookup API.

A request that still fails raises :class:`RequestFailed` with a one-line reason; callers
count it and carry on with the other pages and sources.

Nothing upstream does can hang an ingest or exhaust memory:

* httpx's timeouts apply per read, so a server that drips one byte a second would never
  time out. Each request therefore has a total deadline (``sources.request_deadline``)
  that covers every attempt, the throttle and the waits between retries; a
  ``Retry-After`` or backoff that would outlast it fails the request at once. A client
  made for an ingest also has that ingest's deadline (``sources.ingest_deadline``), and
  no request outlives it.
* Bodies are streamed and counted after decompression; past ``sources.max_body_bytes``
  the request fails (a 1 MB gzip can inflate to 1 GiB). Decoding happens one network
  read at a time, so at most one read's worth of inflated data (about 1000x 64 KiB for
  gzip) exists beyond the cap. Stacked encodings (a bomb inside a bomb) are refused.
* Redirects are followed only to the same origin (scheme, host and port): a mirror or a
  test server must not be able to send us to, and merge data from, anywhere else.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from bot.config import SourcesSettings

log = logging.getLogger(__name__)

# Longer than this and we give up instead of sleeping: an ingest must not hang for an hour.
MAX_RETRY_AFTER = 120.0
MAX_BACKOFF = 60.0
MAX_REDIRECTS = 5
DEFAULT_PORTS = {"http": 80, "https": 443}


class RequestFailed(Exception):
    """A request that failed for good (after retries). The message is one line."""


class _Refused(Exception):
    """An answer we will not take, and asking again would not change: not retried."""


@dataclass(slots=True, frozen=True)
class Body:
    """A successful (2xx) answer, read in full within the size cap."""

    url: httpx.URL
    status_code: int
    headers: httpx.Headers
    content: bytes


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
        try:
            if self._last_end is not None:
                wait = self._last_end + self.interval - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
        except BaseException:  # a deadline cancelled the wait: do not keep the lock
            self._lock.release()
            raise
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


def origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in."""
    return (url.scheme, url.host, url.port or DEFAULT_PORTS.get(url.scheme))


def _size(n: int) -> str:
    """Bytes for people: ``65536`` -> ``64 KiB``, ``20000000`` -> ``19.1 MiB``."""
    if n < 1024:
        return f"{n} bytes"
    value, unit = (n / 1024, "KiB") if n < 1024**2 else (n / 1024**2, "MiB")
    return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"


def _seconds(s: float) -> str:
    return f"{s:.0f} s" if s >= 10 or s == int(s) else f"{s:.1f} s"


class HttpClient:
    """An ``httpx.AsyncClient`` with our User-Agent, retries, deadlines and a body cap.

    Use as ``async with HttpClient(settings) as http: await http.get(url, timeout=...)``;
    ``deadline`` (seconds from now) bounds every request the client will ever make, which
    is how an ingest bounds itself. ``requests``, ``retried`` and ``failed`` count what
    happened, for the ingest summary.
    """

    def __init__(
        self,
        settings: SourcesSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        deadline: float | None = None,
    ) -> None:
        self.retries = max(0, settings.retries)
        self.backoff = max(0.0, settings.retry_backoff)
        self.request_deadline = settings.request_deadline
        self.max_body = settings.max_body_bytes
        self.deadline = deadline
        self._ends_at = None if deadline is None else time.monotonic() + deadline
        self._client = httpx.AsyncClient(
            # Only encodings whose bombs the cap can stop one read at a time.
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            follow_redirects=False,  # followed by hand, same origin only
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

    def _fail(self, message: str) -> RequestFailed:
        self.failed += 1
        return RequestFailed(message)

    def _budget(self) -> tuple[float, str]:
        """Seconds this request may take in all, and the setting that sets them."""
        budget, which = self.request_deadline, "sources.request_deadline"
        if self._ends_at is not None:
            left = self._ends_at - time.monotonic()
            if left < budget:
                budget, which = left, "sources.ingest_deadline"
        return budget, which

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        timeout: float,
        throttle: Throttle | None = None,
    ) -> Body:
        """GET with retries, within the deadline; returns a 2xx answer read in full, or
        raises :class:`RequestFailed` with a one-line reason."""
        budget, which = self._budget()
        if budget <= 0:
            raise self._fail(
                f"GET {url}: not sent, the ingest's {_seconds(self.deadline or 0)} "
                "are up (sources.ingest_deadline)"
            )
        ends_at = time.monotonic() + budget
        out_of_time = f"GET {url}: no complete answer within {_seconds(budget)} ({which})"
        attempt = 0
        while True:
            left = ends_at - time.monotonic()
            if left <= 0:
                raise self._fail(out_of_time)
            self.requests += 1
            wait: float | None = None
            try:
                async with asyncio.timeout(left):
                    if throttle is not None:
                        async with throttle:
                            answer = await self._attempt(url, params, min(timeout, left))
                    else:
                        answer = await self._attempt(url, params, min(timeout, left))
            except TimeoutError:
                raise self._fail(out_of_time) from None
            except _Refused as exc:
                raise self._fail(str(exc)) from None
            except httpx.TransportError as exc:
                # Timeouts, refused connections, and bodies cut short (RemoteProtocolError).
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            except (httpx.RequestError, httpx.InvalidURL) as exc:  # undecodable body, bad URL
                raise self._fail(f"GET {url}: {type(exc).__name__}: {exc}") from exc
            else:
                if isinstance(answer, Body):
                    return answer
                reason = f"HTTP {answer.status_code}"
                if not _retryable_status(answer.status_code):
                    raise self._fail(f"GET {answer.url}: {reason}")
                wait = retry_after_seconds(answer.headers.get("Retry-After"))
                left = ends_at - time.monotonic()
                if wait is not None and wait > MAX_RETRY_AFTER:
                    raise self._fail(
                        f"GET {answer.url}: {reason}, asked to wait {_seconds(wait)} "
                        f"(we wait at most {_seconds(MAX_RETRY_AFTER)})"
                    )
                if wait is not None and wait > left:
                    raise self._fail(
                        f"GET {answer.url}: {reason}, asked to wait {_seconds(wait)}, more than "
                        f"the {_seconds(max(0.0, left))} left of {_seconds(budget)} ({which})"
                    )
            if attempt >= self.retries:
                raise self._fail(f"GET {url}: {reason} (after {attempt + 1} attempts)")
            if wait is None:
                wait = backoff_seconds(attempt, self.backoff)
                if wait >= ends_at - time.monotonic():
                    raise self._fail(
                        f"GET {url}: {reason} (after {attempt + 1} attempts; no time left "
                        f"to retry within {_seconds(budget)}, {which})"
                    )
            log.info("GET %s: %s; retrying in %.1f s", url, reason, wait)
            attempt += 1
            self.retried += 1
            await asyncio.sleep(wait)

    async def _attempt(
        self, url: str, params: Mapping[str, str | int] | None, timeout: float
    ) -> Body | httpx.Response:
        """One attempt, following same-origin redirects: the body of a 2xx answer, or the
        (unread, closed) response of any other status."""
        target: httpx.URL | str = url
        home = origin(httpx.URL(url))
        for _ in range(MAX_REDIRECTS + 1):
            async with self._client.stream(
                "GET", target, params=params, timeout=timeout
            ) as response:
                if response.is_redirect:
                    try:
                        location = response.url.join(response.headers["Location"])
                    except httpx.InvalidURL as exc:
                        raise _Refused(f"GET {response.url}: bad redirect ({exc})") from None
                    if origin(location) != home:
                        raise _Refused(
                            f"GET {response.url}: redirected to {location}, not followed "
                            f"(it leaves {home[0]}://{home[1]}:{home[2]})"
                        )
                    target, params = location, None  # the Location carries its own query
                    continue
                if not response.is_success:
                    return response
                content = await self._read_capped(response)
                return Body(response.url, response.status_code, response.headers, content)
        raise _Refused(f"GET {url}: more than {MAX_REDIRECTS} redirects")

    async def _read_capped(self, response: httpx.Response) -> bytes:
        """The decoded body, refused as soon as it grows past ``max_body`` bytes."""
        encodings = [
            e.strip().lower()
            for e in response.headers.get("Content-Encoding", "").split(",")
            if e.strip() and e.strip().lower() != "identity"
        ]
        if len(encodings) > 1:
            raise _Refused(f"GET {response.url}: stacked Content-Encoding {', '.join(encodings)}")
        too_big = (
            f"GET {response.url}: body larger than {_size(self.max_body)} (sources.max_body_bytes)"
        )
        declared = response.headers.get("Content-Length", "")
        if not encodings and declared.isdigit() and int(declared) > self.max_body:
            raise _Refused(f"{too_big}: Content-Length {declared}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_body:
                after = " after decompression" if encodings else ""
                raise _Refused(f"{too_big}{after}")
            chunks.append(chunk)
        return b"".join(chunks)
