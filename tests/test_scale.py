"""Issue 13, storage at scale: what must stay true when the work is made linear or moved off
the event loop. Correctness only; the timings are in bench/ (importing.py, fanout.py)."""

from __future__ import annotations

from pathlib import Path

from bot.merge import plan_merge
from bot.models import Channel, Delivery, Paper
from bot.store import Store

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
