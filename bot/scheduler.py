"""The heartbeat: which channels are due, and posting each digest exactly once.

A tick asks one question of the stored state: *which channels are owed a post now?* A
channel is owed its most recent slot (its local post time on a day it posts) when that
slot has passed, is not before the channel's ``not_before`` and is after its
``last_post_date``. Nothing lives only in memory, so a restart catches up (one late post,
not one per missed day) instead of forgetting.

Exactly once: before sending, the papers of a post are recorded as ``pending``
deliveries; after each message they are marked ``sent`` with the platform's message id.
A restart finds pending deliveries and re-posts just those. The one message that was in
flight at the instant of a hard kill (sent by the platform, not yet recorded by us) is
the only thing that can repeat.

One channel's trouble stays its own: planning and posting are isolated per channel. A
channel whose plan or post raises is logged in one line, counted as a failure (backoff,
then a pause after ``scheduler.max_failures``) and its ``/papers status`` says why; the
other channels are planned and posted as usual. Only network errors, rate limits and
5xx are retried without counting (see :func:`bot.delivery.is_transient`).

The tick runs on the event loop's monotonic clock, so the host's time zone, its DST
changes and wall-clock steps never stall or bunch the ticks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.app import PapersBot
from bot.config import parse_hhmm
from bot.delivery import Adapter, PermanentDeliveryError, describe, is_transient
from bot.digest import LATE_NOTE, Digest
from bot.feedback import Taste, learn
from bot.models import Channel, Delivery, Feedback, Paper, Topic
from bot.query import QueryError, parse_query
from bot.replies import PaperCard, Reply, ReplyKind
from bot.slots import post_slot

log = logging.getLogger(__name__)

CARDS_PER_MESSAGE = 5  # one message stays well inside Slack's 50 blocks and Discord's 10 embeds
LATE_AFTER = timedelta(minutes=15)
RETRY_TRANSIENT = timedelta(minutes=5)
RETRY_MAX = timedelta(hours=6)
POST_TIMEOUT = 120.0  # seconds for one message, rate-limit waits included
ALERT_WINDOW_DAYS = 7
INGEST_RETRY = timedelta(minutes=30)
INGEST_GRACE = 20.0  # seconds a tick waits for a fresh ingest before posting anyway

IngestFn = Callable[[], Awaitable[object]]


@dataclass(slots=True, frozen=True)
class Failure:
    """Why a post failed, and whether retrying can help."""

    why: str
    permanent: bool


@dataclass(slots=True)
class Due:
    """A channel owed a post for its local ``day``; ``late`` when the slot is long past."""

    channel: Channel
    day: date
    slot: datetime
    late: bool
    weekly: bool = False

    @property
    def kind(self) -> str:
        return "weekly" if self.weekly else "digest"


def owed_slot(channel: Channel, now: datetime, catch_up: str = "one") -> Due | None:
    """The daily post ``channel`` is owed at ``now``, if any (see the module docstring).

    After downtime that is the most recent missed day (``catch_up="one"``), or with
    ``"all"`` the oldest missed day of the last week, so each missed day gets its post.
    """
    if channel.paused or not channel.daily or _backing_off(channel, now):
        return None
    today = now.astimezone(ZoneInfo(channel.timezone)).date()
    owed: list[Due] = []
    for back in range(8):
        day = today - timedelta(days=back)
        if channel.skip_weekends and day.weekday() >= 5:
            continue
        slot = post_slot(channel, day)
        if slot > now:
            continue  # today's slot is still ahead: yesterday's may be owed
        due = _owed(channel, day, slot, channel.last_post_date, now)
        if due is None:
            break  # posted (or before the channel existed): so is every day before it
        owed.append(due)
        if catch_up != "all":
            break
    return owed[-1] if owed else None


def owed_weekly(channel: Channel, now: datetime) -> Due | None:
    """The weekly digest ``channel`` is owed at ``now``, if it has one."""
    if channel.paused or channel.weekly_day is None or _backing_off(channel, now):
        return None
    today = now.astimezone(ZoneInfo(channel.timezone)).date()
    for back in range(8):
        day = today - timedelta(days=back)
        if day.weekday() != channel.weekly_day:
            continue
        slot = post_slot(channel, day, channel.weekly_time)
        if slot > now:
            continue
        due = _owed(channel, day, slot, channel.last_weekly_date, now)
        return None if due is None else Due(channel, day, slot, due.late, weekly=True)
    return None


def _backing_off(channel: Channel, now: datetime) -> bool:
    return bool(channel.retry_at) and now < datetime.fromisoformat(channel.retry_at)  # type: ignore[arg-type]


def _owed(
    channel: Channel, day: date, slot: datetime, last: str | None, now: datetime
) -> Due | None:
    if last and last >= day.isoformat():
        return None
    if channel.not_before and slot < datetime.fromisoformat(channel.not_before):
        return None
    return Due(channel, day, slot, late=now - slot > LATE_AFTER)


def _unplannable(key: str, error: Exception) -> Failure:
    """The failure recorded for a channel whose plan raised (its traceback at debug)."""
    log.debug("%s: planning raised", key, exc_info=error)
    return Failure(f"could not plan the post: {describe(error)}", permanent=True)


def retry_delay(failures: int) -> timedelta:
    """5, 10, 20... minutes between attempts for a failing channel, at most 6 hours."""
    return min(RETRY_TRANSIENT * (2 ** max(0, failures - 1)), RETRY_MAX)


class Scheduler:
    """Posts due digests (and topic alerts) through the adapters, one task per channel."""

    def __init__(
        self,
        bot: PapersBot,
        adapters: Mapping[str, Adapter],
        *,
        ingest: IngestFn | None = None,
        max_concurrent_posts: int = 50,
    ) -> None:
        self.bot = bot
        self.store = bot.store
        self.config = bot.config
        self.adapters = dict(adapters)
        self.ingest = ingest
        self._limits = {p: asyncio.Semaphore(max_concurrent_posts) for p in self.adapters}
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._started = False
        self._alert_key: tuple[object, ...] | None = None
        self._ingest_task: asyncio.Task[None] | None = None
        self._commits: list[tuple[Callable[[], None], asyncio.Future[None]]] = []
        self._committer: asyncio.Future[None] | None = None

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.bot.clock

    # ---- planning ---------------------------------------------------------------------

    def plan(self, now: datetime | None = None) -> list[tuple[Due, Digest]]:
        """Every owed channel with its digest. Pure computation over one state snapshot.

        A channel that cannot be planned is logged and left out (see :meth:`_plan`).
        """
        return self._plan(now or self.clock())[0]

    def _plan(self, now: datetime) -> tuple[list[tuple[Due, Digest]], dict[str, Failure]]:
        """The owed channels with their digests, and the channels whose planning raised
        (a corrupt record must not cost every other channel its post)."""
        owed: list[tuple[Channel, list[Due]]] = []
        failed: dict[str, Failure] = {}
        for channel in self.store.channels():
            if channel.platform not in self.adapters or channel.key in self._in_flight:
                continue
            try:
                daily = owed_slot(channel, now, self.config.scheduler.catch_up)
                dues = [d for d in (daily, owed_weekly(channel, now)) if d]
            except Exception as exc:
                failed[channel.key] = _unplannable(channel.key, exc)
                continue
            if dues:
                owed.append((channel, dues))
        if not owed:  # the usual tick: nobody is due, so load nothing else
            return [], failed
        self.bot.index.sync(self.store)
        topics = self.store.topics_by_channel()
        delivered = self.store.delivered_by_channel()
        delivered_weekly: dict[str, set[str]] | None = None
        votes: dict[str, list[Feedback]] = {}
        for vote in self.store.feedback():
            votes.setdefault(vote.channel, []).append(vote)
        no_taste = Taste()
        planned = []
        for channel, dues in owed:
            try:
                taste = (
                    learn(votes[channel.key], self.store.get_paper, self.bot.index.feedback_terms)
                    if channel.key in votes
                    else no_taste
                )
                mine = []
                for due in dues:
                    if due.weekly and delivered_weekly is None:
                        delivered_weekly = self.store.delivered_by_channel(weekly=True)
                    had = (delivered_weekly if due.weekly else delivered) or {}
                    digest = self.bot.digests.build(
                        channel,
                        due.day.isoformat(),
                        topics=topics.get(channel.key, []),
                        delivered=had.get(channel.key, set()),
                        taste=taste,
                        weekly=due.weekly,
                    )
                    mine.append((due, digest))
            except Exception as exc:
                failed[channel.key] = _unplannable(channel.key, exc)
                continue
            planned += mine
        return planned, failed

    # ---- the tick ---------------------------------------------------------------------

    async def tick(self) -> list[asyncio.Task[None]]:
        """Ingest if due, then start a task for every channel owed something.

        Returns the tasks started, so a test (or shutdown) can wait for them; the next
        tick does not wait, so one slow channel never holds up the others.
        """
        now = self.clock()
        first = not self._started
        self._started = True
        tasks: list[asyncio.Task[None]] = []
        ingest = self._maybe_ingest(now, first)
        if ingest is not None:
            tasks.append(ingest)
            # A normal ingest takes seconds: let today's posts carry its papers. A slow
            # or failing upstream holds the posts up for INGEST_GRACE at most, once.
            await asyncio.wait({ingest}, timeout=INGEST_GRACE)
        self._maybe_prune(now)
        failed: dict[str, Failure] = {}
        for key in self.store.pending_channels():
            try:
                channel = self.store.get_channel(key)
                resume = (
                    channel
                    and channel.platform in self.adapters
                    and key not in self._in_flight
                    and not channel.paused
                    and not _backing_off(channel, now)
                )
            except Exception as exc:
                failed[key] = _unplannable(key, exc)
                continue
            if channel and resume:
                tasks.append(self._spawn(channel.key, self._resume(channel)))
        planned, unplanned = self._plan(now)
        failed.update(unplanned)
        for due, digest in planned:
            if due.channel.key in self._in_flight:
                continue
            if due.late and self.config.scheduler.catch_up == "none":
                log.info("%s missed its %s post; catch_up=none, skipping", due.channel.key, due.day)
                self._mark_posted(due.channel.key, due.day.isoformat(), None, due.kind)
                continue
            tasks.append(self._spawn(due.channel.key, self._post_digest(due, digest)))
        tasks += self._alerts(now)
        if failed:  # after the others' posts have started: recording must not delay them
            await self._record_failures(failed)
        return tasks

    async def run_once(self) -> None:
        """One tick, waiting for everything it started (tests, ``--once``)."""
        tasks = await self.tick()
        if tasks:
            await asyncio.gather(*tasks)

    def _spawn(self, key: str, work: Awaitable[None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(self._isolated(key, work))
        self._in_flight[key] = task

        def finished(task: asyncio.Task[None]) -> None:
            self._in_flight.pop(key, None)
            if not task.cancelled() and (error := task.exception()) is not None:
                log.error("%s: posting failed: %r", key, error, exc_info=error)

        task.add_done_callback(finished)
        return task

    async def _isolated(self, key: str, work: Awaitable[None]) -> None:
        """Run one channel's work; if it raises, that is this channel's failure alone:
        recorded (backoff, pause after max_failures, shown in its status), not re-raised."""
        try:
            await work
        except Exception as exc:
            log.debug("%s: posting raised", key, exc_info=exc)
            failure = Failure(f"could not post: {describe(exc)}", permanent=True)
            await self.commit(lambda: self._record_failure(key, failure))

    # ---- ingest -----------------------------------------------------------------------

    def _maybe_ingest(self, now: datetime, first: bool) -> asyncio.Task[None] | None:
        """Start the daily ingest in the background when it is due (and at start-up when
        today's has not run), unless one is running already."""
        if self.ingest is None or (self._ingest_task and not self._ingest_task.done()):
            return None
        today = now.astimezone(UTC).date().isoformat()
        if self.store.get_meta("scheduled_ingest_day") == today:
            return None
        retry_at = self.store.get_meta("ingest_retry_at")
        if retry_at and now < datetime.fromisoformat(retry_at):
            return None
        hour, minute = parse_hhmm(self.config.scheduler.ingest_time)
        at = now.astimezone(UTC).replace(hour=hour, minute=minute, second=0, microsecond=0)
        if not first and now < at:
            return None
        log.info("daily ingest starting (%s)", "scheduled" if now >= at else "at start-up")
        self._ingest_task = asyncio.ensure_future(self._run_ingest(now, today, now >= at))
        return self._ingest_task

    async def _run_ingest(self, now: datetime, today: str, scheduled: bool) -> None:
        assert self.ingest is not None
        try:
            await self.ingest()
        except Exception as exc:  # a bad upstream day must not stop the posts
            log.warning("ingest failed, retrying in %s: %s", INGEST_RETRY, exc)
            self.store.set_meta("ingest_retry_at", (now + INGEST_RETRY).isoformat())
            return
        # A start-up ingest before ingest_time does not count for the day: the day's
        # list is still to come, so the scheduled one runs as well.
        if scheduled:
            self.store.set_meta("scheduled_ingest_day", today)
        self.store.set_meta("ingest_retry_at", None)

    def _maybe_prune(self, now: datetime) -> None:
        today = now.date().isoformat()
        if self.store.get_meta("pruned_day") == today:
            return
        keep = timedelta(days=self.config.scheduler.keep_deliveries_days)
        removed = self.store.prune_deliveries((now - keep).isoformat())
        self.store.set_meta("pruned_day", today)
        if removed:
            log.info("forgot %d delivery records older than %s", removed, keep)

    # ---- posting ----------------------------------------------------------------------

    async def _post_digest(self, due: Due, digest: Digest) -> None:
        channel, day, kind = due.channel, due.day.isoformat(), due.kind
        if not digest.cards:
            if self.config.bot.empty_day == "silent":
                await self.commit(lambda: self._mark_posted(channel.key, day, None, kind))
                return
            outcome = await self._send(channel, self.bot.digest_reply(digest, late=due.late))
            if isinstance(outcome, Failure):
                await self.commit(lambda: self._record_failure(channel.key, outcome))
            else:
                await self.commit(lambda: self._mark_posted(channel.key, day, self.clock(), kind))
            return
        title = self._titler(digest.title, due.late)
        await self._deliver(channel, day, digest.cards, title, kind=kind)

    async def _resume(self, channel: Channel) -> None:
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
            name = {"weekly": "Top papers of the week", "alert": "🔔 Topic alert"}.get(
                kind, "Trending papers"
            )
            title = f"{name}, {day} (resumed after a restart)"
            if not await self._deliver(channel, day, cards, lambda n, t=title: t, kind=kind):
                return

    def _titler(self, title: str, late: bool) -> Callable[[int], str]:
        if late:
            title += LATE_NOTE
        return lambda n: title if n == 0 else f"{title} (continued)"

    async def _deliver(
        self,
        channel: Channel,
        day: str,
        cards: list[PaperCard],
        title: Callable[[int], str],
        *,
        kind: str = "digest",
    ) -> bool:
        """Record intent, send in messages of a few cards, record each completion.

        A digest's last completion and the channel's "posted" mark are one write. In
        thread mode a headline goes first and every paper is its own reply under it.
        """
        at = self.clock().isoformat()
        intents = {
            c.paper.id: Delivery(channel.key, c.paper.id, at, "pending", None, day, kind)
            for c in cards
        }
        await self.commit(lambda: self.store.record_deliveries(intents.values()))
        thread: str | None = None
        if channel.thread_mode:
            headline = Reply(
                title=title(0),
                text=f"{len(cards)} papers, one per reply in this thread.",
                kind=ReplyKind.DIGEST,
                ephemeral=False,
            )
            outcome = await self._send(channel, headline)
            if isinstance(outcome, Failure):
                await self.commit(lambda: self._failed(channel.key, outcome, intents.values()))
                return False
            thread = outcome[0] if outcome else None
            chunks = [[c] for c in cards]
        else:
            chunks = [
                cards[i : i + CARDS_PER_MESSAGE] for i in range(0, len(cards), CARDS_PER_MESSAGE)
            ]
        for n, chunk in enumerate(chunks):
            reply = self.bot.digest_reply(Digest(channel.key, day, chunk))
            reply.title = None if thread else title(n)
            outcome = await self._send(channel, reply, thread=thread)
            if isinstance(outcome, Failure):
                unsent = [intents[c.paper.id] for part in chunks[n:] for c in part]
                await self.commit(
                    lambda o=outcome, u=unsent: self._failed(channel.key, o, u)  # type: ignore[misc]
                )
                return False
            message_id = outcome[0] if outcome else None
            sent = [
                Delivery(channel.key, c.paper.id, at, "sent", message_id, day, kind) for c in chunk
            ]
            last = n == len(chunks) - 1

            def done(sent: list[Delivery] = sent, last: bool = last) -> None:
                self.store.record_deliveries(sent)
                if last and kind in ("digest", "weekly") and day:
                    self._mark_posted(channel.key, day, self.clock(), kind)

            await self.commit(done)
        return True

    def _failed(self, key: str, failure: Failure, unsent: Iterable[Delivery]) -> None:
        self.store.remove_deliveries(unsent)  # they stay eligible for the next post
        self._record_failure(key, failure)

    async def _send(
        self, channel: Channel, reply: Reply, *, thread: str | None = None
    ) -> list[str] | Failure:
        """Post one message: the platform's message ids, or what went wrong."""
        adapter = self.adapters[channel.platform]
        post = (
            adapter.post(channel, reply, thread=thread) if thread else adapter.post(channel, reply)
        )
        async with self._limits[channel.platform]:
            try:
                return await asyncio.wait_for(post, POST_TIMEOUT)
            except PermanentDeliveryError as exc:
                return Failure(str(exc) or type(exc).__name__, permanent=True)
            except TimeoutError:
                return Failure(f"no answer in {POST_TIMEOUT:.0f} s", permanent=False)
            except Exception as exc:
                if is_transient(exc):  # network, rate limit, 5xx: worth another try soon
                    return Failure(str(exc) or type(exc).__name__, permanent=False)
                # Anything else (a message the adapter cannot render, a bug) would fail
                # the same way every time: a failure that backs off and pauses.
                log.debug("%s: %s adapter raised", channel.key, channel.platform, exc_info=exc)
                return Failure(f"could not post: {describe(exc)}", permanent=True)

    async def commit(self, change: Callable[[], None]) -> None:
        """Apply a state change; return once it is on disk, written with its neighbours.

        Group commit: changes from concurrent posts that arrive while one write is being
        prepared go into the same atomic write, so a thousand channels cost tens of state
        writes, not thousands, and no post proceeds before its record is durable.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._commits.append((change, future))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.ensure_future(self._commit_loop())
        await future

    async def _commit_loop(self) -> None:
        while self._commits:
            await asyncio.sleep(0)  # let every ready task queue its change first
            batch, self._commits = self._commits, []
            errors: list[BaseException | None] = []
            try:
                with self.store.batched_state_writes():
                    for change, _future in batch:
                        try:
                            change()
                            errors.append(None)
                        except Exception as exc:
                            errors.append(exc)
            except Exception as exc:  # the write itself failed: nobody's change is durable
                errors = [exc] * len(batch)
            for (_change, future), error in zip(batch, errors, strict=True):
                if future.done():
                    continue
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)

    def _mark_posted(self, key: str, day: str, at: datetime | None, kind: str = "digest") -> None:
        def change(ch: Channel) -> None:
            if kind == "weekly":
                if not ch.last_weekly_date or day > ch.last_weekly_date:
                    ch.last_weekly_date = day
            elif not ch.last_post_date or day > ch.last_post_date:
                ch.last_post_date = day
            if at is not None:
                ch.last_post_at = at.astimezone(UTC).replace(microsecond=0).isoformat()
                ch.failures, ch.last_error, ch.retry_at = 0, None, None

        self.store.update_channel(key, change)
        log.info("%s: %s post for %s done", key, "weekly" if kind == "weekly" else "daily", day)

    async def _record_failures(self, failures: Mapping[str, Failure]) -> None:
        """Record each channel's failure (one group-committed write for them all)."""

        async def record(key: str, failure: Failure) -> None:
            try:
                await self.commit(lambda: self._record_failure(key, failure))
            except Exception as exc:  # a record too broken to update: say so, go on
                log.error("%s: %s; could not record it: %s", key, failure.why, describe(exc))

        await asyncio.gather(*(record(key, failure) for key, failure in failures.items()))

    def _record_failure(self, key: str, failure: Failure) -> None:
        now = self.clock()
        limit = self.config.scheduler.max_failures
        why = failure.why

        def change(ch: Channel) -> None:
            ch.last_error = why
            if failure.permanent:
                ch.failures += 1
                ch.retry_at = (now + retry_delay(ch.failures)).isoformat()
                if ch.failures >= limit:
                    ch.paused = True
                    ch.pause_reason = f"paused after {ch.failures} failed posts in a row: {why}"
            else:
                ch.retry_at = (now + RETRY_TRANSIENT).isoformat()

        channel = self.store.update_channel(key, change)
        if channel and channel.paused:
            log.warning("%s: %s (resume with /papers resume)", key, channel.pause_reason)
        else:
            when = f"after {channel.retry_at}" if channel and channel.retry_at else "later"
            log.warning("%s: post failed (%s); will retry %s", key, why, when)

    # ---- alerts -----------------------------------------------------------------------

    def _alerts(self, now: datetime) -> list[asyncio.Task[None]]:
        """Post papers whose upvotes crossed a topic's alert threshold, once per channel."""
        topics = [t for t in self.store.topics() if t.alert_upvotes is not None]
        # Only look again when the papers or the alert topics changed, or a post failed.
        key = (self.store.corpus_revision, tuple((t.id, t.alert_upvotes) for t in topics))
        if not topics or key == self._alert_key:
            return []
        self._alert_key = key
        since = (now.date() - timedelta(days=ALERT_WINDOW_DAYS)).isoformat()
        delivered = self.store.delivered_by_channel()
        found: dict[str, list[tuple[Paper, Topic]]] = {}
        for topic in topics:
            try:
                channel = self.store.get_channel(topic.channel)
                if channel is None or channel.paused or channel.platform not in self.adapters:
                    continue
                if _backing_off(channel, now):
                    self._alert_key = None  # look again once its backoff is over
                    continue
                parsed = parse_query(topic.query)
            except QueryError:
                continue
            except Exception as exc:  # a corrupt channel record: planning reports it
                log.debug("%s: no alerts: %s", topic.channel, describe(exc))
                continue
            have = delivered.setdefault(topic.channel, set())
            for pid in self.bot.index.matching_ids(parsed, since=since):
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
        tasks = []
        for key, hits in found.items():
            if key in self._in_flight:
                self._alert_key = None  # look again next tick
                continue
            channel = self.store.get_channel(key)
            assert channel is not None
            tasks.append(self._spawn(key, self._post_alert(channel, hits, now)))
        return tasks

    async def _post_alert(
        self, channel: Channel, hits: list[tuple[Paper, Topic]], now: datetime
    ) -> None:
        cards = [
            PaperCard(
                paper,
                rank=n,
                topic=topic.query,
                matched_terms=self.bot.index.matched_terms(parse_query(topic.query), paper),
            )
            for n, (paper, topic) in enumerate(hits, start=1)
        ]
        thresholds = sorted({t.alert_upvotes for _, t in hits if t.alert_upvotes is not None})
        title = f"🔔 Topic alert: {len(cards)} paper(s) reached {thresholds[0]}+ upvotes"
        day = now.date().isoformat()
        if not await self._deliver(channel, day, cards, lambda n: title, kind="alert"):
            self._alert_key = None  # try again once the channel's backoff is over

    # ---- the loop ---------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, grace: float = 20.0) -> None:
        """Tick every ``scheduler.tick_seconds`` until ``stop``.

        The interval is measured on the event loop's monotonic clock. (``schedule``'s
        ``every(N).seconds`` reads the host's naive local time: when that fell back an
        hour for DST, no tick ran for the hour.) What is due is decided by ``self.clock``
        in UTC, so nothing here depends on the host's zone.

        On stop, posts in flight get ``grace`` seconds to finish; any still running are
        cancelled and their pending deliveries are resumed at the next start.
        """
        loop = asyncio.get_running_loop()
        interval = float(self.config.scheduler.tick_seconds)
        due = loop.time()
        while not stop.is_set():
            await self._safe_tick()
            # Start to start; after a tick slower than the interval, the next one follows
            # at once rather than a burst of the missed ones.
            due = max(due + interval, loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, due - loop.time()))
        await self.drain(grace)

    async def _safe_tick(self) -> None:
        try:
            await self.tick()
        except Exception:
            log.exception("scheduler tick failed; trying again next tick")

    async def drain(self, grace: float) -> None:
        tasks = list(self._in_flight.values())
        if not tasks:
            return
        log.info("waiting up to %.0f s for %d posts in flight", grace, len(tasks))
        _done, still = await asyncio.wait(tasks, timeout=grace)
        for task in still:
            task.cancel()
        if still:
            await asyncio.gather(*still, return_exceptions=True)
            log.warning("%d posts cancelled; they resume at the next start", len(still))
