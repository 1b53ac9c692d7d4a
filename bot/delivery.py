"""What the core needs from a platform to post: the :class:`Adapter` protocol and its errors.

Adapters implement :class:`Adapter` (see ``adapters/base.py``); the scheduler
(:mod:`bot.scheduler`) only sees these names, so the core never imports a platform SDK.

Which failures are worth retrying soon (:func:`is_transient`): a :class:`DeliveryError`
(adapters raise it for rate limits beyond our patience, 5xx answers and the like) and
network errors (``OSError``, which covers timeouts and refused or reset connections).
Everything else, a :class:`PermanentDeliveryError` or any other exception (a message the
adapter cannot render, a bug), would fail the same way again: the scheduler backs off,
pauses the channel after ``scheduler.max_failures`` and shows why in ``/papers status``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from bot.messages import DEFAULT_LIMITS, RenderLimits
from bot.models import Channel
from bot.replies import Reply


class DeliveryError(Exception):
    """A post failed; it may work later (timeouts, 5xx, rate limits beyond our patience)."""


class PermanentDeliveryError(DeliveryError):
    """A post can never succeed as things are (channel deleted, bot removed, bad token)."""


def is_transient(error: BaseException) -> bool:
    """Whether retrying ``error`` a few minutes later can help (see the module docstring)."""
    if isinstance(error, PermanentDeliveryError):
        return False
    return isinstance(error, DeliveryError | OSError)


def describe(error: BaseException, limit: int = 300) -> str:
    """``error`` as one short line for a log or ``/papers status``: its type and message."""
    text = " ".join(str(error).split())
    line = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"


@runtime_checkable
class Adapter(Protocol):
    """A platform connection: start, stop, post a reply to a channel, and send a person a
    direct message (``post_direct``: the notices of :mod:`bot.scheduler.notices`).

    ``limits`` says how much one of its messages holds; the scheduler splits a post with
    them (:func:`bot.messages.split_reply`) and ``post`` gets one message's worth. An
    adapter without it gets :data:`~bot.messages.DEFAULT_LIMITS` (see :func:`limits_of`).
    """

    platform: str
    limits: RenderLimits

    async def start(self) -> None:
        """Connect and begin answering commands."""

    async def stop(self) -> None:
        """Disconnect cleanly."""

    async def post(self, channel: Channel, reply: Reply, *, thread: str | None = None) -> list[str]:
        """Post ``reply`` to ``channel``; return the platform message ids, in order.

        With ``thread`` (the id of a message this adapter returned earlier), post it as a
        reply in that message's thread (Slack ``thread_ts``; a Discord thread started on
        that message). The scheduler passes it only to channels in thread mode.
        """
        ...

    async def post_direct(self, workspace: str, user_id: str, text: str) -> None:
        """Send one short plain-text message to a person in a direct message (pause notices).
        Raises :class:`PermanentDeliveryError` or :class:`DeliveryError` as ``post`` does."""
        ...


def direct_poster(adapter: object) -> Any | None:
    """``adapter.post_direct`` if it has one; an adapter without it cannot send a direct
    message, and a notice goes to the channel instead (:mod:`bot.scheduler.notices`)."""
    send = getattr(adapter, "post_direct", None)
    return send if callable(send) else None


def limits_of(adapter: object) -> RenderLimits:
    """``adapter``'s declared :class:`~bot.messages.RenderLimits`, or the default."""
    limits = getattr(adapter, "limits", None)
    return limits if isinstance(limits, RenderLimits) else DEFAULT_LIMITS
