"""Which channels are owed a post now, and what each post carries.

A channel is owed its most recent slot (its local post time on a day it posts) when that
slot has passed, is not before the channel's ``not_before`` and is after its
``last_post_date`` (``last_weekly_date`` for the weekly digest). Nothing lives only in
memory, so after a restart the plan catches up (one late post, not one per missed day)
instead of forgetting. Planning is pure computation over one snapshot of the state; a
channel whose plan raises is reported as that channel's failure, never everyone's. Its two
halves (:func:`owed_channels`, :func:`plan_digests`) read every channel and every
channel's history, so the scheduler runs them in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.digest import Digest, DigestBuilder
from bot.feedback import Taste, learn
from bot.models import Channel, Feedback
from bot.scheduler.core import SchedulerCore
from bot.scheduler.failures import Failure, backing_off, unplannable
from bot.slots import post_slot

LATE_AFTER = timedelta(minutes=15)


@dataclass(slots=True)
class Due:
    """A channel owed a post for its local ``day``; ``late`` when the slot is long past."""

    channel: Channel
    day: date
    slot: datetime
    late: bool
    weekly: bool = False

    @property
    def kind(self) -> str:
        return "weekly" if self.weekly else "digest"


Plan = list[tuple[Due, Digest]]


def owed_slot(channel: Channel, now: datetime, catch_up: str = "one") -> Due | None:
    """The daily post ``channel`` is owed at ``now``, if any (see the module docstring).

    After downtime that is the most recent missed day (``catch_up="one"``), or with
    ``"all"`` the oldest missed day of the last week, so each missed day gets its post.
    """
    if channel.paused or not channel.daily or backing_off(channel, now):
        return None
    today = now.astimezone(ZoneInfo(channel.timezone)).date()
    owed: list[Due] = []
    for back in range(8):
        day = today - timedelta(days=back)
        if channel.skip_weekends and day.weekday() >= 5:
            continue
        slot = post_slot(channel, day)
        if slot > now:
            continue  # today's slot is still ahead: yesterday's may be owed
        due = _owed(channel, day, slot, channel.last_post_date, now)
        if due is None:
            break  # posted (or before the channel existed): so is every day before it
        owed.append(due)
        if catch_up != "all":
            break
    return owed[-1] if owed else None


def owed_weekly(channel: Channel, now: datetime) -> Due | None:
    """The weekly digest ``channel`` is owed at ``now``, if it has one."""
    if channel.paused or channel.weekly_day is None or backing_off(channel, now):
        return None
    today = now.astimezone(ZoneInfo(channel.timezone)).date()
    for back in range(8):
        day = today - timedelta(days=back)
        if day.weekday() != channel.weekly_day:
            continue
        slot = post_slot(channel, day, channel.weekly_time)
        if slot > now:
            continue
        due = _owed(channel, day, slot, channel.last_weekly_date, now)
        return None if due is None else Due(channel, day, slot, due.late, weekly=True)
    return None


def _owed(
    channel: Channel, day: date, slot: datetime, last: str | None, now: datetime
) -> Due | None:
    if last and last >= day.isoformat():
        return None
    if channel.not_before and slot < datetime.fromisoformat(channel.not_before):
        return None
    return Due(channel, day, slot, late=now - slot > LATE_AFTER)


Owed = list[tuple[Channel, list[Due]]]


def plan(
    core: SchedulerCore,
    now: datetime,
    *,
    eligible: Callable[[Channel], bool],
    digests: DigestBuilder | None = None,
) -> tuple[Plan, dict[str, Failure]]:
    """Every ``eligible`` channel owed a post at ``now`` with its digest, and the channels
    whose planning raised (a corrupt record must not cost every other channel its post).

    All in the calling thread; the scheduler's tick runs the two halves
    (:func:`owed_channels`, :func:`plan_digests`) in a worker thread instead."""
    owed, failed = owed_channels(core, now, eligible=eligible)
    if not owed:  # the usual tick: nobody is due, so load nothing else
        return [], failed
    core.index.sync(core.store)
    return plan_digests(core, owed, failed, digests or core.digests), failed


def owed_channels(
    core: SchedulerCore,
    now: datetime,
    *,
    eligible: Callable[[Channel], bool],
    channels: Iterable[Channel] | None = None,
) -> tuple[Owed, dict[str, Failure]]:
    """The ``eligible`` channels owed a post at ``now`` (one read of every channel, unless
    ``channels`` are given), and those whose record could not be planned. Thread-safe:
    reads the state database only."""
    owed: Owed = []
    failed: dict[str, Failure] = {}
    for channel in core.store.channels() if channels is None else channels:
        if not eligible(channel):
            continue
        try:
            daily = owed_slot(channel, now, core.config.scheduler.catch_up)
            dues = [d for d in (daily, owed_weekly(channel, now)) if d]
        except Exception as exc:
            failed[channel.key] = unplannable(channel.key, exc)
            continue
        if dues:
            owed.append((channel, dues))
    return owed, failed


def plan_digests(
    core: SchedulerCore, owed: Owed, failed: dict[str, Failure], digests: DigestBuilder
) -> Plan:
    """Each owed channel's digest; a channel whose digest raises goes into ``failed``.

    Reads every channel's delivery history, so it runs in a worker thread during a tick:
    ``digests`` must be a builder no other thread uses at the same time (its caches are
    plain dicts), and the search index must be synced beforehand (a rebuild is a writer).
    """
    with digests.pinned():  # one revision for the candidates and every digest
        return _plan_digests(core, owed, failed, digests)


def _plan_digests(
    core: SchedulerCore, owed: Owed, failed: dict[str, Failure], digests: DigestBuilder
) -> Plan:
    store = core.store
    topics = store.topics_by_channel()
    # What channels already had, among the papers these posts may carry only: reading
    # every channel's whole history into Python took seconds at 10,000 channels.
    daily_ids, weekly_ids = candidate_ids(digests, owed)
    delivered = store.delivered_by_channel(among=daily_ids)
    delivered_weekly: dict[str, set[str]] | None = None
    votes: dict[str, list[Feedback]] = {}
    for vote in store.feedback():
        votes.setdefault(vote.channel, []).append(vote)
    no_taste = Taste()
    planned: Plan = []
    for channel, dues in owed:
        try:
            taste = (
                learn(votes[channel.key], store.get_paper, core.index.feedback_terms)
                if channel.key in votes
                else no_taste
            )
            mine = []
            for due in dues:
                if due.weekly and delivered_weekly is None:
                    delivered_weekly = store.delivered_by_channel(weekly=True, among=weekly_ids)
                had = (delivered_weekly if due.weekly else delivered) or {}
                digest = digests.build(
                    channel,
                    due.day.isoformat(),
                    topics=topics.get(channel.key, []),
                    delivered=had.get(channel.key, set()),
                    taste=taste,
                    weekly=due.weekly,
                )
                mine.append((due, digest))
        except Exception as exc:
            failed[channel.key] = unplannable(channel.key, exc)
            continue
        planned += mine
    return planned


def candidate_ids(digests: DigestBuilder, owed: Owed) -> tuple[set[str], set[str]]:
    """The ids of every paper the owed daily posts, and weekly recaps, may carry: those
    listed on the day each post draws from (the latest trending day on or before its
    date), and the six before it for a recap."""
    daily: set[str] = set()
    weekly: set[str] = set()
    for _channel, dues in owed:
        for due in dues:
            day = digests.latest_day(due.day.isoformat())
            if day is None:
                continue
            if not due.weekly:
                daily.add(day)
                continue
            last = date.fromisoformat(day)
            weekly.update((last - timedelta(days=n)).isoformat() for n in range(7))
    return (
        {p.id for d in daily for p in digests.papers_on(d)},
        {p.id for d in weekly for p in digests.papers_on(d)},
    )
