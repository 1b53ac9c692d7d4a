"""Ingest: fetch every enabled source, then merge everything into the corpus in one write.

The sources are the plug-ins the composition root registered (``config.sources.each``,
see :mod:`bot.sources.base`); this module knows none of them by name.

Fetching comes first and touches nothing; only when every source has been asked is the
whole batch merged (:func:`bot.merge.plan_merge`) and written in one atomic corpus commit
(:mod:`bot.corpus`), in a worker thread, then the search index follows. A crash, a
cancellation or an exception before that commit leaves the corpus exactly as it was. If no source answered at all, nothing is
written and :class:`IngestError` says why in one line.

``papers-bot ingest`` and the scheduler both call :func:`ingest`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import dataclass, field
from datetime import date
from typing import TextIO

from bot.app import PaperLookup, PapersBot
from bot.config import Config
from bot.models import Paper
from bot.sources.base import FetchRequest, Progress, Source, SourceResult
from bot.sources.http import HttpClient
from bot.store import utc_now

log = logging.getLogger(__name__)

INGEST_BACKSTOP = 5.0  # seconds past sources.ingest_deadline before the batch is abandoned


class IngestError(Exception):
    """Nothing could be fetched from any source. The message is one line."""


@dataclass(slots=True)
class IngestReport:
    """What one ingest did; ``summary`` is the line ``/papers status`` shows."""

    at: str
    sources: dict[str, SourceResult] = field(default_factory=dict)
    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def skipped(self) -> int:
        return sum(r.skipped for r in self.sources.values())

    @property
    def failed_requests(self) -> int:
        return sum(r.failed_requests for r in self.sources.values())

    @property
    def answered(self) -> list[str]:
        return [name for name, r in self.sources.items() if r.answered]

    @property
    def summary(self) -> str:
        return (
            f"{', '.join(self.sources) or 'no sources'}: fetched {self.fetched}, new {self.new}, "
            f"updated {self.updated}, skipped as invalid {self.skipped}, "
            f"failed requests {self.failed_requests}"
        )


def registered(config: Config) -> dict[str, Source]:
    """Every source the composition root registered, by name, in its order."""
    return dict(config.sources.each)


async def fetch_all(
    config: Config,
    *,
    sources: tuple[str, ...] | list[str],
    request: FetchRequest,
) -> dict[str, SourceResult]:
    """Ask every chosen, enabled source, concurrently (each one paces itself). Writes nothing.

    The client carries the ingest's deadline, so once ``sources.ingest_deadline`` has
    passed every request fails at once, counted like any other failure, and what came in
    before is kept. The outer timeout is only a backstop in case something waits outside
    a request; it then gives up on the whole batch.
    """
    settings = config.sources
    chosen = [s for name, s in registered(config).items() if name in sources and s.enabled]
    try:
        async with (
            asyncio.timeout(settings.ingest_deadline + INGEST_BACKSTOP),
            HttpClient(settings, deadline=settings.ingest_deadline) as http,
        ):
            answers = await asyncio.gather(*(source.fetch(http, request) for source in chosen))
    except TimeoutError:
        raise IngestError(
            f"the ingest did not finish within {settings.ingest_deadline:g} s "
            "(sources.ingest_deadline)"
        ) from None
    return {source.name: answer for source, answer in zip(chosen, answers, strict=True)}


def _record_announcements(bot: PapersBot, results: dict[str, SourceResult]) -> None:
    """Remember, per source, whether the latest day asked for had no announcements."""
    marks = dict(bot.store.get_meta("no_announcements") or {})
    before = dict(marks)
    for name, result in results.items():
        days = sorted(result.empty_days + result.full_days)
        if not days:
            continue
        latest = days[-1]
        if latest in result.empty_days:
            marks[name] = latest
        else:
            marks.pop(name, None)
    if marks != before:
        bot.store.set_meta("no_announcements", marks)


async def ingest(
    bot: PapersBot,
    config: Config,
    *,
    sources: tuple[str, ...] | list[str] | None = None,
    day: date | None = None,
    backfill: int = 0,
    progress: Progress | None = None,
) -> IngestReport:
    """Fetch, merge and write once. Raises :class:`IngestError` if no source answered
    (and then writes nothing). Sets meta ``last_ingest`` = ``{"at", "summary"}``.

    ``sources`` names the sources to ask (default: every registered one)."""
    known = registered(config)
    sources = list(known) if sources is None else sources
    unknown = [s for s in sources if s not in known]
    if unknown:
        raise ValueError(f"unknown source(s): {', '.join(unknown)}")
    seen_at = utc_now()
    request = FetchRequest(
        today=bot.clock().date(),
        day=day,
        backfill=backfill,
        seen_at=seen_at,
        progress=progress or (lambda _: None),
    )
    results = await fetch_all(config, sources=sources, request=request)
    report = IngestReport(at=seen_at, sources=results)
    if not results:
        raise IngestError("nothing to fetch: every chosen source is disabled in the config")
    if not report.answered:
        reasons = "; ".join(
            f"{name}: {r.problems[0] if r.problems else 'no answer'}" for name, r in results.items()
        )
        raise IngestError(f"nothing could be fetched ({reasons})")
    papers: list[Paper] = [p for r in results.values() for p in r.papers]
    report.fetched = len(papers)
    # The merge, the corpus commit and the index update are corpus-sized work: a worker
    # thread does them, so the loop keeps answering commands meanwhile.
    plan = await asyncio.to_thread(bot.add_papers, papers)
    report.new, report.updated, report.unchanged = len(plan.new), len(plan.updated), plan.unchanged
    _record_announcements(bot, results)
    bot.store.set_meta("last_ingest", {"at": seen_at, "summary": report.summary})
    log.info("ingest: %s", report.summary)
    return report


def make_lookup(config: Config) -> PaperLookup | None:
    """The ``lookup`` for :class:`PapersBot`: the first enabled source that can look a
    paper up by id (arXiv, as registered today), or ``None`` if none can."""
    for source in registered(config).values():
        if source.enabled and (lookup := source.make_lookup(config.sources)) is not None:
            return lookup
    return None


def can_ingest(config: Config) -> bool:
    """Whether any registered source is enabled (else the daily ingest has nothing to do)."""
    return any(source.enabled for source in registered(config).values())


# ---- command line ---------------------------------------------------------------------


class TerminalProgress:
    """One overwritten status line on a terminal; silent when stderr is not a tty."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.used = False

    def __call__(self, message: str) -> None:
        self.stream.write(f"\r\x1b[K{message[:100]}")
        self.stream.flush()
        self.used = True

    def close(self) -> None:
        if self.used:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2026-05-08") from None


def _non_negative(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of days")
    return int(value)


def cmd_ingest(args: argparse.Namespace) -> int:
    from bot.cli import CliError, open_bot

    bot = open_bot(args)
    sources = None if args.source == "all" else (args.source,)
    progress = TerminalProgress(sys.stderr) if sys.stderr.isatty() else None
    try:
        report = asyncio.run(
            ingest(
                bot,
                bot.config,
                sources=sources,
                day=args.date,
                backfill=args.backfill,
                progress=progress,
            )
        )
    except IngestError as exc:
        raise CliError(str(exc), status=1) from None
    finally:
        if progress is not None:
            progress.close()
    print(f"Ingested {report.summary}. Corpus: {bot.store.paper_count()} papers.")
    for name, result in report.sources.items():
        for day in result.empty_days:
            print(f"  {name}: no announcements for {day}")
        if not result.answered:
            print(f"  {name}: no answer ({result.problems[0] if result.problems else '?'})")
        elif result.problems:
            print(f"  {name}: {len(result.problems)} problem(s), first: {result.problems[0]}")
    return 0


def register(subparsers: argparse._SubParsersAction, sources: list[str]) -> None:
    """Add ``papers-bot ingest``; ``sources`` are the registered sources' names."""
    p = subparsers.add_parser("ingest", help="fetch new and trending papers into the corpus")
    p.add_argument(
        "--source",
        choices=[*sources, "all"],
        default="all",
        help="which source to ask (default: all enabled ones)",
    )
    p.add_argument(
        "--date",
        type=_parse_day,
        metavar="YYYY-MM-DD",
        help="fetch the Hugging Face daily list of this day (default: the trending list)",
    )
    p.add_argument(
        "--backfill",
        type=_non_negative,
        default=0,
        metavar="DAYS",
        help="also fetch the Hugging Face daily lists of the DAYS days before",
    )
    # Retries are logged at INFO; the summary says what matters. -v shows the details.
    p.set_defaults(func=cmd_ingest, log_level="WARNING")


__all__ = ["IngestError", "IngestReport", "can_ingest", "ingest", "make_lookup"]
