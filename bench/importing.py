"""How long ``papers-bot import FILE`` takes as the file grows: it must be linear.

    python bench/importing.py [--sizes 10000 30000 100000 300000] [--seed 7]

For each size, a Hugging Face ``/api/daily_papers``-format file (the shape
:func:`bot.sources.huggingface.parse_daily_papers` reads) is generated from
:func:`bench.corpus.make_papers` and cached as ``bench/results/hf-<size>.json`` (generating
300,000 papers takes about 20 s; delete the file to regenerate). Each import runs the real
command (``papers-bot --db <tmp> import FILE``) in a fresh process into an empty data
folder, so it pays for parsing, merging, the corpus write and the search index, as a user
would. ``--encoder`` picks the index's embedding model: ``none`` (the default here: BM25
only, what issue 13's target was set against) or ``minilm`` (the CLI's default since issue
14, which embeds every paper: about an hour per 100,000 papers on this machine). Prints
the wall and CPU time of each, CPU seconds per 1,000 papers (flat when linear) and the
target (300,000 within 2 minutes on the 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.corpus import load_vocabulary, make_papers  # noqa: E402
from bot.models import Paper  # noqa: E402

CACHE = ROOT / "bench" / "results"
TARGET_SECONDS = {300_000: 120.0, 1_000_000: 600.0}
# The real command with only the index's encoder chosen (the CLI has no option for it).
CHILD = """
import functools, sys
import bot.cli
bot.cli.SearchIndex = functools.partial(bot.cli.SearchIndex, encoder=sys.argv[1])
from papers_bot.cli import main
sys.exit(main(sys.argv[2:]))
"""


def hf_item(paper: Paper, pid: str) -> dict[str, Any]:
    """``paper`` as one item of Hugging Face's daily papers list, under the id ``pid``."""
    inner: dict[str, Any] = {
        "id": pid,
        "authors": [{"name": name} for name in paper.authors],
        "publishedAt": f"{paper.published}T00:00:00.000Z",
        "submittedOnDailyAt": f"{paper.daily_date}T00:00:00.000Z",
        "upvotes": paper.upvotes,
        "ai_keywords": paper.ai_keywords,
    }
    if paper.github_repo:
        inner["githubRepo"] = paper.github_repo
        inner["githubStars"] = paper.comments * 10
    return {
        "title": paper.title,
        "summary": paper.abstract,
        "publishedAt": f"{paper.published}T00:00:00.000Z",
        "numComments": paper.comments,
        "paper": inner,
    }


def hf_items(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` daily-papers items with unique, valid arXiv ids (``YYMM.NNNNN``, numbered per
    month: make_papers' own ids grow a sixth digit past 100,000, which is no arXiv id)."""
    per_month: dict[str, int] = defaultdict(int)
    items = []
    for paper in make_papers(n, seed, load_vocabulary()):
        month = paper.id.split(".")[0]
        per_month[month] += 1
        items.append(hf_item(paper, f"{month}.{per_month[month]:05d}"))
    return items


def hf_file(n: int, seed: int) -> Path:
    """The cached HF-format file of ``n`` papers, generated on first use."""
    path = CACHE / f"hf-{n}-{seed}.json"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(hf_items(n, seed)))
        tmp.replace(path)
        print(f"  generated {path.relative_to(ROOT)} in {time.perf_counter() - started:.0f} s")
    return path


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_import(path: Path, encoder: str) -> tuple[float, float, str]:
    """Wall and CPU seconds of ``papers-bot import FILE`` into a new data folder, and its
    output. CPU time is the fair figure on a machine shared with other work."""
    with tempfile.TemporaryDirectory(prefix="papers-bot-import-") as tmp:
        cpu = children_cpu()
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", CHILD, encoder, "--db", tmp, "import", str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - started
        cpu = children_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"import of {path} failed:\n{done.stderr}")
    return elapsed, cpu, done.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000, 300_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--encoder", default="none", help="none (BM25 only) or minilm")
    args = parser.parse_args(argv)
    rows = []
    for n in args.sizes:
        path = hf_file(n, args.seed)
        seconds, cpu, output = time_import(path, args.encoder)
        print(f"  {n:,}: {seconds:.1f} s wall, {cpu:.1f} s CPU ({output})")
        rows.append({"papers": n, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2)})
    print(f"\nindex encoder: {args.encoder}")
    print("\n| papers | import (wall) | CPU | CPU s per 1,000 papers | target |")
    print("|---:|---:|---:|---:|---|")
    for row in rows:
        n, s, c = row["papers"], row["seconds"], row["cpu_seconds"]
        target = TARGET_SECONDS.get(n)
        shown = f"<= {target:.0f} s" if target else "linear"
        print(f"| {n:,} | {s:.1f} s | {c:.1f} s | {c / n * 1000:.3f} | {shown} |")
    (CACHE / "importing.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
