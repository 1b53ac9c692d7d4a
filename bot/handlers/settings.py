"""The ``/papers`` commands that change a channel: subscribe, unsubscribe, schedule
(daily, weekly), set, thread, pause, resume, feedback, export and import. The
permission check happens before they run (:meth:`bot.app.PapersBot.handle`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.commands import CommandError, usage
from bot.config import check_timezone, parse_hhmm
from bot.handlers.common import (
    MAX_TOPICS,
    WEEKDAY_NAMES,
    WEEKLY_USAGE,
    count_of,
    pop_number,
    unquote,
)
from bot.handlers.reading import find_paper
from bot.models import MAX_PAPERS_PER_POST, MAX_UPVOTES, Channel, Feedback
from bot.query import parse_query
from bot.replies import Reply, Request
from bot.settings_io import (
    WEEKDAYS,
    SettingsError,
    apply_settings,
    export_settings,
    one_line,
    parse_settings,
)
from bot.slots import next_post_at
from bot.store import utc_now

if TYPE_CHECKING:
    from bot.app import PapersBot

log = logging.getLogger(__name__)


def subscribe(bot: PapersBot, request: Request, args: str) -> Reply:
    args, alert = pop_number(args, "alert", 1, MAX_UPVOTES, usage("subscribe"))
    query = unquote(args)
    if not query:
        raise CommandError("Subscribe to what? Give a topic.", usage("subscribe"))
    parsed = parse_query(query)
    if parsed.is_empty:
        raise CommandError("That topic has no words to match.", usage("subscribe"))
    existing = bot.store.topics(request.channel)
    if any(t.query.lower() == query.lower() for t in existing):
        return Reply(text=f"This channel already follows “{query}”.")
    if len(existing) >= MAX_TOPICS:
        raise CommandError(
            f"A channel can follow at most {MAX_TOPICS} topics; unsubscribe one first."
        )
    bot.channel_for(request, create=True)
    topic = bot.store.add_topic(
        request.channel, query, request.user_name or request.user_id, alert_upvotes=alert
    )
    alert_note = (
        f" Papers on it reaching {alert}+ upvotes are also posted as soon as they do."
        if alert
        else ""
    )
    log.info("channel %s subscribed to topic %d %r", request.channel, topic.id, query)
    return Reply(
        text=f"Subscribed to “{query}” (topic {topic.id}). This channel's posts now carry papers "
        "matching its topics." + alert_note,
        ephemeral=False,
    )


def unsubscribe(bot: PapersBot, request: Request, args: str) -> Reply:
    arg = unquote(args).lower()
    if not arg:
        raise CommandError("Unsubscribe from which topic?", usage("unsubscribe"))
    if arg == "all":
        gone = bot.store.remove_topics(request.channel)
        if not gone:
            return Reply(text="This channel has no topics to remove.")
        return Reply(text=f"Removed all {count_of(len(gone), 'topic')}.", ephemeral=False)
    topics = bot.store.topics(request.channel)
    match = next((t for t in topics if arg in (str(t.id), t.query.lower())), None)
    if match is None:
        raise CommandError(
            f"This channel has no topic `{args[:60]}`. See `/papers topics`.",
            usage("unsubscribe"),
        )
    bot.store.remove_topics(request.channel, [match.id])
    return Reply(text=f"Unsubscribed from “{match.query}”.", ephemeral=False)


def schedule(bot: PapersBot, request: Request, args: str) -> Reply:
    parts = args.split()
    if parts and parts[0].lower() == "weekly":
        return schedule_weekly(bot, request, parts[1:])
    if parts and parts[0].lower() == "daily":
        return schedule_daily(bot, request, parts[1:])
    if not parts or len(parts) > 2:
        raise CommandError("Give a time, and optionally a time zone.", usage("schedule"))
    hour, minute = _time_arg(parts[0])
    zone = _zone_arg(parts[1]) if len(parts) == 2 else None
    channel = bot.channel_for(request, create=True)
    assert channel is not None

    def change(ch: Channel) -> None:
        ch.post_time = f"{hour:02d}:{minute:02d}"
        ch.timezone = zone or ch.timezone
        ch.daily = True
        ch.not_before = bot.clock().isoformat()

    channel = bot.store.update_channel(channel.key, change)
    assert channel is not None
    nxt = next_post_at(channel, bot.clock()).astimezone(ZoneInfo(channel.timezone))
    return Reply(
        text=f"Daily post at {channel.post_time} {channel.timezone}. "
        f"Next: {nxt:%a %Y-%m-%d %H:%M}.",
        ephemeral=False,
    )


def _time_arg(text: str) -> tuple[int, int]:
    try:
        return parse_hhmm(text)
    except ValueError:
        raise CommandError(f"`{text[:20]}` is not a time like 09:00.", usage("schedule")) from None


def _zone_arg(text: str) -> str:
    try:
        return str(check_timezone(text))
    except ValueError as exc:
        raise CommandError(f"{exc}.", usage("schedule")) from None


def schedule_weekly(bot: PapersBot, request: Request, parts: list[str]) -> Reply:
    if [p.lower() for p in parts] == ["off"]:
        channel = bot.channel_for(request)
        if channel is not None:
            bot.store.update_channel(channel.key, lambda ch: setattr(ch, "weekly_day", None))
        return Reply(text="Weekly digest off.", ephemeral=False)
    if len(parts) not in (2, 3) or parts[0].lower()[:3] not in WEEKDAYS:
        raise CommandError(
            "Give a weekday and a time, e.g. `schedule weekly mon 09:00`.", WEEKLY_USAGE
        )
    weekday = WEEKDAYS.index(parts[0].lower()[:3])
    hour, minute = _time_arg(parts[1])
    zone = _zone_arg(parts[2]) if len(parts) == 3 else None
    channel = bot.channel_for(request, create=True)
    assert channel is not None

    def change(ch: Channel) -> None:
        ch.weekly_day, ch.weekly_time = weekday, f"{hour:02d}:{minute:02d}"
        ch.timezone = zone or ch.timezone
        ch.not_before = bot.clock().isoformat()

    channel = bot.store.update_channel(channel.key, change)
    assert channel is not None
    also = "as well as the daily post" if channel.daily else "instead of a daily post"
    return Reply(
        text=f"Weekly digest of the week's top papers every {WEEKDAY_NAMES[weekday]} at "
        f"{channel.weekly_time} {channel.timezone}, {also}.",
        ephemeral=False,
    )


def schedule_daily(bot: PapersBot, request: Request, parts: list[str]) -> Reply:
    choice = [p.lower() for p in parts]
    if choice not in (["on"], ["off"]):
        raise CommandError(
            "Say `schedule daily on` or `schedule daily off`.", "/papers schedule daily on|off"
        )
    channel = bot.channel_for(request, create=True)
    assert channel is not None
    on = choice == ["on"]

    def change(ch: Channel) -> None:
        ch.daily = on
        ch.not_before = bot.clock().isoformat()

    bot.store.update_channel(channel.key, change)
    if on:
        return Reply(
            text=f"Daily post on, at {channel.post_time} {channel.timezone}.", ephemeral=False
        )
    weekly = " The weekly digest stays on." if channel.weekly_day is not None else ""
    return Reply(text="Daily post off." + weekly, ephemeral=False)


def feedback(bot: PapersBot, request: Request, args: str) -> Reply:
    parts = args.split()
    if len(parts) != 2 or parts[0].lower() not in ("up", "down"):
        raise CommandError("Say `feedback up <paper id>` or `feedback down <paper id>`.")
    paper = find_paper(bot, parts[1])
    value = 1 if parts[0].lower() == "up" else -1
    bot.store.put_feedback(Feedback(request.channel, paper.id, request.user_id, value, utc_now()))
    taste = bot.digests.taste_for(request.channel)
    mark = "👍" if value > 0 else "👎"
    return Reply(
        text=f"{mark} noted for “{paper.title}”. This channel's ranking now: {taste.describe(bot.index.surface)}."
    )


def set_(bot: PapersBot, request: Request, args: str) -> Reply:
    parts = args.lower().split()
    if len(parts) != 2:
        raise CommandError("Say which setting and its value.", usage("set"))
    key, value = parts
    new: int | bool
    if key in ("papers", "max", "max-papers"):
        field, new = "max_papers", _number_arg(value, 1, MAX_PAPERS_PER_POST)
        text = f"Posts carry up to {new} papers."
    elif key in ("min-upvotes", "upvotes", "min_upvotes"):
        field, new = "min_upvotes", _number_arg(value, 0, MAX_UPVOTES)
        text = f"Only papers with {new}+ upvotes are posted." if new else "Any upvotes will do."
    elif key == "weekends" and value in ("skip", "post"):
        field, new = "skip_weekends", value == "skip"
        text = "No posts on Saturdays and Sundays." if new else "Posts come on weekends too."
    else:
        raise CommandError(f"There is no setting `{key[:30]} {value[:30]}`.", usage("set"))
    channel = bot.channel_for(request, create=True)
    assert channel is not None
    bot.store.update_channel(channel.key, lambda ch: setattr(ch, field, new))
    return Reply(text=text, ephemeral=False)


def _number_arg(text: str, low: int, high: int) -> int:
    try:
        number = int(text)
    except ValueError:
        raise CommandError(f"`{text[:20]}` is not a number.", usage("set")) from None
    if not low <= number <= high:
        raise CommandError(f"Pick a number from {low} to {high}.", usage("set"))
    return number


def thread(bot: PapersBot, request: Request, args: str) -> Reply:
    choice = args.strip().lower()
    if choice not in ("on", "off"):
        raise CommandError("Say `thread on` or `thread off`.", usage("thread"))
    channel = bot.channel_for(request, create=True)
    assert channel is not None
    bot.store.update_channel(channel.key, lambda ch: setattr(ch, "thread_mode", choice == "on"))
    if choice == "on":
        text = "Posts now come as a headline with one reply per paper in its thread."
    else:
        text = "Posts now come as one compact message."
    return Reply(text=text, ephemeral=False)


def export(bot: PapersBot, request: Request, args: str) -> Reply:
    channel = bot.channel_for(request) or bot.new_channel(
        request.platform, request.workspace, request.channel_id
    )
    snippet = export_settings(channel, bot.store.topics(request.channel))
    return Reply(
        text="Copy this and run `/papers import` with it in another channel, workspace or "
        "platform:\n```\n" + snippet + "```\nOne line (for chat boxes without newlines):\n"
        "`/papers import " + one_line(snippet) + "`",
        title="Settings of this channel",
    )


def import_(bot: PapersBot, request: Request, args: str) -> Reply:
    if not args.strip():
        raise CommandError("Import what? Paste what `/papers export` gave.", usage("import"))
    try:
        snapshot = parse_settings(args)
    except SettingsError as exc:
        raise CommandError(f"Cannot import: {exc}.", usage("import")) from None
    channel = bot.channel_for(request, create=True)
    assert channel is not None

    def change(ch: Channel) -> None:
        apply_settings(ch, snapshot.settings)
        ch.not_before = bot.clock().isoformat()

    bot.store.update_channel(channel.key, change)
    existing = {t.query.lower() for t in bot.store.topics(request.channel)}
    new = [(q, a) for q, a in snapshot.topics if q.lower() not in existing]
    room = MAX_TOPICS - len(existing)
    added = new[: max(0, room)]
    who = request.user_name or request.user_id
    for query, alert in added:
        bot.store.add_topic(request.channel, query, who, alert_upvotes=alert)
    skipped = len(snapshot.topics) - len(added)
    return Reply(
        text=f"Imported {count_of(len(snapshot.settings), 'setting')} and "
        f"{count_of(len(added), 'topic')}"
        + (f" ({skipped} already here or over the limit)" if skipped else "")
        + ". See `/papers status` and `/papers topics`.",
        ephemeral=False,
    )


def pause(bot: PapersBot, request: Request, args: str) -> Reply:
    channel = bot.channel_for(request)
    if channel is None or channel.paused:
        return Reply(text="Daily posts are not running here; nothing to pause.")

    def change(ch: Channel) -> None:
        ch.paused, ch.pause_reason = True, f"paused by {request.user_name or request.user_id}"

    bot.store.update_channel(channel.key, change)
    return Reply(text="Daily posts paused. `/papers resume` starts them again.", ephemeral=False)


def resume(bot: PapersBot, request: Request, args: str) -> Reply:
    channel = bot.channel_for(request, create=True)
    assert channel is not None

    def change(ch: Channel) -> None:
        ch.paused, ch.pause_reason, ch.failures, ch.last_error = False, None, 0, None
        ch.retry_at = None
        ch.not_before = bot.clock().isoformat()

    bot.store.update_channel(channel.key, change)
    return Reply(text=f"Daily posts on: {channel.post_time} {channel.timezone}.", ephemeral=False)
