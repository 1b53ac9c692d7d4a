"""The terminal as a platform plug-in: its ``[console]`` table, its factory, and the
commands that print through it (``demo`` and ``digest``).

The terminal needs no secret and no network. With ``[console] enabled = true``, ``run``
also posts the digests of terminal channels (``console:local:<name>``) to stdout.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters.base import Platform, Subparsers
from adapters.console import PLATFORM as NAME
from adapters.console import ConsoleAdapter, render
from bot.cli import demo_papers, import_papers, open_bot, resolve_channel
from bot.models import Channel, Delivery
from bot.store import utc_now

if TYPE_CHECKING:
    from bot.app import PapersBot
    from bot.config import Config


@dataclass(slots=True)
class ConsoleSettings:
    enabled: bool = False  # `run` prints the posts of terminal channels to stdout
    channel: str = "demo"


def build(bot: PapersBot, config: Config) -> ConsoleAdapter:
    return ConsoleAdapter(bot, channel_id=config.console.channel)


# ---- commands ---------------------------------------------------------------------------


def demo_banner(day: str, today: str) -> str:
    """What the demo says before its first post: it replays a recorded day, named, so a
    2026-06-12 list shown on another day is not taken for today's."""
    if day == today:
        return f"Demo: the trending papers of {day}.\n"
    return (
        f"Demo: the trending papers of {day}, recorded (today is {today}; "
        "`papers-bot ingest` fetches the latest lists).\n"
    )


def cmd_demo(args: argparse.Namespace) -> int:
    bot = open_bot(args)
    if bot.store.paper_count() == 0:
        new, _, _ = import_papers(bot, demo_papers())
        print(
            f"(first run: loaded the bundled demo corpus, {new} papers, into {bot.store.data_dir})\n"
        )
    adapter = build(bot, bot.config)
    channel = bot.channel_for(adapter.request(""), create=False) or bot.new_channel(
        NAME, "local", adapter.channel_id
    )
    digest = bot.digest_for(channel)
    if digest.day:
        print(demo_banner(digest.day, bot.today_for(channel)))
    print(render(bot.digest_reply(digest)))
    interactive = sys.stdin.isatty()
    print(
        "\nType /papers commands (`help` lists them; `quit` or Ctrl-D leaves)."
        if interactive
        else ""
    )
    adapter.run_lines(sys.stdin, interactive)
    return 0


def cmd_digest(args: argparse.Namespace) -> int:
    bot = open_bot(args)
    channel = resolve_channel(bot, args.channel)
    digest = bot.digest_for(channel)
    print(render(bot.digest_reply(digest)))
    if args.dry_run or not digest.cards:
        if args.dry_run:
            print("\n(dry run: nothing recorded as delivered)")
        return 0
    now = utc_now()
    bot.store.save_channel(channel) if bot.store.get_channel(channel.key) is None else None
    bot.store.record_deliveries(Delivery(channel.key, c.paper.id, now) for c in digest.cards)

    def mark(ch: Channel) -> None:
        ch.last_post_at = now
        ch.last_post_date = bot.today_for(ch)

    bot.store.update_channel(channel.key, mark)
    print(f"\n(recorded {len(digest.cards)} papers as delivered to {channel.key})")
    return 0


def register(subparsers: Subparsers) -> None:
    """``papers-bot demo`` and ``papers-bot digest``: the bot in this terminal."""
    p = subparsers.add_parser(
        "demo", help="try the bot in this terminal with the bundled demo corpus"
    )
    p.set_defaults(func=cmd_demo, log_level="WARNING")

    p = subparsers.add_parser("digest", help="print (and record) a channel's next post")
    p.add_argument(
        "--channel", required=True, help="channel key (slack:T1:C1) or a terminal channel name"
    )
    p.add_argument("--dry-run", action="store_true", help="print only; record nothing as delivered")
    p.set_defaults(func=cmd_digest)


PLATFORM = Platform(name=NAME, settings=ConsoleSettings, build=build, commands=register)
