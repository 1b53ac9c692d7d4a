"""Small helpers and limits the command handlers share."""

from __future__ import annotations

import re

from bot.commands import CommandError
from bot.models import clean_text, strip_version

MAX_TOPICS = 20
MAX_TRENDING = 25
WEEKLY_USAGE = "/papers schedule weekly <mon..sun> <HH:MM> [IANA time zone] | schedule weekly off"
WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

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
    surrogates (they could not be saved)."""
    text = " ".join(clean_text(text).split())
    if len(text) >= 2 and text[0] in "\"'“‘" and text[-1] in "\"'”’":
        text = text[1:-1].strip()
    return text


def count_of(n: int, noun: str) -> str:
    """``3 topics``, ``1 topic``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def pop_flag(args: str, flag: str) -> tuple[str, bool]:
    """``args`` without ``--flag``, and whether it was there."""
    pattern = re.compile(rf"(?:^|\s)--{flag}(?=\s|$)")
    return " ".join(pattern.sub(" ", args).split()), bool(pattern.search(args))


def pop_number(
    args: str, flag: str, low: int, high: int, usage_text: str
) -> tuple[str, int | None]:
    """``args`` without ``--flag N`` (or ``--flag=N``), and N, checked to be in range.

    One parser for the numeric options (``search --page``, ``subscribe --alert``), so
    they accept the same forms and refuse bad values with the same words.
    """
    match = re.search(rf"(?:^|\s)--{flag}[ =](\S+)", args)
    if not match:
        return args.strip(), None
    try:
        number = int(match.group(1))
    except ValueError:
        raise CommandError(f"--{flag} needs a number.", usage_text) from None
    if not low <= number <= high:
        raise CommandError(f"--{flag} must be between {low} and {high:,}.", usage_text)
    return (args[: match.start()] + " " + args[match.end() :]).strip(), number
