"""What a paper source is to the core: a plug-in that fetches a day and looks up an id.

A source is a dataclass whose fields are its ``[sources.<name>]`` settings and whose
methods do its work, so one module holds everything about one service (Hugging Face's
daily papers, arXiv's listings). The composition root registers the sources
(``papers_bot.plugins.SOURCES``); :mod:`bot.ingest` asks every enabled one and knows
none by name. Sources never write to the store: they return a :class:`SourceResult`
and the ingest merges every result in one write.

A source "answered" when at least one response was readable, even an empty list: that
is how a weekend (no announcements) is told apart from an outage.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from bot.models import Paper
from bot.sources import Parsed

if TYPE_CHECKING:
    from bot.config import SourcesSettings
    from bot.sources.http import HttpClient

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
# Fetches one paper by id: ``None`` if the source does not know it; raises when the
# source could not be asked, so "no such paper" and "try later" stay apart.
Lookup = Callable[[str], Awaitable[Paper | None]]


def no_progress(_: str) -> None:
    pass


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """What one ingest asks of every source."""

    today: date  # the bot's today (UTC)
    day: date | None = None  # a given day's list (``ingest --date``); None: the latest
    backfill: int = 0  # also the lists of this many days before
    seen_at: str = ""  # when the papers were seen (ISO time), stamped on each
    progress: Progress = no_progress  # one short status line at a time, for a terminal


@dataclass(slots=True)
class SourceResult:
    """What one source gave in one ingest."""

    source: str
    papers: list[Paper] = field(default_factory=list)
    answered: bool = False  # at least one readable response (an empty list counts)
    skipped: int = 0  # invalid items and unreadable pages
    failed_requests: int = 0
    empty_days: list[str] = field(default_factory=list)  # asked-for days with nothing announced
    full_days: list[str] = field(default_factory=list)  # asked-for days with announcements
    problems: list[str] = field(default_factory=list)

    def problem(self, why: str) -> None:
        log.info("%s: %s", self.source, why)
        if len(self.problems) < 20:
            self.problems.append(why)

    def add(self, parsed: Parsed) -> None:
        self.papers.extend(parsed.papers)
        self.skipped += parsed.skipped
        for why in parsed.problems:
            self.problem(why)


@runtime_checkable
class Source(Protocol):
    """A paper source: its settings are its fields; it fetches and may look papers up."""

    name: ClassVar[str]  # its [sources.<name>] table, its name in reports and --source
    enabled: bool

    def check(self, where: str) -> None:
        """Refuse a bad setting with :class:`bot.config.ConfigError` naming ``where.key``."""
        ...

    async def fetch(self, http: HttpClient, request: FetchRequest) -> SourceResult:
        """Everything ``request`` asks for, what could not be fetched counted, never raising."""
        ...

    def make_lookup(self, settings: SourcesSettings) -> Lookup | None:
        """A function that fetches one paper by id, or ``None`` if this source cannot.

        One function serves a whole run, so whatever pacing the service asks for is
        shared by every lookup it makes.
        """
        ...
