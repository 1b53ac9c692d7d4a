"""Issue 13, storage at scale: what must stay true when the work is made linear or moved off
the event loop. Correctness only; the timings are in bench/ (importing.py, fanout.py)."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

from adapters.slack import SlackAdapter
from bot.app import PapersBot
from bot.cli import demo_papers, import_papers
from bot.config import Config, Secrets
from bot.merge import plan_merge
from bot.models import Channel, Delivery, Paper
from bot.search import SearchIndex
from bot.store import Store
from tests.conftest import FakeClock
from tests.fakes.slack_api import FakeSlack
from tests.test_slack import BOT_TOKEN, SECRET, TEAM, command_body, free_port, send

T0 = "2026-06-12T09:00:00+00:00"


def paper(pid: str, **fields) -> Paper:
    return Paper(id=pid, title=fields.pop("title", f"Paper {pid}"), **fields)


def test_a_batch_naming_papers_twice_counts_each_once_in_first_seen_order(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path)
    store.put_papers([paper(p, upvotes=1, first_seen=T0) for p in ("2601.00001", "2601.00002")])
    incoming = [
        paper("2601.00009", upvotes=3),
        paper("2601.00001", upvotes=5),  # updated
        paper("2601.00009", upvotes=4),  # new, then seen again: still new, merged
        paper("2601.00001", upvotes=6),  # updated again: listed once
        paper("2601.00002", upvotes=1),  # unchanged
        paper("2601.00008"),
    ]
    result = plan_merge(store, incoming)
    assert result.new == ["2601.00009", "2601.00008"]
    assert result.updated == ["2601.00001"]
    assert result.unchanged == 1
    changed = {p.id: p.upvotes for p in result.changed_papers}
    assert changed == {"2601.00009": 4, "2601.00001": 6, "2601.00008": None}


def test_a_large_batch_merges_every_paper(tmp_path: Path) -> None:
    store = Store(tmp_path)
    incoming = [paper(f"2601.{n:05d}") for n in range(20_000)]
    incoming += [paper(f"2601.{n:05d}", upvotes=n) for n in range(0, 20_000, 2)]
    result = plan_merge(store, incoming)
    assert len(result.new) == len(set(result.new)) == 20_000 and result.updated == []
    assert len(result.changed_papers) == 20_000


def test_to_doc_copies_lists_so_a_stored_document_is_not_shared() -> None:
    original = paper("2601.00001", authors=["Ada"], categories=["cs.LG"])
    doc = original.to_doc()
    doc["authors"].append("Grace")
    assert original.authors == ["Ada"] and Paper.from_doc(doc).authors == ["Ada", "Grace"]
    assert list(doc) == list(Paper.__dataclass_fields__)


def test_the_prune_in_chunks_removes_exactly_the_old_sent_records(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.save_channel(Channel("slack", "T", "C"))
    old, recent = "2026-01-01T09:00:00+00:00", T0
    records = [Delivery(f"slack:T:C{n % 3}", f"2601.{n:05d}", old) for n in range(10)]
    records += [
        Delivery("slack:T:C0", "2602.00001", old, status="pending"),
        Delivery("slack:T:C0", "2602.00002", recent),
    ]
    store.record_deliveries(records)
    assert store.state.prune_deliveries("2026-03-01T00:00:00+00:00", chunk=3) == 11 - 1
    kept = {(d.paper_id, d.status) for d in store.deliveries()}
    assert kept == {("2602.00001", "pending"), ("2602.00002", "sent")}
    assert store.prune_deliveries("2026-03-01T00:00:00+00:00") == 0


def bulk_papers(n: int) -> list[Paper]:
    """``n`` small papers with real-shaped arXiv ids over 24 months (many partitions)."""
    words = ["sparse", "graph", "robot", "vision", "language", "policy", "kernel", "noise"]
    return [
        Paper(
            id=f"23{1 + i % 12:02d}.{i // 12:05d}",
            title=f"{words[i % 8]} {words[(i // 8) % 8]} study {i}",
            abstract=f"We study {words[(i // 3) % 8]} methods at scale ({i}).",
            daily_date=f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}",
            upvotes=i % 50,
        )
        for i in range(n)
    ]


async def test_search_acks_stay_under_100_ms_while_a_300k_paper_merge_runs(
    tmp_path: Path, config: Config, clock: FakeClock
) -> None:
    """Signed /papers search requests over HTTP into the Slack adapter, one every 50 ms,
    while 300,000 papers are merged the way an ingest merges them (``add_papers`` in a
    worker thread): plan, corpus commit, index upsert. Acks must stay under 100 ms: at
    least 99 % of them, and none over 300 ms (on a quiet machine all are, max 33-54 ms; a
    test suite running beside it once made one ack in 325 take 142 ms, the OS's doing, not
    the loop's: before the fixes in bot/background_work.py acks took 170-500 ms).
    The index has no encoder here: embedding 300,000 papers would take hours, and it is
    the loop's freedom that is under test, not the model."""
    store = Store(tmp_path / "data")
    bot = PapersBot(config, store, SearchIndex(tmp_path / "data" / "index", encoder="none"))
    bot.context.clock = clock
    import_papers(bot, demo_papers())
    papers = bulk_papers(300_000)
    acks: list[float] = []
    async with FakeSlack(token=BOT_TOKEN, team_id=TEAM) as fake:
        config.slack.enabled, config.slack.mode = True, "http"
        config.slack.host, config.slack.port = "127.0.0.1", free_port()
        config.slack.api_base_url = fake.base_url
        config.secrets = Secrets(slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET)
        slack = SlackAdapter(bot, config)
        await slack.start()
        try:
            await send(slack, command_body(fake, "search diffusion", key="warm"))  # warm up
            merge = asyncio.ensure_future(asyncio.to_thread(bot.add_papers, papers))
            n = 0
            while not merge.done():
                status, body, seconds = await send(
                    slack, command_body(fake, "search diffusion", key=f"m{n}")
                )
                assert status == 200, body
                acks.append(seconds)
                n += 1
                await asyncio.sleep(0.05)
            plan = await merge
            await fake.wait_for(lambda: bool(fake.responses_to(f"m{n - 1}")), timeout=30)
            answered = fake.responses_to("m0")[0].payload
        finally:
            await slack.stop()
    assert len(plan.new) == 300_000 and store.paper_count() == 300_000 + len(demo_papers())
    assert len(acks) >= 20, f"the merge ended after {len(acks)} searches: not under test"
    ordered = sorted(acks)
    p99 = ordered[int(len(ordered) * 0.99)]
    print(
        f"{len(acks)} acks during the merge: p50 {ordered[len(acks) // 2] * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms"
    )
    slow = [f"{a * 1000:.0f} ms" for a in acks if a >= 0.1]
    assert p99 < 0.100 and ordered[-1] < 0.300, slow
    assert "diffusion" in json.dumps(answered).lower()  # answered from the index as it was


def test_a_digest_worked_out_during_a_merge_is_not_kept_after_it(
    tmp_path: Path, config: Config
) -> None:
    """Between a merge's corpus commit and its index update, digests answer from the index
    as it was; once the index has the merge, they must see it (not a cached old answer)."""
    store = Store(tmp_path / "data")
    bot = PapersBot(config, store, SearchIndex(tmp_path / "data" / "index", encoder="none"))
    bot.add_papers([paper("2605.00001", daily_date="2026-05-07", upvotes=3)])
    assert bot.digests.latest_day("2026-05-20") == "2026-05-07"
    fresh = [paper("2605.00002", daily_date="2026-05-08", upvotes=9)]
    with bot.index.following():  # as add_papers does: commit, then the index follows
        store.put_papers(fresh)
        assert bot.digests.latest_day("2026-05-20") == "2026-05-07"  # the index as it was
        bot.index.upsert(fresh, store.corpus_revision)
    assert bot.digests.latest_day("2026-05-20") == "2026-05-08"
    assert [p.id for p in bot.digests.papers_on("2026-05-08")] == ["2605.00002"]


def test_merges_from_two_threads_both_land_in_corpus_and_index(
    tmp_path: Path, config: Config
) -> None:
    """An ingest and an arXiv look-up may merge at once: both commit, the index takes both
    (one tantivy writer at a time) and ends at the corpus's revision."""
    store = Store(tmp_path / "data")
    bot = PapersBot(config, store, SearchIndex(tmp_path / "data" / "index", encoder="none"))
    batches = [
        [paper(f"2605.{n:05d}", title=f"Sparse kernels {n}") for n in range(k, 4000, 2)]
        for k in (0, 1)
    ]
    errors: list[BaseException] = []

    def merge(batch: list[Paper]) -> None:
        try:
            bot.add_papers(batch)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=merge, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.paper_count() == 4000 and bot.index.doc_count == 4000
    assert bot.index.revision == store.corpus_revision
    assert bot.index.sync(store) is False  # nothing left to rebuild
