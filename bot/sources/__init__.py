"""Upstream paper sources. Each module parses what one service really sends into
:class:`bot.models.Paper` objects; fetching (httpx, retries, politeness) lives beside it.

Parsers never raise on one bad item: they skip it and count it, so one malformed entry
cannot cost a whole day's papers.
"""

from dataclasses import dataclass, field

from bot.models import Paper


@dataclass(slots=True)
class Parsed:
    """What a parser made of one response: the papers, and how many items it skipped."""

    papers: list[Paper] = field(default_factory=list)
    skipped: int = 0
    problems: list[str] = field(default_factory=list)

    def skip(self, why: str) -> None:
        self.skipped += 1
        if len(self.problems) < 20:
            self.problems.append(why)
