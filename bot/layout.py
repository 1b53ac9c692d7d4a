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
    "CardLayout",
    "author_line",
    "card_layout",
    "clean",
    "shorten",
]

AUTHORS_SHOWN = 3  # authors named before "+N"
CATEGORIES_SHOWN = 3  # arXiv categories on the terminal's facts line

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


@dataclass(frozen=True, slots=True)
class CardLayout:
    """One card's content, unescaped, in the order cards show it.

    1. the title (``rank``. title), linked to ``url`` (else ``arxiv_url``) where the
       platform links titles;
    2. the facts line (upvotes, comments, stars, list date; ``categories`` where shown);
    3. the authors line;
    4. the summary (the AI summary, else the abstract; each renderer cuts it);
    5. the links (label, URL) and ``extra`` lines;
    6. why it is there: the channel ``topic`` and the ``matched`` terms;
    7. the card's ``buttons`` (each with its role).
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

    @property
    def rank_prefix(self) -> str:
        """``"3. "`` for a ranked card, else empty."""
        return f"{self.rank}. " if self.rank else ""

    @property
    def author_line(self) -> str:
        return author_line(list(self.authors))


def card_layout(card: PaperCard) -> CardLayout:
    """What ``card`` shows (see :class:`CardLayout`); every renderer starts here."""
    paper: Paper = card.paper
    return CardLayout(
        rank=card.rank,
        title=paper.title,
        url=paper.url,
        facts=tuple(paper_facts(paper)),
        categories=tuple(paper.categories[:CATEGORIES_SHOWN]),
        authors=tuple(" ".join(a.split()) for a in paper.authors),
        summary=paper.ai_summary or paper.abstract or "",
        links=tuple(paper.links()),
        topic=card.topic,
        matched=tuple(card.matched_terms),
        buttons=tuple(card.buttons),
        arxiv_url=paper.arxiv_url,
    )
