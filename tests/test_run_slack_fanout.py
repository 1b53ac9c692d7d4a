"""End to end: the scheduler posting 1,000 subscribed channels' digests through the real
Slack adapter to a local fake Slack Web API. Each channel gets exactly its digest, as
valid Block Kit, once; one broken channel does not disturb the rest."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from adapters.slack import SlackAdapter
from bot.config import Config, Secrets
from bot.models import Channel
from bot.scheduler import Scheduler
from tests.fakes.slack_api import FakeSlack, block_kit_problems

TEAM = "T0TEST"
TOKEN = "xoxb-test-token-not-real"
TOPICS = ["agents", '"sparse attention"', "multimodal", "search -agents", None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def due_slack_channels(count: int, not_before: str) -> list[Channel]:
    """``count`` Slack channels C0000, C0001, ... of TEAM, all due at 09:00 UTC from
    ``not_before``, asking for 3, 4 or 5 papers in turn (so digests differ in length)."""
    return [
        Channel(
            "slack",
            TEAM,
            f"C{n:04d}",
            post_time="09:00",
            not_before=not_before,
            max_papers=3 + n % 3,
        )
        for n in range(count)
    ]


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(token=TOKEN, team_id=TEAM) as server:
        yield server


async def test_thousand_channels_each_get_exactly_their_digest(
    demo_bot, config: Config, fake, clock
) -> None:
    config.slack.enabled, config.slack.mode = True, "http"
    config.slack.host, config.slack.port = "127.0.0.1", free_port()
    config.slack.api_base_url = fake.base_url
    config.secrets = Secrets(slack_bot_token=TOKEN, slack_signing_secret="s3cret")
    store = demo_bot.store
    channels = due_slack_channels(1000, not_before="2026-06-12T00:00:00+00:00")
    store.save_channels(channels)
    store.add_topics(
        (ch.key, topic, "U1") for n, ch in enumerate(channels) if (topic := TOPICS[n % len(TOPICS)])
    )
    fake.channel_errors["C0007"] = "channel_not_found"

    clock.now = datetime(2026, 6, 12, 9, 0, tzinfo=UTC)
    adapter = SlackAdapter(demo_bot, config)
    await adapter.start()
    try:
        sched = Scheduler(demo_bot, {"slack": adapter})
        expected = {
            due.channel.channel_id: [c.paper.id for c in d.cards] for due, d in sched.plan()
        }
        assert len(expected) == 1000
        started = time.perf_counter()
        await sched.run_once()
        elapsed = time.perf_counter() - started
    finally:
        await adapter.stop()

    print(
        f"\n1,000 channels posted in {elapsed:.2f} s ({len(fake.posts) / elapsed:.0f} messages/s)"
    )
    by_channel: dict[str, list] = {}
    for post in fake.posts:
        by_channel.setdefault(post.channel, []).append(post)
    assert set(by_channel) == set(expected) - {"C0007"}
    for channel_id, posts in by_channel.items():
        (post,) = posts  # exactly one message each (at most 5 cards fit one)
        assert block_kit_problems(post.blocks) == []
        if expected[channel_id]:
            posted_ids = [pid for pid in expected[channel_id] if pid in str(post.blocks)]
            assert posted_ids == expected[channel_id], channel_id
        else:
            assert "No new papers today" in post.text
        sent = store.deliveries(f"slack:{TEAM}:{channel_id}")
        assert sorted(d.paper_id for d in sent) == sorted(expected[channel_id])
        assert {d.status for d in sent} <= {"sent"} and all(d.message_id == post.ts for d in sent)
    # Distinct topics gave distinct digests.
    assert len({tuple(v) for v in expected.values()}) >= 4
    broken = store.get_channel(f"slack:{TEAM}:C0007")
    assert broken.last_error == "channel_not_found" and broken.failures == 1
    assert store.deliveries(broken.key) == []
    assert store.pending_deliveries() == []
