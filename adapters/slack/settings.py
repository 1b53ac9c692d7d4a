"""Slack's ``[slack]`` table and the secrets each mode needs.

Socket Mode (the default) needs ``SLACK_BOT_TOKEN`` and an ``xapp-`` ``SLACK_APP_TOKEN``
and no public URL; HTTP mode needs ``SLACK_BOT_TOKEN`` and ``SLACK_SIGNING_SECRET`` and
listens on ``host:port``. Secrets come from the environment only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.config import check_choice, check_range

BOT_TOKEN = "SLACK_BOT_TOKEN"
APP_TOKEN = "SLACK_APP_TOKEN"
SIGNING_SECRET = "SLACK_SIGNING_SECRET"
SECRETS = (BOT_TOKEN, APP_TOKEN, SIGNING_SECRET)
MODES = ("socket", "http")


@dataclass(slots=True)
class SlackSettings:
    enabled: bool = False
    mode: str = "socket"  # "socket" or "http"
    host: str = "127.0.0.1"
    port: int = 3000
    api_base_url: str = "https://slack.com/api/"
    manage_users: list[str] = field(default_factory=list)  # empty: everyone may
    admins_only: bool = False

    def check(self, where: str) -> None:
        check_choice(f"{where}.mode", self.mode, MODES)
        check_range(f"{where}.port", self.port, 0, 65535)


def required_secrets(settings: SlackSettings) -> tuple[str, ...]:
    """The bot token, plus the signing secret (HTTP mode) or the app token (Socket Mode)."""
    return (BOT_TOKEN, SIGNING_SECRET if settings.mode == "http" else APP_TOKEN)
