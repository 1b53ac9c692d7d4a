"""What a paper card shows, in which order: written once, mapped by every renderer.

:func:`card_layout` turns a :class:`~bot.replies.PaperCard` into a :class:`CardLayout`,
the card's content as plain, unescaped text (title, facts, authors, summary, links, why
it matched, buttons). The terminal, Slack and Discord renderers map it onto their own
markup, each with its own escaping and size limits; none of them picks fields from the
paper itself. Changing what cards show (a new line, another fact, a different summary)
is a change to this module; a field every renderer must place goes into
:attr:`CardLayout.extra` until a renderer wants to show it its own way.

The text helpers every renderer (and the CLI) shares live here too: :func:`clean` strips
terminal control characters, :func:`shorten` cuts at a word boundary and
:func:`author_line` names the first authors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.models import Paper
from bot.replies import Button, PaperCard, paper_facts

__all__ = [
    "AUTHORS_SHOWN",
    "SUMMARY_MODES",
    "VISIBLE_BUTTONS",
    "CardLayout",
    "author_line",
    "card_layout",
    "card_summary",
    "clean",
    "first_sentences",
    "shorten",
]

AUTHORS_SHOWN = 3  # authors named before "+N"
CATEGORIES_SHOWN = 3  # arXiv categories on the terminal's facts line
VISIBLE_BUTTONS = 3  # buttons a card shows; more go in a "⋯" menu
SUMMARY_MODES = ("short", "long", "off")  # the channel setting ``set summary``
SUMMARY_LIMITS = {"short": 220, "long": 600}  # characters of summary a card shows

_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[\"'])")

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]|\x1b\[[0-9;?]*[ -/]*[@-~]")


def clean(text: str | None) -> str:
    """Text safe to print on a terminal: no escape sequences or control characters."""
    return _CONTROL_RE.sub("", text or "")


def shorten(text: str, limit: int) -> str:
    """Cut ``text`` at a word boundary, with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",.;:") + "…"


def author_line(authors: list[str], shown: int = AUTHORS_SHOWN) -> str:
    """The first ``shown`` authors, then ``+N`` for the rest (empty without authors)."""
    if not authors:
        return ""
    names = ", ".join(authors[:shown])
    return names + (f" +{len(authors) - shown}" if len(authors) > shown else "")


def first_sentences(text: str, limit: int) -> str:
    """The first sentences of ``text`` that fit ``limit`` characters, then " …" when
    there is more (a first sentence longer than that is cut at a word boundary)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    sentences = _SENTENCE_END_RE.split(text)
    taken = ""
    for sentence in sentences:
        candidate = f"{taken} {sentence}".strip()
        if len(candidate) > limit - 2:
            break
        taken = candidate
    return f"{taken} …" if taken else shorten(text, limit)


def card_summary(paper: Paper, mode: str) -> str:
    """What a card says about ``paper``: Hugging Face's AI summary, else the abstract's
    first sentences, as long as the channel's ``summary`` setting asks (short, long, off)."""
    if mode == "off":
        return ""
    limit = SUMMARY_LIMITS.get(mode, SUMMARY_LIMITS["short"])
    return first_sentences(paper.ai_summary or paper.abstract or "", limit)


@dataclass(frozen=True, slots=True)
class CardLayout:
    """One card's content, unescaped, in the order cards show it (issue 16: scanned at a
    glance).

    1. the title (``rank``. title) linked to ``url`` (never missing: a paper without an
       arXiv id links to an arXiv title search) and the ``upvotes`` (▲ 1,234) beside it;
    2. one line of authors, plus the ``date`` only where it is not the post's own day;
    3. the summary, already cut to the channel's length (short, long, or empty for off);
    4. the ``thumbnail`` (an image URL), when the paper has one;
    5. the other numbers (``facts``: comments, stars), the ``links`` (label, URL) and
       ``extra`` lines;
    6. why it is there: the channel ``topic`` and the ``matched`` terms;
    7. the card's ``buttons`` (each with its role): at most :data:`VISIBLE_BUTTONS` shown
       as buttons (:meth:`shown_buttons`), the rest and the links go in a "⋯" menu where
       a platform has one.
    """

    rank: int | None
    title: str
    url: str | None
    facts: tuple[str, ...]
    categories: tuple[str, ...]
    authors: tuple[str, ...]
    summary: str
    links: tuple[tuple[str, str], ...]
    topic: str | None
    matched: tuple[str, ...]
    buttons: tuple[Button, ...]
    extra: tuple[str, ...] = ()
    arxiv_url: str | None = None  # where the title links when ``url`` cannot be used
    upvotes: str | None = None  # "▲ 1,234", shown beside the title
    date: str | None = None  # the list date, when it differs from the post's day
    thumbnail: str | None = None

    @property
    def rank_prefix(self) -> str:
        """``"3. "`` for a ranked card, else empty."""
        return f"{self.rank}. " if self.rank else ""

    @property
    def author_line(self) -> str:
        """The authors, then the date where the card shows one: ``"A, B +3 · 2026-06-11"``."""
        names = author_line(list(self.authors))
        return " · ".join(part for part in (names, self.date) if part)

    def shown_buttons(self) -> tuple[Button, ...]:
        """The buttons shown as buttons (at most :data:`VISIBLE_BUTTONS`)."""
        return self.buttons[:VISIBLE_BUTTONS]

    def more_buttons(self) -> tuple[Button, ...]:
        """Buttons beyond :data:`VISIBLE_BUTTONS`, for a platform's "⋯" menu."""
        return self.buttons[VISIBLE_BUTTONS:]


def card_layout(card: PaperCard) -> CardLayout:
    """What ``card`` shows (see :class:`CardLayout`); every renderer starts here."""
    paper: Paper = card.paper
    day = paper.list_date[:10] if paper.list_date else None
    return CardLayout(
        rank=card.rank,
        title=paper.title,
        url=paper.open_url,
        facts=tuple(f for f in paper_facts(paper) if not f.startswith("▲") and f != day),
        categories=tuple(paper.categories[:CATEGORIES_SHOWN]),
        authors=tuple(" ".join(a.split()) for a in paper.authors),
        summary=card_summary(paper, card.summary),
        links=tuple(paper.links()),
        topic=card.topic,
        matched=tuple(card.matched_terms),
        buttons=tuple(card.buttons),
        arxiv_url=paper.arxiv_url,
        upvotes=f"▲ {paper.upvotes:,}" if paper.upvotes is not None else None,
        date=day if day and day != card.day else None,
        thumbnail=paper.thumbnail,
    )
