"""The words of scheduled posts (titles, notes, why a digest is empty) and of delivery
problems, made from facts.

The scheduler decides *what* happens (a post is late, a channel failed in this way, an
alert fired at this threshold) and passes those facts here; this module alone decides how
they read. Keeping the words out of the scheduler means rewording a title, translating
the bot or changing how ``/papers status`` explains a failure touches this file only.
"""

from __future__ import annotations

DAILY_NAME = "Trending papers"
WEEKLY_NAME = "Top papers of the week"
ALERT_NAME = "🔔 Topic alert"
LATE_NOTE = " (late: the bot was offline at post time)"


def digest_title(day: str | None, start: str | None = None) -> str:
    """A digest's title: the trending ``day``, or a weekly digest's ``start`` to ``day``."""
    if start:
        return f"{WEEKLY_NAME}, {start} to {day}"
    return f"{DAILY_NAME}, {day}"


def post_title(title: str, *, late: bool = False) -> str:
    """``title`` as posted: with a note when the post comes late after downtime."""
    return title + LATE_NOTE if late else title


def continued_title(title: str, part: int) -> str:
    """The title of message ``part`` (from 0) of a post split into several messages."""
    return title if part == 0 else f"{title} (continued)"


def resumed_title(kind: str, day: str) -> str:
    """The title of papers re-posted after a restart cut their post short."""
    name = {"weekly": WEEKLY_NAME, "alert": ALERT_NAME}.get(kind, DAILY_NAME)
    return f"{name}, {day} (resumed after a restart)"


def alert_title(count: int, threshold: int) -> str:
    """A topic alert's title: ``count`` papers reached the lowest ``threshold`` that fired."""
    return f"{ALERT_NAME}: {count} paper(s) reached {threshold}+ upvotes"


def thread_headline(count: int) -> str:
    """The text of the message a thread-mode post hangs its ``count`` papers under."""
    return f"{count} papers, one per reply in this thread."


# Why a digest is empty (``Digest.reason``); ``label`` is its day, or a week's "A to B".
NOTHING_FETCHED = "no trending papers have been fetched yet"


def no_topic_match(count: int, label: str) -> str:
    return f"none of the {count} papers of {label} matched this channel's topics"


def all_posted(label: str) -> str:
    return f"every paper of {label} was already posted here"


def below_min_upvotes(label: str, min_upvotes: int) -> str:
    return f"no new paper of {label} has {min_upvotes}+ upvotes"


def no_papers(label: str) -> str:
    return f"no papers for {label}"


def no_new_papers(reason: str | None, *, late: bool = False) -> str:
    """An empty post's text: why nothing is new, since today or since the bot went offline."""
    when = "since the bot went offline" if late else "today"
    return f"No new papers {when} ({reason})."


# Why a post failed, as ``/papers status`` shows it (kept in the channel's ``last_error``).
# The keys are :class:`bot.scheduler.failures.FailureKind` values; ``{detail}`` is the
# error's own one-line description, ``{detail}`` of "no_answer" the seconds waited.
FAILURE_REASONS = {
    "unplannable": "could not plan the post: {detail}",
    "raised": "could not post: {detail}",
    "refused": "{detail}",
    "unreachable": "{detail}",
    "no_answer": "no answer in {detail} s",
    "detached": "{detail} is not connected",
}


def failure_reason(kind: str, detail: str) -> str:
    """Why a post failed, in one line a channel can read."""
    return FAILURE_REASONS[kind].format(detail=detail)


def pause_reason(failures: int, why: str) -> str:
    """Why the scheduler paused a channel (shown in ``/papers status``)."""
    return f"paused after {failures} failed posts in a row: {why}"


# What the people who set a channel up hear when its posts stop and start again
# (:mod:`bot.scheduler.notices`): once each, by direct message or in the channel.


def channel_link(channel_id: str) -> str:
    """A link to a channel inside a notice: Slack and Discord both write it ``<#id>``."""
    return f"<#{channel_id}>"


def pause_notice(where: str, reason: str) -> str:
    """The notice sent when repeated failures pause ``where``'s posts (``reason``: the
    channel's ``pause_reason``, as ``/papers status`` shows it)."""
    return (
        f"papers-bot has stopped posting in {where}: {reason}. Once that is fixed, run "
        "`/papers resume` in that channel to start the posts again (`/papers status` "
        "there shows the last error)."
    )


def recovery_notice(where: str) -> str:
    """The notice sent after the first post that went out since such a pause."""
    return f"papers-bot is posting in {where} again: the last post went out."


MENTION_NAMES = {"group": "that user group", "role": "that role", "user": "that person"}


def mention_name(neutral: str) -> str:
    """How a reply names who ``--notify`` mentions, without mentioning them."""
    return MENTION_NAMES.get(neutral.partition(":")[0], "them")


def folded_alert_title(count: int, threshold: int) -> str:
    """The title of the one message an alert burst over the hourly cap ends with."""
    return f"{ALERT_NAME}: {count} more paper(s) reached {threshold}+ upvotes"


def folded_alert_line(title: str, upvotes: int | None, url: str) -> str:
    """One paper in that message: its title, upvotes and link."""
    votes = f" (▲ {upvotes:,})" if upvotes is not None else ""
    return f"• {title}{votes} {url}"


def folded_alert_rest(count: int) -> str:
    """The last line when even the list would not fit one message."""
    return f"…and {count} more, in a later alert or the next daily post."


def folded_alert_note(cap: int) -> str:
    """Why the list is not cards: the channel's hourly alert cap."""
    return (
        f"This channel gets at most {cap} alert messages an hour "
        "(`scheduler.max_alerts_per_hour`), so the rest come as one list:"
    )


SUMMARY_NAMES = {"short": "short summaries", "long": "long summaries", "off": "no summaries"}
"""How ``/papers status`` names a channel's ``summary`` setting."""

SUMMARY_WORDS = {
    "short": "Cards show a short summary (a sentence or two).",
    "long": "Cards show a longer summary (a paragraph).",
    "off": "Cards show no summary: titles, upvotes and authors only.",
}


def summary_set(mode: str) -> str:
    """The answer to ``set summary <mode>``."""
    return SUMMARY_WORDS[mode]


IMPORT_EXPECTS = (
    "Cannot import: that is not a snippet from `/papers export`. Run `/papers export` in "
    "the channel to copy from and paste all it shows: a `[channel]` table "
    '(`post_time = "09:00"`, `timezone = "Europe/Berlin"`, ...) and the `[[topics]]`, '
    "or its one-line form."
)
"""The answer to an ``import`` whose snippet is not a settings snippet at all."""
