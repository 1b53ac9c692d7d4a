"""When the daily ingest runs: at ``scheduler.ingest_time`` (UTC), and at start-up if
today's has not run, in the background, retried half an hour after a failure.

The day's state is in the store (``scheduled_ingest_day``, ``ingest_retry_at``), so a
restart neither skips nor repeats it. Several workers on one PostgreSQL database ingest
once: whoever wins the fleet lock (an advisory lock, :meth:`bot.state_db.StateDB.fleet_lock`)
checks and runs it; the others skip, and find the day done at their next tick. Posts wait for a running ingest only briefly
(:data:`INGEST_GRACE`): a slow or failing upstream must not hold up the day's digests.
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

IngestFn = Callable[[], Awaitable[object]]
FLEET_LOCK = "daily ingest"


class DailyIngest:
    """Starts the daily ingest when it is due, one at a time."""

    def __init__(self, store: Store, ingest: IngestFn | None, ingest_time: str) -> None:
        self.store = store
        self.ingest = ingest
        self.ingest_time = ingest_time
        self.task: asyncio.Task[None] | None = None

    def maybe_start(self, now: datetime, first: bool) -> asyncio.Task[None] | None:
        """Start the daily ingest in the background when it is due (and at start-up, when
        ``first``, if today's has not run), unless one is running already."""
        if self.ingest is None or (self.task and not self.task.done()):
            return None
        lock = contextlib.ExitStack()  # the fleet's ingest lock, held until the ingest ends
        if not lock.enter_context(self.store.state.fleet_lock(FLEET_LOCK)):
            lock.close()
            return None  # another worker is ingesting
        try:
            scheduled = self._due(now, first)
        except BaseException:
            lock.close()
            raise
        if scheduled is None:
            lock.close()
            return None
        log.info("daily ingest starting (%s)", "scheduled" if scheduled else "at start-up")
        today = now.astimezone(UTC).date().isoformat()
        self.task = asyncio.ensure_future(self._run(self.ingest, now, today, scheduled, lock))
        return self.task

    def _due(self, now: datetime, first: bool) -> bool | None:
        """Whether the ingest is due (True: the scheduled one; False: at start-up), read
        under the fleet lock so that a worker never repeats another's finished ingest."""
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
        with lock:
            try:
                await ingest()
            except Exception as exc:  # a bad upstream day must not stop the posts
                log.warning("ingest failed, retrying in %s: %s", INGEST_RETRY, exc)
                self.store.set_meta("ingest_retry_at", (now + INGEST_RETRY).isoformat())
                return
            # A start-up ingest before ingest_time does not count for the day: the day's
            # list is still to come, so the scheduled one runs as well.
            if scheduled:
                self.store.set_meta("scheduled_ingest_day", today)
            self.store.set_meta("ingest_retry_at", None)
