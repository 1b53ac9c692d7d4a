"""What the scheduler needs from the bot's core, and nothing more.

The scheduler is handed the bot (``Scheduler(bot, ...)``) but depends only on this
protocol, not on :class:`bot.app.PapersBot`: the command side can change shape freely,
and the scheduler stays out of its import graph.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from bot.config import Config
from bot.digest import Digest, DigestBuilder
from bot.replies import Reply
from bot.search import SearchIndex
from bot.store import Store


class SchedulerCore(Protocol):
    """The state the scheduler reads and writes, its clock, and the digest reply builder."""

    store: Store
    index: SearchIndex
    config: Config
    digests: DigestBuilder
    clock: Callable[[], datetime]

    def digest_reply(self, digest: Digest, *, late: bool = False) -> Reply:
        """A channel post for ``digest``: its cards with buttons, or why it is empty."""
        ...
