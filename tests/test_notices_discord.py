"""Issue 15's alert mention on Discord: the real discord.py client against the fake
gateway and REST. ``--notify`` arrives as the mention Discord puts in a string option
(``<@&role id>``); the alert shows it and its ``allowed_mentions`` lets exactly that role
be pinged; every other message allows no mention at all."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.discord import DiscordAdapter
from bot.app import PapersBot
from bot.cli import import_papers
from bot.scheduler import Scheduler
from tests import test_discord
from tests.fakes.discord_fake import CHANNEL_ID, GUILD_ID, FakeDiscord, v2_text
from tests.test_discord import check_message
from tests.test_discord_features import BOB, OTHER_CHANNEL_ID, channel_posts, command
from tests.test_notices import diffusion_papers

# The fake Discord and the connected adapter, shared with tests/test_discord.py.
fake = test_discord.fake
adapter = test_discord.adapter

ROLE = 900000000000000777


async def test_alert_pings_only_the_notify_role_and_nothing_else_pings(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot, clock: Any
) -> None:
    import_papers(demo_bot, diffusion_papers(0, 2))
    clock.now = datetime.fromisoformat("2026-06-12T08:00:00+00:00")
    for channel in (CHANNEL_ID, OTHER_CHANNEL_ID):  # daily posts later: the alert alone
        await command(fake, "schedule", {"time": "23:00", "timezone": "UTC"}, channel_id=channel)
    data = await command(
        fake, "subscribe", {"topic": "diffusion", "alert": 5, "notify": f"<@&{ROLE}>"}
    )
    assert "mentioning that role" in v2_text(data)
    # Another channel's alert on the same papers, without --notify.
    await command(
        fake, "subscribe", {"topic": "diffusion", "alert": 5}, channel_id=OTHER_CHANNEL_ID
    )
    here = f"discord:{GUILD_ID}:{CHANNEL_ID}"
    there = f"discord:{GUILD_ID}:{OTHER_CHANNEL_ID}"
    assert [t.notify for t in demo_bot.store.topics(here)] == [f"role:{ROLE}"]
    assert [t.notify for t in demo_bot.store.topics(there)] == [None]

    clock.now = datetime.fromisoformat("2026-06-12T10:00:00+00:00")
    await Scheduler(demo_bot, {"discord": adapter}).run_once()
    (alert,) = channel_posts(fake)
    mentions = alert.body["allowed_mentions"]
    assert mentions["parse"] == [] and [str(r) for r in mentions.get("roles", [])] == [str(ROLE)]
    assert not mentions.get("users") and not mentions.get("replied_user")
    text = v2_text(alert.body)
    assert text.startswith(f"<@&{ROLE}>\n") and text.count("<@") == 1

    (plain,) = channel_posts(fake, OTHER_CHANNEL_ID)
    check_message(plain.body)  # parse [], no users, no roles
    assert "Topic alert" in v2_text(plain.body) and "<@" not in v2_text(plain.body)


async def test_a_paused_discord_channel_is_told_once_by_dm_to_who_set_it_up(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot, clock: Any
) -> None:
    """Issue 15: the pause notice reaches the person who set the channel up in a DM
    (``post_direct``: POST /users/@me/channels, then the DM), once, and not the channel."""
    demo_bot.config.scheduler.max_failures = 2
    clock.now = datetime.fromisoformat("2026-06-12T08:00:00+00:00")
    await command(fake, "schedule", {"time": "09:00", "timezone": "UTC"}, user=BOB)
    key = f"discord:{GUILD_ID}:{CHANNEL_ID}"
    assert demo_bot.store.get_channel(key).managed_by == str(BOB[0])
    fake.channel_errors[CHANNEL_ID] = (403, 50001, "Missing Access")
    sched = Scheduler(demo_bot, {"discord": adapter})
    for when in ("09:00", "09:05", "09:06", "09:30"):
        clock.now = datetime.fromisoformat(f"2026-06-12T{when}:00+00:00")
        await sched.run_once()
    assert demo_bot.store.get_channel(key).paused
    (opened,) = fake.find("POST", "/users/@me/channels")
    assert opened.body == {"recipient_id": BOB[0]}
    (notice,) = channel_posts(fake, fake.dms[BOB[0]])
    check_message(notice.body)
    shown = v2_text(notice.body)
    assert f"<#{CHANNEL_ID}>" in shown and "/papers resume" in shown
    assert demo_bot.store.get_channel(key).notice == "paused"
