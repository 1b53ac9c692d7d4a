"""Discord adapter: ``/papers`` slash commands, paper embeds, digests posted to channels.

The package is only reachable as ``adapters.discord``; inside it ``import discord`` is the
absolute import of discord.py, so the names do not clash.
"""

from adapters.discord.client import DiscordAdapter

__all__ = ["DiscordAdapter"]
