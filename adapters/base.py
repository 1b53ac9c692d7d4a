"""What every adapter offers the core: start, stop, and post a reply to a channel.

The scheduler posts digests through :meth:`Adapter.post`; an adapter raises
:class:`PermanentDeliveryError` when the platform says the channel is gone or closed to
us (retrying will not help) and :class:`DeliveryError` for anything worth retrying later.
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
    platform: str

    async def start(self) -> None:
        """Connect and begin answering commands."""

    async def stop(self) -> None:
        """Disconnect cleanly."""

    async def post(self, channel: Channel, reply: Reply) -> list[str]:
        """Post ``reply`` to ``channel``; return the platform message ids, in order."""
        ...
