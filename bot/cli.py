"""``papers-bot``: the command line.

Global options pick the data folder (``--db``, else ``$PAPERS_BOT_DATA``, else the
per-user data folder) and the config file. Subcommands: ``demo``, ``import``,
``search``, ``digest``, and those other modules register (``ingest``, ``run``...).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import orjson

from bot import __version__
from bot.app import PapersBot, system_clock
from bot.config import Config, ConfigError, load_config
from bot.models import Channel, Delivery, Paper, channel_key
from bot.query import QueryError, parse_query
from bot.replies import ReplyKind, Request
from bot.search import SearchIndex
from bot.settings_io import export_settings
from bot.sources import huggingface
from bot.store import StorageError, Store, utc_now

log = logging.getLogger("papers_bot")

# Modules that add subcommands: each has ``register(subparsers)``.
EXTRA_COMMAND_MODULES: list[str] = ["bot.ingest", "adapters.discord.cli", "adapters.run"]


class CliError(Exception):
    """A one-line problem for the user; exit status 2 unless given."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


# Libraries whose debug logs carry capability URLs (Slack response_url, Socket Mode
# tickets, Discord interaction webhooks) or every request line: never below these.
QUIET_LIBRARIES = {
    "slack_sdk": logging.INFO,
    "slack_bolt": logging.INFO,
    "discord": logging.INFO,
    "aiohttp": logging.INFO,
    "websockets": logging.INFO,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
}


def setup_logging(level: str) -> None:
    """Our own loggers at ``level``; third-party ones never at debug (see above)."""
    chosen = getattr(logging, level.upper())
    logging.basicConfig(
        level=chosen, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger().setLevel(chosen)
    for name, floor in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(max(floor, chosen))


def open_bot(args: argparse.Namespace) -> PapersBot:
    """The core bot over the data folder the options and config name."""
    config: Config = args.config_obj
    data_dir = config.data_dir(args.db)
    store = Store(data_dir)
    index = SearchIndex(data_dir / "index")
    index.sync(store)
    log.debug("data folder %s: %d papers", data_dir, store.paper_count())
    return PapersBot(config, store, index, clock=clock_from_env())


def clock_from_env() -> Callable[[], datetime]:
    """The system clock, or one started at ``$PAPERS_BOT_FAKE_START`` (an ISO time).

    A testing aid: the fake clock starts at that instant and advances in real time, so a
    test can run the real process "at 08:59:58" or "the next day" without waiting.
    """
    start = os.environ.get("PAPERS_BOT_FAKE_START")
    if not start:
        return system_clock
    try:
        fake = datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"PAPERS_BOT_FAKE_START: {start!r} is not an ISO date-time") from None
    if fake.tzinfo is None:
        fake = fake.replace(tzinfo=UTC)
    offset = fake - datetime.now(UTC)
    log.warning("using a fake clock that started at %s", fake.isoformat())
    return lambda: datetime.now(UTC) + offset


def demo_papers() -> list[Paper]:
    data = resources.files("bot").joinpath("data/demo_corpus.json").read_bytes()
    return [Paper.from_doc(doc) for doc in orjson.loads(data)]


def import_papers(bot: PapersBot, papers: list[Paper]) -> tuple[int, int, int]:
    """Merge papers into the corpus and index; returns (new, updated, unchanged)."""
    plan = bot.add_papers(papers)
    return len(plan.new), len(plan.updated), plan.unchanged


# ---- subcommands ----------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    bot = open_bot(args)
    if args.demo:
        papers, skipped, what = demo_papers(), 0, "the bundled demo corpus"
    else:
        if not args.file:
            raise CliError("import needs a FILE (a Hugging Face daily_papers JSON file) or --demo")
        path = Path(args.file)
        try:
            data = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            raise CliError(f"{path}: no such file") from None
        except orjson.JSONDecodeError as exc:
            raise CliError(f"{path}: not valid JSON ({exc})") from None
        parsed = huggingface.parse_daily_papers(data, seen_at=utc_now())
        papers, skipped, what = parsed.papers, parsed.skipped, str(path)
        if not papers:
            raise CliError(f"{path}: no papers in it ({skipped} items skipped as invalid)")
    new, updated, unchanged = import_papers(bot, papers)
    print(
        f"Imported {what}: {new} new, {updated} updated, {unchanged} unchanged, "
        f"{skipped} skipped as invalid. Corpus: {bot.store.paper_count()} papers."
    )
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    bot = open_bot(args)
    query = " ".join(args.query)
    try:
        parsed = parse_query(query)
    except QueryError as exc:
        raise CliError(str(exc)) from None
    if parsed.is_empty:
        raise CliError("search needs a query")
    result = bot.index.search(parsed, page=1, per_page=args.limit)
    rows = []
    for hit in result.hits:
        paper = bot.store.get_paper(hit.paper_id)
        if paper is not None:
            rows.append((paper, hit.score))
    if args.json:
        out = [
            {
                "id": p.id,
                "title": p.title,
                "score": round(score, 4),
                "authors": p.authors,
                "date": p.list_date,
                "upvotes": p.upvotes,
                "url": p.url,
            }
            for p, score in rows
        ]
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print(f"No papers match “{parsed.describe()}”.")
        return 0
    from adapters.console import clean

    for n, (paper, score) in enumerate(rows, start=1):
        print(f"{n:>2}. {clean(paper.title)}  [{paper.id}, score {score:.2f}]")
    print(f"({result.total} matching papers)")
    return 0


def resolve_channel(bot: PapersBot, ref: str) -> Channel:
    """A stored channel by key (``slack:T1:C1``) or bare id (a terminal channel)."""
    key = ref if ref.count(":") >= 2 else channel_key("console", "local", ref)
    channel = bot.store.get_channel(key)
    if channel is None:
        if ref.count(":") >= 2:
            raise CliError(
                f"no channel {ref!r}; known: {', '.join(c.key for c in bot.store.channels()) or 'none'}"
            )
        channel = bot.new_channel("console", "local", ref)
    return channel


def cmd_export_settings(args: argparse.Namespace) -> int:
    bot = open_bot(args)
    channel = resolve_channel(bot, args.channel)
    snippet = export_settings(channel, bot.store.topics(channel.key))
    if args.out:
        Path(args.out).write_text(snippet, encoding="utf-8")
        print(f"wrote the settings of {channel.key} to {args.out}")
    else:
        print(snippet, end="")
    return 0


def cmd_import_settings(args: argparse.Namespace) -> int:
    """Apply a snippet through the same ``import`` command the chat platforms use."""
    bot = open_bot(args)
    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{args.file}: {exc.strerror}") from None
    platform, workspace, channel_id = (
        args.channel.split(":", 2)
        if args.channel.count(":") >= 2
        else ("console", "local", args.channel)
    )
    reply = bot.handle(
        Request(f"import {text}", platform, workspace, channel_id, user_id="cli", user_name="cli")
    )
    if reply.kind == ReplyKind.ERROR:
        raise CliError(reply.text.splitlines()[0])
    print(f"{channel_key(platform, workspace, channel_id)}: {reply.text}")
    return 0


def cmd_digest(args: argparse.Namespace) -> int:
    from adapters.console import render

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


def cmd_demo(args: argparse.Namespace) -> int:
    from adapters.console import ConsoleAdapter, render

    bot = open_bot(args)
    if bot.store.paper_count() == 0:
        new, _, _ = import_papers(bot, demo_papers())
        print(
            f"(first run: loaded the bundled demo corpus, {new} papers, into {bot.store.data_dir})\n"
        )
    adapter = ConsoleAdapter(bot, channel_id=bot.config.console.channel)
    channel = bot.channel_for(adapter.request(""), create=False) or bot.new_channel(
        "console", "local", adapter.channel_id
    )
    print(render(bot.digest_reply(bot.digest_for(channel))))
    interactive = sys.stdin.isatty()
    print(
        "\nType /papers commands (`help` lists them; `quit` or Ctrl-D leaves)."
        if interactive
        else ""
    )
    adapter.run_lines(sys.stdin, interactive)
    return 0


# ---- parser -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="papers-bot",
        description="Trending research papers in Slack, Discord and the terminal.",
    )
    parser.add_argument("--version", action="version", version=f"papers-bot {__version__}")
    parser.add_argument(
        "--db",
        metavar="DIR",
        help="data folder (default: $PAPERS_BOT_DATA or the per-user data folder)",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="TOML config file (see config.example.toml)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="try the bot in this terminal with the bundled demo corpus")
    p.set_defaults(func=cmd_demo, log_level="WARNING")

    p = sub.add_parser(
        "import", help="add papers from a Hugging Face daily_papers JSON file, or --demo"
    )
    p.add_argument("file", nargs="?", help="a JSON file as GET /api/daily_papers returns it")
    p.add_argument("--demo", action="store_true", help="import the bundled demo corpus")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("search", help="search the local corpus")
    p.add_argument("query", nargs="+", help='query: words, "phrases", -word, author:, cat:, since:')
    p.add_argument("--limit", type=int, default=10, help="how many results (default 10)")
    p.add_argument("--json", action="store_true", help="print a JSON array in rank order")
    p.set_defaults(func=cmd_search, log_level="WARNING")

    p = sub.add_parser("digest", help="print (and record) a channel's next post")
    p.add_argument(
        "--channel", required=True, help="channel key (slack:T1:C1) or a terminal channel name"
    )
    p.add_argument("--dry-run", action="store_true", help="print only; record nothing as delivered")
    p.set_defaults(func=cmd_digest)

    p = sub.add_parser("export-settings", help="print a channel's topics and settings as TOML")
    p.add_argument(
        "--channel", required=True, help="channel key (slack:T1:C1) or a terminal channel name"
    )
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(func=cmd_export_settings, log_level="WARNING")

    p = sub.add_parser("import-settings", help="apply exported topics and settings to a channel")
    p.add_argument(
        "--channel",
        required=True,
        help="channel key (slack:T1:C1, discord:G:C) or a terminal channel name",
    )
    p.add_argument("file", help="a snippet written by export-settings or /papers export")
    p.set_defaults(func=cmd_import_settings, log_level="WARNING")

    import importlib

    for name in EXTRA_COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        args.config_obj = load_config(args.config)
    except ConfigError as exc:
        print(f"papers-bot: config error: {exc}", file=sys.stderr)
        return 2
    level = (
        "DEBUG"
        if args.verbose
        else getattr(args, "log_level", None) or args.config_obj.bot.log_level
    )
    setup_logging(level)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except CliError as exc:
        print(f"papers-bot: {exc}", file=sys.stderr)
        return exc.status
    except StorageError as exc:
        print(f"papers-bot: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
