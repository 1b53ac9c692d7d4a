"""Replies more than one caller builds: search results, trending, digests, paper cards.

The command handlers, the scheduler (through :class:`bot.app.PapersBot`) and the CLI all
answer with these, so a search answers the same from ``/papers search``, a Next button
or ``papers-bot search``, and a digest looks the same previewed or posted.
"""

from __future__ import annotations

from bot.actions import button
from bot.context import Context
from bot.digest import LATE_NOTE, Digest
from bot.models import Paper
from bot.query import parse_query, quoted
from bot.registry import CommandError, usage
from bot.replies import ButtonRole, PaperCard, Reply, ReplyKind


def card(
    paper: Paper,
    *,
    public: bool = False,
    rank: int | None = None,
    topic: str | None = None,
    matched_terms: tuple[str, ...] = (),
    day: str | None = None,
    summary: str = "short",
    saved: bool = False,
) -> PaperCard:
    """A paper card with its buttons, Save first on every card (it puts the paper on the
    presser's reading list, answered to them alone).

    On answers only the asker sees: Save, Share, Similar. On channel posts: Save, 👍, 👎
    (which tune the channel's ranking), then Similar, which goes to a platform's "⋯" menu
    (:data:`bot.layout.VISIBLE_BUTTONS` are shown): the feedback pair stays side by side,
    and Similar is also ``/papers similar <id>``. A card on the reading list itself
    (``saved``) has Remove where Save would be. ``day`` is the post's day (the card names
    its own date only when it differs); ``summary`` its length.
    """
    made = PaperCard(
        paper, rank=rank, topic=topic, matched_terms=matched_terms, day=day, summary=summary
    )
    if saved:
        made.buttons.append(button("Remove", ButtonRole.COMMAND, "unsave", ref=paper.id))
    else:
        made.buttons.append(button("Save", ButtonRole.SAVE, "save", ref=paper.id))
    if public:
        role = ButtonRole.VOTE
        made.buttons.append(button("👍", role, "feedback", vote="up", ref=paper.id))
        made.buttons.append(button("👎", role, "feedback", vote="down", ref=paper.id))
    else:
        made.buttons.append(button("Share in channel", ButtonRole.SHARE, "share", ref=paper.id))
    made.buttons.append(button("Similar", ButtonRole.SIMILAR, "similar", ref=paper.id))
    return made


def search(ctx: Context, query: str, page: int = 1) -> Reply:
    """The search reply for ``query``: one page of ranked cards, with paging buttons."""
    parsed = parse_query(query)
    if parsed.is_empty:
        raise CommandError("Search for what? Give a few words.", usage("search"))
    ctx.index.sync(ctx.store)
    per_page = ctx.config.bot.search_page_size
    result = ctx.index.search(parsed, page=page, per_page=per_page)
    shown = quoted(parsed.describe())
    if result.total == 0:
        return Reply(text=f"No papers match {shown}.", kind=ReplyKind.SEARCH, title="Search")
    if page > result.pages:
        raise CommandError(f"There are only {result.pages} pages of results.", usage("search"))
    cards = []
    first = (page - 1) * per_page
    for n, hit in enumerate(result.hits, start=first + 1):
        paper = ctx.store.get_paper(hit.paper_id)
        if paper is None:  # index ahead of a corpus rollback; skip, it resyncs
            continue
        # hit.terms: the index's stored analysis, so no per-hit re-analysis.
        terms = ctx.index.matched_terms(parsed, paper, hit.terms)
        cards.append(card(paper, rank=n, matched_terms=terms))
    notes = [f"Results {first + 1}–{first + len(result.hits)} of {result.total} for {shown}."]
    if result.corrected:
        notes.append("Also matched close spellings of: " + ", ".join(result.corrected) + ".")
    if not result.matched_all_words:
        notes.append("No paper has every word; these have some of them.")
    return paged_reply("Search", notes, cards, "search", page, result.pages, query=query)


def paged_reply(
    title: str,
    notes: list[str],
    cards: list[PaperCard],
    command: str,
    page: int,
    pages: int,
    **values: object,
) -> Reply:
    """One page of a list of cards (search results, a reading list): the notes on top,
    Previous / Next buttons that run ``command`` with ``values`` and the page, a footer."""
    buttons = []
    if page > 1:
        buttons.append(button("◀ Previous", ButtonRole.PAGE, command, **values, page=page - 1))
    if page < pages:
        buttons.append(
            button("Next ▶", ButtonRole.PAGE, command, primary=True, **values, page=page + 1)
        )
    return Reply(
        text=" ".join(notes),
        kind=ReplyKind.SEARCH,
        title=title,
        cards=cards,
        buttons=buttons,
        footer=f"Page {page} of {pages}",
    )


def trending(ctx: Context, count: int, today: str | None = None) -> Reply:
    """The top ``count`` papers of the latest trending day on or before ``today``."""
    day = ctx.digests.latest_day(today or ctx.today_for(None))
    if day is None:
        return Reply(text="No trending papers yet: the corpus has no daily lists.")
    listed = ctx.digests.papers_on(day)
    cards = [card(p, rank=n, day=day) for n, p in enumerate(listed[:count], start=1)]
    return Reply(
        text=f"Top {len(cards)} of {len(listed)} papers trending on {day}.",
        kind=ReplyKind.SEARCH,
        title=f"Trending papers, {day}",
        cards=cards,
    )


def digest_reply(digest: Digest, *, late: bool = False) -> Reply:
    """A channel post for ``digest`` (also the ``digest`` command's preview)."""
    if not digest.cards:
        when = "since the bot went offline" if late else "today"
        text = f"No new papers {when} ({digest.reason})."
        return Reply(text=text, kind=ReplyKind.DIGEST, ephemeral=False)
    day = None if digest.start else digest.day  # a weekly's cards each name their day
    cards = [
        card(
            c.paper,
            public=True,
            rank=c.rank,
            topic=c.topic,
            matched_terms=c.matched_terms,
            day=day,
            summary=digest.summary,
        )
        for c in digest.cards
    ]
    title = digest.title
    if late:
        title += LATE_NOTE
    return Reply(kind=ReplyKind.DIGEST, title=title, cards=cards, ephemeral=False)


def not_on_arxiv(paper_id: str) -> str:
    """Why ``paper <id>`` shows nothing when arXiv answered and does not know the id."""
    return f"arXiv has no paper {paper_id}, and the local corpus has none either: check the id."


def arxiv_not_asked(paper_id: str, error: Exception) -> str:
    """Why ``paper <id>`` shows nothing when arXiv could not be asked (``error`` raised)."""
    return (
        f"Paper {paper_id} is not in the local corpus, and arXiv could not be asked just now "
        f"({lookup_trouble(error)}); try again later."
    )


def lookup_trouble(error: Exception) -> str:
    """A few words for what went wrong asking arXiv: "timeout", "HTTP 503", ... The full
    message (with the URL and attempts) is in the log, not for the channel."""
    text = str(error)
    if isinstance(error, TimeoutError) or "Timeout" in text or "no complete answer" in text:
        return "timeout"
    if (at := text.find("HTTP ")) >= 0 and text[at + 5 : at + 8].isdigit():
        return text[at : at + 8]
    if "ConnectError" in text:
        return "no connection"
    if type(error).__name__ == "FeedError":
        return "its answer could not be read"
    return "no usable answer"
