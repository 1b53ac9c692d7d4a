"""The ``/papers`` commands of one person, not of a channel: save, unsave and saved.

A reading list belongs to the asker (:attr:`bot.replies.Request.person`), the same list in
every channel and direct message of a workspace (on Discord, everywhere), so none of these
commands ``manages``: anyone may keep a list anywhere, and every answer is the asker's
alone. ``saved`` pages through the list like search, or hands it over as a file: BibTeX,
RIS (Zotero) or CSV, built by :mod:`bot.citations` from the stored metadata.
"""

from __future__ import annotations

from bot import answers, citations
from bot.context import Context
from bot.handlers.common import PAPER_REF, count_of, find_paper, parse_paper_ref
from bot.models import Paper, Saved
from bot.query import quoted
from bot.registry import CommandError, Flag, Form, Number, Word, command, usage
from bot.replies import Attachment, Reply, Request

EXPORT_FORMATS = (("RIS (Zotero, Mendeley, EndNote)", "ris"), ("CSV", "csv"))
EMPTY_LIST = "Your reading list is empty: press Save under a paper, or `/papers save <arXiv id>`."


@command(
    "save",
    "save <arXiv id or URL>",
    "put a paper on your reading list (the Save button does too)",
    options=[PAPER_REF],
    fetches="ref",
    form=Form("Put a paper on your reading list"),
)
def save(ctx: Context, request: Request, ref: str) -> Reply:
    paper = find_paper(ctx, ref, "save")
    title = quoted(paper.title)
    if not ctx.store.save_paper(request.person, paper.id, request.channel):
        return Reply(text=f"{title} ({paper.id}) is already on your reading list.")
    total = ctx.store.saved_count(request.person)
    return Reply(
        text=f"Saved {title} ({paper.id}) to your reading list ({count_of(total, 'paper')}). "
        "`/papers saved` shows it."
    )


@command(
    "unsave",
    "unsave <arXiv id or URL>",
    "take a paper off your reading list",
    options=[PAPER_REF],
    form=Form("Take a paper off your reading list"),
)
def unsave(ctx: Context, request: Request, ref: str) -> Reply:
    ref = ref.strip()
    if not ref:
        raise CommandError("Which paper? Give an arXiv id or link.", usage("unsave"))
    # The paper may have left the corpus since it was saved: the id alone is enough.
    paper_id = parse_paper_ref(ref) or ref.split()[0]
    if not ctx.store.unsave_paper(request.person, paper_id):
        return Reply(text=f"{paper_id[:60]} is not on your reading list.")
    left = ctx.store.saved_count(request.person)
    return Reply(
        text=f"Removed {paper_id} from your reading list ({count_of(left, 'paper')} left)."
    )


@command(
    "saved",
    "saved [--page N] [--bibtex] [--export [ris|csv]]",
    "your reading list, newest first; --bibtex or --export (RIS for Zotero, or csv) as a file",
    options=[
        Number("page", "Which page of your reading list", low=1, high=1000, flag=True),
        Flag("bibtex", "BibTeX for the arXiv papers on your list, as a file"),
        Flag("export", "Your list as a file Zotero imports (RIS, or CSV)"),
        Word(
            "format",
            "The export's format: ris (default) or csv",
            choices=EXPORT_FORMATS,
            strict=True,
            lower=True,
            param="fmt",
        ),
    ],
    syntax_error="Export as `ris` or `csv`.",
    form=Form("Your reading list"),
)
def saved(
    ctx: Context,
    request: Request,
    page: int | None,
    bibtex: bool,
    export: bool,
    fmt: str | None,
) -> Reply:
    items = ctx.store.saved_papers(request.person)
    if not items:
        return Reply(text=EMPTY_LIST)
    if bibtex or export or fmt:
        papers = [p for s in items if (p := ctx.store.get_paper(s.paper_id)) is not None]
        gone = len(items) - len(papers)
        if bibtex:
            return _bibtex_reply(papers, gone)
        return _export_reply(papers, gone, fmt or "ris")
    return _list_page(ctx, items, page or 1)


def _list_page(ctx: Context, items: list[Saved], page: int) -> Reply:
    """One page of the reading list: a card per paper (Remove, Share, Similar)."""
    per_page = ctx.config.bot.search_page_size
    pages = (len(items) + per_page - 1) // per_page
    if page > pages:
        raise CommandError(f"Your reading list has only {count_of(pages, 'page')}.", usage("saved"))
    first = (page - 1) * per_page
    shown = items[first : first + per_page]
    cards = []
    missing = []
    for n, item in enumerate(shown, start=first + 1):
        paper = ctx.store.get_paper(item.paper_id)
        if paper is None:  # removed from the corpus since it was saved
            missing.append(item.paper_id)
            continue
        cards.append(answers.card(paper, rank=n, saved=True))
    notes = [
        f"Papers {first + 1}–{first + len(shown)} of {len(items)} on your reading list, "
        "newest first. `/papers saved --bibtex` or `--export` gives them as a file."
    ]
    if missing:
        notes.append("No longer in the corpus: " + ", ".join(missing) + ".")
    return answers.paged_reply("Your reading list", notes, cards, "saved", page, pages)


def _gone_note(gone: int) -> str:
    return f" {count_of(gone, 'saved paper')} no longer in the corpus left out." if gone else ""


def _bibtex_reply(papers: list[Paper], gone: int) -> Reply:
    """BibTeX for the arXiv papers; the others are named as left out (no eprint to cite)."""
    text, left_out = citations.bibtex(papers)
    cited = len(papers) - len(left_out)
    note = _gone_note(gone)
    if left_out:
        names = ", ".join(quoted(p.title) for p in left_out[:5])
        more = f" and {len(left_out) - 5} more" if len(left_out) > 5 else ""
        note += f" Left out, having no arXiv id: {names}{more}."
    if not cited:
        return Reply(text="None of your saved papers has an arXiv id to cite." + note)
    return Reply(
        text=f"BibTeX for {count_of(cited, 'paper')} on your reading list.{note}",
        attachment=Attachment("reading-list.bib", "application/x-bibtex", text),
    )


def _export_reply(papers: list[Paper], gone: int, fmt: str) -> Reply:
    """The list as RIS (what Zotero imports; File > Import) or CSV."""
    if not papers:
        return Reply(text="None of your saved papers is in the corpus any more." + _gone_note(gone))
    if fmt == "csv":
        attachment = Attachment("reading-list.csv", "text/csv", citations.csv_text(papers))
        what = "CSV"
    else:
        attachment = Attachment(
            "reading-list.ris", "application/x-research-info-systems", citations.ris(papers)
        )
        what = "RIS (Zotero: File ▸ Import)"
    return Reply(
        text=f"Your reading list as {what}: {count_of(len(papers), 'paper')}.{_gone_note(gone)}",
        attachment=attachment,
    )
