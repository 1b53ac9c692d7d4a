"""Build ``bot/data/demo_corpus.json``, the corpus the demo and ``import --demo`` use.

Sources, all real, copied into the repository (see tests/fixtures/upstream/SOURCES.md):
* ``scripts/seed/trending_papers_page.txt``: the trending page we started from, about
  150 titles each followed by its abstract. It gives no ids, dates or upvotes, so those
  papers get a stable title-derived id and no dates: nothing is invented.
* The Hugging Face daily-papers samples (ids, daily dates, upvotes, keywords...).
* The arXiv feed and API samples (categories, announce dates, authors).

Run from the repository root: ``python scripts/build_demo_corpus.py``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import orjson

from bot.models import Paper, stable_id_for_title, title_key
from bot.sources import arxiv, huggingface

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bot" / "data" / "demo_corpus.json"
SEED_SOURCE = "trending-page"


def seed_papers(path: Path) -> list[Paper]:
    lines = [line.rstrip("\n") for line in path.read_text(encoding="utf-8").splitlines()]
    body = lines[2:]  # two header lines
    if body and body[0].startswith("Subscribe"):
        body[0] = body[0][len("Subscribe") :]
    papers = []
    for title, abstract in zip(body[0::2], body[1::2], strict=False):
        title, abstract = " ".join(title.split()), " ".join(abstract.split())
        if title:
            papers.append(
                Paper(
                    id=stable_id_for_title(title),
                    title=title,
                    abstract=abstract,
                    sources=[SEED_SOURCE],
                )
            )
    return papers


SEED = ROOT / "scripts" / "seed"
UPSTREAM = ROOT / "tests" / "fixtures" / "upstream"


def build(seed: Path = SEED, upstream: Path = UPSTREAM) -> list[dict]:
    found: dict[str, Paper] = {}
    by_title: dict[str, str] = {}

    def add(paper: Paper) -> None:
        from bot.merge import merge_paper

        key = title_key(paper.title)
        existing_id = paper.id if paper.id in found else by_title.get(key)
        if existing_id is not None:
            merged = merge_paper(found.pop(existing_id), paper)
            found[merged.id] = merged
            by_title[key] = merged.id
        else:
            found[paper.id] = paper
            by_title[key] = paper.id

    for paper in seed_papers(seed / "trending_papers_page.txt"):
        add(paper)
    for name in sorted(upstream.glob("hf_daily_papers*.json")):
        for paper in huggingface.parse_daily_papers(json.loads(name.read_text())).papers:
            add(paper)
    for name in sorted(upstream.glob("arxiv_*.atom.xml")):
        for paper in arxiv.parse_atom(name.read_bytes(), include_cross=True).papers:
            add(paper)
    for name in sorted(upstream.glob("arxiv_*.rss.xml")):
        for paper in arxiv.parse_rss(name.read_bytes(), include_cross=True).papers:
            add(paper)
    return [p.to_doc() for p in sorted(found.values(), key=lambda p: p.id)]


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    docs = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(orjson.dumps(docs, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"wrote {len(docs)} papers to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
