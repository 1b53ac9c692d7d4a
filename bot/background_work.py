"""Corpus-sized work in a worker thread without stalling the event loop thread.

Two things let a merge in a worker thread hold up the loop although it never blocks it:

**The cyclic garbage collector.** Pausing it while a merge builds millions of objects:

A 300,000-paper merge allocates several million dicts and lists. Each allocation burst
counts towards the collector's thresholds, and the full (generation 2) collections it
then triggers walk every object in the process while holding the GIL: 270-430 ms each,
several per merge, during which the event loop thread cannot run at all (measured:
Slack acks of 170-500 ms while the merge ran in a worker thread).

What a merge allocates cannot form reference cycles (JSON-shaped records and slotted
dataclasses), so reference counting frees all of it; the cyclic collector has nothing to
find there. It is paused for the merge and resumed after; cycles other threads make
meanwhile (an exception's traceback, say) wait until then, seconds to a minute.

**The GIL's switch interval.** A thread that wants the GIL waits for the holder to drop
it, at most every ``sys.getswitchinterval()`` (5 ms by default). Answering one Slack
request takes the loop thread through a few dozen socket calls, each releasing and
retaking the GIL: behind a CPU-bound merge that was 100-300 ms of waiting per ack (the
convoy effect). During background work the interval is 0.5 ms: measured, every ack of a
300,000-paper merge under 100 ms; the merge itself no slower to within noise.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import threading
from collections.abc import Iterator

SWITCH_INTERVAL = 0.0005  # seconds, while background work runs

_lock = threading.Lock()
_holders = 0
_was_enabled = True
_gc_holders = 0
_freeze = False
_interval = 0.005


@contextlib.contextmanager
def gc_paused(*, freeze: bool = False) -> Iterator[None]:
    """No cyclic collection inside the block (nested and concurrent uses count).

    ``freeze``: when the last pause ends, move what exists into the permanent generation
    first (see below); for corpus-sized work only."""
    global _gc_holders, _was_enabled, _freeze
    with _lock:
        if _gc_holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _gc_holders += 1
        _freeze = _freeze or freeze
    try:
        yield
    finally:
        with _lock:
            _gc_holders -= 1
            if _gc_holders == 0 and _was_enabled:
                if _freeze:
                    # After a merge, the allocations counted during the pause would make
                    # the first collection a full one, walking every object while holding
                    # the GIL (80-120 ms, measured, in whichever thread allocates next:
                    # often the loop's). Frozen, they are out of every later walk. Cyclic
                    # garbage that exists at that moment is then never collected: a small
                    # leak, once per merge (a day's ingest, an arXiv look-up), not per tick.
                    gc.freeze()
                _freeze = False
                gc.enable()


@contextlib.contextmanager
def in_background(*, freeze: bool = False) -> Iterator[None]:
    """Run the block (in a worker thread) so that the loop thread is not held up:
    no cyclic collections, and a short GIL switch interval, until the last such block
    in the process ends."""
    global _holders, _interval
    with _lock:
        if _holders == 0:
            _interval = sys.getswitchinterval()
            sys.setswitchinterval(SWITCH_INTERVAL)
        _holders += 1
    try:
        with gc_paused(freeze=freeze):
            yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                sys.setswitchinterval(_interval)
