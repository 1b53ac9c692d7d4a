"""Telling the people who set a channel up that its posts stopped, and that they work again.

When repeated failures pause a channel (:func:`bot.scheduler.failures.record_failure`),
and again after the first post that goes out once it has been resumed (*recovered*:
:func:`bot.scheduler.failures.note_success`), the same write marks a notice owed on the
channel (``Channel.notice``). Each tick, :class:`Notices` sends the owed ones:

- to ``Channel.managed_by`` (the last person whose settings command succeeded there), in
  a direct message (``Adapter.post_direct``), with the reason and ``/papers resume``;
- to the channel itself when nobody is known, the platform cannot send direct messages,
  or the direct message fails: a pause for reasons other than losing access leaves the
  channel writable.

Once sent, ``Channel.notice`` records it (``paused`` / ``recovered``), so neither the next
tick nor a restart repeats it. A notice that cannot be sent never touches the channel's
posts or the scheduler: a failure that may pass (network, rate limit) is retried on later
ticks, 5, 10, 20... minutes apart, up to :data:`MAX_ATTEMPTS` tries; one that cannot (the
person and the channel both refuse) is given up at once. Either way a log line says so,
and the notice is recorded as done. A platform that is not connected just waits.

Several workers on one database send each notice once: a worker sends only the notices of
channels whose claim it took (:class:`bot.scheduler.claims.Claims`, as for posts), reads
them afresh once claimed (another worker may have sent one and given the claim back), and
gives each claim back once the notice is recorded.
The words come from :mod:`bot.texts`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import texts
from bot.delivery import Adapter, describe, direct_poster, is_transient
from bot.models import Channel
from bot.replies import Reply, ReplyKind
from bot.scheduler.claims import Claims
from bot.scheduler.failures import NOTICE_SENT, PAUSE_OWED, Commit
from bot.store import Store

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
FIRST_RETRY = timedelta(minutes=5)
NOTICE_TIMEOUT = 60.0  # seconds for one try of one route


@dataclass(slots=True)
class _Tries:
    count: int = 0
    next_at: datetime | None = None


class Notices:
    """Sends each channel's owed pause or recovery notice, once."""

    def __init__(
        self,
        store: Store,
        route: Callable[[str], Adapter | None],
        commit: Commit,
        claims: Claims,
    ) -> None:
        self.store = store
        self.route = route  # asked per notice: platforms come and go
        self.commit = commit
        self.claims = claims  # several workers: a notice goes from the claim's holder
        self._tries: dict[tuple[str, str], _Tries] = {}  # (channel key, notice) -> tries
        self._task: asyncio.Task[None] | None = None

    async def start(self, now: datetime) -> asyncio.Task[None] | None:
        """Start sending the notices owed now, in the background; ``None`` when there are
        none (or the last round still runs)."""
        if self._task is not None and not self._task.done():
            return None
        try:
            owed = await asyncio.to_thread(self.store.channels_with_notice, *NOTICE_SENT)
            due = [channel for channel in owed if self._due(channel, now)]
            if due and self.claims.shared:
                due = await asyncio.to_thread(self._claim, due)
        except Exception as exc:  # the state could not be read: next tick
            log.error("could not read the notices owed: %s", describe(exc))
            return None
        if not due:
            return None
        self._task = asyncio.ensure_future(self.send(due, now))
        return self._task

    def _claim(self, due: list[Channel]) -> list[Channel]:
        """Several workers: those of ``due`` this worker claimed and that still owe the
        same notice when read afresh (the others' claims given back at once). In a worker
        thread. A channel this worker is posting to waits for the next tick."""
        owed = {channel.key: channel.notice for channel in due}
        keys = self.claims.take(owed, busy=0)
        try:
            fresh = [
                channel
                for channel in self.store.channels_by_key(keys)
                if channel.notice is not None and channel.notice == owed[channel.key]
            ]
        except BaseException:
            self.claims.give_back(keys)
            raise
        self.claims.give_back(set(keys) - {channel.key for channel in fresh})
        return fresh

    def _due(self, channel: Channel, now: datetime) -> bool:
        tries = self._tries.get((channel.key, channel.notice or ""))
        return tries is None or tries.next_at is None or now >= tries.next_at

    async def send(self, channels: list[Channel], now: datetime) -> None:
        """Send these channels' owed notices; one channel's never holds another's."""
        await asyncio.gather(*(self._guarded(channel, now) for channel in channels))

    async def _guarded(self, channel: Channel, now: datetime) -> None:
        try:
            await self._send(channel, now)
        except Exception:  # a bug here must not reach the scheduler
            log.exception("%s: sending its %s notice failed", channel.key, channel.notice)
        finally:  # settled (or to be tried again): another worker may take it now
            if channel.key in self.claims.held:
                await asyncio.to_thread(self.claims.give_back, [channel.key])

    async def _send(self, channel: Channel, now: datetime) -> None:
        owed = channel.notice or ""
        if owed == PAUSE_OWED and not channel.paused:
            # Resumed before the notice went out: whoever resumed it knows.
            await self._settle(channel.key, owed, None)
            return
        adapter = self.route(channel.platform)
        if adapter is None:  # not connected: sent once it is, not counted as a try
            return
        errors: list[BaseException] = []
        where = await self._deliver(adapter, channel, owed, errors)
        key = (channel.key, owed)
        if where is not None:
            self._tries.pop(key, None)
            log.info("%s: %s notice sent %s", channel.key, NOTICE_SENT[owed], where)
            await self._settle(channel.key, owed, NOTICE_SENT[owed])
            return
        tries = self._tries.setdefault(key, _Tries())
        tries.count += 1
        why = "; ".join(describe(e) for e in errors) or "no way to reach anyone"
        if any(is_transient(e) for e in errors) and tries.count < MAX_ATTEMPTS:
            tries.next_at = now + FIRST_RETRY * (2 ** (tries.count - 1))
            log.warning(
                "%s: %s notice not sent (%s); trying again after %s",
                channel.key,
                NOTICE_SENT[owed],
                why,
                tries.next_at.isoformat(),
            )
            return
        self._tries.pop(key, None)
        log.warning(
            "%s: giving up on its %s notice after %d tries: %s",
            channel.key,
            NOTICE_SENT[owed],
            tries.count,
            why,
        )
        await self._settle(channel.key, owed, NOTICE_SENT[owed])

    async def _deliver(
        self, adapter: Adapter, channel: Channel, owed: str, errors: list[BaseException]
    ) -> str | None:
        """Send the notice by direct message, else in the channel; say where it went
        (``None``: nowhere, with each route's error in ``errors``)."""
        reason = channel.pause_reason or channel.last_error or "repeated failed posts"
        send_direct = direct_poster(adapter)
        if channel.managed_by and send_direct is not None:
            where = texts.channel_link(channel.channel_id)
            text = _words(owed, where, reason)
            try:
                await _within(send_direct(channel.workspace, channel.managed_by, text))
                return f"to {channel.managed_by} directly"
            except Exception as exc:
                errors.append(exc)
        reply = Reply(text=_words(owed, "this channel", reason), kind=ReplyKind.INFO)
        reply.ephemeral = False
        try:
            await _within(adapter.post(channel, reply))
            return "in the channel"
        except Exception as exc:
            errors.append(exc)
        return None

    async def _settle(self, key: str, owed: str, done: str | None) -> None:
        """Record the notice as sent (or no longer owed), unless the channel owes another
        one meanwhile (paused again, or recovered)."""

        def change(ch: Channel) -> None:
            if ch.notice == owed:
                ch.notice = done

        try:
            await self.commit(lambda: self.store.update_channel(key, change))
        except Exception as exc:  # not recorded: it may be sent again, nothing worse
            log.error("%s: could not record its notice: %s", key, describe(exc))


def _words(owed: str, where: str, reason: str) -> str:
    if owed == PAUSE_OWED:
        return texts.pause_notice(where, reason)
    return texts.recovery_notice(where)


async def _within(send: Awaitable[object]) -> None:
    await asyncio.wait_for(send, NOTICE_TIMEOUT)  # type: ignore[arg-type]
