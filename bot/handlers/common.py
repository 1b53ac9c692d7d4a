"""Small helpers and limits the command handlers share."""

from __future__ import annotations

import re

from bot.context import Context
from bot.models import Paper, clean_text, strip_version
from bot.query import SMART_QUOTES
from bot.registry import CommandError, Text, usage

MAX_TOPICS = 20
MAX_TRENDING = 25
WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

# Options several commands declare alike.
PAPER_REF = Text("id", "arXiv id or link, e.g. 2605.05242", param="ref", required=True)
TOPIC = Text(
    "topic",
    'A search query, e.g. "speech recognition" or cat:cs.CL',
    required=True,
    min_length=1,
    max_length=500,
)

_ARXIV_IN_TEXT = re.compile(
    r"(?:arxiv\.org/(?:abs|pdf)/|huggingface\.co/papers/|arxiv:)?"
    r"(?P<id>\d{4}\.\d{4,5}(?:v\d+)?|[a-z\-]+(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?)",
    re.IGNORECASE,
)


def parse_paper_ref(text: str) -> str | None:
    """The arXiv id in ``2605.05242``, ``arXiv:2605.05242v2`` or an arXiv/HF URL."""
    match = _ARXIV_IN_TEXT.search(text.strip())
    return strip_version(match.group("id")) if match else None


def unquote(text: str) -> str:
    """A topic as typed, without surrounding quotes (straight or curly), with its
    whitespace folded to single spaces (a pasted topic may hold newlines) and no lone
    surrogates (they could not be saved). Unsubscribe uses it to find a topic saved
    before quoted phrases were kept."""
    text = " ".join(clean_text(text).split())
    if len(text) >= 2 and text[0] in "\"'“‘" and text[-1] in "\"'”’":
        text = text[1:-1].strip()
    return text


def topic_text(text: str) -> str:
    """A topic as it is saved and shown: whitespace folded to single spaces (a pasted
    topic may hold newlines), no lone surrogates (they could not be saved), curly quotes
    (autocorrect) made straight, and the quotes that mark a phrase kept, since a quoted
    phrase matches only as a phrase (issue 14). Quotes around one single word mark no
    phrase and go, as do single quotes around the whole topic (not phrase quotes in the
    query language)."""
    text = " ".join(clean_text(text).translate(SMART_QUOTES).split())
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].strip()
    if len(text) >= 2 and text[0] == text[-1] == '"' and text.count('"') == 2:
        inner = text[1:-1].strip()
        return inner if len(inner.split()) <= 1 else f'"{inner}"'
    return text


def count_of(n: int, noun: str) -> str:
    """``3 topics``, ``1 topic``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def find_paper(ctx: Context, ref: str, command: str = "paper") -> Paper:
    """The paper ``ref`` names (an arXiv id or link, or a stored id), or a CommandError
    with ``command``'s usage."""
    ref = ref.strip()
    if not ref:
        raise CommandError("Which paper? Give an arXiv id or link.", usage(command))
    arxiv_id = parse_paper_ref(ref)
    paper = ctx.store.get_paper(arxiv_id) if arxiv_id else ctx.store.get_paper(ref.split()[0])
    if paper is None:
        if arxiv_id is None:
            raise CommandError(f"`{ref[:60]}` is not an arXiv id or link.", usage(command))
        raise CommandError(f"Paper {arxiv_id} is not in the local corpus (yet).")
    return paper
