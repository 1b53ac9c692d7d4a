"""Topic alerts: papers of the last week whose upvotes crossed a topic's alert threshold.

Each such paper is posted once to the channel that subscribed, outside its daily post
(and the daily post then leaves it out: it counts as delivered). Looking costs a search
per alert topic, so the watch looks again only when something could have changed the
answer: the corpus, the alert topics, a failed alert post, a channel's backoff ending,
a platform attaching (its channels were skipped while it was away), or a channel's
hourly alert cap freeing up.

**The hourly cap.** A channel gets at most ``scheduler.max_alerts_per_hour`` alert
messages in any hour (counted from the delivery records, so a restart does not reset
it). A burst that would need more (``subscribe diffusion --alert 5`` on a busy week)
sends its first cards up to one message short of the cap, then one last message listing
the other papers, title, upvotes and link (:func:`folded_alert`), and says why it is a
list. Papers even the list has no room for are not marked delivered: the next hour's
alert, or the daily digest, carries them. Nothing is dropped. A channel that has used its whole hour waits for the
next one (the watch looks again then); until then the daily digest may post those papers
as usual.

**Mentions.** A topic with ``--notify`` has its alerts' first message carry that mention
(:mod:`bot.mentions`); nothing else the scheduler posts mentions anyone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot import texts
from bot.delivery import describe
from bot.layout import shorten
from bot.messages import RenderLimits
from bot.models import Channel, Paper, Topic
from bot.query import QueryError, parse_query
from bot.replies import PaperCard, Reply, ReplyKind
from bot.scheduler.failures import backing_off
from bot.search import SearchIndex
from bot.store import Store

log = logging.getLogger(__name__)

ALERT_WINDOW_DAYS = 7
CAP_WINDOW = timedelta(hours=1)  # the alert cap counts messages in the last hour
FOLDED_TITLE_CHARS = 150

Hits = list[tuple[Paper, Topic]]


class AlertWatch:
    """Finds the alert papers each channel is owed, looking again only when needed."""

    def __init__(self, store: Store, index: SearchIndex) -> None:
        self.store = store
        self.index = index
        self._seen: tuple[object, ...] | None = None  # what the last look was based on
        self._wake: datetime | None = None  # look again then (a channel's cap frees up)

    def recheck(self) -> None:
        """Look again at the next tick (a post failed, or a platform attached)."""
        self._seen = None

    def recheck_at(self, when: datetime) -> None:
        """Look again at the first tick at or after ``when`` (a channel that used its
        hourly alert cap is owed the rest then)."""
        self._wake = when if self._wake is None else min(self._wake, when)

    def owed(self, now: datetime, *, eligible: Callable[[Channel], bool]) -> dict[str, Hits]:
        """Channel key -> the alert papers it is owed now, each with the topic it matched.

        A channel that is not ``eligible`` now (its platform is not attached) is skipped;
        the caller calls :meth:`recheck` when that changes.
        """
        if self._wake is not None and now >= self._wake:
            self._wake, self._seen = None, None
        # The index first: on a worker that did not ingest, it still holds the last
        # revision, and a look recorded as done at the new one would never find its papers.
        # The look is keyed on the index's revision, which is what the search answers from.
        self.index.sync(self.store)
        topics = [t for t in self.store.topics() if t.alert_upvotes is not None]
        seen = (self.index.revision, tuple((t.id, t.alert_upvotes) for t in topics))
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


def alert_mentions(hits: Hits) -> tuple[str, ...]:
    """Who the alert mentions: each ``--notify`` of the topics it is for, once, in order."""
    return tuple(dict.fromkeys(t.notify for _, t in hits if t.notify))


def alert_budget(store: Store, key: str, now: datetime, cap: int) -> tuple[int, datetime | None]:
    """How many alert messages channel ``key`` may still get this hour, and, when none,
    the instant one frees up (an hour after the oldest counted)."""
    since = now - CAP_WINDOW
    sent: dict[str, datetime] = {}
    for d in store.deliveries(key, kind="alert", status="sent"):  # not the whole history
        try:
            at = datetime.fromisoformat(d.at)
        except ValueError:
            continue
        if at.tzinfo is None and since.tzinfo is not None:
            at = at.replace(tzinfo=since.tzinfo)
        if at > since:  # sent an hour ago or more: no longer counted
            # A message is counted once by its id; a platform that gave no id counts
            # each paper as a message, never as none.
            message = d.message_id or f"paper:{d.paper_id}"
            sent[message] = min(at, sent.get(message, at))
    if len(sent) < cap:
        return cap - len(sent), None
    return 0, min(sent.values()) + CAP_WINDOW


def folded_alert(
    cards: list[PaperCard], threshold: int, cap: int, limits: RenderLimits
) -> tuple[Reply, int]:
    """One message listing ``cards`` (title, upvotes, link a line): the end of an alert
    burst over the hourly cap, and how many of ``cards`` it lists. It fits one message of
    the platform; should the list not fit, its last line says how many more will follow
    (the caller leaves those undelivered, so a later alert or digest posts them)."""
    room = min(x for x in (limits.text, limits.budget, 3000) if x) - 400
    lines = [texts.folded_alert_note(cap)]
    listed = len(cards)
    for n, card in enumerate(cards):
        paper = card.paper
        line = texts.folded_alert_line(
            shorten(paper.title, FOLDED_TITLE_CHARS), paper.upvotes, paper.open_url
        )
        if limits.text_size("\n".join([*lines, line])) > room:
            lines.append(texts.folded_alert_rest(len(cards) - n))
            listed = n
            break
        lines.append(line)
    reply = Reply(
        title=texts.folded_alert_title(len(cards), threshold),
        text="\n".join(lines),
        kind=ReplyKind.DIGEST,
        ephemeral=False,
    )
    return reply, listed
