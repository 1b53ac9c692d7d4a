"""What a command handler may use: the store, the index, digests, the config and a clock.

Handlers receive a :class:`Context`, not the bot: they read and change the store, ask the
index and the digest builder, and build replies with :mod:`bot.answers`. Only the bot
(:class:`bot.app.PapersBot`) dispatches commands, checks permissions and fetches
missing papers, so nothing a handler holds can call back into it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.digest import DigestBuilder
from bot.models import Channel, Paper
from bot.replies import Request
from bot.search import SearchIndex
from bot.store import Store, utc_now

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
PaperLookup = Callable[[str], Awaitable[Paper | None]]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Context:
    """One bot's data and settings, as its handlers see them."""

    config: Config
    store: Store
    index: SearchIndex
    digests: DigestBuilder
    clock: Clock = system_clock

    def today_for(self, channel: Channel | None) -> str:
        """The channel's local date (the default zone's without a channel), ISO format."""
        zone = ZoneInfo(channel.timezone if channel else self.config.bot.default_timezone)
        return self.clock().astimezone(zone).date().isoformat()

    def new_channel(self, platform: str, workspace: str, channel_id: str) -> Channel:
        """A channel with the configured defaults, owed nothing before now (not saved)."""
        defaults = self.config.bot
        return Channel(
            platform,
            workspace,
            channel_id,
            post_time=defaults.default_post_time,
            timezone=defaults.default_timezone,
            max_papers=defaults.default_max_papers,
            created_at=utc_now(),
            not_before=self.clock().isoformat(),
        )

    def channel_for(self, request: Request, *, create: bool = False) -> Channel | None:
        """The request's channel; with ``create``, enrolled (saved) if it is new."""
        channel = self.store.get_channel(request.channel)
        if channel is None and create:
            channel = self.new_channel(request.platform, request.workspace, request.channel_id)
            self.store.save_channel(channel)
            log.info("channel %s enrolled for daily posts", channel.key)
        return channel

    def channel_or_default(self, request: Request) -> Channel:
        """The request's channel, or (unsaved) the one it would get: for previews."""
        return self.channel_for(request) or self.new_channel(
            request.platform, request.workspace, request.channel_id
        )
