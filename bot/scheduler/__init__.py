"""The scheduler: posts each channel's digests and topic alerts on time, exactly once.

Split by concern; this package only re-exports. :mod:`.loop` ticks and composes
:mod:`.planning` (who is owed what), :mod:`.posting` (exactly-once delivery and how a post
is split into messages), :mod:`.failures` (backoff and pause), :mod:`.alerts`,
:mod:`.ingest_timing`, :mod:`.pruning` and :mod:`.group_commit`. None of them writes words
a channel reads: those come from :mod:`bot.texts`.
"""

from bot.scheduler.failures import Failure, FailureKind, retry_delay
from bot.scheduler.loop import Scheduler
from bot.scheduler.planning import Due, owed_slot, owed_weekly

__all__ = [
    "Due",
    "Failure",
    "FailureKind",
    "Scheduler",
    "owed_slot",
    "owed_weekly",
    "retry_delay",
]
