"""Build ``bot/data/demo_vectors.npz``: the bundled demo corpus's all-MiniLM-L6-v2 vectors.

The index embeds every paper it has no vector for; shipping the demo corpus's vectors (keyed
by the checksum of each paper's embedded text, so a changed paper is embedded afresh) lets
the demo and every fresh test data folder start without ~15 s of embedding. Run it after
``scripts/build_demo_corpus.py``, from the repository root: ``python scripts/build_demo_vectors.py``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import orjson

from bot.embeddings import MiniLMEncoder, paper_text
from bot.search import DEMO_VECTORS
from bot.vectors import text_checksum

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "bot" / "data" / "demo_corpus.json"


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    docs = orjson.loads(CORPUS.read_bytes())
    texts = sorted({paper_text(d["title"], d.get("abstract") or "") for d in docs})
    encoder = MiniLMEncoder.from_package()
    rows = encoder.encode(texts).astype(np.float16)
    checksums = np.array([text_checksum(t) for t in texts], dtype=np.uint32)
    np.savez_compressed(
        DEMO_VECTORS, model=np.array(encoder.name), checksums=checksums, vectors=rows
    )
    print(f"wrote {len(texts)} vectors ({encoder.name}) to {DEMO_VECTORS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
