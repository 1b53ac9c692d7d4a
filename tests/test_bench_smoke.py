"""Keep the benchmarks from rotting: a tiny run of each must finish and report every figure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def bench(script: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """``python bench/SCRIPT ARGS`` to the end; it must succeed."""
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def test_search_bench_runs_at_300_papers(tmp_path: Path) -> None:
    proc = bench("search.py", "--papers", "300", "--out", tmp_path)
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


def test_scale_bench_runs_at_300_papers(tmp_path: Path) -> None:
    """bench/scale.py builds a small data folder and measures it in a fresh process."""
    out = tmp_path / "scale.json"
    proc = bench("scale.py", "--sizes", "300", "--cache", tmp_path / "cache", "--out", out)
    assert "| 300 |" in proc.stdout and "target at 1M" in proc.stdout
    (result,) = json.loads(out.read_text())
    for key in ("steady_rss_mb", "peak_rss_mb", "cold_start_s", "trending_ms", "lookup_ms"):
        assert result[key] > 0, key
    for engine in ("ours", "fts5", "tantivy"):
        assert result[engine]["p50_ms"] > 0 and result[engine]["qps"] > 0, engine
    # A 1,000-paper ingest writes a small part of the corpus (its partitions and meta).
    assert 0 < result["ingest_bytes"] < result["corpus_bytes"]


def test_hybrid_bench_runs_at_300_papers(tmp_path: Path) -> None:
    """bench/hybrid.py: latency with vectors beside the raw tantivy peer, the dense half
    actually answering some searches, and a kept folder reused on the second run."""
    first = bench("hybrid.py", "--papers", "300", "--embed", "0", "--keep", tmp_path)
    assert "600 searches" in first.stdout and "peer, raw tantivy" in first.stdout
    share = first.stdout.split("% of the mix found papers by meaning")[0].rsplit(" ", 1)[1]
    assert int(share) > 0, first.stdout  # the fitted map gives queries real neighbours
    again = bench("hybrid.py", "--papers", "300", "--embed", "0", "--keep", tmp_path)
    assert f"reused from {tmp_path}" in again.stdout


def test_relevance_bench_prints_the_systems_side_by_side() -> None:
    proc = bench("relevance.py", "--ceiling")
    rows = {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines()[2:]}
    assert set(rows) == {"fts5", "bm25", "dense", "hybrid", "ceiling@30"}
    scores = {name: float(cells[0]) for name, cells in rows.items()}
    assert scores["ceiling@30"] >= scores["hybrid"] > scores["fts5"]
