"""``papers-bot discord-sync``: register the ``/papers`` commands with Discord.

Syncing is an explicit step (or ``[discord] sync_on_start``) because Discord rate-limits
command registration and a global sync takes up to an hour to show everywhere; a guild
sync is instant, which is what you want while trying the bot on a test server.
"""

from __future__ import annotations

import argparse
import asyncio


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "discord-sync", help="register the /papers slash commands with Discord"
    )
    p.add_argument(
        "--guild",
        type=int,
        action="append",
        metavar="ID",
        help="sync to this server only, instantly (repeatable); default: [discord] guild_ids, "
        "else global (can take up to an hour to appear)",
    )
    p.set_defaults(func=cmd_discord_sync)


async def sync(args: argparse.Namespace) -> list[str]:
    from adapters.discord.client import DiscordAdapter
    from bot.cli import open_bot

    config = args.config_obj
    adapter = DiscordAdapter(open_bot(args), config)
    guilds = args.guild or config.discord.guild_ids
    await adapter.login()
    try:
        return await adapter.sync_commands(guilds)
    finally:
        await adapter.stop()


def cmd_discord_sync(args: argparse.Namespace) -> int:
    import discord

    from adapters.discord.settings import TOKEN
    from bot.cli import CliError

    if not args.config_obj.secrets.get(TOKEN):
        raise CliError("DISCORD_TOKEN is not set (see docs/discord.md)")
    try:
        where = asyncio.run(sync(args))
    except discord.LoginFailure:
        raise CliError("Discord rejected DISCORD_TOKEN (401): check the bot token") from None
    except discord.HTTPException as exc:
        raise CliError(f"Discord refused the sync ({exc.status}): {exc.text}") from None
    for place in where:
        note = " (can take up to an hour to appear)" if place == "global" else ""
        print(f"Synced /papers commands: {place}{note}")
    return 0
