"""The ``/papers`` commands, declared next to their handlers: ``handler(ctx, request, **values)``.

:mod:`bot.handlers.reading` holds the commands that only read (search, trending, paper,
status...), :mod:`bot.handlers.settings` those that change a channel (subscribe,
schedule, pause...), :mod:`bot.handlers.personal` one person's reading list (save, unsave,
saved). Importing this package declares every command in :data:`REGISTRY`;
:mod:`bot.commands` parses text against it and :class:`bot.app.PapersBot` dispatches to
it, turning every :class:`~bot.registry.CommandError` into a short reply with the usage.

A new command is one decorated function in one of these modules (help lists it in
declaration order, readers first); a new module is one more import here.
"""

from __future__ import annotations

from bot.handlers import reading, settings

# isort: split
# Help lists commands in import order: readers, channel settings, then one person's own.
from bot.handlers import personal
from bot.registry import REGISTRY

__all__ = ["REGISTRY", "personal", "reading", "settings"]
