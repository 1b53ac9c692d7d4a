"""A channel's failed posts: backoff, the pause after too many, and what status shows.

One channel's trouble stays its own. A failure is recorded on the channel (its
``last_error``, read by ``/papers status``) and sets a ``retry_at`` the planner honours.
A *permanent* failure (the platform refused, the adapter raised, the plan raised) counts:
5, 10, 20... minutes apart, and after ``scheduler.max_failures`` in a row the channel is
paused until someone resumes it, so a channel that cannot work is not retried for ever.
A *transient* one (network, rate limit, 5xx, no answer) is retried in 5 minutes without
counting. The words come from :mod:`bot.texts`; this module only records facts.

A pause and the first post after it are also facts the people who set the channel up
are told about, once each (:mod:`bot.scheduler.notices`): the same write that pauses the
channel, or records that first post, marks the notice owed (``Channel.notice``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot import texts
from bot.delivery import describe
from bot.models import Channel
from bot.store import Store

log = logging.getLogger(__name__)

# ``Channel.notice``: which notice is owed, or the last one sent (or given up on). A
# notice owed is written in the same transaction as the pause or the post that owes it,
# so a restart sends it still, and once sent it is never sent again.
PAUSE_OWED = "pausing"
PAUSED = "paused"
RECOVERY_OWED = "recovering"
RECOVERED = "recovered"
NOTICE_SENT = {PAUSE_OWED: PAUSED, RECOVERY_OWED: RECOVERED}

RETRY_TRANSIENT = timedelta(minutes=5)
RETRY_MAX = timedelta(hours=6)


class FailureKind(StrEnum):
    UNPLANNABLE = "unplannable"  # planning the channel's post raised (a corrupt record)
    RAISED = "raised"  # the adapter, or the post path after it, raised something unexpected
    REFUSED = "refused"  # the platform said no for good (PermanentDeliveryError)
    UNREACHABLE = "unreachable"  # network, rate limit, 5xx: worth another try soon
    NO_ANSWER = "no_answer"  # the post timed out; ``detail`` is the seconds waited
    DETACHED = "detached"  # the platform disconnected mid-post: not the channel's failure


@dataclass(slots=True, frozen=True)
class Failure:
    """Why a post failed (a kind and the error's own words), and whether retrying can help."""

    kind: FailureKind
    detail: str
    permanent: bool

    @property
    def why(self) -> str:
        """The failure as ``/papers status`` shows it."""
        return texts.failure_reason(self.kind, self.detail)

    @property
    def counts(self) -> bool:
        """Whether it is recorded against the channel at all (a detached platform is not)."""
        return self.kind is not FailureKind.DETACHED


def unplannable(key: str, error: Exception) -> Failure:
    """The failure recorded for a channel whose plan raised (its traceback at debug)."""
    log.debug("%s: planning raised", key, exc_info=error)
    return Failure(FailureKind.UNPLANNABLE, describe(error), permanent=True)


def raised(key: str, error: Exception) -> Failure:
    """The failure recorded for a channel whose post raised (its traceback at debug)."""
    log.debug("%s: posting raised", key, exc_info=error)
    return Failure(FailureKind.RAISED, describe(error), permanent=True)


def retry_delay(failures: int) -> timedelta:
    """5, 10, 20... minutes between attempts for a failing channel, at most 6 hours."""
    return min(RETRY_TRANSIENT * (2 ** max(0, failures - 1)), RETRY_MAX)


def backing_off(channel: Channel, now: datetime) -> bool:
    """Whether ``channel`` is waiting out a failure's backoff at ``now``."""
    return bool(channel.retry_at) and now < datetime.fromisoformat(channel.retry_at)  # type: ignore[arg-type]


def record_failure(
    store: Store, key: str, failure: Failure, *, now: datetime, max_failures: int
) -> None:
    """Record ``failure`` on channel ``key`` (a state change: run it inside a commit)."""
    why = failure.why

    def change(ch: Channel) -> None:
        ch.last_error = why
        if failure.permanent:
            ch.failures += 1
            ch.retry_at = (now + retry_delay(ch.failures)).isoformat()
            if ch.failures >= max_failures:
                if not ch.paused:  # this failure pauses it: the pause notice is owed
                    ch.notice = PAUSE_OWED
                ch.paused = True
                ch.pause_reason = texts.pause_reason(ch.failures, why)
        else:
            ch.retry_at = (now + RETRY_TRANSIENT).isoformat()

    channel = store.update_channel(key, change)
    if channel and channel.paused:
        log.warning("%s: %s (resume with /papers resume)", key, channel.pause_reason)
    else:
        when = f"after {channel.retry_at}" if channel and channel.retry_at else "later"
        log.warning("%s: post failed (%s); will retry %s", key, why, when)


def note_success(ch: Channel) -> None:
    """After a post went out (a state change on ``ch``): a channel whose automatic pause
    was announced has recovered, and is owed the recovery notice. If the pause notice
    never went out (the channel was resumed first), there is nothing to follow up."""
    if ch.notice == PAUSED:
        ch.notice = RECOVERY_OWED
    elif ch.notice == PAUSE_OWED:
        ch.notice = None


Commit = Callable[[Callable[[], None]], Awaitable[None]]


async def record_failures(
    commit: Commit,
    store: Store,
    failures: Mapping[str, Failure],
    *,
    clock: Callable[[], datetime],
    limit: int,
) -> None:
    """Record each channel's failure (one group-committed write for them all)."""

    async def record(key: str, failure: Failure) -> None:
        try:
            await commit(
                lambda: record_failure(store, key, failure, now=clock(), max_failures=limit)
            )
        except Exception as exc:  # a record too broken to update: say so, go on
            log.error("%s: %s; could not record it: %s", key, failure.why, describe(exc))

    await asyncio.gather(*(record(key, failure) for key, failure in failures.items()))
