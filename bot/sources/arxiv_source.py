"""The arXiv source: its ``[sources.arxiv]`` settings, the listing feeds and the id lookup.

The listing feed (``{base_url}/rss/cs.CL+cs.LG``) only ever holds the latest
announcement; the query API (``{api_base_url}/api/query?id_list=...``) finds one paper
by id. arXiv asks for one request at a time and at most one every ``min_interval``
seconds: a :class:`~bot.sources.http.Throttle` paces one ingest's requests, and another
paces every lookup of a run. Parsing is :mod:`bot.sources.arxiv`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar

from bot.config import SourcesSettings, check_range
from bot.models import Paper
from bot.sources import arxiv
from bot.sources.base import FetchRequest, Lookup, Progress, SourceResult, no_progress
from bot.sources.http import HttpClient, RequestFailed, Throttle
from bot.store import utc_now


@dataclass(slots=True)
class ArxivSource:
    """Today's arXiv announcements in the configured categories; any paper by id."""

    name: ClassVar[str] = arxiv.SOURCE
    enabled: bool = True
    base_url: str = "https://rss.arxiv.org"
    api_base_url: str = "https://export.arxiv.org"
    categories: list[str] = field(default_factory=lambda: ["cs.CL", "cs.LG", "cs.AI", "cs.CV"])
    include_cross_lists: bool = False
    timeout: float = 30.0
    min_interval: float = 3.0  # seconds between requests, as arXiv asks

    def check(self, where: str) -> None:
        check_range(f"{where}.timeout", self.timeout, 0.1, 3600.0)

    async def fetch(self, http: HttpClient, request: FetchRequest) -> SourceResult:
        """The latest listing, recorded under ``request.today`` (arXiv has no day lists)."""
        return await fetch_arxiv_listing(
            http,
            self,
            Throttle(self.min_interval),
            day=request.today,
            seen_at=request.seen_at,
            progress=request.progress,
        )

    def make_lookup(self, settings: SourcesSettings) -> Lookup | None:
        """Look papers up on the arXiv API, at most once per ``min_interval`` however many
        ``/papers paper`` commands come at once."""
        throttle = Throttle(self.min_interval)

        async def lookup(paper_id: str) -> Paper | None:
            async with HttpClient(settings) as http:
                return await lookup_arxiv(http, self, throttle, paper_id, seen_at=utc_now())

        return lookup


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
    progress: Progress = no_progress,
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
