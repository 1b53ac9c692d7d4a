"""Topic alerts: papers of the last week whose upvotes crossed a topic's alert threshold.

Each such paper is posted once to the channel that subscribed, outside its daily post
(and the daily post then leaves it out: it counts as delivered). Looking costs a search
per alert topic, so the watch looks again only when something could have changed the
answer: the corpus, the alert topics, a failed alert post, a channel's backoff ending, or
a platform attaching (its channels were skipped while it was away).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot import texts
from bot.delivery import describe
from bot.models import Channel, Paper, Topic
from bot.query import QueryError, parse_query
from bot.replies import PaperCard
from bot.scheduler.failures import backing_off
from bot.search import SearchIndex
from bot.store import Store

log = logging.getLogger(__name__)

ALERT_WINDOW_DAYS = 7

Hits = list[tuple[Paper, Topic]]


class AlertWatch:
    """Finds the alert papers each channel is owed, looking again only when needed."""

    def __init__(self, store: Store, index: SearchIndex) -> None:
        self.store = store
        self.index = index
        self._seen: tuple[object, ...] | None = None  # what the last look was based on

    def recheck(self) -> None:
        """Look again at the next tick (a post failed, or a platform attached)."""
        self._seen = None

    def owed(self, now: datetime, *, eligible: Callable[[Channel], bool]) -> dict[str, Hits]:
        """Channel key -> the alert papers it is owed now, each with the topic it matched.

        A channel that is not ``eligible`` now (its platform is not attached) is skipped;
        the caller calls :meth:`recheck` when that changes.
        """
        topics = [t for t in self.store.topics() if t.alert_upvotes is not None]
        seen = (self.store.corpus_revision, tuple((t.id, t.alert_upvotes) for t in topics))
        if not topics or seen == self._seen:
            return {}
        self._seen = seen
        since = (now.date() - timedelta(days=ALERT_WINDOW_DAYS)).isoformat()
        matches: list[tuple[Topic, list[str]]] = []
        for topic in topics:
            try:
                channel = self.store.get_channel(topic.channel)
                if channel is None or channel.paused or not eligible(channel):
                    continue
                if backing_off(channel, now):
                    self.recheck()  # look again once its backoff is over
                    continue
                parsed = parse_query(topic.query)
            except QueryError:
                continue
            except Exception as exc:  # a corrupt channel record: planning reports it
                log.debug("%s: no alerts: %s", topic.channel, describe(exc))
                continue
            matches.append((topic, list(self.index.matching_ids(parsed, since=since))))
        # Who already had them, for these papers only (an index lookup, not the history).
        delivered = self.store.delivered_by_channel(among={p for _, ids in matches for p in ids})
        found: dict[str, Hits] = {}
        for topic, ids in matches:
            have = delivered.setdefault(topic.channel, set())
            for pid in ids:
                paper = self.store.get_paper(pid)
                if (
                    paper is None
                    or pid in have
                    or (paper.upvotes or 0) < (topic.alert_upvotes or 0)
                    or (paper.list_date or "") < since
                ):
                    continue
                have.add(pid)
                found.setdefault(topic.channel, []).append((paper, topic))
        return found

    def cards(self, hits: Hits) -> list[PaperCard]:
        """The alert's cards, each naming its topic and the words that matched."""
        return [
            PaperCard(
                paper,
                rank=n,
                topic=topic.query,
                matched_terms=self.index.matched_terms(parse_query(topic.query), paper),
            )
            for n, (paper, topic) in enumerate(hits, start=1)
        ]


def alert_title(hits: Hits) -> str:
    """The alert's title, from its facts: how many papers, the lowest threshold crossed."""
    thresholds = sorted({t.alert_upvotes for _, t in hits if t.alert_upvotes is not None})
    return texts.alert_title(len(hits), thresholds[0])
