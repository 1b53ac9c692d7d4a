"""The ``/papers`` commands that change a channel: subscribe, unsubscribe, schedule
(daily, weekly), set, thread, pause, resume, export, import and feedback (a button).

Each handler is declared here with its options; see :mod:`bot.registry`. The permission
check for ``manages`` commands happens before they run (:mod:`bot.app`).
"""

from __future__ import annotations

import difflib
import logging
import zoneinfo
from functools import cache
from zoneinfo import ZoneInfo

from bot import texts
from bot.config import check_timezone, parse_hhmm
from bot.context import Context
from bot.handlers.common import (
    MAX_TOPICS,
    TOPIC,
    WEEKDAY_NAMES,
    count_of,
    find_paper,
    topic_text,
    unquote,
)
from bot.layout import SUMMARY_MODES
from bot.mentions import MentionError, parts, read_mention
from bot.models import MAX_PAPERS_PER_POST, MAX_UPVOTES, Channel, Feedback
from bot.query import parse_query, quoted
from bot.registry import (
    CommandError,
    Flag,
    Form,
    Mention,
    Number,
    Paste,
    Text,
    Word,
    command,
    usage,
)
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

log = logging.getLogger(__name__)

ON_OFF = (("on", "on"), ("off", "off"))
WEEKDAY_CHOICES = (*((name, name[:3].lower()) for name in WEEKDAY_NAMES), ("off", "off"))
COMMON_ZONES = ["UTC", "Europe/London", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]


@cache
def timezones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def suggest_timezones(ctx: Context, request: Request, current: str) -> list[tuple[str, str]]:
    """Time zones matching what was typed: prefix matches first, then substring matches."""
    needle = current.strip().lower().replace(" ", "_")
    if not needle:
        names = COMMON_ZONES
    else:
        starts = [z for z in timezones() if z.lower().startswith(needle)]
        parts = [z for z in timezones() if needle in z.lower() and z not in starts]
        names = (starts + parts)[:25]
    return [(z, z) for z in names]


def suggest_topics(ctx: Context, request: Request, current: str) -> list[tuple[str, str]]:
    """The channel's topics matching what was typed, and "All topics"."""
    topics = ctx.store.topics(request.channel)
    needle = current.strip().lower()
    found = [
        (f"{t.id}. {t.query}", str(t.id)) for t in topics if needle in f"{t.id}. {t.query}".lower()
    ][:24]
    if topics and (not needle or needle in "all topics"):
        found.append(("All topics", "all"))
    return found


TIME = Word("time", "HH:MM, e.g. 09:00", required=True, max_length=5)
ZONE = Word(
    "timezone", "IANA time zone, e.g. Europe/Berlin", max_length=64, suggest=suggest_timezones
)


@command(
    "subscribe",
    f"subscribe <topic query> [--alert <1-{MAX_UPVOTES}> [--notify @group]] [--preview]",
    "keep this channel's posts to a topic; --alert N also posts a paper on it as soon "
    "as it reaches N upvotes, --notify @group mentions a user group, role or person in "
    "those alerts (no one is mentioned otherwise); --preview shows what it would post, "
    "without subscribing",
    manages=True,
    starts_posts=True,
    aliases=("sub",),
    options=[
        TOPIC,
        Number(
            "alert",
            "Also post a paper on this topic as soon as it reaches this many upvotes",
            low=1,
            high=MAX_UPVOTES,
            flag=True,
        ),
        Mention(
            "notify",
            "Mention this role, user group or person in the topic's alerts (needs alert)",
        ),
        Flag(
            "preview",
            "Only show what this topic would post, without subscribing",
            default=False,
            runs="preview",
            passes=("topic",),
        ),
    ],
    form=Form("Keep this channel's daily posts to a topic"),
)
def subscribe(
    ctx: Context,
    request: Request,
    topic: str,
    alert: int | None,
    notify: str | None = None,
    preview: bool = False,
) -> Reply:
    # ``preview`` never arrives set: ``--preview`` runs the ``preview`` command instead.
    query = topic_text(topic)  # a quoted phrase keeps its quotes: it matches only as one
    if not query:
        raise CommandError("Subscribe to what? Give a topic.", usage("subscribe"))
    mention = _notify_arg(notify, alert, request.platform)
    parsed = parse_query(query)
    if parsed.is_empty:
        raise CommandError("That topic has no words to match.", usage("subscribe"))
    existing = ctx.store.topics(request.channel)
    if any(t.query.lower() == query.lower() for t in existing):
        return Reply(text=f"This channel already follows {quoted(query)}.")
    if len(existing) >= MAX_TOPICS:
        raise CommandError(
            f"A channel can follow at most {MAX_TOPICS} topics; unsubscribe one first."
        )
    ctx.channel_for(request, create=True)
    added = ctx.store.add_topic(
        request.channel,
        query,
        request.user_name or request.user_id,
        alert_upvotes=alert,
        notify=mention,
    )
    alert_note = (
        f" Papers on it reaching {alert}+ upvotes are also posted as soon as they do"
        + (", mentioning " + texts.mention_name(mention) if mention else "")
        + "."
        if alert
        else ""
    )
    log.info("channel %s subscribed to topic %d %r", request.channel, added.id, query)
    return Reply(
        text=f"Subscribed to {quoted(query)} (topic {added.id}). This channel's posts now carry "
        "papers matching its topics." + alert_note,
        ephemeral=False,
    )


def _notify_arg(notify: str | None, alert: int | None, platform: str) -> str | None:
    """``--notify``'s mention in neutral form (:mod:`bot.mentions`), or a refusal."""
    if notify is None or not notify.strip():
        return None
    if alert is None:
        raise CommandError(
            "--notify goes with --alert: only alerts mention anyone.", usage("subscribe")
        )
    try:
        return read_mention(notify, platform)
    except MentionError as exc:
        raise CommandError(str(exc), usage("subscribe")) from None


@command(
    "unsubscribe",
    "unsubscribe <topic id | all>",
    "drop a topic (ids from `topics`)",
    manages=True,
    aliases=("unsub",),
    options=[Text("topic", "The topic to drop, or all", required=True, suggest=suggest_topics)],
    form=Form("Drop one of this channel's topics"),
)
def unsubscribe(ctx: Context, request: Request, topic: str) -> Reply:
    arg = unquote(topic).lower()
    typed = topic_text(topic).lower()
    if not arg:
        raise CommandError("Unsubscribe from which topic?", usage("unsubscribe"))
    if arg == "all":
        gone = ctx.store.remove_topics(request.channel)
        if not gone:
            return Reply(text="This channel has no topics to remove.")
        removed = "the one topic" if len(gone) == 1 else f"all {len(gone)} topics"
        return Reply(text=f"Removed {removed}.", ephemeral=False)
    topics = ctx.store.topics(request.channel)
    match = next((t for t in topics if typed == t.query.lower()), None) or next(
        (t for t in topics if arg in (str(t.id), t.query.lower())), None
    )
    if match is None:
        raise CommandError(
            f"This channel has no topic `{topic[:60]}`. See `/papers topics`.",
            usage("unsubscribe"),
        )
    ctx.store.remove_topics(request.channel, [match.id])
    return Reply(text=f"Unsubscribed from {quoted(match.query)}.", ephemeral=False)


@command(
    "schedule",
    "schedule <HH:MM> [IANA time zone]",
    "when the daily post comes, e.g. `schedule 09:00 Europe/Berlin`; also "
    "`schedule weekly <mon..sun> <HH:MM> [zone]` for a weekly digest of the week's top "
    "papers (`schedule weekly off` stops it) and `schedule daily on|off`",
    manages=True,
    starts_posts=True,
    options=[TIME, ZONE],
    syntax_error="Give a time, and optionally a time zone.",
    form=Form("When this channel gets its daily post"),
)
def schedule(ctx: Context, request: Request, time: str, timezone: str | None) -> Reply:
    hour, minute = _time_arg(time)
    zone = _zone_arg(timezone) if timezone else None
    channel = ctx.channel_for(request, create=True)
    assert channel is not None

    def change(ch: Channel) -> None:
        ch.post_time = f"{hour:02d}:{minute:02d}"
        ch.timezone = zone or ch.timezone
        ch.daily = True
        ch.not_before = ctx.clock().isoformat()

    channel = ctx.store.update_channel(channel.key, change)
    assert channel is not None
    nxt = next_post_at(channel, ctx.clock()).astimezone(ZoneInfo(channel.timezone))
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


# Abbreviations people type, and the IANA zones they usually mean (an abbreviation names
# no rules for summer time, so the tz database's "CET" or "EST" rarely do what users expect).
ZONE_ABBREVIATIONS = {
    "cet": ("Europe/Berlin", "Europe/Paris", "Europe/Madrid"),
    "cest": ("Europe/Berlin", "Europe/Paris", "Europe/Madrid"),
    "wet": ("Europe/Lisbon",),
    "eet": ("Europe/Athens", "Europe/Helsinki"),
    "gmt": ("Europe/London", "UTC"),
    "bst": ("Europe/London",),
    "est": ("America/New_York", "America/Toronto"),
    "edt": ("America/New_York", "America/Toronto"),
    "cst": ("America/Chicago", "Asia/Shanghai"),
    "cdt": ("America/Chicago",),
    "mst": ("America/Denver", "America/Phoenix"),
    "mdt": ("America/Denver",),
    "pst": ("America/Los_Angeles", "America/Vancouver"),
    "pdt": ("America/Los_Angeles", "America/Vancouver"),
    "ist": ("Asia/Kolkata",),
    "jst": ("Asia/Tokyo",),
    "kst": ("Asia/Seoul",),
    "aest": ("Australia/Sydney",),
}


def zone_suggestions(text: str, most: int = 3) -> list[str]:
    """IANA zones a mistyped zone probably meant: an abbreviation's usual zones, the zones
    whose city is ``text`` (``Berlin`` -> ``Europe/Berlin``), else close spellings."""
    needle = text.strip().lower().replace(" ", "_")
    if needle in ZONE_ABBREVIATIONS:
        return list(ZONE_ABBREVIATIONS[needle][:most])
    cities = {z.rsplit("/", 1)[-1].lower(): z for z in timezones() if "/" in z}
    if needle in cities:
        return [cities[needle]]
    close = difflib.get_close_matches(needle, list(cities), n=most, cutoff=0.75)
    return [cities[c] for c in close]


def _zone_arg(text: str) -> str:
    try:
        return str(check_timezone(text))
    except ValueError as exc:
        suggested = zone_suggestions(text)
        hint = f" Did you mean {' or '.join(f'`{z}`' for z in suggested)}?" if suggested else ""
        raise CommandError(f"{exc}.{hint}", usage("schedule")) from None


@command(
    "schedule weekly",
    "schedule weekly <mon..sun> <HH:MM> [IANA time zone] | schedule weekly off",
    "a weekly digest of the week's top papers",
    manages=True,
    starts_posts=True,
    options=[
        Word(
            "day",
            "The weekday, or off to stop the weekly digest",
            required=True,
            choices=WEEKDAY_CHOICES,
            strict=True,
            lower=True,
            prefix=3,
            stops=("off",),
        ),
        Word(
            "time",
            "HH:MM, e.g. 17:00 (default 09:00)",
            required=True,
            max_length=5,
            discord_default="09:00",
        ),
        ZONE,
    ],
    syntax_error="Give a weekday and a time, e.g. `schedule weekly mon 09:00`.",
    form=Form("A weekly digest of the week's top papers"),
)
def schedule_weekly(
    ctx: Context, request: Request, day: str, time: str | None, timezone: str | None
) -> Reply:
    if day == "off":
        channel = ctx.channel_for(request)
        if channel is not None:
            ctx.store.update_channel(channel.key, lambda ch: setattr(ch, "weekly_day", None))
        return Reply(text="Weekly digest off.", ephemeral=False)
    weekday = WEEKDAYS.index(day)
    hour, minute = _time_arg(time or "")
    zone = _zone_arg(timezone) if timezone else None
    channel = ctx.channel_for(request, create=True)
    assert channel is not None

    def change(ch: Channel) -> None:
        ch.weekly_day, ch.weekly_time = weekday, f"{hour:02d}:{minute:02d}"
        ch.timezone = zone or ch.timezone
        ch.not_before = ctx.clock().isoformat()

    channel = ctx.store.update_channel(channel.key, change)
    assert channel is not None
    also = "as well as the daily post" if channel.daily else "instead of a daily post"
    return Reply(
        text=f"Weekly digest of the week's top papers every {WEEKDAY_NAMES[weekday]} at "
        f"{channel.weekly_time} {channel.timezone}, {also}.",
        ephemeral=False,
    )


@command(
    "schedule daily",
    "schedule daily on|off",
    "turn the daily post on or off",
    manages=True,
    starts_posts=True,
    options=[
        Word(
            "mode",
            "off keeps only the weekly digest and alerts",
            required=True,
            choices=ON_OFF,
            strict=True,
            lower=True,
        )
    ],
    syntax_error="Say `schedule daily on` or `schedule daily off`.",
    form=Form("Turn the daily post on or off"),
)
def schedule_daily(ctx: Context, request: Request, mode: str) -> Reply:
    channel = ctx.channel_for(request, create=True)
    assert channel is not None
    on = mode == "on"

    def change(ch: Channel) -> None:
        ch.daily = on
        ch.not_before = ctx.clock().isoformat()

    ctx.store.update_channel(channel.key, change)
    if on:
        return Reply(
            text=f"Daily post on, at {channel.post_time} {channel.timezone}.", ephemeral=False
        )
    weekly = " The weekly digest stays on." if channel.weekly_day is not None else ""
    return Reply(text="Daily post off." + weekly, ephemeral=False)


@command(
    "set",
    f"set papers <1-{MAX_PAPERS_PER_POST}> | set min-upvotes <0-{MAX_UPVOTES}> "
    "| set weekends skip|post | set summary short|long|off",
    "how many papers a post carries (5), the upvotes a paper needs to be posted (0), "
    "whether posts come on weekends, and how much summary each card shows (short)",
    manages=True,
    options=[
        Word(
            "setting",
            "What to change",
            required=True,
            choices=(
                ("papers", "papers"),
                ("min-upvotes", "min-upvotes"),
                ("weekends", "weekends"),
                ("summary", "summary"),
            ),
            lower=True,
        ),
        Word(
            "value",
            "papers: 1-25; min-upvotes: a number; weekends: skip or post; "
            "summary: short, long or off",
            required=True,
            lower=True,
            max_length=10,
        ),
    ],
    syntax_error="Say which setting and its value.",
    form=Form("Papers per post, minimum upvotes, weekends, summary length"),
)
def set_(ctx: Context, request: Request, setting: str, value: str) -> Reply:
    new: int | bool | str
    if setting in ("papers", "max", "max-papers"):
        field, new = "max_papers", _number_arg(value, 1, MAX_PAPERS_PER_POST)
        text = f"Posts carry up to {new} papers."
    elif setting in ("min-upvotes", "upvotes", "min_upvotes"):
        field, new = "min_upvotes", _number_arg(value, 0, MAX_UPVOTES)
        text = f"Only papers with {new}+ upvotes are posted." if new else "Any upvotes will do."
    elif setting == "weekends":
        if value not in ("skip", "post"):
            raise CommandError(
                f"`weekends` takes `skip` or `post`, not `{value[:30]}`.", usage("set")
            )
        field, new = "skip_weekends", value == "skip"
        text = "No posts on Saturdays and Sundays." if new else "Posts come on weekends too."
    elif setting == "summary":
        if value not in SUMMARY_MODES:
            raise CommandError(
                f"`summary` takes `short`, `long` or `off`, not `{value[:30]}`.", usage("set")
            )
        field, new = "summary", value
        text = texts.summary_set(value)
    else:
        raise CommandError(f"There is no setting `{setting[:30]} {value[:30]}`.", usage("set"))
    channel = ctx.channel_for(request, create=True)
    assert channel is not None
    ctx.store.update_channel(channel.key, lambda ch: setattr(ch, field, new))
    return Reply(text=text, ephemeral=False)


def _number_arg(text: str, low: int, high: int) -> int:
    try:
        number = int(text)
    except ValueError:
        raise CommandError(f"`{text[:20]}` is not a number.", usage("set")) from None
    if not low <= number <= high:
        raise CommandError(f"Pick a number from {low} to {high}.", usage("set"))
    return number


@command(
    "thread",
    "thread on|off",
    "post each paper as a reply in a thread under a headline",
    manages=True,
    options=[
        Word(
            "mode",
            "on: a headline and one thread message per paper; off: compact",
            required=True,
            choices=ON_OFF,
            strict=True,
            lower=True,
        )
    ],
    syntax_error="Say `thread on` or `thread off`.",
    form=Form("Post each paper in a thread under a headline"),
)
def thread(ctx: Context, request: Request, mode: str) -> Reply:
    channel = ctx.channel_for(request, create=True)
    assert channel is not None
    ctx.store.update_channel(channel.key, lambda ch: setattr(ch, "thread_mode", mode == "on"))
    if mode == "on":
        text = "Posts now come as a headline with one reply per paper in its thread."
    else:
        text = "Posts now come as one compact message."
    return Reply(text=text, ephemeral=False)


@command(
    "export",
    "export",
    "this channel's topics and settings as a snippet to copy",
    form=Form("This channel's topics and settings, to copy"),
)
def export(ctx: Context, request: Request) -> Reply:
    channel = ctx.channel_or_default(request)
    snippet = export_settings(channel, ctx.store.topics(request.channel))
    return Reply(
        text="Copy this and run `/papers import` with it in another channel, workspace or "
        "platform:\n```\n" + snippet + "```\nOne line (for chat boxes without newlines):\n"
        "`/papers import " + one_line(snippet) + "`",
        title="Settings of this channel",
    )


@command(
    "import",
    "import <snippet from export>",
    f"apply exported topics and settings here (max_papers 1-{MAX_PAPERS_PER_POST}, "
    f"min_upvotes 0-{MAX_UPVOTES}, a topic's alert_upvotes 1-{MAX_UPVOTES})",
    manages=True,
    starts_posts=True,
    options=[
        Text(
            "snippet",
            "The one-line form /papers export shows; leave out to paste the multi-line one",
            min_length=1,
            max_length=6000,
        )
    ],
    form=Form(
        "Apply settings from /papers export here",
        paste=Paste(
            "snippet",
            title="Import papers-bot settings",
            label="Snippet from /papers export",
            placeholder='[channel]\npost_time = "09:00"\n...',
        ),
    ),
)
def import_(ctx: Context, request: Request, snippet: str | None) -> Reply:
    if not (snippet or "").strip():
        raise CommandError("Import what? Paste what `/papers export` gave.", usage("import"))
    try:
        snapshot = parse_settings(snippet or "")
    except SettingsError as exc:
        why = str(exc)
        if why.startswith("not a settings snippet") and "nested too deeply" not in why:
            # Not TOML at all: say what a snippet looks like, not what the parser tripped on.
            raise CommandError(texts.IMPORT_EXPECTS, usage("import")) from None
        raise CommandError(f"Cannot import: {exc}.", usage("import")) from None
    channel = ctx.channel_for(request, create=True)
    assert channel is not None

    def change(ch: Channel) -> None:
        apply_settings(ch, snapshot.settings)
        ch.not_before = ctx.clock().isoformat()

    existing = {t.query.lower() for t in ctx.store.topics(request.channel)}
    new = [t for t in snapshot.topics if t.query.lower() not in existing]
    added = new[: max(0, MAX_TOPICS - len(existing))]
    # A mention names someone on the platform it was exported from: kept only where it
    # can ping (a Slack group means nothing on Discord); the alert itself is kept.
    here = [t.notify if t.notify and parts(t.notify, request.platform) else None for t in added]
    foreign = sum(1 for t, kept in zip(added, here, strict=True) if t.notify and kept is None)
    who = request.user_name or request.user_id
    rows = [(t.query, who, t.alert_upvotes, kept) for t, kept in zip(added, here, strict=True)]
    # The settings and every topic in one transaction: a failed import changes nothing.
    ctx.store.import_channel(channel.key, change, rows)
    skipped = len(snapshot.topics) - len(added)
    return Reply(
        text=f"Imported {count_of(len(snapshot.settings), 'setting')} and "
        f"{count_of(len(added), 'topic')}"
        + (f" ({skipped} already here or over the limit)" if skipped else "")
        + ". See `/papers status` and `/papers topics`."
        + (
            f" {count_of(foreign, 'alert mention')} left out: "
            "they name people on another platform (`subscribe ... --notify` adds one)."
            if foreign
            else ""
        ),
        ephemeral=False,
    )


@command(
    "pause",
    "pause",
    "stop the daily posts here",
    manages=True,
    form=Form("Stop the daily posts here"),
)
def pause(ctx: Context, request: Request) -> Reply:
    channel = ctx.channel_for(request)
    if channel is None or channel.paused:
        return Reply(text="Daily posts are not running here; nothing to pause.")

    def change(ch: Channel) -> None:
        ch.paused, ch.pause_reason = True, f"paused by {request.user_name or request.user_id}"

    ctx.store.update_channel(channel.key, change)
    return Reply(text="Daily posts paused. `/papers resume` starts them again.", ephemeral=False)


@command(
    "resume",
    "resume",
    "start the daily posts again",
    manages=True,
    starts_posts=True,
    form=Form("Start the daily posts again"),
)
def resume(ctx: Context, request: Request) -> Reply:
    channel = ctx.channel_for(request, create=True)
    assert channel is not None

    def change(ch: Channel) -> None:
        ch.paused, ch.pause_reason, ch.failures, ch.last_error = False, None, 0, None
        ch.retry_at = None
        ch.not_before = ctx.clock().isoformat()

    ctx.store.update_channel(channel.key, change)
    return Reply(text=f"Daily posts on: {channel.post_time} {channel.timezone}.", ephemeral=False)


@command(
    "feedback",
    "feedback up|down <paper id>",
    "tune this channel's ranking toward or away from a paper (the 👍/👎 buttons on a post)",
    options=[
        Word(
            "vote",
            "up or down",
            required=True,
            choices=(("up", "up"), ("down", "down")),
            strict=True,
            lower=True,
        ),
        Word("id", "The paper's id", param="ref", required=True),
    ],
    syntax_error="Say `feedback up <paper id>` or `feedback down <paper id>`.",
    syntax_usage=None,
    hidden=True,  # listed by help under the buttons that run it
    button_only=True,
)
def feedback(ctx: Context, request: Request, vote: str, ref: str) -> Reply:
    paper = find_paper(ctx, ref)
    value = 1 if vote == "up" else -1
    ctx.store.put_feedback(Feedback(request.channel, paper.id, request.user_id, value, utc_now()))
    taste = ctx.digests.taste_for(request.channel)
    mark = "👍" if value > 0 else "👎"
    return Reply(
        text=f"{mark} noted for {quoted(paper.title)}. This channel's ranking now: "
        f"{taste.describe(ctx.index.surface)}."
    )
