"""Hugging Face daily papers (``GET /api/daily_papers``): parse the real item shape.

An item has outer ``title``, ``summary``, ``publishedAt``, ``numComments`` and an inner
``paper`` with ``id`` (arXiv id, no version), ``authors[].name``, ``submittedOnDailyAt``
(the daily-list day), ``upvotes``, ``ai_summary``, ``ai_keywords`` and optional
``githubRepo``, ``githubStars``, ``projectPage``; the outer item's optional ``thumbnail``
(an image URL cards show). Optional keys are absent, not null.

Every field is checked (:mod:`bot.sources.checks`): an item whose id, title, abstract,
authors, dates, AI summary or keywords are malformed is skipped and counted; a malformed
counter or link is left unknown.
"""

from __future__ import annotations

from typing import Any

from bot.models import Paper, is_arxiv_id, strip_version
from bot.sources import Parsed
from bot.sources.checks import (
    MAX_ABSTRACT,
    MAX_AUTHORS,
    MAX_KEYWORD,
    MAX_KEYWORDS,
    MAX_NAME,
    MAX_SUMMARY,
    MAX_TITLE,
    Invalid,
    count,
    http_url,
    iso_day,
    string_list,
    text,
)

SOURCE = "huggingface"


def _authors(value: Any) -> list[str]:
    """``[{"name": "Jane Doe", ...}, ...]`` -> names. Anything else is invalid."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid(f"authors is not a list (got {type(value).__name__})")
    if len(value) > MAX_AUTHORS:
        raise Invalid(f"{len(value)} authors (at most {MAX_AUTHORS})")
    names = []
    for n, author in enumerate(value):
        if not isinstance(author, dict):
            raise Invalid(f"authors[{n}] is not an object")
        name = text(author.get("name"), f"authors[{n}].name", limit=MAX_NAME)
        if name:
            names.append(name)
    return names


def _first(item: dict[str, Any], inner: dict[str, Any], key: str, what: str, limit: int) -> str:
    """The outer value of ``key`` if it has one, else the inner one; both must be valid."""
    outer = text(item.get(key), what, limit=limit)
    return outer or text(inner.get(key), what, limit=limit) or ""


def parse_item(item: Any, seen_at: str | None = None) -> Paper:
    """One daily-papers item. Raises ValueError (:class:`~bot.sources.checks.Invalid`)
    when a field that says what or when the paper is, is missing or malformed."""
    if not isinstance(item, dict):
        raise Invalid("item is not an object")
    inner = item.get("paper")
    if not isinstance(inner, dict):
        raise Invalid("item has no 'paper' object")
    raw_id = inner.get("id")
    if not isinstance(raw_id, str) or not is_arxiv_id(strip_version(raw_id)):
        raise Invalid(f"item has no arXiv id (got {raw_id!r})"[:200])
    pid = strip_version(raw_id)
    try:
        title = _first(item, inner, "title", "title", MAX_TITLE)
        if not title:
            raise Invalid("no title")
        abstract = _first(item, inner, "summary", "summary", MAX_ABSTRACT)
        # Both publishedAt values are checked; the paper's own (inner) one wins.
        outer_published = iso_day(item.get("publishedAt"), "publishedAt")
        published = iso_day(inner.get("publishedAt"), "paper.publishedAt") or outer_published
        daily_date = iso_day(inner.get("submittedOnDailyAt"), "submittedOnDailyAt")
        authors = _authors(inner.get("authors"))
        ai_summary = text(inner.get("ai_summary"), "ai_summary", limit=MAX_SUMMARY)
        keywords = string_list(
            inner.get("ai_keywords"), "ai_keywords", most=MAX_KEYWORDS, limit=MAX_KEYWORD
        )
    except Invalid as exc:
        raise Invalid(f"{pid}: {exc}") from None
    github = http_url(inner.get("githubRepo"))
    return Paper(
        id=pid,
        title=title,
        abstract=abstract,
        authors=authors,
        published=published,
        daily_date=daily_date,
        upvotes=count(inner.get("upvotes")),
        comments=count(item.get("numComments")),
        github_repo=github,
        github_stars=count(inner.get("githubStars")) if github else None,
        project_page=http_url(inner.get("projectPage")),
        ai_summary=ai_summary,
        ai_keywords=keywords,
        sources=[SOURCE],
        first_seen=seen_at,
        thumbnail=http_url(item.get("thumbnail")) or http_url(inner.get("thumbnail")),
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
