"""Discord faults from issue 11, with the real discord.py against the fake gateway + REST.

* A slow command was always deferred ephemerally, so its public answer (a subscribe
  confirmation) was shown only to the person who sent it: the deferred "thinking" message
  fixes the answer's visibility. Now it is deferred with the visibility the answer will
  have, and a wrong guess (a refused change) is answered privately all the same.
* ``/papers`` was registered with the deprecated ``dm_permission``; now with ``contexts``.

The core answers these commands in microseconds, so a "slow" core is made by injecting
latency in front of it (the real ``handle_async`` still runs, after a short sleep), the way
a slow arXiv look-up or disk would delay it, with a short answer deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.discord import DiscordAdapter
from bot.app import PapersBot
from bot.config import Config
from bot.registry import Invocation
from bot.replies import Reply, Request
from tests.fakes.discord_fake import (
    GUILD_ID,
    MEMBER_PERMISSIONS,
    FakeDiscord,
    Recorded,
    v2_text,
)
from tests.test_discord import check_message, discord_config, is_callback

EPHEMERAL = 64


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def slow_adapter(
    fake: FakeDiscord, demo_bot: PapersBot, config: Config
) -> AsyncIterator[DiscordAdapter]:
    """An adapter whose core answers after its answer deadline, so it always defers."""
    real = demo_bot.handle_async

    async def slow(request: Request, invocation: Invocation | None = None) -> Reply:
        await asyncio.sleep(0.2)  # injected latency; the real core then answers
        return await real(request, invocation)

    demo_bot.handle_async = slow  # type: ignore[method-assign]
    adapter = DiscordAdapter(
        demo_bot,
        discord_config(config, fake),
        ready_timeout=10,
        guild_ready_timeout=0.05,
        ack_deadline=0.05,
    )
    await adapter.start()
    yield adapter
    await adapter.stop()


async def deferred_command(
    fake: FakeDiscord, subcommand: str, options: dict[str, Any], **kw: Any
) -> tuple[Recorded, Recorded, list[Recorded]]:
    """Dispatch a command; (its defer callback, its first follow-up, DELETEs of @original)."""
    interaction = fake.command_interaction(subcommand, options, **kw)
    await fake.dispatch_interaction(interaction)
    deferred = await fake.wait_for(is_callback(interaction))
    token = interaction["token"]
    follow = await fake.wait_for(
        lambda r: r.method == "POST" and r.path.startswith("/webhooks/") and token in r.path
    )
    deletes = fake.find("DELETE", "/webhooks/")
    return deferred, follow, [d for d in deletes if token in d.path]


async def test_slow_subscribe_is_deferred_and_answered_publicly(
    fake: FakeDiscord, slow_adapter: DiscordAdapter, demo_bot: PapersBot
) -> None:
    deferred, follow, deletes = await deferred_command(
        fake, "subscribe", {"topic": "speech recognition"}
    )
    assert deferred.body["type"] == 5  # deferred: the answer comes as a follow-up
    assert not deferred.body.get("data", {}).get("flags", 0) & EPHEMERAL  # seen by everyone
    check_message(follow.body)
    assert "Subscribed" in v2_text(follow.body)
    assert not follow.body.get("flags", 0) & EPHEMERAL
    assert deletes == []
    key = f"discord:{GUILD_ID}:{fake.command_interaction('x')['channel_id']}"
    assert [t.query for t in demo_bot.store.topics(key)] == ["speech recognition"]


async def test_slow_search_stays_private(fake: FakeDiscord, slow_adapter: DiscordAdapter) -> None:
    deferred, follow, deletes = await deferred_command(fake, "search", {"query": "diffusion"})
    assert deferred.body["type"] == 5 and deferred.body["data"]["flags"] & EPHEMERAL
    check_message(follow.body)
    assert "Results 1–" in v2_text(follow.body)
    assert deletes == []


async def test_slow_refused_change_is_answered_privately(
    fake: FakeDiscord, slow_adapter: DiscordAdapter
) -> None:
    # Without Manage Channels the refusal is known up front: deferred privately.
    deferred, follow, deletes = await deferred_command(
        fake, "pause", {}, permissions=MEMBER_PERMISSIONS
    )
    assert deferred.body["data"]["flags"] & EPHEMERAL
    assert "permission" in v2_text(follow.body) and deletes == []

    # A change expected to succeed is deferred publicly; when the core refuses it (a bad
    # time), the public "thinking" message is deleted and the error goes to the asker only.
    deferred, follow, deletes = await deferred_command(fake, "schedule", {"time": "25:99"})
    assert not deferred.body.get("data", {}).get("flags", 0) & EPHEMERAL
    assert len(deletes) == 1 and deletes[0].path.endswith("/messages/@original")
    assert deletes[0].at <= follow.at
    check_message(follow.body)
    assert follow.body["flags"] & EPHEMERAL
    assert "25:99" in v2_text(follow.body)


async def test_sync_registers_contexts_not_dm_permission(
    fake: FakeDiscord, demo_bot: PapersBot, config: Config
) -> None:
    adapter = DiscordAdapter(demo_bot, discord_config(config, fake))
    await adapter.login()
    try:
        await adapter.sync_commands([GUILD_ID])
        await adapter.sync_commands()  # global, as `papers-bot discord-sync` does
    finally:
        await adapter.stop()
    puts = fake.find("PUT", "/applications/")
    assert len(puts) == 2
    for put in puts:
        (papers,) = put.body
        assert "dm_permission" not in papers
        # Issue 15: usable in servers, the DM with the bot and other DMs/group DMs, and
        # installable to a server and to a user (was guilds and server installs only).
        assert papers["contexts"] == [0, 1, 2]
        assert papers["integration_types"] == [0, 1]
        for option in papers["options"]:
            assert "dm_permission" not in option and "contexts" not in option
