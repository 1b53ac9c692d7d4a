"""The one welcome the bot posts when it is added to a server: what it says and where.

Sent on a join only (discord.py's ``on_guild_join``: a GUILD_CREATE for a server the bot
was not in), never when a server it was already in becomes available again (start-up,
a reconnect, an outage), and once per server whatever the events say: the state's meta
table remembers ``welcomed:discord:<guild id>`` (see :func:`welcome_key`).

Where: the server's system channel (where Discord posts its own join messages), else the
first text channel in the sidebar order; only channels where the bot's resolved permissions
allow View Channel and Send Messages, so the post is not refused.

The words are the core's (bot/welcome.py), shared with Slack; only the Discord sentence is here.
"""

from __future__ import annotations

import discord

from adapters.discord.settings import PLATFORM_NAME as PLATFORM
from bot.welcome import welcome_text, welcomed_key

MAX_TRIES = 5  # channels tried in order when Discord refuses one the permissions allowed

# The words are the core's (bot/welcome.py), as on Slack; this adds what only Discord needs.
WELCOME_TEXT = welcome_text(
    "Changing a channel's posts needs Manage Channels. For a digest of your own, use "
    "`/papers` in a DM with the bot."
)


def welcome_key(guild_id: int | str) -> str:
    """The meta key that says this server got its welcome."""
    return welcomed_key(f"{PLATFORM}:{guild_id}")


def welcome_channels(guild: discord.Guild) -> list[discord.TextChannel]:
    """Where a welcome may go, best first: the system channel, then the text channels in
    order, each only if the bot may see it and send there (when its member is known)."""
    me = guild.me
    ordered: list[discord.TextChannel] = []
    if guild.system_channel is not None:
        ordered.append(guild.system_channel)
    ordered += [c for c in guild.text_channels if c != guild.system_channel]
    allowed = []
    for channel in ordered:
        if me is not None:
            perms = channel.permissions_for(me)
            if not (perms.view_channel and perms.send_messages):
                continue
        allowed.append(channel)
    return allowed[:MAX_TRIES]
