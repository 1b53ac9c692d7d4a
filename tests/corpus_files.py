"""What the corpus folder holds on disk, for tests that assert a failure changed nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def snapshot(corpus: Path) -> dict[str, bytes]:
    """Every file in the corpus folder (``<data>/corpus``), name -> bytes."""
    if not corpus.exists():
        return {}
    return {p.name: p.read_bytes() for p in sorted(corpus.iterdir()) if p.is_file()}


def stored_papers(corpus: Path) -> dict[str, dict[str, Any]]:
    """Every paper record in the corpus folder, read from the partition files."""
    papers: dict[str, dict[str, Any]] = {}
    for path in sorted(corpus.glob("*.json")):
        if path.name not in ("meta.json", "commit.json") and not path.name.startswith("."):
            papers.update(json.loads(path.read_text()).get("papers", {}))
    return papers


def meta(corpus: Path) -> dict[str, Any]:
    return json.loads((corpus / "meta.json").read_text())["_meta"]["schema"]


def file_stats(corpus: Path) -> dict[str, tuple[int, int, int]]:
    """Every file in the corpus folder, name -> (inode, mtime in ns, size): a file that was
    rewritten (a new file renamed over it) has a new inode and mtime even if its bytes match."""
    return {
        p.name: (st.st_ino, st.st_mtime_ns, st.st_size)
        for p in sorted(corpus.iterdir())
        if p.is_file() and (st := p.stat())
    }


def leftovers(corpus: Path) -> list[str]:
    """Temp files and a commit journal: what an unfinished commit leaves in the folder."""
    return sorted(
        p.name for p in corpus.iterdir() if p.name.startswith(".") or p.name == "commit.json"
    )
