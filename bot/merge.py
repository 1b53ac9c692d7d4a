"""Merging what sources saw into the corpus: one record per paper, nothing known lost.

A re-fetch refreshes the counters that change (upvotes, comments, GitHub stars), fills
fields that were empty, and never blanks a field we already know. A paper first seen
without an arXiv id (the seed page) is recognised by its title when its id turns up.

Incoming values are valid (the parsers check them); a stored date that is not (written
before they did, like ``2026-06-1Z``) is replaced by the next valid one rather than kept
for ever as the "latest" day because it sorts after every real one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date

from bot.models import Paper, title_key
from bot.store import Store, utc_now

_COUNTERS = ("upvotes", "comments", "github_stars")
_LISTS = ("sources", "categories")
_DAYS = ("published", "daily_date")


def is_day(value: object) -> bool:
    """``YYYY-MM-DD`` and a real calendar day."""
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def merge_paper(old: Paper, new: Paper) -> Paper:
    """``old`` updated with what ``new`` knows. Neither argument is changed."""
    merged = Paper.from_doc(old.to_doc())
    merged.id = new.id if new.has_arxiv_id else old.id
    for f in fields(Paper):
        name = f.name
        if name in ("id", "first_seen"):
            continue
        value = getattr(new, name)
        if name in _LISTS:
            combined = list(dict.fromkeys([*getattr(merged, name), *value]))
            setattr(merged, name, combined)
        elif name in _COUNTERS:
            if value is not None:
                setattr(merged, name, value)
        elif name == "daily_date":
            # A paper can trend on several days; keep the latest list it was on.
            if is_day(value) and (not is_day(merged.daily_date) or value > merged.daily_date):
                merged.daily_date = value
        elif name in _DAYS:
            if is_day(value) and not is_day(getattr(merged, name)):
                setattr(merged, name, value)
        elif value not in (None, "", []) and getattr(merged, name) in (None, "", []):
            setattr(merged, name, value)
    merged.first_seen = min(filter(None, [old.first_seen, new.first_seen]), default=None)
    return merged


@dataclass(slots=True)
class MergeResult:
    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    changed_papers: list[Paper] = field(default_factory=list)
    replaced_ids: list[str] = field(
        default_factory=list
    )  # title-keyed records now under an arXiv id


def plan_merge(store: Store, incoming: Iterable[Paper]) -> MergeResult:
    """Work out what ``incoming`` changes in the corpus, without writing anything."""
    result = MergeResult()
    staged: dict[str, Paper] = {}
    by_title: dict[str, str] | None = None
    # What is already in result.new / result.updated: a set each, so that every paper
    # costs the same whatever the batch's size (a list test made 300,000 papers quadratic).
    new_ids: set[str] = set()
    updated_ids: set[str] = set()
    now = utc_now()
    incoming = list(incoming)
    stored = store.stored_papers(p.id for p in incoming)  # one read per partition
    for paper in incoming:
        if paper.first_seen is None:
            paper.first_seen = now
        old = staged.get(paper.id) or stored.get(paper.id)
        if old is None and paper.has_arxiv_id:
            if by_title is None:
                by_title = {title_key(p.title): p.id for p in store.untitled_papers()}
            old_id = by_title.get(title_key(paper.title))
            if old_id is not None:
                old = store.get_paper(old_id)
                result.replaced_ids.append(old_id)
                by_title.pop(title_key(paper.title), None)
        if old is None:
            staged[paper.id] = paper
            if paper.id not in new_ids:
                new_ids.add(paper.id)
                result.new.append(paper.id)
            continue
        merged = merge_paper(old, paper)
        if merged.to_doc() == old.to_doc():
            result.unchanged += 1
            continue
        staged[merged.id] = merged
        if merged.id not in new_ids and merged.id not in updated_ids:
            updated_ids.add(merged.id)
            result.updated.append(merged.id)
    result.changed_papers = list(staged.values())
    return result


def apply_merge(store: Store, result: MergeResult) -> None:
    """Write a planned merge in one atomic corpus write."""
    store.put_papers(result.changed_papers, remove_ids=result.replaced_ids)
