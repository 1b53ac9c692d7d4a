"""Storage and serving at 10k, 100k, 300k and 1M papers, beside tuned SQLite FTS5 and raw
tantivy, in one run (issue 13).

    python bench/scale.py [--sizes 10000 100000 300000 1000000] [--seed 7]

For each size it builds (once) a data folder under ``bench/results/scale/<N>/``: the
synthetic corpus (:mod:`bench.corpus`, arXiv-style ids numbered per month) in our
partitioned TinyDB corpus, our search index (BM25 and typo tolerance; no sentence vectors:
embedding 1M papers takes a day on this machine, so dense search is measured in
bench/hybrid.py), a tuned FTS5 database (bench/fts5.py) and a raw tantivy index. **The
folders are cached: 1M takes about 25 minutes to build; delete a folder to rebuild it.**

Then each size is measured in a fresh process (``--child``) over a copy of its data folder:

* cold start: process start to the first answered search;
* search p50/p99 and QPS on the real path (``PapersBot.handle`` of ``search ...``, the
  Slack renderer, JSON) over a realistic mix: 2-4-word topical queries, 30 % with a typo,
  30 % with a filter, 8 % with ``-word``; the same queries through FTS5 and raw tantivy;
* steady RSS (after the mix) and peak RSS (high-water mark, after everything below); the
  steady figure also split into the process's own memory (RssAnon: "own heap") and the
  pages of the memory-mapped search index it has touched (RssFile: page cache, shared
  and reclaimable, counted in RSS all the same);
* a 1,000-paper ingest (new ids of the newest month, through ``add_papers``): its time,
  the bytes it wrote and the corpus's size;
* the first ``trending`` after that ingest; the lookup of a new arXiv id (the merge of
  the fetched paper, then ``paper <id>`` answered).

Prints one table with the targets and writes bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.corpus import load_vocabulary, make_papers  # noqa: E402

CACHE = HERE / "results" / "scale"
SIZES = [10_000, 100_000, 300_000, 1_000_000]
QUERIES = 300
TARGETS = {
    "steady_rss_mb": 400,
    "peak_rss_mb": 1024,
    "cold_start_s": 2.0,
    "trending_ms": 200,
    "lookup_ms": 200,
}


# ---- building (once per size) ----------------------------------------------------------


def build(n: int, seed: int, cache: Path = CACHE) -> Path:
    folder = cache / str(n)
    done = folder / "built.json"
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    from bench.fts5 import build as build_fts5
    from bot.search import SearchIndex
    from bot.store import Store

    started = time.perf_counter()
    print(f"[{n:,}] generating papers...", flush=True)
    papers = sorted(make_papers(n, seed), key=lambda p: p.id)
    data = folder / "data"
    store = Store(data)
    t = time.perf_counter()
    for start in range(0, n, 50_000):  # in id order: each batch fills its own partitions
        store.put_papers(papers[start : start + 50_000])
    corpus_s = time.perf_counter() - t
    print(f"[{n:,}] corpus written in {corpus_s:.0f} s; indexing...", flush=True)
    t = time.perf_counter()
    index = SearchIndex(data / "index", encoder="none")
    index.rebuild(store.iter_papers(), store.corpus_revision)
    index_s = time.perf_counter() - t
    store.close()
    print(f"[{n:,}] index built in {index_s:.0f} s; FTS5 and raw tantivy...", flush=True)
    build_fts5(folder / "fts5.sqlite", papers)
    build_raw_tantivy(folder / "raw-tantivy", papers)
    months = sorted({p.id[:4] for p in papers})
    last = max(int(p.id[5:]) for p in papers if p.id.startswith(months[-1]))
    done.write_text(
        json.dumps(
            {
                "papers": n,
                "newest_month": months[-1],
                "newest_number": last,
                "corpus_write_s": corpus_s,
                "index_build_s": index_s,
                "total_s": time.perf_counter() - started,
            }
        )
    )
    return folder


def raw_schema() -> Any:
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    sb.add_text_field("title", tokenizer_name="en_stem")
    sb.add_text_field("abstract", tokenizer_name="en_stem")
    sb.add_text_field("cat", tokenizer_name="raw")
    return sb.build()


def build_raw_tantivy(path: Path, papers: list[Any]) -> None:
    """Plain tantivy: English stemming, BM25 over title and abstract, nothing of ours."""
    import tantivy

    path.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(raw_schema(), path=str(path))
    writer = index.writer(heap_size=256_000_000, num_threads=2)
    for p in papers:
        writer.add_document(
            tantivy.Document(
                id=p.id, title=p.title, abstract=p.abstract, cat=[c.lower() for c in p.categories]
            )
        )
    writer.commit()
    writer.wait_merging_threads()


# ---- the query mix ---------------------------------------------------------------------


def make_mix(papers_sample: list[Any], seed: int, count: int = QUERIES) -> list[str]:
    """2-4 topical words; 30 % with a typo, 30 % with a filter, 8 % with ``-word``."""
    vocab = load_vocabulary()
    rng = random.Random(seed + 13)
    words = [w for w in vocab.distinct_words if len(w) >= 4]
    queries = []
    for _ in range(count):
        picked = rng.sample(words, rng.randint(2, 4))
        if rng.random() < 0.30:
            i = rng.randrange(len(picked))
            w = picked[i]
            if len(w) >= 5:
                j = rng.randrange(1, len(w) - 2)
                picked[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]  # two letters swapped
        text = " ".join(picked)
        if rng.random() < 0.30:
            kind = rng.choice(["cat", "since", "author"])
            if kind == "cat":
                text += f" cat:{rng.choice(vocab.categories[:8])}"
            elif kind == "since":
                text += f" since:2025-{rng.randint(1, 12):02d}-01"
            else:
                author = rng.choice(papers_sample).authors[0]
                text += f' author:"{author}"'
        if rng.random() < 0.08:
            text += f" -{rng.choice(words)}"
        queries.append(text)
    return queries


# ---- measuring (a fresh process per size) ----------------------------------------------


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "p50_ms": 1000 * ordered[len(ordered) // 2],
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "qps": len(ordered) / sum(ordered),
    }


def child(folder: Path, queries_file: Path, info: dict[str, Any]) -> None:
    """Runs in a fresh interpreter over a copy of the data folder; prints one JSON line."""
    import orjson

    from adapters.slack.render import render
    from bot.app import PapersBot
    from bot.config import load_config
    from bot.models import Paper
    from bot.replies import Request
    from bot.search import SearchIndex
    from bot.store import Store

    queries = json.loads(queries_file.read_text())
    data = folder / "data"
    store = Store(data)
    bot = PapersBot(load_config(None, env={}), store, SearchIndex(data / "index", encoder="none"))

    def answer(text: str) -> Any:
        reply = bot.handle(Request(text=text))
        return orjson.dumps(render(reply))

    answer("search " + queries[0])
    print("ready", flush=True)
    out: dict[str, Any] = {}
    for _ in range(2):  # one warm pass, one measured
        seconds = []
        for q in queries:
            t = time.perf_counter()
            answer("search " + q)
            seconds.append(time.perf_counter() - t)
    out["ours"] = _percentiles(seconds)
    out["steady_rss_mb"] = _rss_mb("VmRSS")
    # Of which: the process's own memory, and pages of files it maps (the search index,
    # memory-mapped: the kernel's page cache, shared and given back under pressure).
    out["steady_anon_mb"] = _rss_mb("RssAnon")
    out["steady_file_mb"] = _rss_mb("RssFile")

    # A 1,000-paper ingest of new ids in the newest month, as an ingest merges them.
    month, number = info["newest_month"], info["newest_number"]
    day = f"20{month[:2]}-{month[2:]}-28"
    new = [
        Paper(
            id=f"{month}.{number + k:05d}",
            title=f"Fresh results on sparse attention {k}",
            abstract="We report new findings on sparse attention for language models.",
            authors=["Ada Lovelace"],
            daily_date=day,
            published=day,
            upvotes=k % 97,
            categories=["cs.LG"],
        )
        for k in range(1, 1001)
    ]
    corpus = store.corpus
    before = corpus.bytes_written
    t = time.perf_counter()
    bot.add_papers(new)
    out["ingest_s"] = time.perf_counter() - t
    out["ingest_bytes"] = corpus.bytes_written - before
    out["corpus_bytes"] = sum(p.stat().st_size for p in corpus.path.iterdir())
    bot.clock = lambda: __import__("datetime").datetime.fromisoformat(day + "T12:00:00+00:00")
    t = time.perf_counter()
    reply = answer("trending")
    out["trending_ms"] = 1000 * (time.perf_counter() - t)
    assert b"Fresh results" in reply, "trending did not show the ingested day"

    # A new arXiv id, as a lookup brings it: merged, then answered.
    fetched = Paper(id=f"{month}.{number + 2000:05d}", title="A paper fetched by id")
    t = time.perf_counter()
    bot.add_papers([fetched])
    reply = answer(f"paper {fetched.id}")
    out["lookup_ms"] = 1000 * (time.perf_counter() - t)
    assert b"fetched by id" in reply
    out["peak_rss_mb"] = _rss_mb("VmHWM")
    store.close()
    print(json.dumps(out), flush=True)


def peers(folder: Path, queries: list[str]) -> dict[str, Any]:
    """FTS5 (tuned: bench/fts5.py) and raw tantivy over the same queries, in this process."""
    import tantivy

    from bench.fts5 import FTS5Search

    fts = FTS5Search(folder / "fts5.sqlite")
    raw = tantivy.Index(raw_schema(), path=str(folder / "raw-tantivy"))
    searcher = raw.searcher()

    def raw_search(q: str) -> list[str]:
        text = re.sub(r'\w+:("[^"]*"|\S+)|(^|\s)-\S+', " ", q)  # words only
        query = raw.parse_query(" ".join(re.findall(r"[A-Za-z]+", text)), ["title", "abstract"])
        hits = searcher.search(query, limit=5, count=True).hits
        return [searcher.doc(a).get_first("id") for _, a in hits]

    result = {}
    for name, run in (("fts5", fts.search), ("tantivy", raw_search)):
        for _ in range(2):
            seconds = []
            for q in queries:
                t = time.perf_counter()
                run(q)
                seconds.append(time.perf_counter() - t)
        result[name] = _percentiles(seconds)
    return result


def measure(n: int, seed: int, cache: Path = CACHE) -> dict[str, Any]:
    folder = build(n, seed, cache)
    info = json.loads((folder / "built.json").read_text())
    from bot.store import Store

    store = Store(folder / "data", claim=False)
    sample = list(itertools.islice(store.iter_papers(), 50))  # authors for author: filters
    store.close()
    queries = make_mix(sample, seed)
    queries_file = cache / f"queries-{n}.json"
    queries_file.write_text(json.dumps(queries))
    work = cache / f"run-{n}"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(folder / "data", work / "data")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", str(work), str(queries_file), json.dumps(info)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline().strip()
    cold = time.perf_counter() - started
    assert first == "ready", first
    line = proc.stdout.readline()
    proc.wait()
    shutil.rmtree(work, ignore_errors=True)
    if proc.returncode:
        raise SystemExit(f"child for {n} failed ({proc.returncode})")
    result = json.loads(line)
    result.update(papers=n, cold_start_s=cold, build=info, **peers(folder, queries))
    return result


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        "| papers | RSS steady (own heap) / peak MiB | cold start s | 1,000-paper ingest: s, MB written"
        " / corpus MB | first trending ms | new-id lookup ms | search p50 / p99 ms: ours"
        " | FTS5 | raw tantivy | QPS ours / FTS5 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        mb = 1 / 1_000_000
        rows.append(
            f"| {r['papers']:,} | {r['steady_rss_mb']:.0f} ({r['steady_anon_mb']:.0f})"
            f" / {r['peak_rss_mb']:.0f} "
            f"| {r['cold_start_s']:.2f} | {r['ingest_s']:.2f} s, {r['ingest_bytes'] * mb:.1f}"
            f" / {r['corpus_bytes'] * mb:.0f} | {r['trending_ms']:.0f} | {r['lookup_ms']:.0f} "
            f"| {r['ours']['p50_ms']:.1f} / {r['ours']['p99_ms']:.1f} "
            f"| {r['fts5']['p50_ms']:.1f} / {r['fts5']['p99_ms']:.1f} "
            f"| {r['tantivy']['p50_ms']:.2f} / {r['tantivy']['p99_ms']:.2f} "
            f"| {r['ours']['qps'] / r['fts5']['qps']:.1f}x |"
        )
    rows.append(
        "| target at 1M | ≤ 400 / ≤ 1,024 | ≤ 2 | writes ≤ 1/10 of the corpus | ≤ 200 | ≤ 200 "
        "| | | | ≥ 10x at 100k |"
    )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "--child":
        child(Path(args[1]), Path(args[2]), json.loads(args[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where the data folders live")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "scale.json")
    opts = parser.parse_args(args)
    opts.cache.mkdir(parents=True, exist_ok=True)
    results = []
    for n in opts.sizes:
        if opts.build_only:
            build(n, opts.seed, opts.cache)
            continue
        results.append(measure(n, opts.seed, opts.cache))
        print(f"[{n:,}] measured", flush=True)
    if results:
        print(table(results))
        opts.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
