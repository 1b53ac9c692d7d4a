"""What the core needs from a platform to post: the Poster protocol and its two errors.

Adapters implement this (see ``adapters/base.py``); the scheduler only sees these names,
so the core never imports a platform SDK.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bot.models import Channel
from bot.replies import Reply


class DeliveryError(Exception):
    """A post failed; it may work later (timeouts, 5xx, rate limits beyond our patience)."""


class PermanentDeliveryError(DeliveryError):
    """A post can never succeed as things are (channel deleted, bot removed, bad token)."""


@runtime_checkable
class Adapter(Protocol):
    """A platform connection: start, stop, and post a reply to a channel."""

    platform: str

    async def start(self) -> None:
        """Connect and begin answering commands."""

    async def stop(self) -> None:
        """Disconnect cleanly."""

    async def post(self, channel: Channel, reply: Reply, *, thread: str | None = None) -> list[str]:
        """Post ``reply`` to ``channel``; return the platform message ids, in order.

        With ``thread`` (the id of a message this adapter returned earlier), post it as a
        reply in that message's thread (Slack ``thread_ts``; a Discord thread started on
        that message). The scheduler passes it only to channels in thread mode.
        """
        ...
