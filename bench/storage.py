"""What recording deliveries costs as the delivery history grows: time and bytes written.

    python bench/storage.py [--channels 10000] [--history-days 0 60] [--per-day 2] [--posts 50]

Each post is recorded as a lone channel would record it (no group commit to share pages
with): the intent of its 5 papers, their completion, and the channel's "posted" mark, each
its own transaction, as :mod:`bot.scheduler.posting` does. Bytes are those appended to the
state database's write-ahead log (automatic checkpoints off while measuring; a checkpoint
later copies at most those pages once more). With 10,000 channels posting 2 papers a day,
60 days of history is 1.2 million records. Target: at most 4 KB per delivery, flat with
the history.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event

from bot.models import Channel, Delivery
from bot.state_db import deliveries, upsert
from bot.store import Store

AT = "2026-06-12T09:00:00+00:00"
PAPERS_PER_POST = 5
TARGET_BYTES = 4096


def fill_history(store: Store, channels: list[Channel], days: int, per_day: int) -> int:
    """``days`` x ``per_day`` sent records for every channel, written straight as rows."""
    rows, total = [], 0
    for n, channel in enumerate(channels):
        for day in range(days):
            for k in range(per_day):
                pid = f"25{day % 12 + 1:02d}.{(n * per_day + k) % 100_000:05d}"
                at = f"2026-04-{day % 28 + 1:02d}T09:00:00+00:00"
                rows.append(
                    {
                        "key": f"{channel.key}|{pid}-{day}",
                        "channel": channel.key,
                        "paper_id": f"{pid}-{day}",
                        "at": at,
                        "status": "sent",
                        "message_id": "1.1",
                        "day": at[:10],
                        "kind": "digest",
                    }
                )
        if len(rows) >= 100_000 or n == len(channels) - 1:
            with store.state.transaction() as conn:
                upsert(conn, deliveries, rows)
            total, rows = total + len(rows), []
    return total


def measure(n_channels: int, days: int, per_day: int, posts: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="papers-bench-state-") as tmp:
        store = Store(tmp)
        channels = [Channel("slack", "T1", f"C{i:05d}") for i in range(n_channels)]
        store.save_channels(channels)
        history = fill_history(store, channels, days, per_day) if days else 0
        event.listen(
            store.state._writer,
            "connect",
            lambda dbapi, _r: dbapi.execute("PRAGMA wal_autocheckpoint=0"),
        )
        store.state.checkpoint()
        wal = Path(f"{store.state.path}-wal")
        base = wal.stat().st_size if wal.exists() else 0
        corpus_writes = store.corpus_storage.writes
        times = []
        step = max(1, n_channels // posts)
        for n in range(posts):
            key = channels[(n * step) % n_channels].key
            papers = [f"2606.{n * PAPERS_PER_POST + k:05d}" for k in range(PAPERS_PER_POST)]
            started = time.perf_counter_ns()
            store.record_deliveries(Delivery(key, p, AT, "pending", None, AT[:10]) for p in papers)
            store.record_deliveries(Delivery(key, p, AT, "sent", "1.2", AT[:10]) for p in papers)
            store.update_channel(key, lambda ch: setattr(ch, "last_post_date", AT[:10]))
            times.append((time.perf_counter_ns() - started) / 1e6)
        written = (wal.stat().st_size if wal.exists() else 0) - base
        assert store.corpus_storage.writes == corpus_writes  # deliveries never touch the corpus
        size = sum(p.stat().st_size for p in Path(tmp).glob("state.sqlite3*"))
        store.close()
    return {
        "history_days": days,
        "history_records": history,
        "state_mb": size / 1e6,
        "bytes_per_delivery": written / (posts * PAPERS_PER_POST),
        "bytes_per_post": written / posts,
        "p50_ms_per_post": statistics.median(times),
        "max_ms_per_post": max(times),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", type=int, default=10_000)
    parser.add_argument("--history-days", type=int, nargs="+", default=[0, 60])
    parser.add_argument("--per-day", type=int, default=2)
    parser.add_argument("--posts", type=int, default=50)
    args = parser.parse_args(argv)
    rows = [measure(args.channels, d, args.per_day, args.posts) for d in args.history_days]
    print(
        f"{args.channels:,} channels; a lone post of {PAPERS_PER_POST} papers: intent, "
        "completion, channel mark (3 transactions)\n"
    )
    print(
        "| history | records | state MB | bytes per delivery | per post | "
        "post p50 ms | max ms | target |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r['history_days']} days | {r['history_records']:,} | {r['state_mb']:.1f} | "
            f"{r['bytes_per_delivery']:,.0f} | {r['bytes_per_post']:,.0f} | "
            f"{r['p50_ms_per_post']:.1f} | {r['max_ms_per_post']:.1f} | "
            f"<= {TARGET_BYTES:,} B per delivery |"
        )
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "storage-history.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
