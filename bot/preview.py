"""Topic preview: what a topic would have posted over the last seven trending days.

People tune a topic before they commit to it: a count per day, the top three papers,
and a warning when the topic matches nothing or nearly the whole corpus.
"""

from __future__ import annotations

from datetime import timedelta

from bot.actions import button
from bot.answers import card
from bot.context import Context
from bot.digest import meaning_match, parse_day
from bot.models import Channel, Paper
from bot.query import ParsedQuery, parse_query, quoted
from bot.registry import CommandError, usage
from bot.replies import ButtonRole, Reply, ReplyKind

DAYS = 7
BROAD_SHARE = 0.5


def topic_preview(ctx: Context, channel: Channel, topic: str) -> Reply:
    parsed = parse_query(topic)
    if parsed.is_empty:
        raise CommandError("Preview what? Give a topic.", usage("preview"))
    ctx.index.sync(ctx.store)
    # parse_day never raises: the digests already leave out days that are not dates.
    end = parse_day(ctx.digests.latest_day(ctx.today_for(channel)))
    if end is None:
        return Reply(text="No trending papers yet, so there is nothing to preview against.")
    days = [(end - timedelta(days=n)).isoformat() for n in range(DAYS - 1, -1, -1)]
    lines, matched, unlisted = [], {}, []
    for day in days:
        listed = len(ctx.digests.papers_on(day))
        if not listed:  # a weekend, or a gap in an old corpus: no row of zeros
            unlisted.append(day)
            continue
        hits = ctx.digests.topic_matches(topic, day)
        posted = min(len(hits), channel.max_papers)
        lines.append(f"{day}: {len(hits)} of {listed} papers match, {posted} would be posted")
        matched.update(hits)
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
