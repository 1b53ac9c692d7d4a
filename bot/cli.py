"""``papers-bot``'s core: the commands that need no platform, and the machinery of all.

Global options pick the data folder (``--db``, else ``$PAPERS_BOT_DATA``, else the
per-user data folder) and the config file. Subcommands here: ``import``, ``search``,
``export-settings`` and ``import-settings``. The composition root (``papers_bot.cli``)
adds the rest (``ingest``, each platform's own such as ``demo`` or ``discord-sync``, and
``run``) and the config loader that knows the registered platforms and sources; this
module imports no adapter.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import orjson

from bot import __version__
from bot.app import PapersBot, system_clock
from bot.config import Config, ConfigError, check_state_url, load_config
from bot.delivery import describe
from bot.fleet import index_folder
from bot.layout import clean
from bot.models import Channel, Paper, channel_key
from bot.query import QueryError, parse_query, quoted
from bot.replies import ReplyKind, Request
from bot.search import SearchIndex
from bot.settings_io import export_settings
from bot.sources import huggingface
from bot.store import StorageError, Store, utc_now

log = logging.getLogger("papers_bot")

Subparsers = argparse._SubParsersAction  # what ``add_subparsers`` returns
# Adds subcommands (``parser.set_defaults(func=...)``) to the ``papers-bot`` parser.
AddCommands = Callable[[Subparsers], None]
# Reads the config file (``None``: defaults) and the environment.
LoadConfig = Callable[[str | None], Config]


# Control characters and escape sequences: a title printed as is could move the cursor
# or recolour the terminal. The same rule as the terminal adapter's (bot.layout.clean).
def printable(text: str | None) -> str:
    """Text safe to print on a terminal: no escape sequences or control characters."""
    return clean(text)


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
    "alembic": logging.WARNING,  # a line per migration step at every start
}


# Where the exceptions of a connection that failed come from: the platform SDKs and
# their HTTP and WebSocket libraries (OSError and TimeoutError cover the rest).
NETWORK_ERROR_MODULES = ("aiohttp", "websockets", "discord", "slack_sdk", "slack_bolt", "httpx")


def is_network_error(error: BaseException) -> bool:
    """Whether ``error`` says a remote end was unreachable or went away (not a bug)."""
    if isinstance(error, OSError | TimeoutError):
        return True
    module = type(error).__module__ or ""
    return module.split(".", 1)[0] in NETWORK_ERROR_MODULES


class OneLineNetworkErrors(logging.Filter):
    """Log a connection failure as one line: the message and the error, no traceback.

    The SDKs log every failed (re)connect with its traceback (slack_sdk's Socket Mode
    client every 10 s, discord.py's gateway loop at each backoff step), which buries
    the log when a platform is down for an hour; the traceback says nothing the error's
    one line does not. ``-v`` (debug) keeps the tracebacks.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and is_network_error(error):
            record.msg = f"{record.getMessage()} [{describe(error)}]"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def setup_logging(level: str) -> None:
    """Our own loggers at ``level``; third-party ones never at debug (see above)."""
    chosen = getattr(logging, level.upper())
    logging.basicConfig(
        level=chosen, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    root = logging.getLogger()
    root.setLevel(chosen)
    for name, floor in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(max(floor, chosen))
    if chosen > logging.DEBUG:
        for handler in root.handlers:
            if not any(isinstance(f, OneLineNetworkErrors) for f in handler.filters):
                handler.addFilter(OneLineNetworkErrors())


def open_bot(args: argparse.Namespace) -> PapersBot:
    """The core bot over the data folder the options and config name."""
    config: Config = args.config_obj
    data_dir = config.data_dir(args.db)
    store = Store(data_dir, state_url=config.state.resolved())  # checked in _run
    index = SearchIndex(index_folder(store))  # <data>/index, or this worker's (bot.fleet)
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
        print(f"No papers match {quoted(parsed.describe())}.")
        return 0
    for n, (paper, score) in enumerate(rows, start=1):
        print(f"{n:>2}. {printable(paper.title)}  [{paper.id}, score {score:.2f}]")
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
    except UnicodeDecodeError as exc:
        raise CliError(f"{args.file}: {not_text(exc)}; save it as UTF-8") from None
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


# ---- parser -----------------------------------------------------------------------------

MAX_LIMIT = 1000  # search --limit: tantivy panics at 0 and overflows below it


def result_limit(text: str) -> int:
    """``--limit``: a whole number from 1 to MAX_LIMIT (argparse reports anything else)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"{value} is not between 1 and {MAX_LIMIT}")
    return value


def build_parser(commands: Sequence[AddCommands] = ()) -> argparse.ArgumentParser:
    """The ``papers-bot`` parser: the global options, the core commands, then ``commands``."""
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

    p = sub.add_parser(
        "import", help="add papers from a Hugging Face daily_papers JSON file, or --demo"
    )
    p.add_argument("file", nargs="?", help="a JSON file as GET /api/daily_papers returns it")
    p.add_argument("--demo", action="store_true", help="import the bundled demo corpus")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("search", help="search the local corpus")
    p.add_argument("query", nargs="+", help='query: words, "phrases", -word, author:, cat:, since:')
    p.add_argument(
        "--limit",
        type=result_limit,
        default=10,
        help=f"how many results (default 10, at most {MAX_LIMIT})",
    )
    p.add_argument("--json", action="store_true", help="print a JSON array in rank order")
    p.set_defaults(func=cmd_search, log_level="WARNING")

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

    for add in commands:
        add(sub)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    parser: argparse.ArgumentParser | None = None,
    load: LoadConfig = load_config,
) -> int:
    """Run one command; every failure ends as one line on stderr and a non-zero status.

    The README promises one-line errors, so nothing the user can cause (a bad file, a
    full or read-only disk, a damaged data file, a closed pipe) prints a traceback; only
    ``-v`` adds the traceback of an unexpected error, for a bug report. ``parser`` and
    ``load`` come from the composition root (default: the core commands and tables only).
    """
    parser = parser or build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return _run(args, load)
    except BrokenPipeError:
        return _closed_pipe()
    except KeyboardInterrupt:
        return 130
    except CliError as exc:
        return _fail(str(exc), exc.status)
    except StorageError as exc:
        return _fail(str(exc), 3)
    except Exception as exc:  # the last line of defence: one line, not a traceback
        if args.verbose:
            traceback.print_exc()
        return _fail(one_line_error(exc, verbose=args.verbose), 1)


def _run(args: argparse.Namespace, load: LoadConfig) -> int:
    """Load the config, set up logging, run the command and flush what it printed."""
    try:
        args.config_obj = load(args.config)
        if url := args.config_obj.state.resolved():  # $PAPERS_BOT_STATE_URL included
            check_state_url(url)
    except ConfigError as exc:
        return _fail(f"config error: {exc}", 2)
    except (OSError, UnicodeDecodeError) as exc:  # unreadable, or not text
        why = not_text(exc) if isinstance(exc, UnicodeDecodeError) else exc.strerror or exc
        return _fail(f"config error: {args.config}: {why}", 2)
    level = (
        "DEBUG"
        if args.verbose
        else getattr(args, "log_level", None) or args.config_obj.bot.log_level
    )
    setup_logging(level)
    func: Callable[[argparse.Namespace], int] = args.func
    status = func(args)
    sys.stdout.flush()  # a closed pipe shows here, inside the handlers, not at exit
    return status


def one_line_error(exc: BaseException, *, verbose: bool = False) -> str:
    """An error the user can act on, in one line: the file and the system's reason for
    OS errors, the offending byte for undecodable text, else the type and message."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    if isinstance(exc, UnicodeDecodeError):
        return f"input is {not_text(exc)}"
    line = describe(exc)
    return line if verbose else f"{line} (run with -v for the details)"


def not_text(exc: UnicodeDecodeError) -> str:
    """Where bytes failed to decode, e.g. ``not valid utf-8 text (byte 0xff at offset 30)``."""
    bad = exc.object[exc.start : exc.start + 1].hex()
    return f"not valid {exc.encoding} text (byte 0x{bad} at offset {exc.start})"


def _fail(message: str, status: int) -> int:
    print(f"papers-bot: {' '.join(message.split())}", file=sys.stderr)
    return status


def _closed_pipe() -> int:
    """The reader went away (``papers-bot digest ... | head``): stop quietly, as other
    command-line tools do, with the status a shell reports for SIGPIPE (128 + 13).

    stdout is pointed at /dev/null so the interpreter's own flush at exit cannot raise
    the same error again and print "Exception ignored" to stderr.
    """
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return 128 + signal.SIGPIPE
