"""When the daily ingest runs: at ``scheduler.ingest_time`` (UTC), and at start-up if
today's has not run, in the background, retried half an hour after a failure.

The day's state is in the store (``scheduled_ingest_day``, ``ingest_retry_at``), so a
restart neither skips nor repeats it. Several workers on one PostgreSQL database ingest
once: whoever wins the fleet lock (an advisory lock, :meth:`bot.state_db.StateDB.fleet_lock`)
checks and runs it; the others skip, and find the day done at their next tick. Whether
an ingest is due is read first, without the lock (nothing to take on most ticks), then
again under it; the lock and the state are database round trips, made off the event loop.

The start-up ingest (before ``ingest_time``, today's not run yet) is skipped when any
ingest finished within :data:`STARTUP_AGAIN_AFTER` (``last_ingest_at``): a fleet restarted
one worker at a time, or a worker restarting in a crash loop, does not ingest again each
time. Posts wait for a running ingest only briefly (:data:`INGEST_GRACE`): a slow or
failing upstream must not hold up the day's digests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from bot.config import parse_hhmm
from bot.store import Store

log = logging.getLogger(__name__)

INGEST_RETRY = timedelta(minutes=30)
INGEST_GRACE = 20.0  # seconds a tick waits for a fresh ingest before posting anyway
STARTUP_AGAIN_AFTER = timedelta(hours=1)  # a start-up ingest after a recent one is skipped

IngestFn = Callable[[], Awaitable[object]]
FLEET_LOCK = "daily ingest"


class DailyIngest:
    """Starts the daily ingest when it is due, one at a time."""

    def __init__(self, store: Store, ingest: IngestFn | None, ingest_time: str) -> None:
        self.store = store
        self.ingest = ingest
        self.ingest_time = ingest_time
        self.task: asyncio.Task[None] | None = None

    async def maybe_start(self, now: datetime, first: bool) -> asyncio.Task[None] | None:
        """Start the daily ingest in the background when it is due (and at start-up, when
        ``first``, if today's has not run), unless one is running already."""
        if self.ingest is None or (self.task and not self.task.done()):
            return None
        if await asyncio.to_thread(self._due, now, first) is None:
            return None  # the common tick: no lock taken
        lock = contextlib.ExitStack()  # the fleet's ingest lock, held until the ingest ends
        scheduled = await asyncio.to_thread(self._locked_due, lock, now, first)
        if scheduled is None:
            return None
        log.info("daily ingest starting (%s)", "scheduled" if scheduled else "at start-up")
        today = now.astimezone(UTC).date().isoformat()
        self.task = asyncio.ensure_future(self._run(self.ingest, now, today, scheduled, lock))
        return self.task

    def _locked_due(self, lock: contextlib.ExitStack, now: datetime, first: bool) -> bool | None:
        """:meth:`_due` read again under the fleet lock, entered into ``lock`` and kept
        there when the ingest is due (closed otherwise). In a worker thread."""
        try:
            if not lock.enter_context(self.store.state.fleet_lock(FLEET_LOCK)):
                scheduled = None  # another worker is ingesting
            else:
                scheduled = self._due(now, first)
        except BaseException:
            lock.close()
            raise
        if scheduled is None:
            lock.close()
        return scheduled

    def _due(self, now: datetime, first: bool) -> bool | None:
        """Whether the ingest is due (True: the scheduled one; False: at start-up). Read
        again under the fleet lock so that a worker never repeats another's finished
        ingest."""
        today = now.astimezone(UTC).date().isoformat()
        if self.store.get_meta("scheduled_ingest_day") == today:
            return None
        retry_at = self.store.get_meta("ingest_retry_at")
        if retry_at and now < datetime.fromisoformat(retry_at):
            return None
        hour, minute = parse_hhmm(self.ingest_time)
        at = now.astimezone(UTC).replace(hour=hour, minute=minute, second=0, microsecond=0)
        if not first and now < at:
            return None
        if now < at:  # the start-up one: not again if an ingest ran just now
            last = self.store.get_meta("last_ingest_at")
            if last and now - datetime.fromisoformat(last) < STARTUP_AGAIN_AFTER:
                log.info("start-up ingest skipped: the last one ran at %s", last)
                return None
        return now >= at

    @staticmethod
    async def hold_posts(task: asyncio.Task[None]) -> None:
        """Let today's posts carry a fresh ingest's papers: a normal ingest takes seconds;
        a slow or failing upstream holds the posts up for :data:`INGEST_GRACE` at most."""
        await asyncio.wait({task}, timeout=INGEST_GRACE)

    async def _run(
        self,
        ingest: IngestFn,
        now: datetime,
        today: str,
        scheduled: bool,
        lock: contextlib.ExitStack,
    ) -> None:
        try:
            try:
                await ingest()
            except Exception as exc:  # a bad upstream day must not stop the posts
                log.warning("ingest failed, retrying in %s: %s", INGEST_RETRY, exc)
                retry = (now + INGEST_RETRY).isoformat()
                await asyncio.to_thread(self.store.set_meta, "ingest_retry_at", retry)
                return
            await asyncio.to_thread(self._done, now, today, scheduled)
        finally:
            await asyncio.to_thread(lock.close)  # the lock's connection: off the loop too

    def _done(self, now: datetime, today: str, scheduled: bool) -> None:
        # A start-up ingest before ingest_time does not count for the day: the day's
        # list is still to come, so the scheduled one runs as well.
        if scheduled:
            self.store.set_meta("scheduled_ingest_day", today)
        self.store.set_meta("ingest_retry_at", None)
        self.store.set_meta("last_ingest_at", now.astimezone(UTC).isoformat())
