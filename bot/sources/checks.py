"""What an upstream value must be before it may become part of a :class:`~bot.models.Paper`.

Everything downstream trusts the corpus: the scheduler takes the latest ``daily_date`` as
"the latest trending day" and parses it, cards link to ``github_repo``, search indexes
titles. So a value from Hugging Face or arXiv is checked here, once, in the parser, and
never after. The rule the parsers follow:

* What says *what* or *when* a paper is (its id, title, abstract, authors, dates, AI
  summary and keywords) must be valid when present, or the whole item is skipped and
  counted (:class:`Invalid`): a half-right record would be stored and never corrected,
  and a bad date would even stay "the latest day" for ever (merging keeps the latest).
* The live extras a later fetch refreshes (upvotes, comments, GitHub stars) and links
  are left unknown when they are not valid, exactly as if they were absent: the paper is
  still worth posting, and unknown is an honest value for them.

Dates must be real calendar dates written ``YYYY-MM-DD...`` (ISO 8601), not before arXiv
existed and not more than :data:`FUTURE_SLACK` after today (by the machine's clock, not a
test clock: the check is about the world, not the bot's schedule).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

EARLIEST_DAY = date(1991, 8, 1)  # arXiv's first month
FUTURE_SLACK = timedelta(days=2)  # time zones: a list can be dated ahead of UTC
MAX_TITLE = 1_000
MAX_ABSTRACT = 20_000
MAX_SUMMARY = 5_000
MAX_NAME = 300
MAX_AUTHORS = 10_000  # collaboration papers list thousands
MAX_KEYWORDS = 200
MAX_KEYWORD = 200
MAX_URL = 2_000
MAX_COUNT = 1_000_000_000
MAX_CATEGORY = 40

_ISO_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:$|[T ])")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Invalid(ValueError):
    """An upstream value that must not reach the corpus; the item carrying it is skipped."""


def text(value: Any, what: str, *, limit: int, required: bool = False) -> str | None:
    """A string with whitespace runs collapsed (2024-era answers hard-wrapped titles).

    Absent or blank is ``None`` (or :class:`Invalid` when ``required``); anything that is
    not a string, holds control characters, or is longer than ``limit`` is invalid.
    """
    if value is None:
        if required:
            raise Invalid(f"no {what}")
        return None
    if not isinstance(value, str):
        raise Invalid(f"{what} is not a string (got {type(value).__name__})")
    cleaned = " ".join(value.split())
    if _CONTROL_RE.search(cleaned):
        raise Invalid(f"{what} holds control characters")
    if len(cleaned) > limit:
        raise Invalid(f"{what} is {len(cleaned)} characters long (at most {limit})")
    if not cleaned and required:
        raise Invalid(f"no {what}")
    return cleaned or None


def _in_range(day: date, what: str, raw: str) -> str:
    latest = datetime.now(UTC).date() + FUTURE_SLACK
    if not EARLIEST_DAY <= day <= latest:
        raise Invalid(f"{what} {raw!r} is out of range")
    return day.isoformat()


def iso_day(value: Any, what: str) -> str | None:
    """``2026-05-08T10:01:31.399Z`` (or a bare ``2026-05-08``) -> ``2026-05-08``.

    Absent is ``None``; anything else that is not a real ISO 8601 date or timestamp in
    range (``2026-06-1ZT00:00:00Z``, ``2026-02-30``, ``20260508``, a number) is invalid.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(f"{what} is not a string (got {type(value).__name__})")
    stripped = value.strip()
    if not _ISO_DAY_RE.match(stripped):
        raise Invalid(f"{what} {value!r} is not an ISO date")
    try:
        moment = datetime.fromisoformat(stripped)
    except ValueError:
        raise Invalid(f"{what} {value!r} is not an ISO date") from None
    return _in_range(moment.date(), what, value)


def rfc822_day(value: str | None, what: str) -> str | None:
    """An RSS ``pubDate`` (``Thu, 24 Sep 2026 00:00:00 -0400``) -> its calendar day."""
    if value is None or not value.strip():
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        raise Invalid(f"{what} {value!r} is not an RFC 822 date") from None
    return _in_range(moment.date(), what, value)


def count(value: Any) -> int | None:
    """A counter (upvotes, comments, stars): a whole number in range, else unknown."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT:
        return value
    return None


def http_url(value: Any) -> str | None:
    """An absolute http(s) URL with a host, else unknown (never a ``javascript:`` link)."""
    if not isinstance(value, str) or len(value) > MAX_URL or _CONTROL_RE.search(value):
        return None
    value = value.strip()
    if any(c.isspace() for c in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return value


def string_list(value: Any, what: str, *, most: int, limit: int) -> list[str]:
    """A JSON list of strings (blank ones dropped). Absent is empty; anything else is invalid."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid(f"{what} is not a list (got {type(value).__name__})")
    if len(value) > most:
        raise Invalid(f"{what} has {len(value)} entries (at most {most})")
    items = (text(v, f"an entry of {what}", limit=limit) for v in value)
    return [item for item in items if item]


def category(value: str | None) -> str | None:
    """An arXiv category term (``cs.CL``, ``math-ph``, an ACM class): short, no spaces."""
    cleaned = " ".join((value or "").split())
    if not cleaned or " " in cleaned or len(cleaned) > MAX_CATEGORY:
        return None
    if _CONTROL_RE.search(cleaned):
        return None
    return cleaned
