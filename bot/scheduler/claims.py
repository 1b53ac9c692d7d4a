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

A lease this worker let lapse (a stall longer than ``lease``) is lost: the key leaves
:attr:`Claims.held`, and the poster sends nothing more there (:meth:`Claims.holds`), leaving
the rest pending for the worker that took the channel over. Within one process, a key is
held by one user at a time (a post, an alert, a notice): :meth:`Claims.take` never hands
out a key this worker holds already, so one user's give-back cannot end another's claim.

On SQLite (one process per data folder) every claim is granted and nothing is written.
"""

from __future__ import annotations

import logging
import os
import threading
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

    def __init__(self, store: Store, *, lease: float, batch: int):
        self.state = store.state
        self.lease = lease
        self.batch = batch
        self.worker = worker_name()
        self.held: set[str] = set()
        # take, give_back and renew's bookkeeping run in worker threads: one at a time, so
        # a key is never given back by one user while another takes it anew.
        self._lock = threading.Lock()

    @property
    def shared(self) -> bool:
        """Whether other workers may post from the same database (PostgreSQL)."""
        return self.state.fleet

    def holds(self, key: str) -> bool:
        """Whether this worker may still post to ``key`` (always, with one worker)."""
        return not self.shared or key in self.held

    def take(self, keys: Iterable[str], busy: int) -> list[str]:
        """The channels of ``keys`` this worker now holds (``busy``: how many it is still
        posting to, counted against its batch); none it held already. Called from worker
        threads."""
        if not self.shared:
            return list(keys)
        with self._lock:
            free = [k for k in keys if k not in self.held]
            got = self.state.claim(free, self.worker, self.lease, limit=self.batch - busy)
            self.held.update(got)
            return got

    def give_back(self, keys: Iterable[str]) -> None:
        """Release ``keys`` (their posts are recorded, or they were not owed after all)."""
        with self._lock:
            mine = [k for k in keys if k in self.held]
            if mine:
                self.state.release(mine, self.worker)
                self.held.difference_update(mine)

    def renew(self) -> None:
        """Extend the leases of every channel this worker still holds; forget those whose
        lease lapsed (another worker may hold them now)."""
        held = set(self.held)
        if not held:
            return
        renewed = self.state.renew(held, self.worker, self.lease)
        with self._lock:
            lost = (held - renewed) & self.held  # not those given back meanwhile
            self.held.difference_update(lost)
        if lost:  # this worker stalled past its lease; another may be posting there now
            log.warning(
                "lost the claim on %d channels (lease lapsed); their posts stop and are "
                "left to the worker that takes them: %s",
                len(lost),
                sorted(lost)[:5],
            )
