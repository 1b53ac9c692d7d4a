"""Fetch papers from Hugging Face and arXiv: requests in, :class:`SourceResult` out.

Every function here returns what it could get and counts what it could not: a page that
is HTML instead of JSON, XML that does not parse, or a request that failed after its
retries is skipped, counted and described, and the other pages still come in. Nothing
here writes to the store; :mod:`bot.ingest` merges the results in one write.

A source "answered" when at least one response was readable, even an empty list: that
is how a weekend (no announcements) is told apart from an outage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import orjson

from bot.config import ArxivSource, HuggingFaceSource
from bot.models import Paper
from bot.sources import Parsed, arxiv, huggingface
from bot.sources.http import Body, HttpClient, RequestFailed, Throttle

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
MAX_PAGE_SIZE = 100  # the daily_papers API refuses more


@dataclass(slots=True)
class SourceResult:
    """What one source gave in one ingest."""

    source: str
    papers: list[Paper] = field(default_factory=list)
    answered: bool = False  # at least one readable response (an empty list counts)
    skipped: int = 0  # invalid items and unreadable pages
    failed_requests: int = 0
    empty_days: list[str] = field(default_factory=list)  # asked-for days with nothing announced
    full_days: list[str] = field(default_factory=list)  # asked-for days with announcements
    problems: list[str] = field(default_factory=list)

    def problem(self, why: str) -> None:
        log.info("%s: %s", self.source, why)
        if len(self.problems) < 20:
            self.problems.append(why)

    def add(self, parsed: Parsed) -> None:
        self.papers.extend(parsed.papers)
        self.skipped += parsed.skipped
        for why in parsed.problems:
            self.problem(why)


def _noop(_: str) -> None:
    pass


def _json_list(response: Body) -> list[object]:
    """The body as a JSON array, or ValueError saying what it was instead."""
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        kind = response.headers.get("Content-Type", "unknown type").split(";")[0]
        raise ValueError(f"not JSON ({kind}, {len(response.content)} bytes): {exc}") from None
    if not isinstance(data, list):
        raise ValueError(f"expected a JSON array, got a JSON {type(data).__name__}")
    return data


async def _hf_pages(
    http: HttpClient,
    settings: HuggingFaceSource,
    result: SourceResult,
    params: dict[str, str | int],
    label: str,
    seen_at: str,
    progress: Progress,
) -> int | None:
    """Follow ``p``/``limit`` pages of one daily_papers listing; returns the item count,
    or ``None`` when no page could be read."""
    url = settings.base_url.rstrip("/") + "/api/daily_papers"
    limit = max(1, min(settings.page_size, MAX_PAGE_SIZE))
    seen: set[str] = set()
    items = 0
    readable = False
    for page in range(max(1, settings.max_pages)):
        progress(f"huggingface: {label}, page {page + 1}")
        try:
            response = await http.get(
                url, params={**params, "p": page, "limit": limit}, timeout=settings.timeout
            )
            data = _json_list(response)
        except RequestFailed as exc:
            result.failed_requests += 1
            result.problem(f"{label}: {exc}")
            break
        except ValueError as exc:
            result.skipped += 1
            result.problem(f"{label}, page {page + 1}: {exc}")
            break
        readable = True
        parsed = huggingface.parse_daily_papers(data, seen_at)
        fresh = [p for p in parsed.papers if p.id not in seen]
        seen.update(p.id for p in fresh)
        parsed.papers = fresh
        result.add(parsed)
        items += len(data)
        # A short page is the last; a server that ignores ``p`` repeats itself.
        if len(data) < limit or (data and not fresh and not parsed.skipped):
            break
    return items if readable else None


async def fetch_huggingface(
    http: HttpClient,
    settings: HuggingFaceSource,
    *,
    days: list[date],
    trending: bool,
    seen_at: str,
    progress: Progress = _noop,
) -> SourceResult:
    """The daily lists for ``days`` (``date=``), and the trending list if asked."""
    result = SourceResult(huggingface.SOURCE)
    if trending:
        count = await _hf_pages(
            http, settings, result, {"sort": "trending"}, "trending", seen_at, progress
        )
        result.answered |= count is not None
    for day in days:
        iso = day.isoformat()
        count = await _hf_pages(
            http, settings, result, {"date": iso}, f"daily list {iso}", seen_at, progress
        )
        if count is not None:
            result.answered = True
            (result.full_days if count else result.empty_days).append(iso)
    return result


def listing_url(settings: ArxivSource) -> str:
    """``{base}/rss/cs.CL+cs.LG``: one request for every configured category."""
    return f"{settings.base_url.rstrip('/')}/rss/{'+'.join(settings.categories)}"


async def fetch_arxiv_listing(
    http: HttpClient,
    settings: ArxivSource,
    throttle: Throttle,
    *,
    day: date,
    seen_at: str,
    progress: Progress = _noop,
) -> SourceResult:
    """Today's announcements in the configured categories (``new``, and ``cross`` if set).

    The listing feed only ever holds the latest announcement, so ``day`` is the day we
    record it under (for "no announcements for DAY"), not a day we can ask for.
    """
    result = SourceResult(arxiv.SOURCE)
    if not settings.categories:
        result.problem("no categories configured")
        return result
    progress(f"arxiv: {'+'.join(settings.categories)}")
    try:
        response = await http.get(
            listing_url(settings), timeout=settings.timeout, throttle=throttle
        )
        parsed = arxiv.parse_rss(
            response.content, include_cross=settings.include_cross_lists, seen_at=seen_at
        )
    except RequestFailed as exc:
        result.failed_requests += 1
        result.problem(str(exc))
        return result
    except arxiv.FeedError as exc:
        result.skipped += 1
        result.problem(f"listing feed: {exc}")
        return result
    result.answered = True
    result.add(parsed)
    # Weekends and holidays: a valid feed with no items at all (not even replacements).
    has_items = b"<item" in response.content
    (result.full_days if has_items else result.empty_days).append(day.isoformat())
    return result


async def lookup_arxiv(
    http: HttpClient,
    settings: ArxivSource,
    throttle: Throttle,
    paper_id: str,
    *,
    seen_at: str | None = None,
) -> Paper | None:
    """One paper from the arXiv API by id, or ``None`` if arXiv does not know it.

    Raises :class:`RequestFailed` or :class:`~bot.sources.arxiv.FeedError` when arXiv
    could not be asked, so the caller can tell "no such paper" from "try later".
    """
    url = settings.api_base_url.rstrip("/") + "/api/query"
    response = await http.get(
        url,
        params={"id_list": paper_id, "max_results": 1},
        timeout=settings.timeout,
        throttle=throttle,
    )
    parsed = arxiv.parse_atom(response.content, include_cross=True, seen_at=seen_at)
    return next((p for p in parsed.papers if p.id == paper_id), None)
