"""bot.background_work: corpus-sized work in a thread leaves the process as it found it."""

from __future__ import annotations

import gc
import sys
import threading

from bot.background_work import SWITCH_INTERVAL, gc_paused, in_background


def test_in_background_pauses_gc_and_shortens_turns_until_the_last_block_ends() -> None:
    interval, enabled = sys.getswitchinterval(), gc.isenabled()
    assert enabled
    inside = threading.Event()
    release = threading.Event()

    def other() -> None:
        with in_background():
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=other)
    with in_background():
        worker.start()
        assert inside.wait(5)
        assert not gc.isenabled() and sys.getswitchinterval() == SWITCH_INTERVAL
    # This block ended but the other thread's has not: still paused.
    assert not gc.isenabled() and sys.getswitchinterval() == SWITCH_INTERVAL
    release.set()
    worker.join(5)
    assert gc.isenabled() and sys.getswitchinterval() == interval


def test_a_pause_without_freeze_leaves_cyclic_garbage_collectable() -> None:
    """Only merges freeze the heap: a planning tick's pause must not pin garbage."""

    class Node:
        pass

    gc.collect()
    with gc_paused():
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle, garbage once the names go: during the pause
        del a, b
    assert gc.collect() >= 2


def test_the_gc_stays_off_after_a_pause_if_it_was_off_before() -> None:
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
