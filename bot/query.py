"""The search query language, parsed into a :class:`ParsedQuery`.

Syntax: plain words (ranked: papers with more of them, or the same meaning, first; word
forms and small typos forgiven), ``"quoted
phrases"``, ``-word`` to exclude, ``author:NAME`` (or ``author:"Jane Doe"``), ``cat:cs.CL``
and ``since:YYYY-MM-DD``. Parsing is separate from the index so that the same parsed query
serves search, topic matching and "why this matched".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

MAX_QUERY_CHARS = 500
SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})

_TOKEN_RE = re.compile(r'(-?)(?:(\w+):)?(?:"([^"]*)"|(\S+)|(?=\s|$))')
_FILTERS = {"author", "cat", "since"}
_EXAMPLES = {
    "author": 'author:kirby or author:"Jane Doe"',
    "cat": "cat:cs.CL",
    "since": "since:2026-05-01",
}


class QueryError(ValueError):
    """A query the user wrote that cannot be run; the message says why."""


@dataclass(slots=True)
class ParsedQuery:
    words: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    since: date | None = None

    @property
    def has_text(self) -> bool:
        return bool(self.words or self.phrases)

    @property
    def is_empty(self) -> bool:
        return not (self.has_text or self.authors or self.categories or self.since)

    def describe(self) -> str:
        """A short human summary, used in reply headers."""
        parts = [*self.words, *(f'"{p}"' for p in self.phrases)]
        parts += [f"-{w}" for w in self.excluded]
        parts += [f"author:{a}" for a in self.authors]
        parts += [f"cat:{c}" for c in self.categories]
        if self.since:
            parts.append(f"since:{self.since.isoformat()}")
        return " ".join(parts)


def quoted(shown: str) -> str:
    """``shown`` in typographic quotes for a reply header, without doubling them: a query
    that is one quoted phrase (``"evolution memory"``) shows as “evolution memory”."""
    if len(shown) >= 2 and shown[0] == shown[-1] == '"' and shown.count('"') == 2:
        shown = shown[1:-1]
    return f"“{shown}”"


def parse_query(text: str) -> ParsedQuery:
    """Parse the user's query. Raises :class:`QueryError` with a helpful message."""
    # Chat clients (macOS and iOS autocorrect) turn "straight" quotes into “curly” ones.
    text = text.translate(SMART_QUOTES).strip()
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"That query is {len(text):,} characters; the limit is {MAX_QUERY_CHARS}.")
    if text.count('"') % 2:
        raise QueryError('A quotation mark is not closed: write phrases as "like this".')
    parsed = ParsedQuery()
    for match in _TOKEN_RE.finditer(text):
        negate, key, quoted, bare = match.groups()
        value = (quoted if quoted is not None else bare or "").strip()
        key = key.lower() if key else None
        if key and key not in _FILTERS:
            # Not one of ours (e.g. "re:invent" or a URL scheme): treat as plain words.
            value = f"{key}:{value}" if quoted is None else f"{key} {value}"
            key = None
        if not value:
            if key in _FILTERS:  # ``author:`` alone used to be searched as the word "author:"
                raise QueryError(f"{key}: needs a value, like {_EXAMPLES[key]}.")
            continue
        if key == "author":
            parsed.authors.append(value)
        elif key == "cat":
            parsed.categories.append(value)
        elif key == "since":
            try:
                parsed.since = date.fromisoformat(value)
            except ValueError:
                raise QueryError(f"since: needs a date like 2026-05-01, not {value!r}.") from None
        elif negate:
            parsed.excluded.append(value)
        elif quoted is not None:
            parsed.phrases.append(value)
        else:
            parsed.words.append(value)
    return parsed
