"""arXiv: the listing feeds (RSS 2.0 and Atom at rss.arxiv.org) and the query API (Atom).

Listing items carry ``arxiv:announce_type`` (new, cross, replace, replace-cross), one
comma-separated ``dc:creator`` string, and a description that starts with
``arXiv:IDvN Announce Type: ...`` before the abstract. Ids are kept without version.

Every field is checked (:mod:`bot.sources.checks`): an entry whose id, title, abstract,
authors or date is missing or malformed is skipped and counted; a category term that is
not one is dropped.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET

from bot.models import Paper, is_arxiv_id, strip_version
from bot.sources import Parsed
from bot.sources.checks import (
    MAX_ABSTRACT,
    MAX_AUTHORS,
    MAX_NAME,
    MAX_TITLE,
    Invalid,
    category,
    iso_day,
    rfc822_day,
    text,
)

SOURCE = "arxiv"
NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "arxiv": "http://arxiv.org/schemas/atom",
    "dc": "http://purl.org/dc/elements/1.1/",
}
_ID_RE = re.compile(r"(\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(v\d+)?")
_PREAMBLE_RE = re.compile(
    r"^\s*arXiv:\S+\s+Announce Type:\s*\S+\s*(?:Abstract:\s*)?", re.IGNORECASE
)


class FeedError(ValueError):
    """The body is not a feed we can read (HTML error page, truncated XML...)."""


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def _arxiv_id(*candidates: str | None) -> str | None:
    for value in candidates:
        if value and (m := _ID_RE.search(value)):
            pid = strip_version(m.group(0))
            if is_arxiv_id(pid):
                return pid
    return None


def _parse_xml(body: bytes | str) -> Element:
    try:
        return SafeET.fromstring(body)
    except Exception as exc:  # ParseError, DefusedXmlException, encoding errors
        raise FeedError(f"not well-formed XML ({exc})") from exc


def split_creators(value: str | None) -> list[str]:
    """``"A. One, B. Two, C. Three"`` -> names; arXiv separates authors with commas."""
    if not value:
        return []
    names = [n.strip() for n in re.split(r",\s*|\s+and\s+", _clean(value))]
    return [n for n in names if n]


def _checked_text(value: str | None, what: str, limit: int, *, required: bool = False) -> str:
    """Element text (whitespace collapsed), checked like every upstream string."""
    return text(value or "", what, limit=limit, required=required) or ""


def _checked_authors(names: list[str]) -> list[str]:
    if len(names) > MAX_AUTHORS:
        raise Invalid(f"{len(names)} authors (at most {MAX_AUTHORS})")
    return [_checked_text(n, "author name", MAX_NAME) for n in names if n]


def _rss_paper(item: Element, seen_at: str | None) -> Paper:
    """One RSS ``<item>``; raises :class:`Invalid` when it cannot be a record."""
    pid = _arxiv_id(item.findtext("guid"), item.findtext("link"))
    if not pid:
        raise Invalid("no arXiv id")
    try:
        title = _checked_text(item.findtext("title"), "title", MAX_TITLE, required=True)
        description = _clean(item.findtext("description"))
        abstract = _checked_text(_PREAMBLE_RE.sub("", description), "abstract", MAX_ABSTRACT)
        authors = _checked_authors(split_creators(item.findtext("dc:creator", namespaces=NS)))
        published = rfc822_day(item.findtext("pubDate"), "pubDate")
        doi = _checked_text(item.findtext("arxiv:DOI", namespaces=NS), "DOI", MAX_NAME)
        journal_ref = _checked_text(
            item.findtext("arxiv:journal_reference", namespaces=NS), "journal_ref", MAX_TITLE
        )
    except Invalid as exc:
        raise Invalid(f"{pid}: {exc}") from None
    categories = [c for c in (category(c.text) for c in item.findall("category")) if c]
    return Paper(
        id=pid,
        title=title,
        abstract=abstract,
        authors=authors,
        published=published,
        categories=categories,
        doi=doi or None,
        journal_ref=journal_ref or None,
        sources=[SOURCE],
        first_seen=seen_at,
    )


def parse_rss(
    body: bytes | str, *, include_cross: bool = False, seen_at: str | None = None
) -> Parsed:
    """An RSS 2.0 listing feed (``/rss/cs.CL+cs.LG``). Keeps ``new`` (and ``cross``)."""
    root = _parse_xml(body)
    if root.tag != "rss" or root.find("channel") is None:
        raise FeedError(f"expected an RSS feed, found <{root.tag}>")
    result = Parsed()
    wanted = {"new", "cross"} if include_cross else {"new"}
    for n, item in enumerate(root.iter("item")):
        announce = _clean(item.findtext("arxiv:announce_type", namespaces=NS)).lower()
        if announce and announce not in wanted:
            continue
        try:
            result.papers.append(_rss_paper(item, seen_at))
        except Invalid as exc:
            result.skip(f"item {n}: {exc}")
    return result


def _atom_paper(entry: Element, seen_at: str | None) -> Paper:
    """One Atom ``<entry>``; raises :class:`Invalid` when it cannot be a record."""
    links = [link.get("href") for link in entry.findall("atom:link", NS)]
    pid = _arxiv_id(entry.findtext("atom:id", namespaces=NS), *links)
    if not pid:
        raise Invalid("no arXiv id")
    try:
        title = _checked_text(
            entry.findtext("atom:title", namespaces=NS), "title", MAX_TITLE, required=True
        )
        if title == "Error":  # the query API's way of saying "no such paper"
            raise Invalid("an arXiv API error entry")
        summary = _clean(entry.findtext("atom:summary", namespaces=NS))
        abstract = _checked_text(_PREAMBLE_RE.sub("", summary), "abstract", MAX_ABSTRACT)
        authors = [
            _clean(a.findtext("atom:name", namespaces=NS)) for a in entry.findall("atom:author", NS)
        ]
        if not any(authors):
            authors = split_creators(entry.findtext("dc:creator", namespaces=NS))
        authors = _checked_authors(authors)
        published = iso_day(entry.findtext("atom:published", namespaces=NS), "published")
        doi = _checked_text(
            entry.findtext("arxiv:doi", namespaces=NS)
            or entry.findtext("arxiv:DOI", namespaces=NS),
            "DOI",
            MAX_NAME,
        )
        journal_ref = _checked_text(
            entry.findtext("arxiv:journal_ref", namespaces=NS)
            or entry.findtext("arxiv:journal_reference", namespaces=NS),
            "journal_ref",
            MAX_TITLE,
        )
    except Invalid as exc:
        raise Invalid(f"{pid}: {exc}") from None
    categories = [
        c for c in (category(c.get("term")) for c in entry.findall("atom:category", NS)) if c
    ]
    primary = entry.find("arxiv:primary_category", NS)
    term = category(primary.get("term")) if primary is not None else None
    if term in categories:
        categories.remove(term)
        categories.insert(0, term)
    return Paper(
        id=pid,
        title=title,
        abstract=abstract,
        authors=authors,
        published=published,
        categories=categories,
        doi=doi or None,
        journal_ref=journal_ref or None,
        sources=[SOURCE],
        first_seen=seen_at,
    )


def parse_atom(
    body: bytes | str, *, include_cross: bool = False, seen_at: str | None = None
) -> Parsed:
    """An Atom feed: the listing variant (``/atom/cs.AI``) or the query API's answer."""
    root = _parse_xml(body)
    if root.tag != f"{{{NS['atom']}}}feed":
        raise FeedError(f"expected an Atom feed, found <{root.tag}>")
    result = Parsed()
    wanted = {"new", "cross"} if include_cross else {"new"}
    for n, entry in enumerate(root.findall("atom:entry", NS)):
        announce = _clean(entry.findtext("arxiv:announce_type", namespaces=NS)).lower()
        if announce and announce not in wanted:
            continue
        try:
            result.papers.append(_atom_paper(entry, seen_at))
        except Invalid as exc:
            result.skip(f"entry {n}: {exc}")
    return result
