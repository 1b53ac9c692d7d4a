"""The ``/papers`` commands that only read: help, search, trending, paper, topics,
preview, similar, digest (a preview of the next post), status, ping and share (a button).

Each handler is declared here with its options; see :mod:`bot.registry`.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot import answers, texts
from bot.context import Context
from bot.handlers.common import (
    MAX_TRENDING,
    PAPER_REF,
    TOPIC,
    WEEKDAY_NAMES,
    find_paper,
    topic_text,
)
from bot.preview import topic_preview
from bot.query import quoted
from bot.registry import REGISTRY, CommandError, Form, Number, Text, Word, command, usage
from bot.replies import Reply, ReplyKind, Request
from bot.slots import next_post_at


@command(
    "help",
    "help [command]",
    "show this help, or one command's usage",
    options=[Word("command", "Show one command's usage")],
    form=Form("How to use /papers"),
)
def help_(ctx: Context, request: Request, command: str | None) -> Reply:
    words = (command or "").split()
    return Reply(text=REGISTRY.help_text(words[0] if words else None), title="papers-bot help")


@command(
    "search",
    "search <query> [--page N]",
    'search the corpus: words, "phrases", -exclude, author:NAME, cat:cs.CL, since:2026-05-01',
    aliases=("find", "s"),
    options=[
        Text(
            "query",
            'Words, "phrases", -exclude, author:NAME, cat:cs.CL, since:2026-05-01',
            required=True,
            min_length=1,
            max_length=500,
        ),
        Number("page", "Which page of results", low=1, high=1000, flag=True),
    ],
    form=Form("Search the papers"),
)
def search(ctx: Context, request: Request, query: str, page: int | None) -> Reply:
    if not query:
        raise CommandError("Search for what? Give a few words.", usage("search"))
    return answers.search(ctx, query, page or 1)


@command(
    "trending",
    "trending [N]",
    f"the top N (1-{MAX_TRENDING}, default 5) papers of the latest trending day",
    aliases=("top",),
    options=[
        Number(
            "count",
            "How many papers",
            low=1,
            high=MAX_TRENDING,
            default=5,
            not_a_number="`{text}` is not a number.",
            out_of_range="Pick between {low} and {high} papers.",
        )
    ],
    form=Form("The top papers of the latest trending day"),
)
def trending(ctx: Context, request: Request, count: int) -> Reply:
    channel = ctx.store.get_channel(request.channel)
    return answers.trending(ctx, count, ctx.today_for(channel))


@command(
    "paper",
    "paper <arXiv id or URL>",
    "one paper's card",
    options=[PAPER_REF],
    fetches="ref",
    form=Form("One paper's card"),
)
def paper(ctx: Context, request: Request, ref: str) -> Reply:
    return Reply(kind=ReplyKind.PAPER, cards=[answers.card(find_paper(ctx, ref))])


@command(
    "topics",
    "topics",
    "this channel's topics",
    form=Form("This channel's topics"),
)
def topics(ctx: Context, request: Request) -> Reply:
    topics = ctx.store.topics(request.channel)
    taste = ctx.digests.taste_for(request.channel).describe(ctx.index.surface)
    if not topics:
        return Reply(
            text="This channel has no topics: its posts carry all trending papers. "
            'Add one with `/papers subscribe "speech recognition"`.\n'
            "Feedback: " + taste + "."
        )
    lines = [
        f"{t.id}. {t.query}  (added by {t.added_by}"
        + (f"; alert at {t.alert_upvotes}+ upvotes" if t.alert_upvotes else "")
        + (f", mentioning {texts.mention_name(t.notify)}" if t.alert_upvotes and t.notify else "")
        + ")"
        for t in topics
    ]
    lines.append("Feedback: " + taste + ".")
    return Reply(text="\n".join(lines), title="Topics of this channel")


@command(
    "preview",
    "preview <topic query>",
    "what a topic would have posted on each of the last 7 days, before subscribing",
    options=[TOPIC],
    form=Form("What a topic would post, day by day"),
)
def preview(ctx: Context, request: Request, topic: str) -> Reply:
    topic = topic_text(topic)
    if not topic:
        raise CommandError("Preview what? Give a topic.", usage("preview"))
    return topic_preview(ctx, ctx.channel_or_default(request), topic)


@command(
    "similar",
    "similar <arXiv id or URL>",
    "the papers closest to one paper",
    options=[PAPER_REF],
    fetches="ref",
    form=Form("The papers closest to one paper"),
)
def similar(ctx: Context, request: Request, ref: str) -> Reply:
    paper = find_paper(ctx, ref, "similar")
    ctx.index.sync(ctx.store)
    hits = ctx.index.similar(paper, limit=ctx.config.bot.search_page_size)
    cards = [
        answers.card(p, rank=n)
        for n, hit in enumerate(hits, start=1)
        if (p := ctx.store.get_paper(hit.paper_id)) is not None
    ]
    if not cards:
        return Reply(text=f"Nothing in the corpus is close to {quoted(paper.title)}.")
    return Reply(
        text=f"The papers closest to {quoted(paper.title)} ({paper.id}), by their title, abstract "
        "and keywords.",
        kind=ReplyKind.SEARCH,
        title="Similar papers",
        cards=cards,
    )


@command(
    "digest",
    "digest",
    "show this channel's next post now (nothing is marked as posted)",
    form=Form("Preview this channel's next post"),
)
def digest(ctx: Context, request: Request) -> Reply:
    channel = ctx.channel_or_default(request)
    ctx.index.sync(ctx.store)
    reply = answers.digest_reply(ctx.digests.build(channel, ctx.today_for(channel)))
    reply.ephemeral = True
    reply.footer = "Preview: nothing was marked as posted."
    return reply


@command(
    "status",
    "status",
    "corpus size, last ingest, last and next post, topics",
    form=Form("Corpus size, last ingest, last and next post"),
)
def status(ctx: Context, request: Request) -> Reply:
    lines = [f"Corpus: {ctx.store.paper_count():,} papers."]
    last_ingest = ctx.store.get_meta("last_ingest")
    if last_ingest:
        lines.append(f"Last ingest: {last_ingest.get('at')} ({last_ingest.get('summary', '')}).")
    else:
        lines.append("Last ingest: never (demo or imported corpus).")
    for source, day in sorted((ctx.store.get_meta("no_announcements") or {}).items()):
        lines.append(f"No announcements from {source} for {day}.")
    channel = ctx.store.get_channel(request.channel)
    if channel is None:
        lines.append(
            "This channel gets no daily post yet: `/papers schedule 09:00 Europe/Berlin` "
            "or `/papers subscribe <topic>` starts it."
        )
    else:
        # The reason says who or what paused it ("paused by ana", "paused after 3 ...").
        state = "active"
        if channel.paused:
            reason = channel.pause_reason or "paused"
            state = reason if reason.startswith("paused") else f"paused ({reason})"
        if channel.daily:
            lines.append(
                f"Daily post: {channel.post_time} {channel.timezone}, {state}, "
                f"up to {channel.max_papers} papers"
                + (", as a thread" if channel.thread_mode else "")
                + "."
            )
        else:
            lines.append("Daily post: off." + (f" Posts {state}." if channel.paused else ""))
        if channel.weekly_day is not None:
            lines.append(
                f"Weekly digest: {WEEKDAY_NAMES[channel.weekly_day]} {channel.weekly_time} "
                f"{channel.timezone}; last {channel.last_weekly_date or 'none yet'}."
            )
        lines.append(
            f"Cards: {texts.SUMMARY_NAMES.get(channel.summary, channel.summary)} (`set summary short|long|off`)."
        )
        lines.append(f"Last post: {channel.last_post_at or 'none yet'}.")
        if not channel.paused and channel.daily:
            nxt = next_post_at(channel, ctx.clock()).astimezone(ZoneInfo(channel.timezone))
            lines.append(f"Next post: {nxt:%Y-%m-%d %H:%M} {channel.timezone}.")
        if channel.last_error:
            lines.append(f"Last delivery problem: {channel.last_error}.")
        if channel.retry_at and not channel.paused:
            lines.append(f"Retrying after {channel.retry_at[:16].replace('T', ' ')} UTC.")
    lines.append(f"Topics: {len(ctx.store.topics(request.channel))}.")
    return Reply(text="\n".join(lines), title="Status")


@command(
    "ping",
    "ping",
    "check the bot is alive: corpus size and last ingest",
    form=Form("Check the bot is alive"),
)
def ping(ctx: Context, request: Request) -> Reply:
    last_ingest = ctx.store.get_meta("last_ingest") or {}
    when = last_ingest.get("at") or "never"
    return Reply(
        text=f"pong: {ctx.store.paper_count():,} papers in the corpus, last ingest {when}."
    )


@command(
    "share",
    "share <paper id>",
    "post a paper's card to the channel (the Share in channel button)",
    options=[PAPER_REF],
    public=True,
    hidden=True,  # listed by help under the buttons that run it
    button_only=True,
)
def share(ctx: Context, request: Request, ref: str) -> Reply:
    paper = find_paper(ctx, ref)
    who = request.user_name or request.user_id
    # A card in the channel like a posted one: Save, 👍/👎, Similar (its "⋯" menu).
    card = answers.card(paper, public=True)
    return Reply(text=f"Shared by {who}", kind=ReplyKind.PAPER, cards=[card], ephemeral=False)
