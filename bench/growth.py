"""The growth table: figures from bench/results/search-<N>.json for each N that was run.

    python bench/search.py --papers 10000 && python bench/search.py --papers 30000 \\
        && python bench/search.py && python bench/growth.py

Prints a Markdown table (paste into docs/performance.md) and writes
bench/results/growth.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
COLUMNS = [
    ("import s", "ours", "import_s", "{:.2f}"),
    ("index build s", "ours", "index_build_s", "{:.2f}"),
    ("cold start s", "ours", "cold_start_s", "{:.2f}"),
    ("p50 ms", "ours", "p50_ms", "{:.2f}"),
    ("p99 ms", "ours", "p99_ms", "{:.2f}"),
    ("QPS", "ours", "qps_median", "{:,.0f}"),
    ("FTS5 QPS", "fts5", "qps_median", "{:,.0f}"),
    ("FTS5 p99 ms", "fts5", "p99_ms", "{:.1f}"),
    ("serving RSS MiB", "ours", "serving_maxrss_mb", "{:,.0f}"),
    ("corpus MB", "ours", "corpus_mb", "{:.0f}"),
]


def main() -> int:
    runs = sorted(
        (json.loads(p.read_text()) for p in RESULTS.glob("search-*.json")),
        key=lambda r: r["papers"],
    )
    if not runs:
        print("no results yet: run bench/search.py first", file=sys.stderr)
        return 1
    print("| papers | " + " | ".join(c[0] for c in COLUMNS) + " | QPS ours/FTS5 |")
    print("|---:" * (len(COLUMNS) + 2) + "|")
    for r in runs:
        cells = [fmt.format(r[engine][key]) for _, engine, key, fmt in COLUMNS]
        ratio = r["ours"]["qps_median"] / r["fts5"]["qps_median"]
        print(f"| {r['papers']:,} | " + " | ".join(cells) + f" | {ratio:.1f}x |")
    (RESULTS / "growth.json").write_text(json.dumps(runs, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
