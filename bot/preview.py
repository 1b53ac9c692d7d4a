"""Topic preview: what a topic would have posted over the last seven trending days.

People tune a topic before they commit to it: a count per day, the top three papers,
and a warning when the topic matches nothing or nearly the whole corpus. A form that
counts as the topic is typed (Slack's subscribe modal) asks :func:`topic_count`, which
reads the same seven days the same way, so the count and the preview always agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from bot.actions import button
from bot.answers import card
from bot.context import Context
from bot.digest import meaning_match, parse_day
from bot.models import Channel, Paper
from bot.query import ParsedQuery, QueryError, parse_query, quoted
from bot.registry import CommandError, usage
from bot.replies import ButtonRole, Reply, ReplyKind

DAYS = 7
BROAD_SHARE = 0.5


@dataclass(slots=True)
class RecentMatches:
    """What a topic matched on each of the last :data:`DAYS` trending days."""

    days: list[str]  # the window, oldest first
    listed: dict[str, int] = field(default_factory=dict)  # day -> papers on its list
    hits: dict[str, dict[str, float]] = field(default_factory=dict)  # day -> matches
    unlisted: list[str] = field(default_factory=list)  # days without a trending list

    @property
    def matched(self) -> dict[str, float]:
        """Every paper matched on any day of the window (each once)."""
        found: dict[str, float] = {}
        for hits in self.hits.values():
            found.update(hits)
        return found


def recent_matches(ctx: Context, channel: Channel, topic: str) -> RecentMatches | None:
    """The topic's matches over the last seven trending days (``None``: no papers yet)."""
    ctx.index.sync(ctx.store)
    # parse_day never raises: the digests already leave out days that are not dates.
    end = parse_day(ctx.digests.latest_day(ctx.today_for(channel)))
    if end is None:
        return None
    recent = RecentMatches([(end - timedelta(days=n)).isoformat() for n in range(DAYS - 1, -1, -1)])
    for day in recent.days:
        listed = len(ctx.digests.papers_on(day))
        if not listed:  # a weekend, or a gap in an old corpus: no row of zeros
            recent.unlisted.append(day)
            continue
        recent.listed[day] = listed
        recent.hits[day] = ctx.digests.topic_matches(topic, day)
    return recent


@dataclass(slots=True, frozen=True)
class TopicCount:
    """How much a topic would match: over the window, and on its latest listed day."""

    matched: int
    first_day: str | None = None
    last_day: str | None = None
    latest: int = 0  # matches on the newest day that had a list
    latest_day: str | None = None
    problem: str | None = None  # why nothing could be counted (an empty topic...)


def topic_count(ctx: Context, channel: Channel, topic: str) -> TopicCount:
    """What :func:`topic_preview` would count for ``topic``, without building cards.

    Never raises on what a person typed: a topic that cannot match says why instead.
    """
    try:
        parsed = parse_query(topic)
    except QueryError as exc:
        return TopicCount(0, problem=str(exc))
    if parsed.is_empty:
        return TopicCount(0, problem="That topic has no words to match.")
    recent = recent_matches(ctx, channel, topic)
    if recent is None:
        return TopicCount(0, problem="No trending papers yet, so there is nothing to count.")
    listed = [day for day in recent.days if day in recent.hits]
    latest_day = listed[-1] if listed else None
    return TopicCount(
        len(recent.matched),
        recent.days[0],
        recent.days[-1],
        len(recent.hits[latest_day]) if latest_day else 0,
        latest_day,
    )


def describe_count(count: TopicCount) -> str:
    """One line for a form: what the topic typed so far would match."""
    if count.problem:
        return count.problem
    papers = "paper" if count.matched == 1 else "papers"
    line = f"Would have matched {count.matched} {papers} from {count.first_day} to {count.last_day}"
    if count.latest_day:
        line += f" ({count.latest} on {count.latest_day})"
    return line + "."


def topic_preview(ctx: Context, channel: Channel, topic: str) -> Reply:
    parsed = parse_query(topic)
    if parsed.is_empty:
        raise CommandError("Preview what? Give a topic.", usage("preview"))
    recent = recent_matches(ctx, channel, topic)
    if recent is None:
        return Reply(text="No trending papers yet, so there is nothing to preview against.")
    days, unlisted, lines = recent.days, recent.unlisted, []
    for day in days:
        if day not in recent.hits:
            continue
        hits, listed = recent.hits[day], recent.listed[day]
        posted = min(len(hits), channel.max_papers)
        lines.append(f"{day}: {len(hits)} of {listed} papers match, {posted} would be posted")
    matched = recent.matched
    if unlisted:
        lines.append("No trending list on " + ", ".join(unlisted) + ".")
    total = len(matched)
    corpus = max(1, ctx.store.paper_count())
    share = ctx.index.count(parsed) / corpus
    warnings = []
    if total == 0:
        warnings.append(
            "⚠ This topic matched nothing in these seven days: check the spelling, use fewer "
            "words, or drop a filter."
        )
    if share > BROAD_SHARE:
        warnings.append(
            f"⚠ This topic matches {share:.0%} of the whole corpus: it will let nearly "
            "everything through. Add a word or a phrase to narrow it."
        )
    papers = [p for pid in matched if (p := ctx.store.get_paper(pid)) is not None]
    papers.sort(key=lambda p: (-(p.upvotes or 0), p.id))
    cards = [
        card(p, rank=n, topic=topic, matched_terms=_why(ctx, parsed, topic, p))
        for n, p in enumerate(papers[:3], start=1)
    ]
    text = "\n".join(
        [*warnings, *lines, f"Top {len(cards)} of {total} matching papers:" if cards else ""]
    )
    return Reply(
        text=text.strip(),
        kind=ReplyKind.SEARCH,
        title=f"Preview of {quoted(topic)}, {days[0]} to {days[-1]}",
        cards=cards,
        buttons=[button("Subscribe", ButtonRole.COMMAND, "subscribe", primary=True, topic=topic)]
        if total
        else [],
        footer="Nothing was subscribed.",
    )


def _why(ctx: Context, parsed: ParsedQuery, topic: str, paper: Paper) -> tuple[str, ...]:
    """The topic's words the paper has, or that it matched by meaning alone."""
    terms = ctx.index.matched_terms(parsed, paper)
    return terms or ((meaning_match(topic),) if parsed.words else ())
