"""Keep bench/search.py from rotting: a tiny run must finish and report every figure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_search_bench_runs_at_300_papers(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "search.py"),
            "--papers",
            "300",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ours/FTS5" in proc.stdout
    result = json.loads((tmp_path / "search-300.json").read_text())
    for engine in ("ours", "fts5"):
        for key in ("p50_ms", "p99_ms", "qps_median", "cold_start_s", "serving_maxrss_mb"):
            assert result[engine][key] > 0, (engine, key)
    # Both engines find the same papers for plain words (FTS5 has no typo tolerance).
    assert any(ours > 0 and fts5 > 0 for ours, fts5 in result["totals_ours_fts5"].values())
    storage = result["storage"]
    assert storage["ingest"]["corpus_writes"] == 1
    assert storage["deliveries"]["corpus_writes"] == 0
    assert storage["deliveries"]["corpus_mtime_unchanged"]
    assert storage["deliveries"]["state_writes"] == storage["deliveries"]["records"]
