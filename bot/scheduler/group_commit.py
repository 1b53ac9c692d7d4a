"""Group commit: many concurrent posts' state changes in one durable write.

Exactly-once delivery writes a record before each message and another after it. TinyDB
rewrites the whole state file on every write, so a thousand channels posting at 09:00 would
cost thousands of full rewrites. Instead, changes that arrive while one write is being
prepared go into the same atomic write (:meth:`bot.store.Store.batched_state_writes`):
tens of writes, not thousands, and still no post proceeds before its record is on disk.
The changes (state changes through the store only) run in a worker thread, in batch order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.store import Store

Change = Callable[[], None]
# Changes per transaction at most: a transaction holds the state's write lock, which a
# command writing on the event loop waits for; 1,000 changes take a fraction of a second.
MAX_BATCH = 1000


class GroupCommit:
    """Applies state changes in batches; each caller waits until its own change is durable."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: list[tuple[Change, asyncio.Future[None]]] = []
        self._writer: asyncio.Future[None] | None = None

    async def __call__(self, change: Change) -> None:
        """Apply ``change``; return once it is on disk, written with its neighbours.

        Raises what ``change`` raised, or what the write raised (then nobody's change in
        that batch is durable).
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((change, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write_batches())
        await future

    async def _write_batches(self) -> None:
        while self._queue:
            await asyncio.sleep(0)  # let every ready task queue its change first
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            # In a worker thread: a fan-out's first batch holds every channel's intent
            # (10,000 at 09:00), seconds of work that must not stall commands on the loop.
            errors = await asyncio.to_thread(self._apply, [change for change, _f in batch])
            for (_change, future), error in zip(batch, errors, strict=True):
                if future.done():
                    continue
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)

    def _apply(self, changes: list[Change]) -> list[BaseException | None]:
        """Run ``changes`` in one transaction; what each raised (``None``: it stands)."""
        errors: list[BaseException | None] = []
        try:
            with self.store.batched_state_writes():
                for change in changes:
                    try:
                        change()
                        errors.append(None)
                    except Exception as exc:
                        errors.append(exc)
        except Exception as exc:  # the write itself failed: nobody's change is durable
            errors = [exc] * len(changes)
        return errors
