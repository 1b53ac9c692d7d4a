"""Forgetting old delivery records, once a day, so the state file stays small.

Delivery records exist so no paper is posted twice to a channel; a digest only draws on
the latest week, so records older than ``scheduler.keep_deliveries_days`` (60 by default)
protect nothing. Pending records that old belong to papers long gone: dropping them stops
a resume from retrying them for ever.

The prune scans the whole history, so the tick runs it in a worker thread; the store
deletes in short transactions, so the fan-out's group commits are never held up long.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.store import Store

log = logging.getLogger(__name__)


def prune_daily(store: Store, now: datetime, keep_days: int) -> None:
    """Drop delivery records older than ``keep_days``, at most once per (UTC) day."""
    today = now.date().isoformat()
    if store.get_meta("pruned_day") == today:
        return
    keep = timedelta(days=keep_days)
    removed = store.prune_deliveries((now - keep).isoformat())
    store.set_meta("pruned_day", today)
    if removed:
        log.info("forgot %d delivery records older than %s", removed, keep)
