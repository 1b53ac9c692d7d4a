"""Issue 17: several workers on one PostgreSQL database, in one process (each worker its
own store, index and scheduler): claims divide the due channels, a dead worker's lapse,
the ingest lock is won once, the corpus on one volume is seen by all. The same with real
processes and a SIGKILL: tests/test_workers_process.py."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.app import PapersBot
from bot.cli import demo_papers, import_papers
from bot.config import Config
from bot.models import Delivery, Paper
from bot.scheduler import Scheduler
from bot.search import SearchIndex
from bot.store import Store
from tests.fakes.recording import RecordingAdapter
from tests.postgres_server import PostgresServer
from tests.test_scheduler import T, enroll

NINE = "2026-06-12T09:00:00+00:00"


def worker(folder: Path, url: str, config: Config, clock) -> tuple[PapersBot, Scheduler]:
    store = Store(folder, state_url=url)
    bot = PapersBot(config, store, SearchIndex(folder / "index"), clock=clock)
    if store.paper_count() == 0:
        import_papers(bot, demo_papers())
    adapter = RecordingAdapter()
    return bot, Scheduler(bot, {"console": adapter})


@pytest.fixture
def fleet(tmp_path: Path, postgres: PostgresServer, config: Config, clock):
    """Two workers (own data folders: the corpus sharing has its own test) on one database."""
    config.scheduler.claim_batch = 15
    config.scheduler.lease_seconds = 2
    url = postgres.new_database()
    return [worker(tmp_path / f"w{n}", url, config, clock) for n in range(2)]


def posts(scheduler: Scheduler) -> list[str]:
    return [p.channel for p in scheduler.adapters["console"].posts]


async def test_workers_ticking_together_post_each_channel_once(fleet, clock) -> None:
    (bot, a), (_, b) = fleet
    keys = [enroll(bot, f"c{n:02d}", "09:00").key for n in range(40)]
    clock.now = T(NINE)
    await asyncio.gather(a.run_once(), b.run_once())
    assert 0 < len(posts(a)) <= 15 and 0 < len(posts(b)) <= 15  # a batch each, at most
    for _round in range(5):
        await asyncio.gather(a.run_once(), b.run_once())
    sent = Counter(posts(a) + posts(b))
    assert sent == Counter(keys)  # every channel, once
    assert bot.store.state.claimed() == {}  # every claim given back once recorded
    assert {c.last_post_date for c in bot.store.channels()} == {"2026-06-12"}


async def test_a_dead_workers_claims_lapse_and_another_finishes_its_channels(fleet, clock) -> None:
    (bot, a), (other, b) = fleet
    keys = [enroll(bot, f"c{n}", "09:00").key for n in range(6)]
    clock.now = T(NINE)
    # Worker a claims every channel, records the intent of one post, and dies.
    assert a.claims.take(keys, busy=0) == keys
    in_flight = Delivery(keys[0], "2606.00001", NINE, "pending", None, "2026-06-12")
    bot.store.record_deliveries([in_flight])
    for each in (bot, other):  # the papers are the fleet's (here, each worker's copy)
        each.store.put_papers([Paper(id="2606.00001", title="In flight")])

    await b.run_once()
    assert posts(b) == []  # held by a, whose lease runs
    time.sleep(2.2)  # the lease (2 s) lapses
    await b.run_once()
    assert Counter(posts(b)) == Counter(keys)  # each once: the resumed one and the others
    (resumed,) = [p for p in b.adapters["console"].posts if p.channel == keys[0]]
    assert resumed.paper_ids == ["2606.00001"]
    assert bot.store.pending_channels() == set() and bot.store.state.claimed() == {}
    await b.run_once()
    assert len(posts(b)) == len(keys)


def test_the_fleet_lock_is_won_once(tmp_path: Path, postgres: PostgresServer) -> None:
    url = postgres.new_database()
    one, two = Store(tmp_path / "1", state_url=url), Store(tmp_path / "2", state_url=url)
    with one.state.fleet_lock("ingest") as first:
        with two.state.fleet_lock("ingest") as second:
            assert first and not second
        with two.state.fleet_lock("another job") as other:
            assert other
    with two.state.fleet_lock("ingest") as later:
        assert later  # released with the block


async def test_only_one_worker_runs_the_daily_ingest(fleet, clock) -> None:
    (_, a), (_, b) = fleet
    runs: list[str] = []

    async def ingest(name: str) -> None:
        runs.append(name)
        await asyncio.sleep(0.3)  # long enough for the other worker to try meanwhile

    a.daily_ingest.ingest = lambda: ingest("a")
    b.daily_ingest.ingest = lambda: ingest("b")
    clock.now = T("2026-06-12T06:00:00+00:00")
    await asyncio.gather(a.run_once(), b.run_once())
    await asyncio.gather(a.run_once(), b.run_once())  # the day is done: nobody again
    assert len(runs) == 1


def test_workers_on_one_volume_share_the_corpus(tmp_path: Path, postgres: PostgresServer) -> None:
    url = postgres.new_database()
    folder = tmp_path / "data"
    one, two = Store(folder, state_url=url), Store(folder, state_url=url)
    one.put_papers([Paper(id="2606.00001", title="First")])
    assert two.corpus_revision == one.corpus_revision == 1
    assert two.get_paper("2606.00001").title == "First"
    two.put_papers([Paper(id="2606.00002", title="Second")])  # on top of one's commit
    one.put_papers([Paper(id="2606.00001", title="First, revised")])
    for store in (one, two):
        assert store.paper_count() == 2 and store.corpus_revision == 3
        assert store.get_paper("2606.00001").title == "First, revised"
        assert store.get_paper("2606.00002").title == "Second"
