"""Posting a channel's papers exactly once, through its platform's adapter.

Before sending, the papers of a post are recorded as ``pending`` deliveries; after each
message they are marked ``sent`` with the platform's message id, and a digest's last
completion and the channel's "posted" mark are one write. A restart finds pending
deliveries and re-posts just those (:meth:`ExactlyOncePoster.resume`). The one message in
flight at the instant of a hard kill (sent by the platform, not yet recorded by us) is the
only thing that can repeat.

Several workers: before each message the poster asks whether this worker still holds the
channel's claim (``holds``, :meth:`bot.scheduler.claims.Claims.holds`). One whose lease
lapsed sends nothing more and records nothing more there: the unsent papers stay pending,
and the worker that took the channel over resumes them.

A failed message drops the records of what was not sent (those papers stay eligible for
the next post) and records the failure on the channel (:mod:`bot.scheduler.failures`).
How a post is cut into messages is decided where every reply's is,
:func:`bot.messages.split_reply`, with the platform adapter's limits
(:func:`split_into_messages`), so each recorded message is exactly one platform message.
Titles and other words come from :mod:`bot.texts`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from bot import texts
from bot.delivery import Adapter, PermanentDeliveryError, describe, is_transient, limits_of
from bot.digest import Digest
from bot.messages import DEFAULT_LIMITS, RenderLimits, split_reply
from bot.models import Channel, Delivery
from bot.replies import PaperCard, Reply, ReplyKind
from bot.scheduler.core import SchedulerCore
from bot.scheduler.failures import (
    PAUSE_OWED,
    PAUSED,
    Commit,
    Failure,
    FailureKind,
    note_success,
    record_failure,
)
from bot.scheduler.planning import Due
from bot.store import Store

log = logging.getLogger(__name__)

POST_TIMEOUT = 120.0  # seconds for one message, rate-limit waits included

# Platform name -> its adapter and the semaphore limiting concurrent posts to it, or None
# when the platform is not attached (now).
Route = Callable[[str], tuple[Adapter, asyncio.Semaphore] | None]


def split_into_messages(
    cards: list[PaperCard],
    shown: Reply,
    *,
    threaded: bool = False,
    limits: RenderLimits = DEFAULT_LIMITS,
) -> list[list[PaperCard]]:
    """The messages a post of ``cards`` is sent as: in a thread one card per reply, else
    as :func:`bot.messages.split_reply` cuts ``shown`` (the post as the channel sees it,
    one shown card per card) with the platform's ``limits``."""
    if threaded:
        return [[card] for card in cards]
    groups: list[list[PaperCard]] = []
    taken = 0
    for part in split_reply(shown, limits):
        if part.cards:
            groups.append(cards[taken : taken + len(part.cards)])
            taken += len(part.cards)
    return groups


def mark_posted(
    store: Store, key: str, day: str, at: datetime | None, kind: str = "digest"
) -> None:
    """Record channel ``key``'s ``kind`` post for ``day`` as done (``at`` None: skipped,
    which leaves its last post time and failure count alone)."""

    def change(ch: Channel) -> None:
        if kind == "weekly":
            if not ch.last_weekly_date or day > ch.last_weekly_date:
                ch.last_weekly_date = day
        elif not ch.last_post_date or day > ch.last_post_date:
            ch.last_post_date = day
        if at is not None:
            ch.last_post_at = at.astimezone(UTC).replace(microsecond=0).isoformat()
            ch.failures, ch.last_error, ch.retry_at = 0, None, None
            note_success(ch)

    store.update_channel(key, change)
    log.info("%s: %s post for %s done", key, "weekly" if kind == "weekly" else "daily", day)


class ExactlyOncePoster:
    """Sends digests, alerts and resumed posts, recording each paper before and after."""

    def __init__(
        self,
        core: SchedulerCore,
        route: Route,
        commit: Commit,
        holds: Callable[[str], bool] = lambda _key: True,
    ) -> None:
        self.core = core
        self.store = core.store
        self.route = route  # asked per message: platforms come and go
        self.commit = commit
        self.holds = holds  # asked per message: a lapsed claim stops the post

    def _clock(self) -> datetime:
        return self.core.clock()

    async def post_digest(self, due: Due, digest: Digest) -> None:
        """Post a planned digest; an empty one is a short note (or nothing, if silent)."""
        channel, day, kind = due.channel, due.day.isoformat(), due.kind
        if not digest.cards:
            if self.core.config.bot.empty_day == "silent":
                await self.commit(lambda: mark_posted(self.store, channel.key, day, None, kind))
                return
            if not self._still_mine(channel.key):
                return
            outcome = await self.send(channel, self.core.digest_reply(digest, late=due.late))
            if isinstance(outcome, Failure):
                await self.commit(lambda: self.give_up(channel.key, outcome, ()))
            else:
                await self.commit(
                    lambda: mark_posted(self.store, channel.key, day, self._clock(), kind)
                )
            return
        title = texts.post_title(digest.title, late=due.late)
        await self.deliver(channel, day, digest.cards, title, kind=kind, continued=True)

    async def resume(self, channel: Channel) -> None:
        """Re-post the papers a crash left pending, then finish that day's post."""
        pending = self.store.pending_deliveries(channel.key)
        groups: dict[tuple[str, str], list[Delivery]] = {}
        for d in pending:
            groups.setdefault((d.day or "", d.kind), []).append(d)
        for (day, kind), items in sorted(groups.items()):
            papers = [p for d in items if (p := self.store.get_paper(d.paper_id)) is not None]
            gone = [d for d in items if self.store.get_paper(d.paper_id) is None]
            if gone:  # removed from the corpus since: nothing to post for them
                await self.commit(lambda gone=gone: self.store.remove_deliveries(gone))
            if not papers:
                continue
            cards = [PaperCard(p, rank=n) for n, p in enumerate(papers, start=1)]
            log.info("%s: resuming %d undelivered papers of %s", channel.key, len(cards), day)
            title = texts.resumed_title(kind, day)
            if not await self.deliver(channel, day, cards, title, kind=kind):
                return

    async def deliver(
        self,
        channel: Channel,
        day: str,
        cards: list[PaperCard],
        title: str,
        *,
        kind: str = "digest",
        continued: bool = False,
        mentions: tuple[str, ...] = (),
        cap: int | None = None,
        fold: Callable[[list[PaperCard]], tuple[Reply, int]] | None = None,
    ) -> bool:
        """Record intent, send in messages of a few cards, record each completion.

        ``continued``: later messages' titles say they continue the first. In thread mode
        a headline goes first and every paper is its own reply under it. ``mentions``
        go on the first message only (a topic alert's ``--notify``). With ``cap``, a post
        that would need more messages sends ``cap - 1`` of them and then ``fold(rest)``,
        one message listing the other cards (the hourly alert cap); cards the list has
        no room for lose their intent records, so a later post carries them. Returns whether every
        message went out.
        """
        at = self._clock().isoformat()
        intents = {
            c.paper.id: Delivery(channel.key, c.paper.id, at, "pending", None, day, kind)
            for c in cards
        }
        await self.commit(lambda: self.store.record_deliveries(intents.values()))
        thread: str | None = None
        if channel.thread_mode:
            headline = Reply(
                title=title,
                text=texts.thread_headline(len(cards)),
                kind=ReplyKind.DIGEST,
                ephemeral=False,
                mentions=mentions,
            )
            mentions = ()  # said once, on the headline
            if not self._still_mine(channel.key):
                return False
            outcome = await self.send(channel, headline)
            if isinstance(outcome, Failure):
                await self.commit(lambda: self.give_up(channel.key, outcome, intents.values()))
                return False
            thread = outcome[0] if outcome else None
        route = self.route(channel.platform)
        limits = limits_of(route[0]) if route is not None else DEFAULT_LIMITS
        # Pure, and as costly as rendering (it sizes every card): off the event loop.
        messages = await asyncio.to_thread(
            self._messages,
            channel,
            day,
            cards,
            title,
            thread=thread,
            continued=continued,
            limits=limits,
            weekly=kind == "weekly",
        )
        if cap is not None and fold is not None and len(messages) > cap:
            rest = [c for part, _ in messages[cap - 1 :] for c in part]
            folded, listed = fold(rest)
            later = [intents.pop(c.paper.id) for c in rest[listed:]]
            if later:  # no room even in the list: not delivered, so a later post has them
                await self.commit(lambda: self.store.remove_deliveries(later))
            log.info(
                "%s: %d alert messages over the hourly cap; %d papers folded into one, "
                "%d left for later",
                channel.key,
                len(messages) - cap + 1,
                listed,
                len(later),
            )
            messages = [*messages[: cap - 1], (rest[:listed], folded)]
        if mentions and messages:
            first, reply = messages[0]
            messages[0] = (first, replace(reply, mentions=mentions))
        for n, (part, reply) in enumerate(messages):
            if not self._still_mine(channel.key):
                return False  # the rest stay pending for the channel's new owner
            outcome = await self.send(channel, reply, thread=thread)
            if isinstance(outcome, Failure):
                unsent = [intents[c.paper.id] for rest, _ in messages[n:] for c in rest]
                await self.commit(
                    lambda o=outcome, u=unsent: self.give_up(channel.key, o, u)  # type: ignore[misc]
                )
                return False
            message_id = outcome[0] if outcome else None
            sent = [
                Delivery(channel.key, c.paper.id, at, "sent", message_id, day, kind) for c in part
            ]
            last = n == len(messages) - 1

            def done(sent: list[Delivery] = sent, last: bool = last) -> None:
                self.store.record_deliveries(sent)
                if last and kind in ("digest", "weekly") and day:
                    mark_posted(self.store, channel.key, day, self._clock(), kind)
                elif last and channel.notice in (PAUSED, PAUSE_OWED):
                    self.store.update_channel(channel.key, note_success)

            await self.commit(done)
        return True

    def _still_mine(self, key: str) -> bool:
        """Whether this worker may send to ``key`` now; logged when not."""
        if self.holds(key):
            return True
        log.warning("%s: claim lost mid-post; leaving the rest to its new owner", key)
        return False

    def _messages(
        self,
        channel: Channel,
        day: str,
        cards: list[PaperCard],
        title: str,
        *,
        thread: str | None,
        continued: bool,
        limits: RenderLimits,
        weekly: bool = False,
    ) -> list[tuple[list[PaperCard], Reply]]:
        """The post's messages, each its cards and the reply that shows them: pure, run in
        a worker thread by :meth:`deliver`. The cards show as the channel asked (its
        ``summary`` setting; in a weekly recap each card names its own day)."""
        start = (date.fromisoformat(day) - timedelta(days=6)).isoformat() if weekly else None
        digest = Digest(channel.key, day, cards, start=start, summary=channel.summary)
        shown = self.core.digest_reply(digest)
        shown.title = title
        groups = split_into_messages(cards, shown, threaded=channel.thread_mode, limits=limits)
        messages = []
        taken = 0
        for n, part in enumerate(groups):
            # The shown cards themselves, not new ones: the adapter then renders the very
            # cards the split measured (and may reuse what measuring built).
            reply = replace(shown, cards=shown.cards[taken : taken + len(part)])
            taken += len(part)
            reply.title = (
                None if thread else (texts.continued_title(title, n) if continued else title)
            )
            messages.append((part, reply))
        return messages

    def give_up(self, key: str, failure: Failure, unsent: Iterable[Delivery]) -> None:
        """A state change: forget ``unsent`` (they stay eligible for the next post) and
        record ``failure`` on the channel, unless its platform merely went away."""
        self.store.remove_deliveries(unsent)
        if failure.counts:
            self.record_failure(key, failure)

    def record_failure(self, key: str, failure: Failure) -> None:
        """A state change: record ``failure`` on channel ``key`` (backoff, maybe a pause)."""
        limit = self.core.config.scheduler.max_failures
        record_failure(self.store, key, failure, now=self._clock(), max_failures=limit)

    async def send(
        self, channel: Channel, reply: Reply, *, thread: str | None = None
    ) -> list[str] | Failure:
        """Post one message: the platform's message ids, or what went wrong."""
        route = self.route(channel.platform)
        if route is None:  # detached since the post started: resumed once it is back
            return Failure(FailureKind.DETACHED, channel.platform, permanent=False)
        adapter, limit = route
        post = (
            adapter.post(channel, reply, thread=thread) if thread else adapter.post(channel, reply)
        )
        async with limit:
            try:
                return await asyncio.wait_for(post, POST_TIMEOUT)
            except PermanentDeliveryError as exc:
                return Failure(FailureKind.REFUSED, _own_words(exc), permanent=True)
            except TimeoutError:
                return Failure(FailureKind.NO_ANSWER, f"{POST_TIMEOUT:.0f}", permanent=False)
            except Exception as exc:
                if is_transient(exc):  # network, rate limit, 5xx: worth another try soon
                    return Failure(FailureKind.UNREACHABLE, _own_words(exc), permanent=False)
                # Anything else (a message the adapter cannot render, a bug) would fail
                # the same way every time: a failure that backs off and pauses.
                log.debug("%s: %s adapter raised", channel.key, channel.platform, exc_info=exc)
                return Failure(FailureKind.RAISED, describe(exc), permanent=True)


def _own_words(error: BaseException) -> str:
    """An adapter error's message (adapters word them for a channel), or its type."""
    return str(error) or type(error).__name__
