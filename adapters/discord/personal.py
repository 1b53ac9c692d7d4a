"""Where a ``/papers`` interaction happens, and so which channel's settings it acts on.

Three cases (see docs/discord.md, "Personal papers"):

- ``GUILD``: a server channel the bot is in (the app is installed to that server). The
  channel's own settings, with the Manage Channels rule.
- ``BOT_DM``: the DM with the bot. It is the user's personal channel, keyed
  ``discord:@me:<DM channel id>``; no permission rule (it is their own), and the scheduler
  posts its digests into that DM.
- ``ELSEWHERE``: the app used through the user's own install where the bot cannot post: a
  server the bot is not in (``authorizing_integration_owners`` has no guild entry), a group
  DM, a DM between two people. Every command there acts on the user's personal channel
  (their DM with the bot, opened over REST), so ``subscribe`` then ``topics`` agree; answers
  still come back in place, and a settings change says where it went.
"""

from __future__ import annotations

import enum

import discord

# The workspace part of a DM's channel key, as in Discord's own DM links (channels/@me/<id>).
DM_WORKSPACE = "@me"
# Discord user ids are global: one reading list per person across servers and DMs.
USER_SCOPE = "*"

# Said before the answer to a settings command used where the bot cannot post.
MOVED_TO_DM = (
    "📬 The bot can't post here, so this is about your own papers: your personal digest, "
    "delivered in your DM with the bot."
)
CANNOT_OPEN_DM = (
    "Could not open a DM with you, where your personal papers would go. Allow DMs from "
    "this app (User Settings → Privacy & Safety), or add the bot to the server."
)
# Said when the bot is in the server but cannot post in this channel.
CANNOT_POST_HERE = (
    "I can't post in this channel: give the papers bot View Channel and Send Messages here "
    "(channel settings → Permissions), or use a channel it can write to."
)


class Place(enum.Enum):
    GUILD = "guild"
    BOT_DM = "bot_dm"
    ELSEWHERE = "elsewhere"


def place_of(interaction: discord.Interaction) -> Place:
    """Where ``interaction`` comes from, as far as posting there goes.

    In a server: the bot is there when the app is installed to that server; a user-only
    install (``authorizing_integration_owners`` with the user and no guild) means it is
    not. Outside servers: the bot's own DM is context BOT_DM; an interaction with no
    context at all (an older payload) in a DM channel is taken to be that DM too.
    """
    if interaction.guild_id is not None:
        if interaction.is_user_integration() and not interaction.is_guild_integration():
            return Place.ELSEWHERE
        return Place.GUILD
    context = interaction.context
    if context.dm_channel:
        return Place.BOT_DM
    unknown = not (context.guild or context.private_channel)
    channel = interaction.channel
    if unknown and channel is not None and channel.type is discord.ChannelType.private:
        return Place.BOT_DM
    return Place.ELSEWHERE


def can_post(interaction: discord.Interaction) -> bool:
    """Whether the bot may post in the server channel of ``interaction`` (its resolved
    permissions there, which Discord sends with every interaction)."""
    perms = interaction.app_permissions
    if isinstance(interaction.channel, discord.Thread):
        return perms.view_channel and perms.send_messages_in_threads
    return perms.view_channel and perms.send_messages
