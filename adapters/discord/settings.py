"""Discord's ``[discord]`` table and its one secret, ``DISCORD_TOKEN`` (environment only)."""

from __future__ import annotations

from dataclasses import dataclass, field

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
