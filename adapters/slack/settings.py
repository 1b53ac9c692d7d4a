"""Slack's ``[slack]`` table and the secrets each mode needs.

Socket Mode (the default) needs ``SLACK_BOT_TOKEN`` and an ``xapp-`` ``SLACK_APP_TOKEN``
and no public URL; HTTP mode needs ``SLACK_BOT_TOKEN`` and ``SLACK_SIGNING_SECRET`` and
listens on ``host:port``. Secrets come from the environment only.

With ``oauth = true`` (HTTP mode only) the app is installed by many workspaces through
Slack's OAuth flow: it needs ``SLACK_CLIENT_ID``, ``SLACK_CLIENT_SECRET`` and
``SLACK_SIGNING_SECRET``, and no bot token, since each workspace's token is kept in the
state database (:mod:`adapters.slack.installs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.config import ConfigError, check_choice, check_range

PLATFORM_NAME = "slack"  # the platform part of this adapter's channel keys
BOT_TOKEN = "SLACK_BOT_TOKEN"
APP_TOKEN = "SLACK_APP_TOKEN"
SIGNING_SECRET = "SLACK_SIGNING_SECRET"
CLIENT_ID = "SLACK_CLIENT_ID"
CLIENT_SECRET = "SLACK_CLIENT_SECRET"
SECRETS = (BOT_TOKEN, APP_TOKEN, SIGNING_SECRET, CLIENT_ID, CLIENT_SECRET)
MODES = ("socket", "http")
# The bot scopes an OAuth install asks for: the manifest's list (a test keeps them equal).
BOT_SCOPES = (
    "commands",
    "chat:write",
    "users:read",
    "channels:read",
    "groups:read",
    "im:write",
)


@dataclass(slots=True)
class SlackSettings:
    enabled: bool = False
    mode: str = "socket"  # "socket" or "http"
    host: str = "127.0.0.1"
    port: int = 3000
    api_base_url: str = "https://slack.com/api/"
    manage_users: list[str] = field(default_factory=list)  # empty: everyone may
    admins_only: bool = False
    # Many workspaces: Slack's OAuth install flow at /slack/install (HTTP mode only).
    oauth: bool = False
    # Where Slack sends people back after "Allow" (https://<host>/slack/oauth_redirect);
    # empty: the app's only configured redirect URL.
    redirect_url: str = ""

    def check(self, where: str) -> None:
        check_choice(f"{where}.mode", self.mode, MODES)
        check_range(f"{where}.port", self.port, 0, 65535)
        if self.oauth and self.mode != "http":
            raise ConfigError(
                f'{where}.oauth needs mode = "http": Slack\'s install flow and events '
                "come to a public URL"
            )


def required_secrets(settings: SlackSettings) -> tuple[str, ...]:
    """The bot token, plus the signing secret (HTTP mode) or the app token (Socket Mode);
    with OAuth, the app's client id and secret and the signing secret instead."""
    if settings.oauth:
        return (CLIENT_ID, CLIENT_SECRET, SIGNING_SECRET)
    return (BOT_TOKEN, SIGNING_SECRET if settings.mode == "http" else APP_TOKEN)
