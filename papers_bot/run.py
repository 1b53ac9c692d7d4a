"""``papers-bot run``: every enabled adapter and the scheduler on one asyncio loop.

The platforms and sources are those :mod:`papers_bot.plugins` registers; nothing here
names one. Start-up checks the config and the secrets each enabled platform needs
before anything connects; SIGINT/SIGTERM stop the scheduler, give posts in flight a grace period, then
close the adapters. Writes are atomic, so no stop leaves a half-written file, and posts
that were cut off are resumed at the next start.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import signal
from collections.abc import Callable, Mapping, Sequence

from adapters.base import Platform
from bot.app import PapersBot
from bot.cli import CliError, open_bot
from bot.config import Config
from bot.delivery import Adapter, PermanentDeliveryError, describe
from bot.ingest import can_ingest, ingest, make_lookup
from bot.scheduler import Scheduler
from papers_bot.plugins import PLATFORMS

log = logging.getLogger("papers_bot.run")


def enabled_platforms(config: Config, platforms: Sequence[Platform] = PLATFORMS) -> list[Platform]:
    """The registered platforms whose ``[name]`` table says ``enabled = true``."""
    return [p for p in platforms if config.section(p.name).enabled]


def check_startup(config: Config, platforms: Sequence[Platform] = PLATFORMS) -> None:
    """Refuse to start, with one line naming what is missing, before anything connects."""
    enabled = enabled_platforms(config, platforms)
    if not enabled:
        tables = [f"[{p.name}]" for p in platforms]
        choices = " or ".join([", ".join(tables[:-1]), tables[-1]] if len(tables) > 1 else tables)
        raise CliError(f"nothing to run: enable {choices} in the config (see config.example.toml)")
    for platform in enabled:
        settings = config.section(platform.name)
        missing = config.secrets.missing(platform.required_secrets(settings))
        if missing:
            mode = getattr(settings, "mode", None)
            how = f" ({mode} mode)" if mode else ""
            verb = "is" if len(missing) == 1 else "are"
            raise CliError(
                f"{platform.name}.enabled is true{how} but {' and '.join(missing)} {verb} "
                "not set in the environment"
            )


def build_adapters(
    bot: PapersBot, config: Config, platforms: Sequence[Platform] = PLATFORMS
) -> dict[str, Adapter]:
    """An adapter for each enabled platform, by name, in registry order."""
    return {p.name: p.build(bot, config) for p in enabled_platforms(config, platforms)}


# Connecting to a platform that is unreachable is retried: first after FIRST_RETRY
# seconds, doubling up to MAX_RETRY, with one log line per try.
FIRST_RETRY = 1.0
MAX_RETRY = 300.0
# After SIGINT/SIGTERM the whole stop takes at most GRACE seconds: posts in flight get
# what STOP_RESERVE leaves, then the adapters close within the rest.
GRACE = 20.0
STOP_RESERVE = 4.0


async def serve(
    bot: PapersBot,
    config: Config,
    stop: asyncio.Event | None = None,
    *,
    platforms: Sequence[Platform] = PLATFORMS,
) -> None:
    """Run until ``stop`` is set (or SIGINT/SIGTERM when ``stop`` is None).

    The scheduler starts at once; each adapter connects in the background, retried with
    backoff while its platform is unreachable, so one platform being down never holds up
    the others, the daily posts or a stop. The scheduler leaves a platform's channels
    alone (no post, no failure counted) until its adapter has connected; they get their
    post, marked late if need be, once it has.
    """
    lookup = make_lookup(config)
    if lookup is not None:
        bot.lookup = lookup
    adapters = build_adapters(bot, config, platforms)
    own_stop = stop is None
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    if own_stop:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, _stopper(stop, sig))

    async def daily_ingest() -> object:
        return await ingest(bot, config)

    run_ingest = daily_ingest if can_ingest(config) else None
    # The scheduler sees a platform once its adapter is up.
    scheduler = Scheduler(bot, {}, ingest=run_ingest)

    def connected(name: str) -> None:
        scheduler.attach(name, adapters[name])

    starting = [
        asyncio.create_task(start_with_retry(name, adapter, connected), name=f"start {name}")
        for name, adapter in adapters.items()
    ]
    await asyncio.sleep(0)  # adapters with nothing to connect (the terminal) are up now
    try:
        log.info(
            "papers-bot running: %s; %d channels, %d papers; ticking every %d s",
            ", ".join(adapters),
            len(bot.store.channels()),
            bot.store.paper_count(),
            config.scheduler.tick_seconds,
        )
        await run_until_stopped(scheduler, stop)
    finally:
        for task in starting:
            task.cancel()
        await asyncio.gather(*starting, return_exceptions=True)
        await stop_adapters(adapters, STOP_RESERVE)
        if own_stop:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        bot.store.close()
        log.info("papers-bot stopped")


async def run_until_stopped(scheduler: Scheduler, stop: asyncio.Event) -> None:
    """Run the scheduler until ``stop``, then give it its grace and not a moment more.

    Its own drain gives posts in flight ``GRACE - STOP_RESERVE - 1`` seconds; the hard
    deadline after it also covers a tick that was busy when the signal came (a start-up
    ingest waiting on a slow upstream), which the drain alone would not.
    """
    budget = GRACE - STOP_RESERVE
    runner = asyncio.ensure_future(scheduler.run(stop, grace=budget - 1))
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({runner, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not runner.done():
            await asyncio.wait({runner}, timeout=budget)
        if not runner.done():
            log.warning("the scheduler did not stop within %.0f s; stopping it now", budget)
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            await scheduler.drain(0)  # posts cut off here resume at the next start
        elif not runner.cancelled():
            runner.result()  # an error of the scheduler's own is not swallowed
    finally:
        stopping.cancel()
        if not runner.done():  # serve itself was cancelled
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)


async def start_with_retry(
    name: str,
    adapter: Adapter,
    connected: Callable[[str], None],
    *,
    first: float = FIRST_RETRY,
    most: float = MAX_RETRY,
) -> None:
    """Start ``adapter``, retrying with exponential backoff until it connects.

    Each failed try is one warning line (no traceback). A refusal that retrying cannot
    fix (:class:`PermanentDeliveryError`: a revoked token, say) is logged once and the
    adapter stays down; the rest of the bot runs on. Cancel the task to give up.
    """
    delay, attempt = first, 1
    while True:
        try:
            await adapter.start()
        except PermanentDeliveryError as exc:
            log.error("%s adapter refused: %s; not retrying (fix it, then restart)", name, exc)
            return
        except Exception as exc:
            log.warning(
                "%s adapter could not connect (try %d): %s; retrying in %.0f s",
                name,
                attempt,
                describe(exc),
                delay,
            )
            await asyncio.sleep(delay * random.uniform(0.9, 1.1))  # jitter: no thundering herd
            delay, attempt = min(delay * 2, most), attempt + 1
            continue
        connected(name)
        log.info("%s adapter started", name)
        return


async def stop_adapters(adapters: Mapping[str, Adapter], within: float) -> None:
    """Close every adapter (started or not: each closes what it opened), together, in
    at most ``within`` seconds; a stop that fails or hangs is logged, never raised."""

    async def close(name: str, adapter: Adapter) -> None:
        try:
            await adapter.stop()
        except Exception as exc:
            log.warning("%s adapter did not stop cleanly: %s", name, describe(exc))

    tasks = [asyncio.create_task(close(n, a)) for n, a in reversed(adapters.items())]
    if not tasks:
        return
    _done, hung = await asyncio.wait(tasks, timeout=within)
    for task in hung:
        task.cancel()
    if hung:
        await asyncio.gather(*hung, return_exceptions=True)
        log.warning("%d adapters did not stop within %.0f s; stopping anyway", len(hung), within)


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


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "run", help="run the enabled adapters and the daily posts until stopped (Ctrl-C)"
    )
    parser.set_defaults(func=cmd_run)
