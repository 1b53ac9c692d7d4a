"""The scheduler with a controllable clock: due times across zones and DST, exactly once,
catch-up, failures, resume after a crash, alerts. No real waiting."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.models import Channel, Delivery
from bot.replies import Request
from bot.scheduler import Scheduler, owed_slot
from tests.fakes.recording import RecordingAdapter

T = datetime.fromisoformat


def enroll(
    bot,
    channel_id: str,
    time: str,
    zone: str = "UTC",
    since: str = "2026-06-11T12:00:00+00:00",
    **changes,
) -> Channel:
    """A channel enrolled at ``since`` (yesterday noon by default) with these settings."""
    bot.handle(Request(f"schedule {time} {zone}", channel_id=channel_id))
    key = f"console:local:{channel_id}"

    def change(ch: Channel) -> None:
        ch.not_before = since
        for name, value in changes.items():
            setattr(ch, name, value)

    return bot.store.update_channel(key, change)


@pytest.fixture
def adapter() -> RecordingAdapter:
    return RecordingAdapter()


@pytest.fixture
def sched(demo_bot, adapter) -> Scheduler:
    return Scheduler(demo_bot, {"console": adapter})


async def at(sched: Scheduler, clock, when: str) -> None:
    clock.now = T(when)
    await sched.run_once()


async def test_posts_once_at_its_time(demo_bot, sched, adapter, clock) -> None:
    enroll(demo_bot, "lab", "09:00", "Europe/Berlin")
    await at(sched, clock, "2026-06-12T06:59:00+00:00")  # 08:59 in Berlin
    assert adapter.posts == []
    await at(sched, clock, "2026-06-12T07:00:00+00:00")
    (post,) = adapter.posts
    assert post.reply.title == "Trending papers, 2026-06-12"
    assert [c.paper.upvotes for c in post.reply.cards] == [118, 103, 74, 25, 10]
    for minute in range(1, 30):
        await at(sched, clock, f"2026-06-12T07:{minute:02d}:00+00:00")
    assert len(adapter.posts) == 1
    channel = demo_bot.store.get_channel("console:local:lab")
    assert channel.last_post_date == "2026-06-12" and channel.last_post_at.startswith(
        "2026-06-12T07:00"
    )
    sent = demo_bot.store.deliveries("console:local:lab")
    assert {d.status for d in sent} == {"sent"} and {d.message_id for d in sent} == {"m1"}


@pytest.mark.parametrize(
    ("zone", "time", "day", "first_utc"),
    [
        ("Europe/Berlin", "09:00", "2026-03-29", "2026-03-29T07:00:00+00:00"),  # DST starts
        (
            "Europe/Berlin",
            "02:30",
            "2026-03-29",
            "2026-03-29T01:30:00+00:00",
        ),  # 02:30 does not exist
        (
            "Europe/Berlin",
            "02:30",
            "2026-10-25",
            "2026-10-25T00:30:00+00:00",
        ),  # 02:30 happens twice
        ("America/New_York", "09:00", "2026-11-01", "2026-11-01T14:00:00+00:00"),
        ("Asia/Kolkata", "09:00", "2026-06-12", "2026-06-12T03:30:00+00:00"),
        ("Australia/Lord_Howe", "09:00", "2026-10-04", "2026-10-03T22:00:00+00:00"),  # +11 in DST
        ("Australia/Lord_Howe", "09:00", "2026-04-05", "2026-04-04T22:30:00+00:00"),  # +10:30
    ],
)
def test_due_time_across_zones_and_dst(demo_bot, zone, time, day, first_utc) -> None:
    first = T(first_utc)
    channel = enroll(demo_bot, "z", time, zone, since=(first - timedelta(hours=12)).isoformat())
    assert owed_slot(channel, first - timedelta(seconds=1)) is None
    due = owed_slot(channel, first)
    assert due is not None and due.day.isoformat() == day and due.slot == first
    channel.last_post_date = day
    # Nothing more is owed that local day, even when a wall-clock hour repeats.
    for hours in (1, 2, 5):
        assert owed_slot(channel, first + timedelta(hours=hours)) is None


async def test_fall_back_posts_once(demo_bot, sched, adapter, clock) -> None:
    enroll(demo_bot, "lab", "02:30", "Europe/Berlin")
    for when in [
        "2026-10-25T00:30:00+00:00",
        "2026-10-25T01:30:00+00:00",
        "2026-10-25T02:30:00+00:00",
    ]:
        await at(sched, clock, when)
    assert len(adapter.posts) == 1


async def test_restart_after_post_time_posts_one_late_catch_up(demo_bot, adapter, clock) -> None:
    enroll(demo_bot, "lab", "09:00", since="2026-06-01T00:00:00+00:00", last_post_date="2026-06-09")
    # The bot was down for three posting days; it comes back at 14:00.
    sched = Scheduler(demo_bot, {"console": adapter})
    await at(sched, clock, "2026-06-12T14:00:00+00:00")
    (post,) = adapter.posts
    assert "late" in post.reply.title
    await at(sched, clock, "2026-06-12T14:01:00+00:00")
    await at(sched, clock, "2026-06-12T20:00:00+00:00")
    assert len(adapter.posts) == 1
    await at(sched, clock, "2026-06-13T09:00:00+00:00")  # the next day is on time again
    assert len(adapter.posts) == 2 and "late" not in (adapter.posts[1].reply.title or "")


async def test_catch_up_none_skips_missed_post(demo_bot, adapter, clock) -> None:
    demo_bot.config.scheduler.catch_up = "none"
    enroll(demo_bot, "lab", "09:00")
    sched = Scheduler(demo_bot, {"console": adapter})
    await at(sched, clock, "2026-06-12T14:00:00+00:00")
    assert adapter.posts == []
    assert demo_bot.store.get_channel("console:local:lab").last_post_date == "2026-06-12"


async def test_new_schedule_after_todays_time_waits_for_tomorrow(
    demo_bot, sched, adapter, clock
) -> None:
    clock.now = T("2026-06-12T15:00:00+00:00")
    demo_bot.handle(Request("schedule 09:00 UTC", channel_id="fresh"))
    await at(sched, clock, "2026-06-12T15:01:00+00:00")
    assert adapter.posts == []
    await at(sched, clock, "2026-06-13T09:00:00+00:00")
    assert len(adapter.posts) == 1


async def test_skip_weekends(demo_bot, sched, adapter, clock) -> None:
    enroll(demo_bot, "lab", "09:00", skip_weekends=True, last_post_date="2026-06-12")
    await at(sched, clock, "2026-06-13T09:00:00+00:00")  # Saturday
    await at(sched, clock, "2026-06-14T09:00:00+00:00")  # Sunday
    assert adapter.posts == []
    await at(sched, clock, "2026-06-15T09:00:00+00:00")  # Monday
    assert len(adapter.posts) == 1


async def test_paused_channel_gets_nothing(demo_bot, sched, adapter, clock) -> None:
    enroll(demo_bot, "lab", "09:00")
    demo_bot.handle(Request("pause", channel_id="lab"))
    await at(sched, clock, "2026-06-12T09:00:00+00:00")
    assert adapter.posts == []


async def test_empty_day_message_or_silence(demo_bot, sched, adapter, clock) -> None:
    enroll(demo_bot, "lab", "09:00", min_upvotes=1000)
    await at(sched, clock, "2026-06-12T09:00:00+00:00")
    (post,) = adapter.posts
    assert post.reply.text == "No new papers today (no new paper of 2026-06-12 has 1000+ upvotes)."
    demo_bot.config.bot.empty_day = "silent"
    await at(sched, clock, "2026-06-13T09:00:00+00:00")
    assert len(adapter.posts) == 1
    assert demo_bot.store.get_channel("console:local:lab").last_post_date == "2026-06-13"


async def test_each_paper_once_across_days(demo_bot, sched, adapter, clock) -> None:
    enroll(demo_bot, "lab", "09:00", max_papers=3)
    for day in (12, 13, 14, 15):
        await at(sched, clock, f"2026-06-{day}T09:00:00+00:00")
    papers = adapter.papers_to("console:local:lab")
    assert len(papers) == len(set(papers)) == 8  # the 8 papers of the latest list, then none
    assert adapter.posts[-1].reply.text.startswith("No new papers today (every paper")


async def test_failing_channel_does_not_hold_others_and_is_paused(demo_bot, adapter, clock) -> None:
    demo_bot.config.scheduler.max_failures = 3
    enroll(demo_bot, "gone", "09:00")
    enroll(demo_bot, "ok", "09:00")
    adapter.permanent["gone"] = "channel_not_found"
    sched = Scheduler(demo_bot, {"console": adapter})
    await at(sched, clock, "2026-06-12T09:00:00+00:00")
    assert [p.channel for p in adapter.posts] == ["console:local:ok"]
    gone = demo_bot.store.get_channel("console:local:gone")
    assert gone.failures == 1 and gone.last_error == "channel_not_found" and not gone.paused
    assert demo_bot.store.deliveries("console:local:gone") == []  # nothing half-recorded
    await at(sched, clock, "2026-06-12T09:01:00+00:00")  # backing off: not retried yet
    assert demo_bot.store.get_channel("console:local:gone").failures == 1
    clock_at = T("2026-06-12T09:00:00+00:00")
    for _ in range(2):
        clock_at += timedelta(hours=7)
        await at(sched, clock, clock_at.isoformat())
    gone = demo_bot.store.get_channel("console:local:gone")
    assert (
        gone.paused
        and "paused after 3 failed posts in a row: channel_not_found" in gone.pause_reason
    )
    status = demo_bot.handle(Request("status", channel_id="gone")).text
    assert ", paused after 3 failed posts" in status and "channel_not_found" in status
    del adapter.permanent["gone"]
    demo_bot.handle(Request("resume", channel_id="gone"))
    await at(sched, clock, "2026-06-13T09:00:00+00:00")
    assert adapter.to("console:local:gone")


async def test_transient_failure_mid_digest_resends_only_the_rest(demo_bot, adapter, clock) -> None:
    enroll(demo_bot, "lab", "09:00", max_papers=12)
    adapter.fail_on_message["lab"] = 2  # the second message of the digest fails
    sched = Scheduler(demo_bot, {"console": adapter})
    await at(sched, clock, "2026-06-12T09:00:00+00:00")
    first = adapter.papers_to("console:local:lab")
    assert len(first) == 5
    assert {d.paper_id for d in demo_bot.store.deliveries("console:local:lab")} == set(first)
    del adapter.fail_on_message["lab"]
    await at(sched, clock, "2026-06-12T09:06:00+00:00")
    everything = adapter.papers_to("console:local:lab")
    assert len(everything) == len(set(everything)) == 8  # no gap, no repeat


async def test_crash_between_messages_resumes_without_gap_or_repeat(
    demo_bot, adapter, clock
) -> None:
    enroll(demo_bot, "lab", "09:00", max_papers=8)
    key = "console:local:lab"
    clock.now = T("2026-06-12T09:00:00+00:00")
    sched = Scheduler(demo_bot, {"console": adapter})
    ((_due, digest),) = sched.plan()
    ids = [c.paper.id for c in digest.cards]
    # What a crash after the first message leaves: 5 sent, 3 still pending.
    demo_bot.store.record_deliveries(
        [Delivery(key, pid, "t", "sent", "m0", "2026-06-12") for pid in ids[:5]]
        + [Delivery(key, pid, "t", "pending", None, "2026-06-12") for pid in ids[5:]]
    )
    restarted = Scheduler(demo_bot, {"console": adapter})
    await at(restarted, clock, "2026-06-12T09:02:00+00:00")
    (post,) = adapter.posts
    assert post.paper_ids == ids[5:] and "resumed" in post.reply.title
    assert demo_bot.store.pending_deliveries() == []
    assert demo_bot.store.get_channel(key).last_post_date == "2026-06-12"
    await at(restarted, clock, "2026-06-12T10:00:00+00:00")
    assert len(adapter.posts) == 1


async def test_stop_during_a_post_leaves_it_to_resume(demo_bot, clock) -> None:
    slow = RecordingAdapter(delay=30)
    enroll(demo_bot, "lab", "09:00")
    clock.now = T("2026-06-12T09:00:00+00:00")
    sched = Scheduler(demo_bot, {"console": slow})
    tasks = await sched.tick()
    await slow.started.wait()
    await sched.drain(grace=0.01)  # what SIGTERM does after its grace period
    assert all(t.done() for t in tasks) and slow.posts == []
    assert len(demo_bot.store.pending_deliveries()) == 5
    fast = RecordingAdapter()
    await Scheduler(demo_bot, {"console": fast}).run_once()
    assert len(fast.papers_to("console:local:lab")) == 5 and "resumed" in fast.posts[0].reply.title


async def test_topic_alert_posts_once_when_threshold_reached(
    demo_bot, sched, adapter, clock
) -> None:
    enroll(demo_bot, "lab", "23:00", since="2026-06-12T00:00:00+00:00")
    reply = demo_bot.handle(Request('subscribe "sparse attention" --alert 100', channel_id="lab"))
    assert "100+ upvotes" in reply.text
    assert "alert at 100+ upvotes" in demo_bot.handle(Request("topics", channel_id="lab")).text
    await at(sched, clock, "2026-06-12T10:00:00+00:00")
    (alert,) = adapter.posts
    assert alert.reply.title.startswith("🔔 Topic alert") and alert.paper_ids == ["2606.13392"]
    assert alert.reply.cards[0].topic == '"sparse attention"'
    await at(sched, clock, "2026-06-12T10:01:00+00:00")
    assert len(adapter.posts) == 1
    await at(sched, clock, "2026-06-12T23:00:00+00:00")  # the daily post does not repeat it
    assert "2606.13392" not in adapter.posts[-1].paper_ids


async def test_ingest_runs_at_start_and_daily(demo_bot, adapter, clock) -> None:
    calls: list[datetime] = []

    async def ingest() -> None:
        calls.append(clock.now)

    sched = Scheduler(demo_bot, {"console": adapter}, ingest=ingest)
    await at(sched, clock, "2026-06-12T03:00:00+00:00")  # start-up: today's is missing
    await at(sched, clock, "2026-06-12T05:00:00+00:00")
    assert len(calls) == 1
    # The start-up one came before the day's list: the scheduled one (06:00 UTC) runs too.
    await at(sched, clock, "2026-06-12T07:00:00+00:00")
    await at(sched, clock, "2026-06-12T08:00:00+00:00")
    await at(sched, clock, "2026-06-13T05:59:00+00:00")
    assert len(calls) == 2
    await at(sched, clock, "2026-06-13T06:00:00+00:00")  # scheduler.ingest_time
    assert [c.isoformat() for c in calls][1:] == [
        "2026-06-12T07:00:00+00:00",
        "2026-06-13T06:00:00+00:00",
    ]


async def test_a_restart_soon_after_an_ingest_does_not_ingest_again(
    demo_bot, adapter, clock
) -> None:
    calls: list[datetime] = []

    async def ingest() -> None:
        calls.append(clock.now)

    def restarted() -> Scheduler:  # a new process: its first tick is the start-up one
        return Scheduler(demo_bot, {"console": adapter}, ingest=ingest)

    await at(restarted(), clock, "2026-06-12T03:00:00+00:00")  # start-up: today's is missing
    await at(restarted(), clock, "2026-06-12T03:40:00+00:00")  # within the hour: skipped
    assert len(calls) == 1
    await at(restarted(), clock, "2026-06-12T04:01:00+00:00")  # an hour on: once more
    assert [c.isoformat() for c in calls] == [
        "2026-06-12T03:00:00+00:00",
        "2026-06-12T04:01:00+00:00",
    ]
    await at(restarted(), clock, "2026-06-12T06:00:00+00:00")  # the scheduled one runs
    assert len(calls) == 3


async def test_slow_ingest_holds_posts_for_a_grace_period_only(
    demo_bot, adapter, clock, monkeypatch
) -> None:
    import bot.scheduler.ingest_timing as ingest_timing

    monkeypatch.setattr(ingest_timing, "INGEST_GRACE", 0.05)  # a setting, not our logic
    release = asyncio.Event()

    async def hanging_ingest() -> None:
        await release.wait()

    enroll(demo_bot, "lab", "09:00")
    clock.now = T("2026-06-12T09:00:00+00:00")
    sched = Scheduler(demo_bot, {"console": adapter}, ingest=hanging_ingest)
    tasks = await sched.tick()
    await asyncio.gather(*[t for t in tasks if t is not sched.ingest_task])
    assert len(adapter.posts) == 1  # posted while the ingest still hangs
    assert await sched.tick() == []  # no second ingest while one runs, nothing else due
    release.set()
    await sched.ingest_task


async def test_failed_ingest_does_not_stop_posts(demo_bot, adapter, clock) -> None:
    async def broken() -> None:
        raise RuntimeError("upstream down")

    enroll(demo_bot, "lab", "09:00")
    sched = Scheduler(demo_bot, {"console": adapter}, ingest=broken)
    await at(sched, clock, "2026-06-12T09:00:00+00:00")
    assert len(adapter.posts) == 1
    assert demo_bot.store.get_meta("ingest_retry_at") == "2026-06-12T09:30:00+00:00"


def test_now_is_aware(clock) -> None:
    assert clock().tzinfo is UTC


async def test_old_delivery_records_are_pruned_daily(demo_bot, sched, clock) -> None:
    # Enrolled this morning, so no (late) post is owed: its delivery records would land
    # while the prune runs, depending on which worker thread finishes first.
    key = enroll(demo_bot, "lab", "23:00", since="2026-06-12T08:00:00+00:00").key
    demo_bot.store.record_deliveries(
        [
            Delivery(key, "old", "2025-11-01T09:00:00+00:00"),
            Delivery(key, "recent", "2026-06-01T09:00:00+00:00"),
            Delivery(key, "stuck", "2025-11-01T09:00:00+00:00", status="pending"),
        ]
    )
    await at(sched, clock, "2026-06-12T09:00:00+00:00")
    assert {d.paper_id for d in demo_bot.store.deliveries(key)} == {"recent"}
    # "stuck" was pending for a paper no longer in the corpus: dropped, not retried forever.


async def test_back_before_todays_time_posts_yesterdays_late(demo_bot, adapter, clock) -> None:
    enroll(demo_bot, "lab", "09:00", since="2026-06-01T00:00:00+00:00", last_post_date="2026-06-10")
    sched = Scheduler(demo_bot, {"console": adapter})
    await at(sched, clock, "2026-06-12T07:00:00+00:00")  # missed 06-11's post; 06-12's is ahead
    (late,) = adapter.posts
    assert "late" in late.reply.title
    assert demo_bot.store.get_channel("console:local:lab").last_post_date == "2026-06-11"
    await at(sched, clock, "2026-06-12T09:00:00+00:00")
    assert len(adapter.posts) == 2 and "late" not in adapter.posts[1].reply.title


async def test_catch_up_all_posts_each_missed_day_oldest_first(demo_bot, adapter, clock) -> None:
    demo_bot.config.scheduler.catch_up = "all"
    enroll(demo_bot, "lab", "09:00", since="2026-06-01T00:00:00+00:00", last_post_date="2026-06-09")
    sched = Scheduler(demo_bot, {"console": adapter})
    for minute in range(4):
        await at(sched, clock, f"2026-06-12T14:0{minute}:00+00:00")
    assert len(adapter.posts) == 3  # 06-10, 06-11 and 06-12, one per tick
    first, second, third = (p.reply for p in adapter.posts)
    assert first.title == "Trending papers, 2026-05-08 (late: the bot was offline at post time)"
    assert second.text.startswith(
        "No new papers since the bot went offline (every paper of 2026-05-08"
    )
    assert third.title.startswith("Trending papers, 2026-06-12 (late")
    assert demo_bot.store.get_channel("console:local:lab").last_post_date == "2026-06-12"
    ids = adapter.papers_to("console:local:lab")
    assert len(ids) == len(set(ids))  # still each paper once


async def test_two_alert_topics_matching_one_paper_post_it_once(
    demo_bot, sched, adapter, clock
) -> None:
    enroll(demo_bot, "lab", "23:00", since="2026-06-12T00:00:00+00:00")
    demo_bot.handle(Request('subscribe "sparse attention" --alert 100', channel_id="lab"))
    demo_bot.handle(Request("subscribe minimax --alert 50", channel_id="lab"))
    await at(sched, clock, "2026-06-12T10:00:00+00:00")
    (alert,) = adapter.posts
    assert alert.paper_ids == ["2606.13392"]


async def test_failed_alert_is_retried_after_backoff(demo_bot, adapter, clock) -> None:
    enroll(demo_bot, "lab", "23:00", since="2026-06-12T00:00:00+00:00")
    demo_bot.handle(Request('subscribe "sparse attention" --alert 100', channel_id="lab"))
    adapter.transient["lab"] = "server error 500"
    sched = Scheduler(demo_bot, {"console": adapter})
    await at(sched, clock, "2026-06-12T10:00:00+00:00")
    assert adapter.posts == [] and demo_bot.store.deliveries() == []
    del adapter.transient["lab"]
    await at(sched, clock, "2026-06-12T10:01:00+00:00")  # still backing off
    assert adapter.posts == []
    await at(sched, clock, "2026-06-12T10:06:00+00:00")
    (alert,) = adapter.posts
    assert alert.paper_ids == ["2606.13392"]


async def test_resume_after_pause_clears_the_backoff(demo_bot, adapter, clock) -> None:
    demo_bot.config.scheduler.max_failures = 1
    enroll(demo_bot, "lab", "09:00")
    adapter.permanent["lab"] = "not_in_channel"
    sched = Scheduler(demo_bot, {"console": adapter})
    await at(sched, clock, "2026-06-12T09:00:00+00:00")
    channel = demo_bot.store.get_channel("console:local:lab")
    assert channel.paused and channel.retry_at
    del adapter.permanent["lab"]
    demo_bot.handle(Request("resume", channel_id="lab"))
    assert demo_bot.store.get_channel("console:local:lab").retry_at is None
    await at(sched, clock, "2026-06-13T09:00:00+00:00")
    assert len(adapter.posts) == 1


async def test_group_commit_writes_many_posts_in_few_state_writes(demo_bot, adapter, clock) -> None:
    channels = [
        Channel("console", "local", f"c{n}", not_before="2026-06-11T12:00:00+00:00")
        for n in range(200)
    ]
    demo_bot.store.save_channels(channels)
    sched = Scheduler(demo_bot, {"console": adapter})
    before = demo_bot.store.state_storage.writes
    await at(sched, clock, "2026-06-12T09:00:00+00:00")
    assert len(adapter.posts) == 200
    writes = demo_bot.store.state_storage.writes - before
    assert writes < 20, writes  # one write per post would be 400 (intent + done)
    assert {d.status for d in demo_bot.store.deliveries()} == {"sent"}


# ---- platforms that connect late or go away ------------------------------------------------


async def test_a_detached_platform_waits_without_failing_and_posts_once_attached(
    demo_bot, adapter, clock
) -> None:
    enroll(demo_bot, "lab", "09:00")
    sched = Scheduler(demo_bot, {"console": adapter})
    sched.detach("console")  # as if its adapter had not connected yet
    for when in ("09:00", "09:05", "09:40"):
        await at(sched, clock, f"2026-06-12T{when}:00+00:00")
    assert adapter.posts == []
    channel = demo_bot.store.get_channel("console:local:lab")
    assert channel.failures == 0 and channel.last_error is None and channel.retry_at is None
    assert channel.last_post_date is None and demo_bot.store.deliveries(channel.key) == []
    sched.attach("console", adapter)
    await at(sched, clock, "2026-06-12T09:41:00+00:00")
    (post,) = adapter.posts
    assert (
        post.reply.title == "Trending papers, 2026-06-12 (late: the bot was offline at post time)"
    )
    await at(sched, clock, "2026-06-12T09:42:00+00:00")
    assert len(adapter.posts) == 1


async def test_a_platform_attached_after_start_gets_its_posts(demo_bot, adapter, clock) -> None:
    enroll(demo_bot, "lab", "09:00")
    sched = Scheduler(demo_bot, {})  # no platform connected at start-up
    await at(sched, clock, "2026-06-12T09:00:00+00:00")
    sched.attach("console", adapter)
    await at(sched, clock, "2026-06-12T09:01:00+00:00")
    (post,) = adapter.posts
    assert post.reply.title == "Trending papers, 2026-06-12"
    assert demo_bot.store.get_channel("console:local:lab").last_post_date == "2026-06-12"


async def test_detach_mid_post_leaves_the_rest_for_later_without_a_failure(demo_bot, clock) -> None:
    enroll(demo_bot, "lab", "09:00", max_papers=8)  # two messages: 5 cards, then 3
    slow = RecordingAdapter(delay=0.05)
    clock.now = T("2026-06-12T09:00:00+00:00")
    sched = Scheduler(demo_bot, {"console": slow})
    tasks = await sched.tick()
    await slow.started.wait()
    sched.detach("console")  # the first message is on its way; the second is not sent
    await asyncio.gather(*tasks)
    first = slow.papers_to("console:local:lab")
    assert len(first) == 5
    channel = demo_bot.store.get_channel("console:local:lab")
    assert channel.failures == 0 and channel.last_error is None and not channel.last_post_date
    assert demo_bot.store.pending_deliveries() == []
    fast = RecordingAdapter()
    sched.attach("console", fast)
    await at(sched, clock, "2026-06-12T09:01:00+00:00")
    rest = fast.papers_to("console:local:lab")
    assert len(rest) == 3 and not set(rest) & set(first)  # no gap, no repeat
    assert demo_bot.store.get_channel("console:local:lab").last_post_date == "2026-06-12"


async def test_topic_alert_of_a_platform_attached_late_is_posted(demo_bot, adapter, clock) -> None:
    enroll(demo_bot, "lab", "23:00", since="2026-06-12T00:00:00+00:00")
    demo_bot.handle(Request('subscribe "sparse attention" --alert 100', channel_id="lab"))
    sched = Scheduler(demo_bot, {})
    await at(sched, clock, "2026-06-12T10:00:00+00:00")  # alerts looked at: console is away
    sched.attach("console", adapter)  # nothing else changed: the attach alone looks again
    await at(sched, clock, "2026-06-12T10:01:00+00:00")
    (alert,) = adapter.posts
    assert alert.reply.title.startswith("🔔 Topic alert") and alert.paper_ids == ["2606.13392"]


async def test_planning_and_pruning_run_off_the_event_loop(
    demo_bot, sched, adapter, clock, monkeypatch
) -> None:
    """Issue 13: what grows with the channel count (reading every channel and its delivery
    history, building digests, the daily prune) runs in a worker thread, so a command sent
    meanwhile is answered; the post itself is the same."""
    import threading

    from bot.scheduler import loop

    threads: dict[str, object] = {}

    def spy(name, real):
        def run(*args, **kwargs):
            threads[name] = threading.current_thread()
            return real(*args, **kwargs)

        return run

    for name in ("owed_channels", "plan_digests", "prune_daily"):
        monkeypatch.setattr(loop, name, spy(name, getattr(loop, name)))
    enroll(demo_bot, "lab", "09:00")
    await at(sched, clock, "2026-06-12T09:00:00+00:00")
    assert set(threads) == {"owed_channels", "plan_digests", "prune_daily"}
    assert threading.main_thread() not in threads.values()
    (post,) = adapter.posts
    assert [c.paper.upvotes for c in post.reply.cards] == [118, 103, 74, 25, 10]


@pytest.mark.parametrize("summary", ["off", "long"])
async def test_a_scheduled_post_shows_the_summary_the_channel_set(
    demo_bot, sched, adapter, clock, summary
) -> None:
    """``set summary`` changes scheduled posts, not only the ``digest`` preview."""
    enroll(demo_bot, "lab", "09:00", "Europe/Berlin", summary=summary)
    await at(sched, clock, "2026-06-12T07:00:00+00:00")
    (post,) = adapter.posts
    assert post.reply.cards and {c.summary for c in post.reply.cards} == {summary}
    preview = demo_bot.handle(Request("digest", channel_id="lab"))
    assert preview.cards and {c.summary for c in preview.cards} == {summary}  # as the preview
