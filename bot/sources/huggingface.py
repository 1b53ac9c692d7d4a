"""Hugging Face daily papers (``GET /api/daily_papers``): parse the real item shape.

An item has outer ``title``, ``summary``, ``publishedAt``, ``numComments`` and an inner
``paper`` with ``id`` (arXiv id, no version), ``authors[].name``, ``submittedOnDailyAt``
(the daily-list day), ``upvotes``, ``ai_summary``, ``ai_keywords`` and optional
``githubRepo``, ``githubStars``, ``projectPage``. Optional keys are absent, not null.
"""

from __future__ import annotations

from typing import Any

from bot.models import Paper, is_arxiv_id, strip_version
from bot.sources import Parsed

SOURCE = "huggingface"


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    # 2024-era responses hard-wrapped titles and abstracts with newlines.
    cleaned = " ".join(value.split())
    return cleaned or None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _day(value: Any) -> str | None:
    if isinstance(value, str) and len(value) >= 10 and value[4] == "-" and value[7] == "-":
        return value[:10]
    return None


def _url(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        return value
    return None


def parse_item(item: Any, seen_at: str | None = None) -> Paper:
    """One daily-papers item. Raises ValueError when it lacks an id or a title."""
    if not isinstance(item, dict):
        raise ValueError("item is not an object")
    inner = item.get("paper")
    if not isinstance(inner, dict):
        raise ValueError("item has no 'paper' object")
    raw_id = inner.get("id")
    if not isinstance(raw_id, str) or not is_arxiv_id(strip_version(raw_id)):
        raise ValueError(f"item has no arXiv id (got {raw_id!r})")
    title = _text(item.get("title")) or _text(inner.get("title"))
    if not title:
        raise ValueError(f"{raw_id}: no title")
    authors_raw = inner.get("authors")
    authors = []
    if isinstance(authors_raw, list):
        for author in authors_raw:
            if isinstance(author, dict) and (name := _text(author.get("name"))):
                authors.append(name)
    keywords = inner.get("ai_keywords")
    github = _url(inner.get("githubRepo"))
    return Paper(
        id=strip_version(raw_id),
        title=title,
        abstract=_text(item.get("summary")) or _text(inner.get("summary")) or "",
        authors=authors,
        published=_day(inner.get("publishedAt")) or _day(item.get("publishedAt")),
        daily_date=_day(inner.get("submittedOnDailyAt")),
        upvotes=_int(inner.get("upvotes")),
        comments=_int(item.get("numComments")),
        github_repo=github,
        github_stars=_int(inner.get("githubStars")) if github else None,
        project_page=_url(inner.get("projectPage")),
        ai_summary=_text(inner.get("ai_summary")),
        ai_keywords=[k for k in keywords if isinstance(k, str) and k.strip()]
        if isinstance(keywords, list)
        else [],
        sources=[SOURCE],
        first_seen=seen_at,
    )


def parse_daily_papers(data: Any, seen_at: str | None = None) -> Parsed:
    """A whole ``/api/daily_papers`` response (a JSON array)."""
    result = Parsed()
    if not isinstance(data, list):
        result.skip(f"expected a JSON array, got {type(data).__name__}")
        return result
    for n, item in enumerate(data):
        try:
            result.papers.append(parse_item(item, seen_at))
        except ValueError as exc:
            result.skip(f"item {n}: {exc}")
    return result
