"""Group commit: many concurrent posts' state changes in one durable write.

Exactly-once delivery writes a record before each message and another after it. TinyDB
rewrites the whole state file on every write, so a thousand channels posting at 09:00 would
cost thousands of full rewrites. Instead, changes that arrive while one write is being
prepared go into the same atomic write (:meth:`bot.store.Store.batched_state_writes`):
tens of writes, not thousands, and still no post proceeds before its record is on disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.store import Store

Change = Callable[[], None]


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
            batch, self._queue = self._queue, []
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
