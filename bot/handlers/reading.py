"""The ``/papers`` commands that only read: help, search, trending, paper, share, similar,
preview, topics, digest (a preview of the next post) and status."""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.commands import CommandError, help_text, usage
from bot.handlers.common import (
    MAX_TRENDING,
    WEEKDAY_NAMES,
    parse_paper_ref,
    pop_number,
    unquote,
)
from bot.models import Paper
from bot.preview import topic_preview
from bot.replies import PaperCard, Reply, ReplyKind, Request
from bot.slots import next_post_at

if TYPE_CHECKING:
    from bot.app import PapersBot


def help_(bot: PapersBot, request: Request, args: str) -> Reply:
    return Reply(text=help_text(args.split()[0] if args.split() else None), title="papers-bot help")


def search(bot: PapersBot, request: Request, args: str) -> Reply:
    args, page = pop_number(args, "page", 1, 1000, usage("search"))
    if not args:
        raise CommandError("Search for what? Give a few words.", usage("search"))
    return bot.search(args, page or 1)


def trending(bot: PapersBot, request: Request, args: str) -> Reply:
    count = 5
    if args:
        try:
            count = int(args.split()[0])
        except ValueError:
            raise CommandError(f"`{args[:20]}` is not a number.", usage("trending")) from None
        if not 1 <= count <= MAX_TRENDING:
            raise CommandError(f"Pick between 1 and {MAX_TRENDING} papers.", usage("trending"))
    channel = bot.store.get_channel(request.channel)
    return bot.trending(count, bot.today_for(channel))


def find_paper(bot: PapersBot, args: str) -> Paper:
    if not args:
        raise CommandError("Which paper? Give an arXiv id or link.", usage("paper"))
    ref = parse_paper_ref(args)
    paper = bot.store.get_paper(ref) if ref else bot.store.get_paper(args.split()[0])
    if paper is None:
        if ref is None:
            raise CommandError(f"`{args[:60]}` is not an arXiv id or link.", usage("paper"))
        raise CommandError(f"Paper {ref} is not in the local corpus (yet).")
    return paper


def paper(bot: PapersBot, request: Request, args: str) -> Reply:
    paper = find_paper(bot, args)
    return Reply(kind=ReplyKind.PAPER, cards=[bot.card(paper)])


def share(bot: PapersBot, request: Request, args: str) -> Reply:
    paper = find_paper(bot, args)
    who = request.user_name or request.user_id
    return Reply(
        text=f"Shared by {who}", kind=ReplyKind.PAPER, cards=[PaperCard(paper)], ephemeral=False
    )


def topics(bot: PapersBot, request: Request, args: str) -> Reply:
    topics = bot.store.topics(request.channel)
    if not topics:
        return Reply(
            text="This channel has no topics: its posts carry all trending papers. "
            'Add one with `/papers subscribe "speech recognition"`.\n'
            "Feedback: " + bot.digests.taste_for(request.channel).describe(bot.index.surface) + "."
        )
    lines = [
        f"{t.id}. {t.query}  (added by {t.added_by}"
        + (f"; alert at {t.alert_upvotes}+ upvotes)" if t.alert_upvotes else ")")
        for t in topics
    ]
    lines.append(
        "Feedback: " + bot.digests.taste_for(request.channel).describe(bot.index.surface) + "."
    )
    return Reply(text="\n".join(lines), title="Topics of this channel")


def digest(bot: PapersBot, request: Request, args: str) -> Reply:
    channel = bot.channel_for(request) or bot.new_channel(
        request.platform, request.workspace, request.channel_id
    )
    reply = bot.digest_reply(bot.digest_for(channel))
    reply.ephemeral = True
    reply.footer = "Preview: nothing was marked as posted."
    return reply


def status(bot: PapersBot, request: Request, args: str) -> Reply:
    lines = [f"Corpus: {bot.store.paper_count():,} papers."]
    last_ingest = bot.store.get_meta("last_ingest")
    if last_ingest:
        lines.append(f"Last ingest: {last_ingest.get('at')} ({last_ingest.get('summary', '')}).")
    else:
        lines.append("Last ingest: never (demo or imported corpus).")
    for source, day in sorted((bot.store.get_meta("no_announcements") or {}).items()):
        lines.append(f"No announcements from {source} for {day}.")
    channel = bot.store.get_channel(request.channel)
    if channel is None:
        lines.append(
            "This channel gets no daily post yet: `/papers schedule 09:00 Europe/Berlin` "
            "or `/papers subscribe <topic>` starts it."
        )
    else:
        state = (
            "paused" + (f" ({channel.pause_reason})" if channel.pause_reason else "")
            if channel.paused
            else "active"
        )
        if channel.daily:
            lines.append(
                f"Daily post: {channel.post_time} {channel.timezone}, {state}, "
                f"up to {channel.max_papers} papers"
                + (", as a thread" if channel.thread_mode else "")
                + "."
            )
        else:
            lines.append(f"Daily post: off ({state}).")
        if channel.weekly_day is not None:
            lines.append(
                f"Weekly digest: {WEEKDAY_NAMES[channel.weekly_day]} {channel.weekly_time} "
                f"{channel.timezone}; last {channel.last_weekly_date or 'none yet'}."
            )
        lines.append(f"Last post: {channel.last_post_at or 'none yet'}.")
        if not channel.paused and channel.daily:
            nxt = next_post_at(channel, bot.clock()).astimezone(ZoneInfo(channel.timezone))
            lines.append(f"Next post: {nxt:%Y-%m-%d %H:%M} {channel.timezone}.")
        if channel.last_error:
            lines.append(f"Last delivery problem: {channel.last_error}.")
        if channel.retry_at and not channel.paused:
            lines.append(f"Retrying after {channel.retry_at[:16].replace('T', ' ')} UTC.")
    lines.append(f"Topics: {len(bot.store.topics(request.channel))}.")
    return Reply(text="\n".join(lines), title="Status")


def preview(bot: PapersBot, request: Request, args: str) -> Reply:
    topic = unquote(args)
    if not topic:
        raise CommandError("Preview what? Give a topic.", usage("preview"))
    channel = bot.channel_for(request) or bot.new_channel(
        request.platform, request.workspace, request.channel_id
    )
    return topic_preview(bot, channel, topic)


def similar(bot: PapersBot, request: Request, args: str) -> Reply:
    paper = find_paper(bot, args)
    bot.index.sync(bot.store)
    hits = bot.index.similar(paper, limit=bot.config.bot.search_page_size)
    cards = [
        bot.card(p, rank=n)
        for n, hit in enumerate(hits, start=1)
        if (p := bot.store.get_paper(hit.paper_id)) is not None
    ]
    if not cards:
        return Reply(text=f"Nothing in the corpus is close to “{paper.title}”.")
    return Reply(
        text=f"The papers closest to “{paper.title}” ({paper.id}), by their title, abstract "
        "and keywords.",
        kind=ReplyKind.SEARCH,
        title="Similar papers",
        cards=cards,
    )
