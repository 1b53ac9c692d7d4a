"""A reading list as files other tools import: BibTeX, RIS (Zotero, Mendeley, EndNote) and CSV.

Everything is built from the stored metadata (:class:`bot.models.Paper`), never fetched.
Titles and author names come from upstream and may hold anything, so each format escapes
for its own syntax: BibTeX values have LaTeX's special characters replaced by commands
(braces included, so a value's braces always balance and a hostile title cannot close its
field or open a new entry); RIS values are folded to one line (a newline could start a tag
such as ``ER  -``); CSV goes through :mod:`csv` and text cells that a spreadsheet would read
as a formula are prefixed with a quote.

BibTeX: arXiv papers only, as ``@misc`` with ``eprint``/``archivePrefix``/``primaryClass``
(``@article`` with ``journal`` when arXiv knows a journal reference), since an entry without
an eprint has nothing stable to cite; the caller says which papers were left out. Keys are
``<first author's surname><year><first title word>_<arXiv id>``: readable, the same for a
paper in every export (they depend on that paper alone), and unique because the id is.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable

from bot.models import Paper

__all__ = ["bibtex", "bibtex_key", "csv_text", "latex_escape", "ris", "year_of"]

# LaTeX's special characters, each as a command that needs no other character escaped.
_LATEX = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "$": r"\$",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
}
_LATEX_RE = re.compile("|".join(re.escape(c) for c in _LATEX))
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_STOP_WORDS = frozenset({"a", "an", "the", "on", "of", "in", "for", "to", "and", "with", "towards"})
_NEW_STYLE_ID = re.compile(r"^(\d{2})(\d{2})\.\d{4,5}$")


def one_line(text: str | None) -> str:
    """``text`` without control characters, its whitespace folded to single spaces."""
    return " ".join(_CONTROL_RE.sub(" ", text or "").split())


def latex_escape(text: str | None) -> str:
    """``text`` safe inside a braced BibTeX value: every LaTeX special character becomes
    a command, so the value's braces balance whatever the text held."""
    return _LATEX_RE.sub(lambda m: _LATEX[m.group(0)], one_line(text))


def _ascii_word(text: str) -> str:
    """Letters and digits of ``text`` folded to ASCII and lower case (``Müller`` -> ``muller``)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def year_of(paper: Paper) -> str | None:
    """The paper's year: its publication date, its daily-list day, or its new-style arXiv id."""
    for day in (paper.published, paper.daily_date):
        if day and re.match(r"\d{4}", day):
            return day[:4]
    match = _NEW_STYLE_ID.match(paper.id)
    return f"20{match.group(1)}" if match else None


def bibtex_key(paper: Paper) -> str:
    """A citation key readable and unique: ``vaswani2017attention_1706.03762``."""
    surname = ""
    if paper.authors:
        parts = one_line(paper.authors[0]).split()
        surname = _ascii_word(parts[-1]) if parts else ""
    words = [_ascii_word(w) for w in one_line(paper.title).split()]
    word = next((w for w in words if w and w not in _STOP_WORDS), "")
    ident = re.sub(r"[^A-Za-z0-9.\-]", "_", paper.id)
    return f"{surname or 'anon'}{year_of(paper) or ''}{word}_{ident}"


def _bib_author(name: str) -> str:
    """One author for BibTeX's ``and``-separated list: an ``and`` inside a name is braced
    so it does not split the name in two."""
    return re.sub(r"\band\b", "{and}", latex_escape(name))


def bibtex_entry(paper: Paper) -> str:
    """One arXiv paper as a BibTeX entry (see the module docstring)."""
    fields: list[tuple[str, str]] = [("title", "{" + latex_escape(paper.title) + "}")]
    authors = [a for a in (one_line(a) for a in paper.authors) if a]
    if authors:
        fields.append(("author", " and ".join(_bib_author(a) for a in authors)))
    if (year := year_of(paper)) is not None:
        fields.append(("year", year))
    fields += [("eprint", latex_escape(paper.id)), ("archivePrefix", "arXiv")]
    if paper.categories:
        fields.append(("primaryClass", latex_escape(paper.categories[0])))
    if paper.arxiv_url:
        fields.append(("url", paper.arxiv_url))
    if paper.doi:
        fields.append(("doi", latex_escape(paper.doi)))
    kind = "misc"
    if paper.journal_ref:
        kind = "article"
        fields.append(("journal", latex_escape(paper.journal_ref)))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@{kind}{{{bibtex_key(paper)},\n{body}\n}}\n"


def bibtex(papers: Iterable[Paper]) -> tuple[str, list[Paper]]:
    """BibTeX for the arXiv papers among ``papers``, and the papers left out (no arXiv id)."""
    entries: list[str] = []
    left_out: list[Paper] = []
    for paper in papers:
        if paper.has_arxiv_id:
            entries.append(bibtex_entry(paper))
        else:
            left_out.append(paper)
    return "\n".join(entries), left_out


def ris(papers: Iterable[Paper]) -> str:
    """RIS records (one per paper; what Zotero, Mendeley and EndNote import).

    A paper with a journal reference is a journal article (``JOUR``), any other a preprint
    typed ``GEN`` (RIS has no preprint type) with arXiv as its database and its id as the
    accession number, which is how Zotero keeps the arXiv id.
    """
    lines: list[str] = []
    for paper in papers:
        tag = "JOUR" if paper.journal_ref else "GEN"
        lines.append(f"TY  - {tag}")
        lines.append(f"TI  - {one_line(paper.title) or '(untitled)'}")
        lines += [f"AU  - {a}" for a in (one_line(a) for a in paper.authors) if a]
        if (year := year_of(paper)) is not None:
            lines.append(f"PY  - {year}")
        if paper.published:
            lines.append(f"DA  - {one_line(paper.published).replace('-', '/')}")
        if paper.abstract:
            lines.append(f"AB  - {one_line(paper.abstract)}")
        if paper.journal_ref:
            lines.append(f"JO  - {one_line(paper.journal_ref)}")
        if paper.doi:
            lines.append(f"DO  - {one_line(paper.doi)}")
        if paper.has_arxiv_id:
            lines += ["DB  - arXiv", f"AN  - arXiv:{paper.id}"]
        lines += [f"KW  - {one_line(c)}" for c in paper.categories if one_line(c)]
        if url := (paper.arxiv_url or paper.url):
            lines.append(f"UR  - {one_line(url)}")
        lines += ["ER  - ", ""]
    return "\n".join(lines)


CSV_COLUMNS = ("arxiv_id", "title", "authors", "year", "published", "url", "doi", "journal")


def _cell(text: str | None) -> str:
    """A text cell a spreadsheet shows as text: one line, and never read as a formula."""
    value = one_line(text)
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def csv_text(papers: Iterable[Paper]) -> str:
    """One CSV row per paper under a header of :data:`CSV_COLUMNS` (authors joined by ``; ``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for paper in papers:
        writer.writerow(
            [
                paper.id if paper.has_arxiv_id else "",
                _cell(paper.title),
                _cell("; ".join(one_line(a) for a in paper.authors)),
                year_of(paper) or "",
                one_line(paper.published),
                paper.arxiv_url or paper.url or "",
                _cell(paper.doi),
                _cell(paper.journal_ref),
            ]
        )
    return out.getvalue()
