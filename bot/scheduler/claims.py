"""This worker's share of the due channels when several workers share one database.

Each tick a worker claims the channels it is about to post to (a row per channel in the
``claims`` table, taken under ``FOR UPDATE SKIP LOCKED``: see
:meth:`bot.state_db.StateDB.claim`), reads them afresh, posts, and gives the claims back
once the posts are recorded. It claims at most ``batch`` channels beyond those it is still
posting, so a fan-out of 2,000 channels at 09:00 is spread over the workers instead of
going to whichever ticked first. Claims are leases: a worker renews its own while it
posts; a killed worker's lapse after ``lease`` seconds and another worker finishes its
channels (their pending deliveries, then whatever is still owed).

Why the fresh read after claiming: a worker may have planned from a snapshot taken just
before another finished a channel and gave its claim back. Every change of a channel is
committed before its claim is released, so whoever claims next reads it done.

On SQLite (one process per data folder) every claim is granted and nothing is written.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterable

from bot.fleet import worker_base
from bot.store import Store

log = logging.getLogger(__name__)


def worker_name() -> str:
    """This process's name in the claims table: ``$PAPERS_BOT_WORKER`` (or the host name),
    the pid and a random part, so a restarted worker never inherits a dead one's claims."""
    return f"{worker_base()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Claims:
    """The channels this worker holds, and the leases it keeps."""

    def __init__(self, store: Store, *, lease: float, batch: int, worker: str | None = None):
        self.state = store.state
        self.lease = lease
        self.batch = batch
        self.worker = worker or worker_name()
        self.held: set[str] = set()

    @property
    def shared(self) -> bool:
        """Whether other workers may post from the same database (PostgreSQL)."""
        return self.state.fleet

    def take(self, keys: Iterable[str], busy: int) -> list[str]:
        """The channels of ``keys`` this worker now holds (``busy``: how many it is still
        posting to, counted against its batch). Called from worker threads."""
        if not self.shared:
            return list(keys)
        got = self.state.claim(keys, self.worker, self.lease, limit=self.batch - busy)
        self.held.update(got)
        return got

    def give_back(self, keys: Iterable[str]) -> None:
        """Release ``keys`` (their posts are recorded, or they were not owed after all)."""
        mine = [k for k in keys if k in self.held]
        if mine:
            self.held.difference_update(mine)
            self.state.release(mine, self.worker)

    def renew(self) -> None:
        """Extend the leases of every channel this worker still holds."""
        if not self.held:
            return
        held = set(self.held)
        renewed = self.state.renew(held, self.worker, self.lease)
        lost = (held - renewed) & self.held  # not those given back meanwhile
        if lost:  # this worker stalled past its lease; another may be posting there now
            log.warning(
                "lost the claim on %d channels (lease lapsed): %s", len(lost), sorted(lost)[:5]
            )
