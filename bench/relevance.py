"""Relevance of search, measured: four systems side by side on a judged query set.

    python bench/relevance.py [--queries bench/relevance_queries.toml] [--static] [--by-kind]

Builds the demo corpus (bot/data/demo_corpus.json) into a temporary data folder once,
then scores each system's top 10 for every judged query (bench/relevance_queries.toml:
how it was made is in its header) on nDCG@10 (binary gains), recall@10 and MRR:

* ``fts5``: SQLite FTS5 with the porter stemmer, as bench/fts5.py runs it (all words,
  else any word; column weights as ours);
* ``bm25``: our tantivy index with the dense half switched off (any word, papers with
  every word first, typos forgiven);
* ``dense``: all-MiniLM-L6-v2 cosine alone, over the stored vectors;
* ``hybrid``: what ``/papers search`` runs (bot/search.py): BM25 fused with the vectors.

``--static`` adds the hybrid on wordllama's static model (the zero-download fallback).
``--ceiling`` adds what a perfect re-ranker of the hybrid's first 30 results would score:
how far re-ranking alone (a cross-encoder over the top 30) could lift the hybrid.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

K = 10


def ndcg(ranked: list[str], relevant: set[str], k: int = K) -> float:
    gain = sum(1 / math.log2(n + 2) for n, pid in enumerate(ranked[:k]) if pid in relevant)
    ideal = sum(1 / math.log2(n + 2) for n in range(min(k, len(relevant))))
    return gain / ideal if ideal else 0.0


def recall(ranked: list[str], relevant: set[str], k: int = K) -> float:
    return len(set(ranked[:k]) & relevant) / len(relevant) if relevant else 0.0


def mrr(ranked: list[str], relevant: set[str]) -> float:
    return next((1 / n for n, pid in enumerate(ranked, start=1) if pid in relevant), 0.0)


CEILING_DEPTH = 30  # the results a re-ranker would reorder


def load_queries(path: Path) -> list[dict]:
    return tomllib.loads(path.read_text())["query"]


def systems(
    folder: Path, static: bool, relevant: dict[str, set[str]] | None = None
) -> dict[str, Callable[[str], list[str]]]:
    """Each system: query text -> its ranked paper ids (top 10)."""
    from fts5 import FTS5Search, build

    from bot.query import parse_query
    from bot.search import SearchIndex
    from bot.store import Store

    store = Store(folder, claim=False)
    papers = list(store.papers())
    build(folder / "fts5.sqlite3", papers)
    fts = FTS5Search(folder / "fts5.sqlite3")
    lexical = SearchIndex(folder / "bm25", encoder="none")
    lexical.rebuild(papers, store.corpus_revision)
    hybrid = SearchIndex(folder / "hybrid")
    started = time.perf_counter()
    hybrid.rebuild(papers, store.corpus_revision)
    print(
        f"indexed {len(papers)} papers with {hybrid.vectors.model} "
        f"in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )

    def ours(index: SearchIndex) -> Callable[[str], list[str]]:
        return lambda q: [h.paper_id for h in index.search(parse_query(q), per_page=K).hits]

    def dense(q: str) -> list[str]:
        vector = hybrid.embed_query(q)
        return [] if vector is None else [pid for pid, _ in hybrid.vectors.nearest(vector, K)]

    found = {
        "fts5": lambda q: [p.id for p in fts.search(q, per_page=K)[0]],
        "bm25": ours(lexical),
        "dense": dense,
        "hybrid": ours(hybrid),
    }
    if static:
        fallback = SearchIndex(folder / "static", encoder="static")
        fallback.rebuild(papers, store.corpus_revision)
        found["hybrid-static"] = ours(fallback)
    if relevant is not None:

        def ceiling(q: str) -> list[str]:
            top = hybrid.search(parse_query(q), per_page=CEILING_DEPTH).hits
            return sorted((h.paper_id for h in top), key=lambda pid: pid not in relevant[q])

        found["ceiling@30"] = ceiling
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=Path, default=HERE / "relevance_queries.toml")
    parser.add_argument("--static", action="store_true", help="also the wordllama hybrid")
    parser.add_argument(
        "--ceiling", action="store_true", help="a perfect re-ranking of the hybrid's top 30"
    )
    parser.add_argument("--by-kind", action="store_true", help="nDCG@10 per query kind")
    parser.add_argument("--misses", action="store_true", help="the hybrid's worst queries")
    args = parser.parse_args()
    queries = load_queries(args.queries)

    from bot.cli import demo_papers
    from bot.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        Store(folder).put_papers(demo_papers())
        judged = {q["text"]: set(q["relevant"]) for q in queries}
        runs = systems(folder, args.static, judged if args.ceiling else None)
        scores: dict[str, dict[str, list[float]]] = {}
        per_query: dict[str, list[float]] = {}
        for name, run in runs.items():
            table = scores.setdefault(name, {"nDCG@10": [], "recall@10": [], "MRR": []})
            for q in queries:
                ranked, relevant = run(q["text"]), set(q["relevant"])
                table["nDCG@10"].append(ndcg(ranked, relevant))
                table["recall@10"].append(recall(ranked, relevant))
                table["MRR"].append(mrr(ranked, relevant))
            per_query[name] = table["nDCG@10"]

    print(f"{len(queries)} judged queries over the demo corpus ({args.queries.name})")
    print(f"{'system':<14}{'nDCG@10':>9}{'recall@10':>11}{'MRR':>7}")
    for name, table in scores.items():
        cells = [sum(v) / len(v) for v in table.values()]
        print(
            f"{name:<14}" + "".join(f"{c:>{w}.3f}" for c, w in zip(cells, (9, 11, 7), strict=False))
        )
    if args.by_kind:
        kinds = sorted({q["kind"] for q in queries})
        print("\nnDCG@10 by kind: " + ", ".join(kinds))
        for name, values in per_query.items():
            row = []
            for kind in kinds:
                mine = [v for v, q in zip(values, queries, strict=False) if q["kind"] == kind]
                row.append(f"{kind} {sum(mine) / len(mine):.2f} ({len(mine)})")
            print(f"{name:<14}" + "  ".join(row))
    if args.misses:
        worst = sorted(zip(per_query["hybrid"], queries, strict=False), key=lambda x: x[0])[:12]
        print("\nhybrid's lowest nDCG@10:")
        for value, q in worst:
            print(f"  {value:.2f}  {q['text']}")


if __name__ == "__main__":
    main()
