"""What one delivery record costs as the delivery history grows.

    python bench/storage.py [--history 1000 10000 100000 300000] [--posts 100]

``Store.record_deliveries`` is called once per post and rewrites state.json atomically,
and state.json keeps every delivery ever made. bench/search.py shows that it never touches
corpus.json; this shows how the per-post cost grows with the history (1,000 channels
posting 5 papers a day add 1.8 million records a year).
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

from bot.models import Delivery
from bot.store import Store

AT = "2026-06-12T09:00:00+00:00"


def measure(history: int, posts: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="papers-bench-state-") as tmp:
        store = Store(tmp)
        past = [
            Delivery(channel=f"slack:T1:C{i % 1000}", paper_id=f"2501.{i:06d}", at=AT)
            for i in range(history)
        ]
        store.record_deliveries(past)
        corpus_writes = store.corpus_storage.writes
        times = []
        for n in range(posts):
            d = Delivery(channel=f"slack:T1:C{n % 1000}", paper_id=f"2606.{n:05d}", at=AT)
            t = time.perf_counter_ns()
            store.record_deliveries([d])
            times.append((time.perf_counter_ns() - t) / 1e6)
        assert store.corpus_storage.writes == corpus_writes  # deliveries never touch corpus.json
        size = sum(p.stat().st_size for p in Path(tmp).glob("state.sqlite3*"))
        store.close()
    return {
        "history": history,
        "state_mb": size / 1e6,
        "p50_ms": statistics.median(times),
        "max_ms": max(times),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--history", type=int, nargs="+", default=[1000, 10_000, 100_000, 300_000])
    parser.add_argument("--posts", type=int, default=100)
    args = parser.parse_args(argv)
    rows = [measure(h, args.posts) for h in args.history]
    print("| deliveries already recorded | state.json MB | one record: p50 ms | max ms |")
    print("|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['history']:,} | {r['state_mb']:.1f} | {r['p50_ms']:.1f} | {r['max_ms']:.1f} |")
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "storage-history.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
