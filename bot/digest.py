"""Which papers a channel's next post carries.

A post is the latest trending day's papers (on or before the channel's local today),
ranked by upvotes then recency, kept to the channel's topics when it has any, above its
minimum upvotes, minus what the channel already had, capped at its maximum. Topic
matching uses the search index, so a topic matches exactly what ``/papers search`` finds.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from bot import texts
from bot.feedback import Taste, learn, weight
from bot.models import Channel, Paper, Topic
from bot.query import QueryError, parse_query
from bot.replies import PaperCard
from bot.search import SearchIndex, day_number
from bot.store import Store

log = logging.getLogger(__name__)

LATE_NOTE = texts.LATE_NOTE  # where bot.app reads it; the words live in bot.texts


def parse_day(value: str | None) -> date | None:
    """``value``'s day (its first ten characters as YYYY-MM-DD), or None if it has none.

    Days come from upstream data; one that is not a real date (``2026-06-1Z``) must cost
    only its own paper a place in the digests, never raise while every channel is planned.
    """
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


_UNKNOWN = object()


def _iso_day(number: int) -> str:
    """``20260508`` -> ``2026-05-08`` (the inverse of :func:`bot.search.day_number`)."""
    return f"{number // 10000:04d}-{number // 100 % 100:02d}-{number % 100:02d}"


def meaning_match(topic: str) -> str:
    """The "why this matched" of a paper a topic matched by meaning, not by its words."""
    return f"similar in meaning to {topic}"


@dataclass(slots=True)
class Digest:
    channel: str
    day: str | None  # the trending day the papers come from
    cards: list[PaperCard] = field(default_factory=list)
    reason: str | None = None  # why it is empty, in words a channel can read
    start: str | None = None  # a weekly digest's first day (``day`` is its last)
    summary: str = "short"  # the channel's ``summary`` setting: how much its cards say

    @property
    def title(self) -> str:
        return texts.digest_title(self.day, self.start)


def rank_key(paper: Paper) -> tuple[int, str, str]:
    """Upvotes first, then the newer paper, then id for a stable order."""
    return (-(paper.upvotes or 0), _neg_date(paper.published), paper.id)


def _neg_date(value: str | None) -> str:
    # Sort newer dates first with an ascending sort: map digits to their complement.
    return (value or "").translate(str.maketrans("0123456789", "9876543210")) or "~"


class DigestBuilder:
    """Builds digests for many channels, reusing per-day work between them."""

    def __init__(self, store: Store, index: SearchIndex) -> None:
        self.store = store
        self.index = index
        self._days: dict[str, list[Paper]] = {}  # the days asked for, this revision
        self._revision = -1
        self._topic_cache: dict[tuple[str, str], dict[str, float]] = {}
        self._terms_cache: dict[tuple[str, str], tuple[str, ...]] = {}
        self._latest_cache: dict[str, str | None] = {}
        self._pinned = 0

    def _current(self) -> None:
        """Forget what was worked out for an older corpus revision. A day's papers come
        from the search index's stored records (a range query on the listing day), so a
        digest reads a day's papers, never the whole corpus.

        What is worked out is kept only once the index has caught up with the corpus: while
        a merge is between its commit and its index update, answers come from the index as
        it was and are not remembered (they would outlive the update). Inside
        :meth:`pinned` nothing is forgotten: one planning pass sees one revision."""
        if self._pinned:
            return
        revision = self.store.corpus_revision
        if revision != self._revision:
            # The index follows the corpus (a no-op unless it fell behind). Asked only when
            # the corpus changed: a fan-out asks this for every channel, and sync's two
            # file checks were 1.3 s of planning 10,000 channels.
            self.index.sync(self.store)
            self._days.clear()
            self._topic_cache.clear()
            self._terms_cache.clear()
            self._latest_cache.clear()
            self._revision = revision if self.index.revision == revision else -1

    @contextlib.contextmanager
    def pinned(self) -> Iterator[None]:
        """Within the block, the corpus revision the builder saw first holds: a planning
        pass works out its candidates once and must build every digest from the same."""
        self._current()
        self._pinned += 1
        try:
            yield
        finally:
            self._pinned -= 1

    def latest_day(self, today: str) -> str | None:
        """The newest trending day on or before ``today`` (YYYY-MM-DD).

        Days come from the Hugging Face daily lists; arXiv announcement days count only
        when the corpus has no daily list at all. A day's candidates are every paper
        listed that day, so arXiv-only papers reach channels whose topics they match.
        """
        self._current()
        known = self._latest_cache.get(today, _UNKNOWN)
        if known is not _UNKNOWN:
            return known  # type: ignore[return-value]
        found = self.index.latest_day(day_number(today))
        latest = self._latest_cache[today] = _iso_day(found) if found else None
        return latest

    def papers_on(self, day: str) -> list[Paper]:
        """The papers listed on ``day``, ranked (upvotes, then newer, then id)."""
        self._current()
        papers = self._days.get(day)
        if papers is None:  # (another thread may empty the cache meanwhile: keep a local)
            number = day_number(day)
            papers = [Paper.from_doc(r) for r in self.index.records_between(number, number)]
            papers.sort(key=rank_key)
            self._days[day] = papers
        return list(papers)

    def topic_matches(self, topic_query: str, day: str) -> dict[str, float]:
        key = (topic_query, day)
        if key not in self._topic_cache:
            try:
                parsed = parse_query(topic_query)
            except QueryError:
                self._topic_cache[key] = {}
            else:
                self._topic_cache[key] = self.index.matching_ids(parsed, day=day)
        return self._topic_cache[key]

    def _matched_terms(self, topic_query: str, paper: Paper) -> tuple[str, ...]:
        """The topic's words this paper has, or "similar in meaning to <topic>" for a paper
        the topic matched by meaning alone. Cached: in a fan-out, many channels share a
        topic and a day's papers."""
        key = (topic_query, paper.id)
        if key not in self._terms_cache:
            try:
                parsed = parse_query(topic_query)
                terms = self.index.matched_terms(parsed, paper)
            except QueryError:
                parsed, terms = None, ()
            if not terms and parsed is not None and parsed.words:
                terms = (meaning_match(topic_query),)  # matched by meaning alone
            self._terms_cache[key] = terms
        return self._terms_cache[key]

    def taste_for(self, channel_key: str) -> Taste:
        """What the channel's 👍/👎 have taught (see :mod:`bot.feedback`)."""
        return learn(
            self.store.feedback(channel_key), self.store.get_paper, self.index.feedback_terms
        )

    def build(
        self,
        channel: Channel,
        today: str,
        *,
        topics: Iterable[Topic] | None = None,
        delivered: set[str] | None = None,
        taste: Taste | None = None,
        weekly: bool = False,
    ) -> Digest:
        """The channel's next post: the latest trending day's papers (``weekly``: the seven
        days up to it), ranked, kept to its topics, minus what it already had, capped."""
        topics = list(self.store.topics(channel.key) if topics is None else topics)
        if delivered is None:
            delivered = self.store.delivered_ids(channel.key, weekly=weekly)
        taste = self.taste_for(channel.key) if taste is None else taste
        day = self.latest_day(today)
        if day is None:
            return Digest(channel.key, None, reason=texts.NOTHING_FETCHED)
        days, first = [day], day
        if weekly:
            start = date.fromisoformat(day) - timedelta(days=6)
            first = start.isoformat()
            days = [(start + timedelta(days=n)).isoformat() for n in range(7)]
        papers = [p for d in days for p in self.papers_on(d)]
        label = day if not weekly else f"{first} to {day}"
        matched_topic: dict[str, Topic] = {}
        if topics:
            best: dict[str, float] = {}
            for topic in topics:
                for d in days:
                    for pid, score in self.topic_matches(topic.query, d).items():
                        if score > best.get(pid, -1.0):  # name the topic it matches best
                            best[pid], matched_topic[pid] = score, topic
            if not matched_topic:
                return Digest(
                    channel.key,
                    day,
                    reason=texts.no_topic_match(len(papers), label),
                    start=first if weekly else None,
                )
        if weekly:
            papers.sort(key=rank_key)
        if not taste.empty:
            terms = self.index.feedback_terms
            papers = sorted(papers, key=lambda p: (-weight(taste, p, terms), *rank_key(p)[1:]))
        cards: list[PaperCard] = []
        skipped_delivered = skipped_votes = 0
        for paper in papers:
            if topics and paper.id not in matched_topic:
                continue
            if paper.id in delivered:
                skipped_delivered += 1
                continue
            if (paper.upvotes or 0) < channel.min_upvotes:
                skipped_votes += 1
                continue
            topic = matched_topic.get(paper.id)
            cards.append(
                PaperCard(
                    paper,
                    rank=len(cards) + 1,
                    topic=topic.query if topic else None,
                    matched_terms=self._matched_terms(topic.query, paper) if topic else (),
                )
            )
            if len(cards) >= channel.max_papers:
                break
        reason = None
        if not cards:
            if skipped_delivered and not skipped_votes:
                reason = texts.all_posted(label)
            elif skipped_votes:
                reason = texts.below_min_upvotes(label, channel.min_upvotes)
            else:
                reason = texts.no_papers(label)
        start = first if weekly else None
        return Digest(channel.key, day, cards, reason, start=start, summary=channel.summary)
