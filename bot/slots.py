"""A channel's post times: when its daily post falls on a given day, and when it comes next.

Wall times are in the channel's IANA zone. Correct across DST: a wall time that does not
exist (spring forward) is read with the offset before the gap, so 02:30 becomes 03:30;
one that exists twice (fall back) is its first occurrence.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import parse_hhmm
from bot.models import Channel


def post_slot(channel: Channel, day: date, time: str | None = None) -> datetime:
    """The channel's post time (or ``time``) on local ``day``, as an aware UTC datetime."""
    zone = ZoneInfo(channel.timezone)
    hour, minute = parse_hhmm(time or channel.post_time)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)


def next_post_at(channel: Channel, now: datetime) -> datetime:
    """When ``channel`` posts next, as an aware UTC datetime.

    Today's slot if it is still owed (even if its time has passed: then the post is due
    now), else the next day's slot that is not a skipped weekend day.
    """
    zone = ZoneInfo(channel.timezone)
    not_before = datetime.fromisoformat(channel.not_before) if channel.not_before else None
    day = now.astimezone(zone).date()
    for _ in range(9):
        slot = post_slot(channel, day)
        skipped = channel.skip_weekends and day.weekday() >= 5
        too_early = not_before is not None and slot < not_before
        if not skipped and not too_early and channel.last_post_date != day.isoformat():
            return slot
        day += timedelta(days=1)
    raise AssertionError("unreachable: a week always has a day to post")
