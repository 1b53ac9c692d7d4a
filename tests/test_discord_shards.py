"""Discord shards split across processes (issue 17): ``[discord] shard_count`` and
``shard_ids`` make each process identify with its own shards, so two processes divide the
guilds between them, and each guild's commands reach only the process that owns it.

Two adapters, each with its own discord.py client and gateway connection, stand for the
two processes: what divides the guilds is the IDENTIFY each sends and Discord's
``(guild_id >> 22) % shard_count`` rule, which the fake gateway follows."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from adapters.discord import DiscordAdapter
from bot.app import PapersBot
from bot.config import Config, ConfigError
from tests.fakes.discord_fake import CHANNEL_ID, GUILD_ID, FakeDiscord, shard_owns
from tests.test_discord import discord_config, is_callback

OTHER_GUILD = GUILD_ID + (1 << 22)  # the next shard's guild when there are two shards


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    server.guilds[OTHER_GUILD] = server.guild(
        OTHER_GUILD, channels=[server.channel(CHANNEL_ID + 1)]
    )
    yield server
    await server.stop()


async def test_two_processes_divide_the_guilds_by_their_shard_ids(
    fake: FakeDiscord, make_bot: Callable[..., PapersBot], config: Config, tmp_path: Path
) -> None:
    assert shard_owns([1, 2], GUILD_ID) and shard_owns([0, 2], OTHER_GUILD)
    workers = []
    for shard in (0, 1):
        worker_config = discord_config(
            copy.deepcopy(config), fake, shard_count=2, shard_ids=[shard]
        )
        bot = make_bot(demo=False, data_dir=tmp_path / f"worker-{shard}")
        worker = DiscordAdapter(bot, worker_config, ready_timeout=10, guild_ready_timeout=0.05)
        await worker.start()
        workers.append(worker)
    try:
        identified = [f["d"]["shard"] for f in fake.gateway_frames if f.get("op") == 2]
        assert sorted(identified) == [[0, 2], [1, 2]]
        first, second = workers
        assert [g.id for g in first.client.guilds] == [OTHER_GUILD]
        assert [g.id for g in second.client.guilds] == [GUILD_ID]

        # A command in GUILD_ID reaches the second process only, which answers it.
        interaction = fake.command_interaction("ping")
        await fake.dispatch_interaction(interaction)
        await fake.wait_for(is_callback(interaction), timeout=5)
        assert second.last_ack_seconds is not None
        assert first.last_ack_seconds is None
    finally:
        for worker in workers:
            await worker.stop()


def test_shard_ids_are_checked(config: Config) -> None:
    settings = config.discord
    settings.shard_ids = [0]
    with pytest.raises(ConfigError, match=r"needs discord\.shard_count"):
        settings.check("discord")
    settings.shard_count = 2
    settings.shard_ids = [0, 2]
    with pytest.raises(ConfigError, match="distinct numbers from 0 to shard_count - 1"):
        settings.check("discord")
    settings.shard_ids = [1]
    settings.check("discord")
