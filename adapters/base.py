"""What every adapter offers the core, and what every platform package registers.

The scheduler posts digests through :meth:`Adapter.post`; an adapter raises
:class:`PermanentDeliveryError` when the platform says the channel is gone or closed to
us (retrying will not help) and :class:`DeliveryError` for anything worth retrying later.
Those definitions live in :mod:`bot.delivery` so the core never imports this package.

:class:`Platform` is a platform as a plug-in (after opsdroid's connectors): each package
(``adapters/slack``, ``adapters/discord``, ``adapters/console_platform.py``) describes
itself with one, and ``papers_bot/plugins.py`` lists them. Nothing under ``bot/`` names
a platform: the config loader, ``run`` and the command line learn them from the records.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.delivery import Adapter, DeliveryError, PermanentDeliveryError

if TYPE_CHECKING:
    from bot.app import PapersBot
    from bot.config import Config

__all__ = ["Adapter", "DeliveryError", "PermanentDeliveryError", "Platform"]

Subparsers = argparse._SubParsersAction  # what ``add_subparsers`` returns


def _no_commands(subparsers: Subparsers) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Platform:
    """One chat platform: its settings table, its secrets, its adapter and its commands.

    ``settings`` is a dataclass read from the ``[name]`` table of the config file (every
    field defaulted, an ``enabled: bool`` among them; an optional ``check(where)`` refuses
    bad values). ``secrets`` are the environment variables the platform may read (never
    from the file); ``needs`` says which of them the given settings require (default: all).
    ``build`` makes the adapter, importing the platform's SDK only then, so commands that
    do not run the platform stay quick. ``commands`` adds the platform's own subcommands.
    """

    name: str  # the [name] table, and the platform part of its channel keys
    settings: type
    build: Callable[[PapersBot, Config], Adapter]
    secrets: tuple[str, ...] = ()
    needs: Callable[[Any], tuple[str, ...]] | None = None
    commands: Callable[[Subparsers], None] = _no_commands

    def required_secrets(self, settings: Any) -> tuple[str, ...]:
        """The environment variables ``settings`` need (e.g. Slack's differ by mode)."""
        return self.secrets if self.needs is None else self.needs(settings)
