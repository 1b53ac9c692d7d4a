"""Discord's ``[discord]`` table and its one secret, ``DISCORD_TOKEN`` (environment only).

Past one process: ``shard_count`` and ``shard_ids`` split the gateway's shards between
processes (Discord sends each guild's events to shard ``(guild_id >> 22) % shard_count``),
so two processes with ``shard_ids = [0]`` and ``[1]`` of ``shard_count = 2`` divide the
guilds between them. Posting goes over REST and is not bound to a shard.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.config import ConfigError

PLATFORM_NAME = "discord"  # the platform part of this adapter's channel keys
TOKEN = "DISCORD_TOKEN"
SECRETS = (TOKEN,)


@dataclass(slots=True)
class DiscordSettings:
    enabled: bool = False
    guild_ids: list[int] = field(default_factory=list)
    sync_on_start: bool = False
    require_manage_channels: bool = True
    sharded: bool = False
    api_base_url: str = "https://discord.com/api/v10"
    gateway_url: str = ""  # empty: ask Discord
    # This process's shards, out of shard_count (0: let Discord say how many, all here).
    shard_count: int = 0
    shard_ids: list[int] = field(default_factory=list)

    def check(self, where: str) -> None:
        if self.shard_ids and self.shard_count < 1:
            raise ConfigError(f"{where}.shard_ids needs {where}.shard_count (all processes' total)")
        bad = [n for n in self.shard_ids if not 0 <= n < self.shard_count]
        if bad or len(set(self.shard_ids)) != len(self.shard_ids):
            raise ConfigError(
                f"{where}.shard_ids must be distinct numbers from 0 to shard_count - 1 "
                f"({self.shard_count - 1}); got {self.shard_ids}"
            )

    @property
    def split(self) -> bool:
        """Whether this process runs some shards only (or a fixed count): a sharded client."""
        return self.sharded or self.shard_count > 0
