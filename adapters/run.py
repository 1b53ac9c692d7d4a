"""``papers-bot run``: every enabled adapter and the scheduler on one asyncio loop.

This module is the composition root: the only place that knows which adapters exist.
Start-up checks the config and the secrets each enabled adapter needs before anything
connects; SIGINT/SIGTERM stop the scheduler, give posts in flight a grace period, then
close the adapters. Writes are atomic, so no stop leaves a half-written file, and posts
that were cut off are resumed at the next start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from bot.app import PapersBot
from bot.cli import CliError, open_bot
from bot.config import Config
from bot.delivery import Adapter
from bot.scheduler import Scheduler

log = logging.getLogger("papers_bot.run")


def check_startup(config: Config) -> None:
    """Refuse to start, with one line naming what is missing, before anything connects."""
    enabled = [name for name in ("slack", "discord", "console") if getattr(config, name).enabled]
    if not enabled:
        raise CliError(
            "nothing to run: enable [slack], [discord] or [console] in the config "
            "(see config.example.toml)"
        )
    for platform in ("slack", "discord"):
        if not getattr(config, platform).enabled:
            continue
        missing = config.secrets.missing(platform, config.slack.mode)
        if missing:
            mode = f" ({config.slack.mode} mode)" if platform == "slack" else ""
            verb = "is" if len(missing) == 1 else "are"
            raise CliError(
                f"{platform}.enabled is true{mode} but {' and '.join(missing)} {verb} "
                "not set in the environment"
            )


def build_adapters(bot: PapersBot, config: Config) -> dict[str, Adapter]:
    adapters: dict[str, Adapter] = {}
    if config.console.enabled:
        from adapters.console import ConsoleAdapter

        adapters["console"] = ConsoleAdapter(bot, channel_id=config.console.channel)
    if config.slack.enabled:
        from adapters.slack import SlackAdapter

        adapters["slack"] = SlackAdapter(bot, config)
    if config.discord.enabled:
        from adapters.discord import DiscordAdapter

        adapters["discord"] = DiscordAdapter(bot, config)
    return adapters


async def serve(bot: PapersBot, config: Config, stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set (or SIGINT/SIGTERM when ``stop`` is None)."""
    from bot.ingest import ingest, make_arxiv_lookup

    sources = config.sources
    if sources.arxiv.enabled:
        bot.lookup = make_arxiv_lookup(config)
    adapters = build_adapters(bot, config)
    own_stop = stop is None
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    if own_stop:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, _stopper(stop, sig))

    async def daily_ingest() -> object:
        return await ingest(bot, config)

    run_ingest = daily_ingest if (sources.huggingface.enabled or sources.arxiv.enabled) else None
    started: list[Adapter] = []
    try:
        for name, adapter in adapters.items():
            await adapter.start()
            started.append(adapter)
            log.info("%s adapter started", name)
        scheduler = Scheduler(bot, adapters, ingest=run_ingest)
        log.info(
            "papers-bot running: %s; %d channels, %d papers; ticking every %d s",
            ", ".join(adapters),
            len(bot.store.channels()),
            bot.store.paper_count(),
            config.scheduler.tick_seconds,
        )
        await scheduler.run(stop)
    finally:
        for adapter in reversed(started):
            with contextlib.suppress(Exception):
                await adapter.stop()
        if own_stop:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        bot.store.close()
        log.info("papers-bot stopped")


def _stopper(stop: asyncio.Event, sig: signal.Signals) -> Callable[[], None]:
    def handler() -> None:
        log.info("%s received: finishing posts in flight, then stopping", sig.name)
        stop.set()

    return handler


def cmd_run(args: argparse.Namespace) -> int:
    config: Config = args.config_obj
    check_startup(config)
    bot = open_bot(args)
    asyncio.run(serve(bot, config))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run", help="run the enabled adapters and the daily posts until stopped (Ctrl-C)"
    )
    parser.set_defaults(func=cmd_run)
