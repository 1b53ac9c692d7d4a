"""The Slack platform: ``/papers`` in a workspace and the daily posts to its channels.

This module only describes the platform (:data:`PLATFORM`: settings, secrets, factory)
and re-exports the adapter; it imports no Slack SDK until the adapter is built, so
commands that do not run Slack stay quick. The adapter is :mod:`adapters.slack.adapter`,
the bolt app :mod:`adapters.slack.app`, Block Kit rendering :mod:`adapters.slack.render`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.base import Platform
from adapters.slack.settings import PLATFORM_NAME, SECRETS, SlackSettings, required_secrets

if TYPE_CHECKING:
    from bot.app import PapersBot
    from bot.config import Config
    from bot.delivery import Adapter

__all__ = [
    "EVENTS_PATH",
    "PERMANENT_ERRORS",
    "PLATFORM",
    "SlackAdapter",
    "SlackConfigError",
    "SlackSettings",
]

_ADAPTER_NAMES = ("EVENTS_PATH", "PERMANENT_ERRORS", "SlackAdapter", "SlackConfigError")


def build(bot: PapersBot, config: Config) -> Adapter:
    from adapters.slack.adapter import SlackAdapter

    return SlackAdapter(bot, config)


PLATFORM = Platform(
    name=PLATFORM_NAME,
    settings=SlackSettings,
    build=build,
    secrets=SECRETS,
    needs=required_secrets,
)


def __getattr__(name: str) -> Any:
    """``from adapters.slack import SlackAdapter`` loads the SDK only when asked (PEP 562)."""
    if name in _ADAPTER_NAMES:
        from adapters.slack import adapter

        return getattr(adapter, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
