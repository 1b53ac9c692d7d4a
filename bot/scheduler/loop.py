"""The heartbeat: every tick, start whatever is due, one task per channel.

A tick composes the parts: start the daily ingest when due (:mod:`.ingest_timing`), prune
old records (:mod:`.pruning`), send the notices of pauses and recoveries recorded so far
(:mod:`.notices`), resume posts a crash cut short and post the digests that are owed
(:mod:`.planning`, :mod:`.posting`), then topic alerts (:mod:`.alerts`). It does
not wait for the posts: one slow channel never holds up the others. One channel's trouble
stays its own: whatever its plan or post raises is recorded on that channel alone
(:mod:`.failures`). State changes go through one group commit (:mod:`.group_commit`).

Platforms come and go (:meth:`Scheduler.attach`, :meth:`Scheduler.detach`): the channels
of a platform that is not attached are neither posted nor counted as failing; they get
their post, marked late if need be, once it is.

Nothing proportional to the channel count runs on the event loop: planning (every channel,
every channel's delivery history, each digest) and the daily prune run in a worker thread
(``asyncio.to_thread``), so commands are answered while a fan-out is being planned. The
state database is thread-safe; the corpus has one lock; planning has its own digest builder.

The tick runs on the event loop's monotonic clock, so the host's time zone, its DST
changes and wall-clock steps never stall or bunch the ticks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from bot.background_work import in_background
from bot.delivery import Adapter, limits_of
from bot.digest import DigestBuilder
from bot.messages import DEFAULT_LIMITS
from bot.models import Channel
from bot.scheduler.alerts import (
    AlertWatch,
    Hits,
    alert_budget,
    alert_mentions,
    alert_title,
    folded_alert,
)
from bot.scheduler.claims import Claims
from bot.scheduler.core import SchedulerCore
from bot.scheduler.failures import Failure, backing_off, raised, record_failures, unplannable
from bot.scheduler.group_commit import GroupCommit
from bot.scheduler.ingest_timing import DailyIngest, IngestFn
from bot.scheduler.notices import Notices
from bot.scheduler.planning import Owed, Plan, owed_channels, plan, plan_digests
from bot.scheduler.posting import ExactlyOncePoster, mark_posted
from bot.scheduler.pruning import prune_daily

log = logging.getLogger(__name__)
T = TypeVar("T")

SPAWN_STEP = 100  # posts started per event-loop iteration (see Scheduler._post_planned)


class Scheduler:
    """Posts due digests (and topic alerts) through the adapters, one task per channel."""

    def __init__(
        self,
        bot: SchedulerCore,
        adapters: Mapping[str, Adapter],
        *,
        ingest: IngestFn | None = None,
        max_concurrent_posts: int = 50,
    ) -> None:
        self.bot = bot
        self.store = bot.store
        self.config = bot.config
        self.adapters: dict[str, Adapter] = dict(adapters)
        self._max_concurrent_posts = max_concurrent_posts
        self._limits = {p: asyncio.Semaphore(max_concurrent_posts) for p in self.adapters}
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._turns: dict[str, asyncio.Semaphore] = {}  # see _isolated
        self._started = False
        self.commit = GroupCommit(self.store)
        self.daily_ingest = DailyIngest(self.store, ingest, self.config.scheduler.ingest_time)
        self.alerts = AlertWatch(self.store, bot.index)
        # Several workers on one database: this one's share of the due channels.
        scheduling = self.config.scheduler
        self.claims = Claims(
            self.store, lease=scheduling.lease_seconds, batch=scheduling.claim_batch
        )
        self.poster = ExactlyOncePoster(bot, self._route, self.commit, self.claims.holds)
        self.notices = Notices(self.store, self.adapters.get, self.commit, self.claims)
        # Planning's own builder: plans are built in a worker thread while commands on the
        # event loop use the bot's, and a builder's caches are not shared across threads.
        self.digests = DigestBuilder(self.store, bot.index)

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.bot.clock

    @property
    def ingest_task(self) -> asyncio.Task[None] | None:
        """The daily ingest running (or last run) in the background, if any."""
        return self.daily_ingest.task

    # ---- platforms ----------------------------------------------------------------------

    def attach(self, name: str, adapter: Adapter) -> None:
        """Post ``name``'s channels through ``adapter`` from the next tick on (a platform
        that connected late gets its owed posts then, and its topic alerts looked at)."""
        self.adapters[name] = adapter
        self._limits.setdefault(name, asyncio.Semaphore(self._max_concurrent_posts))
        self.alerts.recheck()

    def detach(self, name: str) -> None:
        """Leave ``name``'s channels alone (no post, no failure counted) until it is
        attached again; a post of theirs in flight stops at its next message and resumes
        then."""
        self.adapters.pop(name, None)

    def _route(self, platform: str) -> tuple[Adapter, asyncio.Semaphore] | None:
        """The adapter to post through and its concurrency limit, if ``platform`` is attached."""
        adapter = self.adapters.get(platform)
        if adapter is None:
            return None
        limit = self._limits.setdefault(platform, asyncio.Semaphore(self._max_concurrent_posts))
        return adapter, limit

    def _attached(self, channel: Channel) -> bool:
        return channel.platform in self.adapters

    def _plannable(self, channel: Channel) -> bool:
        return self._attached(channel) and channel.key not in self._in_flight

    # ---- the tick -----------------------------------------------------------------------

    def plan(self, now: datetime | None = None) -> Plan:
        """Every owed channel with its digest. Pure computation over one state snapshot;
        a channel that cannot be planned is logged and left out."""
        now = now or self.clock()
        return plan(self.bot, now, eligible=self._plannable, digests=self.digests)[0]

    async def _plan_off_loop(self, now: datetime) -> tuple[Plan, dict[str, Failure]]:
        """:meth:`plan`, with everything proportional to the channel count (reading every
        channel, every channel's delivery history, building each digest) in a worker thread,
        so commands are answered meanwhile (:func:`bot.background_work.in_background`: no
        GC pauses, short GIL turns). The index's sync takes its own lock: one rebuild at a
        time, whichever thread asks."""
        owed, failed = await asyncio.to_thread(
            _in_background, owed_channels, self.bot, now, eligible=self._plannable
        )
        taken: set[str] = set()  # claimed here: given back should planning raise
        try:
            if owed and self.claims.shared:
                owed, failed = await asyncio.to_thread(self._claim_owed, owed, failed, now, taken)
            if not owed:
                return [], failed
            planned = await asyncio.to_thread(_in_background, self._plan_digests, owed, failed)
        except BaseException:
            if taken:  # nothing of theirs started: another worker (or the next tick) has them
                await asyncio.to_thread(self.claims.give_back, taken - set(self._in_flight))
            raise
        return planned, failed

    def _claim_owed(
        self, owed: Owed, failed: dict[str, Failure], now: datetime, taken: set[str]
    ) -> tuple[Owed, dict[str, Failure]]:
        """Several workers: the owed channels this worker claimed (added to ``taken``),
        planned again from a fresh read (another worker may have posted one since the
        first read); the claims of those no longer owed are given back at once. In a
        worker thread."""
        keys = self.claims.take([c.key for c, _dues in owed], busy=len(self._in_flight))
        taken.update(keys)
        if not keys:
            return [], failed
        # A channel with pending deliveries is a dead worker's post cut short: it is
        # resumed (the next tick's first step), not planned anew around those papers.
        cut_short = self.store.pending_channels()
        fresh = [c for c in self.store.channels_by_key(keys) if c.key not in cut_short]
        mine, unplannable_now = owed_channels(
            self.bot, now, eligible=self._attached, channels=fresh
        )
        failed.update(unplannable_now)
        self.claims.give_back(set(keys) - {c.key for c, _dues in mine})
        return mine, failed

    def _plan_digests(self, owed: Owed, failed: dict[str, Failure]) -> Plan:
        self.bot.index.sync(self.store)
        # The failed channels' claims are given back once their failures are recorded
        # (Scheduler.tick): given back now, another worker would plan them again first.
        return plan_digests(self.bot, owed, failed, self.digests)

    async def tick(self) -> list[asyncio.Task[None]]:
        """Ingest if due, then start a task for every channel owed something.

        Returns the tasks started, so a test (or shutdown) can wait for them; the next
        tick does not wait, so one slow channel never holds up the others.
        """
        now = self.clock()
        first, self._started = not self._started, True
        tasks: list[asyncio.Task[None]] = []
        if (ingest := await self.daily_ingest.maybe_start(now, first)) is not None:
            tasks.append(ingest)
            await self.daily_ingest.hold_posts(ingest)
        await asyncio.to_thread(
            prune_daily, self.store, now, self.config.scheduler.keep_deliveries_days
        )
        # Pauses and recoveries recorded up to the last tick (a notice in flight never
        # races this tick's posts for the same record).
        if (notices := await self.notices.start(now)) is not None:
            tasks.append(notices)
        failed: dict[str, Failure] = {}
        resumed, failed = await asyncio.to_thread(self._resume_pending, now, failed)
        tasks += [self._spawn(channel, self.poster.resume(channel)) for channel in resumed]
        planned, unplanned = await self._plan_off_loop(now)
        failed.update(unplanned)
        tasks += await self._post_planned(planned)
        tasks += await self._post_alerts(now)
        if failed:  # after the others' posts have started: recording must not delay them
            limit = self.config.scheduler.max_failures
            try:
                await record_failures(
                    self.commit, self.store, failed, clock=self.clock, limit=limit
                )
            finally:  # recorded: whoever claims these channels next reads their failures
                if self.claims.shared:
                    done = set(failed) - set(self._in_flight)  # not an alert's claim since
                    await asyncio.to_thread(self.claims.give_back, done)
        return tasks

    async def run_once(self) -> None:
        """One tick, waiting for everything it started (tests, ``--once``)."""
        tasks = await self.tick()
        if tasks:
            await asyncio.gather(*tasks)

    def _resume_pending(
        self, now: datetime, failed: dict[str, Failure]
    ) -> tuple[list[Channel], dict[str, Failure]]:
        """The channels to re-post what a crash left pending, those able to post now
        (and ``failed``, with those that could not be read). In a worker thread: the
        claims and reads are database round trips."""
        resumed = []
        pending = [k for k in self.store.pending_channels() if k not in self._in_flight]
        if self.claims.shared:  # another worker's post in flight has pending records too
            pending = self.claims.take(pending, busy=0)  # few, and first: not held back
        for key in pending:
            try:
                channel = self.store.get_channel(key)
                resume = (
                    channel
                    and self._plannable(channel)
                    and not channel.paused
                    and not backing_off(channel, now)
                )
            except Exception as exc:
                failed[key] = unplannable(key, exc)
                continue
            if channel and resume:
                resumed.append(channel)
            else:
                self.claims.give_back([key])
        return resumed, failed

    async def _post_planned(self, planned: Plan) -> list[asyncio.Task[None]]:
        """A task per planned post, started :data:`SPAWN_STEP` at a time: each task's
        first step (recording its intent) runs in the loop iteration after its start, so
        10,000 started at once would hold a command arriving meanwhile for all of them."""
        tasks = []
        for n, (due, digest) in enumerate(planned, start=1):
            if n % SPAWN_STEP == 0:
                await asyncio.sleep(0)
            if due.channel.key in self._in_flight:
                continue
            if due.late and self.config.scheduler.catch_up == "none":
                log.info("%s missed its %s post; catch_up=none, skipping", due.channel.key, due.day)
                key, day, kind = due.channel.key, due.day.isoformat(), due.kind
                await self.commit(
                    lambda key=key, day=day, kind=kind: mark_posted(
                        self.store, key, day, None, kind
                    )
                )
                await asyncio.to_thread(self.claims.give_back, [key])
                continue
            tasks.append(self._spawn(due.channel, self.poster.post_digest(due, digest)))
        return tasks

    async def _post_alerts(self, now: datetime) -> list[asyncio.Task[None]]:
        # Every alerting topic searched, every hit read: proportional to the topics, so
        # in a worker thread like planning.
        owed = await asyncio.to_thread(
            _in_background, self.alerts.owed, now, eligible=self._attached
        )
        tasks = []
        if self.claims.shared and owed:
            # A channel being posted to waits for the next look (recheck below): its claim
            # is its post's, not the alert's.
            free = [key for key in owed if key not in self._in_flight]
            mine = set(await asyncio.to_thread(self.claims.take, free, len(self._in_flight)))
            if len(mine) < len(owed):
                self.alerts.recheck()  # the others' are claimed elsewhere: look again
            owed = {key: hits for key, hits in owed.items() if key in mine}
        try:
            channels = await asyncio.to_thread(self.store.channels_by_key, list(owed))
        except BaseException:  # nothing started: the claims go back, the look is repeated
            self.alerts.recheck()
            await asyncio.to_thread(self.claims.give_back, owed)
            raise
        found = {channel.key: channel for channel in channels}
        for key, hits in owed.items():
            if key in self._in_flight:
                self.alerts.recheck()  # look again next tick
            elif (channel := found.get(key)) is not None:
                tasks.append(self._spawn(channel, self._post_alert(channel, hits, now)))
        gone = [key for key in owed if key not in found]  # removed meanwhile: nothing owed
        if gone:
            await asyncio.to_thread(self.claims.give_back, gone)
        return tasks

    async def _post_alert(self, channel: Channel, hits: Hits, now: datetime) -> None:
        if self.claims.shared:  # found before the claim: another worker may have sent some
            had = await asyncio.to_thread(self.store.delivered_ids, channel.key)
            hits = [(paper, topic) for paper, topic in hits if paper.id not in had]
            if not hits:
                return
        cap = self.config.scheduler.max_alerts_per_hour
        left, frees = await asyncio.to_thread(alert_budget, self.store, channel.key, now, cap)
        if left <= 0:  # this hour's alerts are used up: the rest go when one frees up
            log.info(
                "%s: alert cap (%d an hour) reached; %d papers wait", channel.key, cap, len(hits)
            )
            if frees is not None:
                self.alerts.recheck_at(frees)
            return
        cards = await asyncio.to_thread(self.alerts.cards, hits)
        day = now.date().isoformat()
        route = self._route(channel.platform)
        limits = limits_of(route[0]) if route is not None else DEFAULT_LIMITS
        threshold = min(t.alert_upvotes or 0 for _, t in hits)
        delivered = await self.poster.deliver(
            channel,
            day,
            cards,
            alert_title(hits),
            kind="alert",
            mentions=alert_mentions(hits),
            cap=left,
            fold=lambda rest: folded_alert(rest, threshold, cap, limits),
        )
        if not delivered:
            self.alerts.recheck()  # try again once the channel's backoff is over
            return
        # A burst that used the hour may have left papers even its list had no room for
        # (undelivered, see Poster.deliver): look again when the cap frees up.
        left, frees = await asyncio.to_thread(alert_budget, self.store, channel.key, now, cap)
        if left <= 0 and frees is not None:
            self.alerts.recheck_at(frees)

    def _spawn(self, channel: Channel, work: Awaitable[None]) -> asyncio.Task[None]:
        key = channel.key
        task = asyncio.ensure_future(self._isolated(key, channel.platform, work))
        self._in_flight[key] = task

        def finished(task: asyncio.Task[None]) -> None:
            self._in_flight.pop(key, None)
            if not task.cancelled() and (error := task.exception()) is not None:
                log.error("%s: posting failed: %r", key, error, exc_info=error)

        task.add_done_callback(finished)
        return task

    async def _isolated(self, key: str, platform: str, work: Awaitable[None]) -> None:
        """Run one channel's work; if it raises, that is this channel's failure alone:
        recorded (backoff, pause after max_failures, shown in its status), not re-raised.

        At most ``max_concurrent_posts`` channels' work runs at once per platform; the
        rest wait their turn here, before recording anything. Otherwise a group commit
        releasing 1,000 channels at 09:00 would step all of them in one event-loop
        iteration, and a command arriving then would wait behind them (issue 13).
        """
        turn = self._turns.setdefault(platform, asyncio.Semaphore(self._max_concurrent_posts))
        try:
            async with turn:
                await work
        except Exception as exc:
            failure = raised(key, exc)
            await self.commit(lambda: self.poster.record_failure(key, failure))
        finally:
            if key in self.claims.held:  # every change of the channel is committed by now
                await asyncio.to_thread(self.claims.give_back, [key])

    # ---- the loop -----------------------------------------------------------------------

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
        leases = asyncio.ensure_future(self._keep_leases()) if self.claims.shared else None
        try:
            while not stop.is_set():
                await self._safe_tick()
                # Start to start; after a tick slower than the interval, the next one
                # follows at once rather than a burst of the missed ones.
                due = max(due + interval, loop.time())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=max(0.0, due - loop.time()))
            await self.drain(grace)
        finally:
            if leases is not None:
                leases.cancel()
                await asyncio.gather(leases, return_exceptions=True)

    async def _keep_leases(self) -> None:
        """Renew this worker's claims three times per lease until cancelled (after the
        drain). In a thread of its own: the default pool may be busy for longer than a
        lease with planning and group commits, and a late renewal hands a channel that is
        being posted to another worker."""
        every = self.claims.lease / 3
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="claims") as renewer:
            while True:
                await asyncio.sleep(every)
                try:
                    await loop.run_in_executor(renewer, self.claims.renew)
                except Exception:
                    log.exception("renewing claims failed; trying again")

    async def _safe_tick(self) -> None:
        try:
            await self.tick()
        except Exception:
            log.exception("scheduler tick failed; trying again next tick")

    async def drain(self, grace: float) -> None:
        """Give posts in flight ``grace`` seconds, then cancel the rest (they resume at the
        next start from their pending records)."""
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


def _in_background(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``work(*args, **kwargs)`` in :func:`bot.background_work.in_background` (called in a
    worker thread)."""
    with in_background():
        return work(*args, **kwargs)
