"""arXiv: the listing feeds (RSS 2.0 and Atom at rss.arxiv.org) and the query API (Atom).

Listing items carry ``arxiv:announce_type`` (new, cross, replace, replace-cross), one
comma-separated ``dc:creator`` string, and a description that starts with
``arXiv:IDvN Announce Type: ...`` before the abstract. Ids are kept without version.
"""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET

from bot.models import Paper, is_arxiv_id, strip_version
from bot.sources import Parsed

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


def _rfc822_day(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).date().isoformat()
    except (TypeError, ValueError):
        return None


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
        pid = _arxiv_id(item.findtext("guid"), item.findtext("link"))
        title = _clean(item.findtext("title"))
        if not pid or not title:
            result.skip(f"item {n}: no arXiv id or title")
            continue
        abstract = _PREAMBLE_RE.sub("", _clean(item.findtext("description")))
        categories = [_clean(c.text) for c in item.findall("category") if _clean(c.text)]
        result.papers.append(
            Paper(
                id=pid,
                title=title,
                abstract=abstract,
                authors=split_creators(item.findtext("dc:creator", namespaces=NS)),
                published=_rfc822_day(item.findtext("pubDate")),
                categories=categories,
                doi=_clean(item.findtext("arxiv:DOI", namespaces=NS)) or None,
                journal_ref=_clean(item.findtext("arxiv:journal_reference", namespaces=NS)) or None,
                sources=[SOURCE],
                first_seen=seen_at,
            )
        )
    return result


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
        links = [link.get("href") for link in entry.findall("atom:link", NS)]
        pid = _arxiv_id(entry.findtext("atom:id", namespaces=NS), *links)
        title = _clean(entry.findtext("atom:title", namespaces=NS))
        if not pid or not title or title == "Error":
            result.skip(f"entry {n}: no arXiv id or title")
            continue
        authors = [
            _clean(a.findtext("atom:name", namespaces=NS)) for a in entry.findall("atom:author", NS)
        ]
        if not any(authors):
            authors = split_creators(entry.findtext("dc:creator", namespaces=NS))
        published = _clean(entry.findtext("atom:published", namespaces=NS))[:10] or None
        categories = [
            c.get("term", "") for c in entry.findall("atom:category", NS) if c.get("term")
        ]
        primary = entry.find("arxiv:primary_category", NS)
        if primary is not None and primary.get("term") in categories:
            categories.remove(primary.get("term"))
            categories.insert(0, primary.get("term"))
        result.papers.append(
            Paper(
                id=pid,
                title=title,
                abstract=_PREAMBLE_RE.sub(
                    "", _clean(entry.findtext("atom:summary", namespaces=NS))
                ),
                authors=[a for a in authors if a],
                published=published,
                categories=categories,
                doi=_clean(
                    entry.findtext("arxiv:doi", namespaces=NS)
                    or entry.findtext("arxiv:DOI", namespaces=NS)
                )
                or None,
                journal_ref=_clean(
                    entry.findtext("arxiv:journal_ref", namespaces=NS)
                    or entry.findtext("arxiv:journal_reference", namespaces=NS)
                )
                or None,
                sources=[SOURCE],
                first_seen=seen_at,
            )
        )
    return result
