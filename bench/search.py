"""Search and storage at size, side by side with SQLite FTS5.

    python bench/search.py [--papers 100000] [--seed 1]

Generates a synthetic corpus (bench/corpus.py), imports it through ``Store.put_papers``
(batched), builds our tantivy index, and measures import, index build, cold start (a fresh
subprocess: interpreter start to the first answered search), latency percentiles and QPS
over a fixed 200-query mix through the whole ``PapersBot.search`` path, and peak memory.
The same corpus and queries then go through SQLite FTS5 (bench/fts5.py). Finally the
storage section runs a daily ingest of 500 papers and 1,000 delivery records and checks
that neither rewrites the corpus file per record.

Prints a table (ours | FTS5 | ratio) and writes bench/results/search-<N>.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

ROUNDS = 5  # passes over the query mix; QPS is the median pass, latencies pool all passes


def _newest_mtime(folder: Path) -> int:
    """The newest modification time of the corpus folder's files (ns)."""
    return max((f.stat().st_mtime_ns for f in folder.iterdir()), default=0)


def _maxrss_mb() -> float:
    """Peak resident set of this process in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _hwm_mb() -> float:
    """Peak resident set since exec, in MiB.

    A subprocess's ru_maxrss starts at its parent's peak (Linux carries it across fork and
    exec), so the cold-start child reads its own high-water mark instead.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return _maxrss_mb()


# ---- cold start (runs in a fresh interpreter) ------------------------------------------


def child(engine: str, data: Path, queries_file: Path) -> None:
    """Get ready to answer, answer the first query, say "ready", then serve the mix.

    The parent times process start to the "ready" line; the mix afterwards gives the
    serving process's peak memory.
    """
    queries = json.loads(queries_file.read_text())
    if engine == "ours":
        from bot.app import PapersBot
        from bot.config import load_config
        from bot.search import SearchIndex
        from bot.store import Store

        store = Store(data, claim=False)  # a reader beside the benchmark process
        bot = PapersBot(load_config(None, env={}), store, SearchIndex(data / "index"))
        run: Callable[[str], object] = bot.search
    else:
        sys.path.insert(0, str(HERE))
        from fts5 import FTS5Search

        run = FTS5Search(data / "fts5.sqlite").search
    run(queries[0])
    print("ready", flush=True)
    for q in queries:
        run(q)
    print(json.dumps({"maxrss_mb": _hwm_mb(), "ru_maxrss_mb": _maxrss_mb()}), flush=True)


def cold_start(engine: str, data: Path, queries_file: Path, runs: int = 3) -> dict[str, Any]:
    """Median of ``runs`` fresh processes (one start is at the mercy of the machine)."""
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", engine, "--data", str(data)]
    cmd += ["--queries-file", str(queries_file)]
    starts: list[float] = []
    rss: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        starts.append(time.perf_counter() - t0)
        if line.strip() != "ready":
            raise RuntimeError(f"cold-start child for {engine} failed: {line!r}")
        rss.append(json.loads(proc.stdout.readline())["maxrss_mb"])
        proc.wait()
    return {
        "cold_start_s": statistics.median(starts),
        "cold_start_runs_s": starts,
        "serving_maxrss_mb": max(rss),
    }


# ---- latency -----------------------------------------------------------------------


def measure(run: Callable[[str], object], queries: list[str]) -> dict[str, float]:
    """One warm-up pass, then ROUNDS timed passes. Percentiles pool every timed query."""
    for q in queries:
        run(q)
    samples: list[float] = []
    qps: list[float] = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for q in queries:
            t = time.perf_counter_ns()
            run(q)
            samples.append((time.perf_counter_ns() - t) / 1e6)
        qps.append(len(queries) / (time.perf_counter() - start))
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "p50_ms": cuts[49],
        "p95_ms": cuts[94],
        "p99_ms": cuts[98],
        "max_ms": max(samples),
        "qps_median": statistics.median(qps),
    }


def per_kind(run: Callable[[str], object], queries: list[Any]) -> dict[str, float]:
    """Median latency per query kind (one pass after the warm-up), to see what costs."""
    by_kind: dict[str, list[float]] = {}
    for q in queries:
        t = time.perf_counter_ns()
        run(q.text)
        by_kind.setdefault(q.kind, []).append((time.perf_counter_ns() - t) / 1e6)
    return {k: statistics.median(v) for k, v in by_kind.items()}


# ---- storage at size ---------------------------------------------------------------


def storage_section(store: Any, index: Any, vocab: Any, seed: int) -> dict[str, Any]:
    """A daily ingest of 500 papers, then 1,000 posts each recording one delivery."""
    from corpus import make_papers

    from bot.merge import apply_merge, plan_merge
    from bot.models import Delivery

    new = make_papers(500, seed + 99, vocab)
    for j, p in enumerate(new):
        p.id = f"2606.{90000 + j:05d}"  # ids the corpus does not have yet
    corpus_writes = store.corpus_storage.writes
    t0 = time.perf_counter()
    plan = plan_merge(store, new)
    t1 = time.perf_counter()
    apply_merge(store, plan)
    t2 = time.perf_counter()
    index.upsert(plan.changed_papers, store.corpus_revision, plan.replaced_ids)
    t3 = time.perf_counter()
    ingest = {
        "papers": len(new),
        "new": len(plan.new),
        "plan_s": t1 - t0,
        "apply_s": t2 - t1,
        "index_upsert_s": t3 - t2,
        "total_s": t3 - t0,
        "corpus_writes": store.corpus_storage.writes - corpus_writes,
        "index_docs_after": index.doc_count,
    }

    corpus_writes = store.corpus_storage.writes
    state_writes = store.state_storage.writes
    corpus_mtime = _newest_mtime(store.corpus_path)
    papers = store.papers()[:1000]
    times: list[float] = []
    for n, paper in enumerate(papers):
        d = Delivery(
            channel=f"slack:T1:C{n % 7}", paper_id=paper.id, at="2026-06-12T09:00:00+00:00"
        )
        t = time.perf_counter_ns()
        store.record_deliveries([d])
        times.append((time.perf_counter_ns() - t) / 1e6)
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    deliveries = {
        "records": len(times),
        "total_s": sum(times) / 1000,
        "p50_ms": cuts[49],
        "p99_ms": cuts[98],
        "corpus_writes": store.corpus_storage.writes - corpus_writes,
        "corpus_mtime_unchanged": _newest_mtime(store.corpus_path) == corpus_mtime,
        "state_writes": store.state_storage.writes - state_writes,
        "state_bytes": store.state_storage.path.stat().st_size,
    }
    return {"ingest": ingest, "deliveries": deliveries}


# ---- main --------------------------------------------------------------------------


def run_bench(n: int, seed: int, batch: int, workdir: Path, storage: bool) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    from corpus import load_vocabulary, make_papers, make_queries
    from fts5 import FTS5Search
    from fts5 import build as build_fts5

    from bot.app import PapersBot
    from bot.config import load_config
    from bot.query import parse_query
    from bot.search import SearchIndex
    from bot.store import Store

    vocab = load_vocabulary()
    papers = make_papers(n, seed, vocab)
    queries = make_queries(papers, seed, vocab)
    texts = [q.text for q in queries]
    queries_file = workdir / "queries.json"
    queries_file.write_text(json.dumps(texts))
    data = workdir / "data"
    rss_before = _maxrss_mb()

    # Ours: import through the store, batched; then the index.
    gc.collect()
    t0 = time.perf_counter()
    store = Store(data)
    for i in range(0, n, batch):
        store.put_papers(papers[i : i + batch])
    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    # BM25 only here (encoder "none"): embedding 100,000 papers takes most of an hour;
    # bench/hybrid.py measures the search with vectors, and the embedding throughput.
    index = SearchIndex(data / "index", encoder="none")
    index.rebuild(store.papers(), store.corpus_revision)
    build_s = time.perf_counter() - t0
    ours_build_rss = _maxrss_mb()
    bot = PapersBot(load_config(None, env={}), store, index)
    ours = {
        "import_s": import_s,
        "index_build_s": build_s,
        "corpus_mb": sum(f.stat().st_size for f in store.corpus_path.iterdir()) / 1e6,
        "index_mb": sum(f.stat().st_size for f in (data / "index").iterdir()) / 1e6,
        "import_writes": store.corpus_storage.writes,
        **measure(bot.search, texts),
        "per_kind_p50_ms": per_kind(bot.search, queries),
    }

    # FTS5: the same papers and queries.
    t0 = time.perf_counter()
    build_fts5(data / "fts5.sqlite", papers, batch)
    fts5_build = time.perf_counter() - t0
    fts = FTS5Search(data / "fts5.sqlite")
    theirs = {
        "import_s": fts5_build,  # rows + full-text index in one go
        "index_build_s": None,
        "corpus_mb": (data / "fts5.sqlite").stat().st_size / 1e6,
        "index_mb": None,
        **measure(fts.search, texts),
        "per_kind_p50_ms": per_kind(fts.search, queries),
    }

    ours.update(cold_start("ours", data, queries_file))
    theirs.update(cold_start("fts5", data, queries_file))
    ours["bench_maxrss_mb"] = ours_build_rss
    result: dict[str, Any] = {
        "papers": n,
        "seed": seed,
        "batch": batch,
        "rounds": ROUNDS,
        "queries": len(texts),
        "python": sys.version.split()[0],
        "bench_rss_before_import_mb": rss_before,
        "ours": ours,
        "fts5": theirs,
        # Totals both engines report for a sample of the mix: a sanity check that they
        # answer the same question (FTS5 has no typo tolerance, so typos find 0 there).
        "totals_ours_fts5": {
            q: [index.search(parse_query(q)).total, fts.search(q)[1]]
            for q in texts[:: len(texts) // 10]
        },
    }
    if storage:
        result["storage"] = storage_section(store, index, vocab, seed)
    result["bench_maxrss_mb"] = _maxrss_mb()
    store.close()
    return result


ROWS = [
    ("import (s)", "import_s"),
    ("index build (s)", "index_build_s"),
    ("cold start (s)", "cold_start_s"),
    ("p50 (ms)", "p50_ms"),
    ("p95 (ms)", "p95_ms"),
    ("p99 (ms)", "p99_ms"),
    ("max (ms)", "max_ms"),
    ("QPS (median of passes)", "qps_median"),
    ("serving peak RSS (MiB)", "serving_maxrss_mb"),
    ("on-disk size (MB)", "corpus_mb"),
]


def table(result: dict[str, Any]) -> str:
    ours, theirs = result["ours"], result["fts5"]
    lines = [
        f"papers: {result['papers']:,}  seed: {result['seed']}  queries: {result['queries']} "
        f"x {result['rounds']} passes  (Python {result['python']})",
        f"{'':26} {'ours':>10} {'FTS5':>10} {'ours/FTS5':>10}",
    ]
    for label, key in ROWS:
        a, b = ours.get(key), theirs.get(key)
        ratio = f"{a / b:10.2f}" if a is not None and b else f"{'-':>10}"
        fa = f"{a:10.3f}" if a is not None else f"{'-':>10}"
        fb = f"{b:10.3f}" if b is not None else f"{'-':>10}"
        lines.append(f"{label:26} {fa} {fb} {ratio}")
    lines.append(f"{'ours: index on disk (MB)':26} {ours['index_mb']:10.1f}")
    lines.append(
        f"{'ours: import+build peak':26} {ours['bench_maxrss_mb']:10.0f} MiB (bench process)"
    )
    lines.append("median ms per query kind   ours / FTS5")
    for kind, ms in ours["per_kind_p50_ms"].items():
        lines.append(f"  {kind:24} {ms:10.3f} {theirs['per_kind_p50_ms'][kind]:10.3f}")
    if "storage" in result:
        ing, dl = result["storage"]["ingest"], result["storage"]["deliveries"]
        lines.append(
            f"daily ingest of {ing['papers']} papers: {ing['total_s']:.2f} s "
            f"(plan {ing['plan_s']:.2f}, write {ing['apply_s']:.2f}, "
            f"index upsert {ing['index_upsert_s']:.2f}); corpus writes: {ing['corpus_writes']}"
        )
        lines.append(
            f"{dl['records']} delivery records, one call each: {dl['total_s']:.2f} s "
            f"(p50 {dl['p50_ms']:.2f} ms, p99 {dl['p99_ms']:.2f} ms); corpus writes: "
            f"{dl['corpus_writes']}, corpus files unchanged: {dl['corpus_mtime_unchanged']}, "
            f"state writes: {dl['state_writes']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=10_000, help="papers per put_papers call")
    parser.add_argument("--no-storage", action="store_true", help="skip the storage section")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--child", choices=("ours", "fts5"), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--queries-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.data, args.queries_file)
        return 0
    if args.keep:
        shutil.rmtree(args.keep, ignore_errors=True)
        args.keep.mkdir(parents=True)
        workdir = args.keep
        result = run_bench(args.papers, args.seed, args.batch, workdir, not args.no_storage)
    else:
        with tempfile.TemporaryDirectory(prefix="papers-bench-") as tmp:
            result = run_bench(args.papers, args.seed, args.batch, Path(tmp), not args.no_storage)
    print(table(result))
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"search-{args.papers}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
