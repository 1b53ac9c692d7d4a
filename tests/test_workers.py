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
from sqlalchemy import text

from bot.app import PapersBot
from bot.cli import demo_papers, import_papers
from bot.config import Config
from bot.models import Delivery, Paper
from bot.replies import Request
from bot.scheduler import Scheduler
from bot.scheduler.failures import PAUSE_OWED, PAUSED
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
    config.scheduler.lease_seconds = 10  # run_once never renews: room for a loaded machine
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
    a.claims.lease = 1.0  # short here: the lapse is what is tested
    # Worker a claims every channel, records the intent of one post, and dies.
    assert a.claims.take(keys, busy=0) == keys
    in_flight = Delivery(keys[0], "2606.00001", NINE, "pending", None, "2026-06-12")
    bot.store.record_deliveries([in_flight])
    for each in (bot, other):  # the papers are the fleet's (here, each worker's copy)
        each.store.put_papers([Paper(id="2606.00001", title="In flight")])

    await b.run_once()
    assert posts(b) == []  # held by a, whose lease runs
    time.sleep(1.2)  # the lease (1 s) lapses
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


# ---- review fixes (issue 17): notices, a failed plan, a lost lease, alerts -----------------


async def test_a_pause_notice_goes_out_once_across_the_fleet(fleet, clock) -> None:
    (bot, a), (_, b) = fleet
    for scheduler in (a, b):  # slow enough that both workers would be sending at once
        scheduler.adapters["console"].delay = 0.3
    key = enroll(bot, "c1", "23:00", paused=True, notice=PAUSE_OWED, pause_reason="gone").key
    clock.now = T(NINE)
    await asyncio.gather(a.run_once(), b.run_once())
    await asyncio.gather(a.run_once(), b.run_once())
    assert len(posts(a) + posts(b)) == 1  # one notice, from one of them
    assert bot.store.get_channel(key).notice == PAUSED
    assert bot.store.state.claimed() == {}


async def test_a_plan_that_raises_gives_its_claims_back(fleet, clock, monkeypatch) -> None:
    (bot_a, a), (_, b) = fleet
    keys = [enroll(bot_a, f"c{n}", "09:00").key for n in range(10)]
    clock.now = T(NINE)
    real_sync, calls = bot_a.index.sync, []

    def sync_failing_once(store):  # a fault in planning, after the claims were taken
        calls.append(1)
        if len(calls) == 1:
            raise OSError("index folder unreadable")
        return real_sync(store)

    monkeypatch.setattr(bot_a.index, "sync", sync_failing_once)
    with pytest.raises(OSError):
        await a.run_once()
    assert posts(a) == [] and a.claims.held == set()
    await b.run_once()  # within a's lease: only given back claims can be taken
    assert Counter(posts(b)) == Counter(keys)
    assert bot_a.store.state.claimed() == {}


async def test_a_worker_that_lost_its_claim_stops_posting_there(fleet, clock) -> None:
    (bot, a), _ = fleet
    adapter = a.adapters["console"]
    adapter.delay = 0.2
    key = enroll(bot, "c1", "09:00", thread_mode=True).key  # a headline and 5 replies
    clock.now = T(NINE)
    tasks = await a.tick()
    await adapter.started.wait()
    with bot.store.state.engine.begin() as conn:  # a's lease lapsed; another worker took it
        conn.execute(
            text(
                "UPDATE claims SET claimed_by = 'other', "
                "lease_until = clock_timestamp() + interval '1 hour' WHERE channel = :k"
            ),
            {"k": key},
        )
    await asyncio.to_thread(a.claims.renew)
    assert not a.claims.holds(key) and a.claims.held == set()
    await asyncio.gather(*tasks)
    assert 1 <= len(posts(a)) <= 2  # the message in flight at most, then nothing
    sent = len(posts(a)) - 1  # the headline carries no paper
    assert len(bot.store.pending_deliveries(key)) == 5 - sent  # left to the new owner
    assert bot.store.state.claimed() == {key: "other"}  # not given back: not a's


async def test_an_alert_is_posted_by_a_worker_that_did_not_ingest(
    tmp_path: Path, postgres: PostgresServer, config: Config, clock
) -> None:
    url = postgres.new_database()
    folder = tmp_path / "data"  # one volume: one corpus, an index per worker
    ingesting, other = (
        PapersBot(config, Store(folder, state_url=url), SearchIndex(tmp_path / n), clock=clock)
        for n in ("ia", "ib")
    )
    hot = [p for p in demo_papers() if p.id == "2606.13392"]
    import_papers(ingesting, [p for p in demo_papers() if p.id != "2606.13392"])
    enroll(ingesting, "lab", "23:00", since="2026-06-12T00:00:00+00:00")
    ingesting.handle(Request('subscribe "sparse attention" --alert 100', channel_id="lab"))
    adapter = RecordingAdapter()
    sched = Scheduler(other, {"console": adapter})
    clock.now = T("2026-06-12T09:59:00+00:00")
    await sched.run_once()  # looked at the corpus as it was: nothing
    assert adapter.posts == []
    import_papers(ingesting, hot)  # the ingesting worker's commit (its own index synced)
    clock.now = T("2026-06-12T10:00:00+00:00")
    await sched.run_once()
    (alert,) = adapter.posts
    assert alert.paper_ids == ["2606.13392"]


async def test_a_claim_held_for_one_post_is_not_handed_to_another_in_the_process(
    fleet, clock
) -> None:
    (bot, a), _ = fleet
    key = enroll(bot, "c1", "09:00").key
    assert a.claims.take([key], busy=0) == [key]  # a post's, say
    assert a.claims.take([key], busy=0) == []  # an alert or a notice waits for its turn
    a.claims.give_back([key])
    assert a.claims.take([key], busy=0) == [key]
