"""The ``/papers`` commands, one function each: ``handler(bot, request, args) -> Reply``.

:mod:`bot.handlers.reading` holds the commands that only read (search, trending, paper,
status...), :mod:`bot.handlers.settings` those that change a channel (subscribe,
schedule, pause...). :class:`bot.app.PapersBot` dispatches to them and turns every
:class:`bot.commands.CommandError` into a short reply with the usage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.handlers import reading, settings
from bot.replies import Reply, Request

if TYPE_CHECKING:
    from bot.app import PapersBot

Handler = Callable[["PapersBot", Request, str], Reply]

HANDLERS: dict[str, Handler] = {
    "help": reading.help_,
    "search": reading.search,
    "trending": reading.trending,
    "paper": reading.paper,
    "share": reading.share,
    "similar": reading.similar,
    "preview": reading.preview,
    "topics": reading.topics,
    "digest": reading.digest,
    "status": reading.status,
    "subscribe": settings.subscribe,
    "unsubscribe": settings.unsubscribe,
    "schedule": settings.schedule,
    "set": settings.set_,
    "thread": settings.thread,
    "pause": settings.pause,
    "resume": settings.resume,
    "feedback": settings.feedback,
    "export": settings.export,
    "import": settings.import_,
}
