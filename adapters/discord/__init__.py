"""The Discord platform: ``/papers`` slash commands, paper cards, digests in channels and DMs.

This module only describes the platform (:data:`PLATFORM`: settings, secret, factory and
the ``discord-sync`` command) and re-exports the adapter; discord.py is imported only
when the adapter is built, so commands that do not run Discord stay quick. The adapter
is :mod:`adapters.discord.client`, rendering :mod:`adapters.discord.render`.

The package is only reachable as ``adapters.discord``; inside it ``import discord`` is the
absolute import of discord.py, so the names do not clash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.base import Platform
from adapters.discord import cli
from adapters.discord.settings import PLATFORM_NAME, SECRETS, DiscordSettings

if TYPE_CHECKING:
    from bot.app import PapersBot
    from bot.config import Config
    from bot.delivery import Adapter

__all__ = ["PLATFORM", "DiscordAdapter", "DiscordSettings"]


def build(bot: PapersBot, config: Config) -> Adapter:
    from adapters.discord.client import DiscordAdapter

    return DiscordAdapter(bot, config)


PLATFORM = Platform(
    name=PLATFORM_NAME,
    settings=DiscordSettings,
    build=build,
    secrets=SECRETS,
    commands=cli.register,
)


def __getattr__(name: str) -> Any:
    """``from adapters.discord import DiscordAdapter`` loads discord.py only when asked."""
    if name == "DiscordAdapter":
        from adapters.discord.client import DiscordAdapter

        return DiscordAdapter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
