"""The Hugging Face daily papers source: its ``[sources.huggingface]`` settings and fetching.

``GET {base_url}/api/daily_papers`` with ``sort=trending`` (the trending list) or
``date=YYYY-MM-DD`` (one day's list), followed page by page (``p``/``limit``). A page
that is HTML instead of JSON, or a request that failed after its retries, is skipped,
counted and described, and the other pages still come in. Parsing is
:mod:`bot.sources.huggingface`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import ClassVar

import orjson

from bot.config import SourcesSettings, check_range
from bot.sources import huggingface
from bot.sources.base import FetchRequest, Lookup, Progress, SourceResult, no_progress
from bot.sources.http import Body, HttpClient, RequestFailed

MAX_PAGE_SIZE = 100  # the daily_papers API refuses more


@dataclass(slots=True)
class HuggingFaceSource:
    """Trending and daily lists from Hugging Face. It cannot look a paper up by id."""

    name: ClassVar[str] = huggingface.SOURCE
    enabled: bool = True
    base_url: str = "https://huggingface.co"
    timeout: float = 20.0
    page_size: int = 100
    max_pages: int = 5

    def check(self, where: str) -> None:
        check_range(f"{where}.page_size", self.page_size, 1, MAX_PAGE_SIZE)
        check_range(f"{where}.max_pages", self.max_pages, 1, 100)
        check_range(f"{where}.timeout", self.timeout, 0.1, 3600.0)

    async def fetch(self, http: HttpClient, request: FetchRequest) -> SourceResult:
        """A given day (``--date``) and the days before it (``--backfill``); otherwise the
        trending list and, with a backfill, the daily lists of the days before today."""
        end = request.day or request.today
        days = [end - timedelta(days=n) for n in range(max(0, request.backfill) + 1)]
        return await fetch_huggingface(
            http,
            self,
            days=days if request.day else days[1:],
            trending=request.day is None,
            seen_at=request.seen_at,
            progress=request.progress,
        )

    def make_lookup(self, settings: SourcesSettings) -> Lookup | None:
        return None


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
    progress: Progress = no_progress,
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
