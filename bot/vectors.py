"""Paper vectors stored beside the search index, and the nearest ones to a query vector.

Files in the index folder: ``vectors.npy`` (float16 rows, memory-mapped: 100,000 papers x
384 dims = 77 MB on disk, paged in by the OS) and ``vectors.json`` (the encoder's name,
the ids in row order and a checksum of each paper's embedded text, so an unchanged paper
is never embedded twice). Rows are grouped by cluster (a few k-means centroids) when the
corpus is large, so a query scores the rows of its closest clusters only: a fixed share of
the corpus instead of all of it, which keeps a search within its 10 ms at 100,000 papers.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BRUTE_FORCE_UP_TO = 20_000  # below this, score every row (a few ms at most)
PROBE = 12  # clusters scored per query above it


def text_checksum(text: str) -> int:
    return zlib.crc32(text.encode())


@dataclass(frozen=True, slots=True)
class _Snapshot:
    ids: list[str]
    checksums: list[int]
    matrix: np.ndarray
    position: dict[str, int]
    centroids: np.ndarray | None
    starts: np.ndarray | None  # row where each cluster starts
    dense: np.ndarray | None  # float32 copy for small corpora


class VectorStore:
    """Vectors by paper id; ``folder`` None keeps them in memory only."""

    def __init__(self, folder: Path | None, model: str) -> None:
        self.folder = folder
        self.model = model
        # Everything a reader needs, replaced as one object: searches (worker threads) read
        # while a merge replaces the vectors, and must never see the ids of one version
        # with the matrix of another.
        self._snap = _Snapshot([], [], np.zeros((0, 0), dtype=np.float16), {}, None, None, None)
        self._load()

    @property
    def ids(self) -> list[str]:
        return self._snap.ids

    @property
    def matrix(self) -> np.ndarray:
        return self._snap.matrix

    # ---- files --------------------------------------------------------------------

    def _paths(self) -> tuple[Path, Path, Path] | None:
        if self.folder is None:
            return None
        return (
            self.folder / "vectors.npy",
            self.folder / "vectors.json",
            self.folder / "vectors-clusters.npz",
        )

    def _load(self) -> None:
        paths = self._paths()
        if paths is None or not paths[1].is_file():
            return
        try:
            meta = json.loads(paths[1].read_text())
            if meta.get("model") != self.model:
                return  # another model's space: re-embed rather than mix
            matrix = np.load(paths[0], mmap_mode="r")
            clusters = np.load(paths[2]) if paths[2].is_file() else None
        except (OSError, ValueError):
            return
        if matrix.shape[0] != len(meta["ids"]):
            return
        self._set(meta["ids"], meta["checksums"], matrix, clusters)

    def _set(
        self, ids: list[str], checksums: list[int], matrix: np.ndarray, clusters: object = None
    ) -> None:
        centroids = starts = None
        if clusters is not None:
            centroids = clusters["centroids"]  # type: ignore[index]
            starts = clusters["starts"]  # type: ignore[index]
        dense = np.asarray(matrix, dtype=np.float32) if len(ids) <= BRUTE_FORCE_UP_TO else None
        position = {pid: n for n, pid in enumerate(ids)}
        self._snap = _Snapshot(ids, checksums, matrix, position, centroids, starts, dense)

    def __len__(self) -> int:
        return len(self._snap.ids)

    def checksum(self, paper_id: str) -> int | None:
        snap = self._snap
        n = snap.position.get(paper_id)
        return None if n is None else snap.checksums[n]

    def vector(self, paper_id: str) -> np.ndarray | None:
        snap = self._snap
        n = snap.position.get(paper_id)
        return None if n is None else np.asarray(snap.matrix[n], dtype=np.float32)

    def replace(
        self, new: dict[str, tuple[int, np.ndarray]], keep: Iterable[str] | None = None
    ) -> None:
        """Store ``new`` (id -> (checksum, vector)); keep the other rows whose id is in
        ``keep`` (all when None); write the files; regroup rows into clusters."""
        keep_set = None if keep is None else set(keep)
        ids, sums, rows = [], [], []
        old = self._snap
        for n, pid in enumerate(old.ids):
            if pid in new or (keep_set is not None and pid not in keep_set):
                continue
            ids.append(pid)
            sums.append(old.checksums[n])
            rows.append(np.asarray(old.matrix[n], dtype=np.float16))
        for pid, (checksum, vec) in new.items():
            ids.append(pid)
            sums.append(checksum)
            rows.append(vec.astype(np.float16))
        dim = rows[0].shape[0] if rows else 0
        matrix = np.stack(rows) if rows else np.zeros((0, dim), dtype=np.float16)
        clusters = None
        if len(ids) > BRUTE_FORCE_UP_TO:
            order, centroids, starts = _cluster(matrix.astype(np.float32))
            matrix = matrix[order]
            ids = [ids[i] for i in order]
            sums = [sums[i] for i in order]
            clusters = {"centroids": centroids, "starts": starts}
        paths = self._paths()
        if paths is not None:
            self.folder.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
            tmp = paths[0].with_suffix(".tmp.npy")
            np.save(tmp, matrix)
            tmp.replace(paths[0])
            if clusters is not None:
                np.savez(paths[2].with_suffix(".tmp.npz"), **clusters)
                paths[2].with_suffix(".tmp.npz").replace(paths[2])
            elif paths[2].exists():
                paths[2].unlink()
            meta = {"model": self.model, "ids": ids, "checksums": sums}
            paths[1].with_suffix(".tmp").write_text(json.dumps(meta))
            paths[1].with_suffix(".tmp").replace(paths[1])
            matrix = np.load(paths[0], mmap_mode="r")
        self._set(ids, sums, matrix, clusters)

    # ---- nearest --------------------------------------------------------------------

    def nearest(self, query: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The ``k`` rows with the highest cosine to ``query`` (rows are unit length)."""
        snap = self._snap
        if not snap.ids:
            return []
        query = query.astype(np.float32)
        if snap.dense is not None:
            scores = snap.dense @ query
            base = 0
        else:
            assert snap.centroids is not None and snap.starts is not None
            near = np.argsort(-(snap.centroids @ query))[:PROBE]
            scaled = query * _HALF_SCALE  # undoes _widened's 2**-112: the same products
            parts, offsets = [], []
            for c in near:
                lo, hi = int(snap.starts[c]), int(snap.starts[c + 1])
                parts.append(_widened(snap.matrix[lo:hi]) @ scaled)
                offsets.append(np.arange(lo, hi))
            scores = np.concatenate(parts)
            rows = np.concatenate(offsets)
            base = -1
        k = min(k, scores.shape[0])
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        if base == 0:
            return [(snap.ids[i], float(scores[i])) for i in top]
        return [(snap.ids[rows[i]], float(scores[i])) for i in top]

    def scores(self, query: np.ndarray, paper_ids: Iterable[str]) -> dict[str, float]:
        """Cosine of ``query`` with each of these papers (those that have a vector)."""
        snap = self._snap
        query = query.astype(np.float32)
        found = [(pid, n) for pid in paper_ids if (n := snap.position.get(pid)) is not None]
        if not found:
            return {}
        rows = np.asarray(snap.matrix[[n for _, n in found]], dtype=np.float32)
        values = rows @ query
        return {pid: float(v) for (pid, _), v in zip(found, values, strict=True)}


_HALF_SCALE = np.float32(2.0**112)


def _widened(rows: np.ndarray) -> np.ndarray:
    """float16 ``rows`` as float32 times 2**-112, exactly, by moving bits: the sign stays
    the top bit, exponent and mantissa shift into float32's places (a float16 exponent
    read with float32's bias is 112 less; float16 subnormals land on float32 subnormals).
    numpy's own float16 cast converts one value at a time: it was two thirds of a probe
    at 100,000 papers (1.9 ms); this is three vector passes (~0.9 ms in all). Every
    finite float16 converts exactly (tests/test_hybrid.py), and ``rows @ (q * 2**112)``
    then multiplies the same numbers as the cast's ``rows @ q``: the same scores, bit for
    bit. Unit vectors hold no infinities or NaNs, the only values it does not keep."""
    bits = rows.view(np.int16).astype(np.int32)  # sign-extended
    bits <<= 13
    bits &= np.int32(-0x70000001)  # 0x8FFFFFFF: the sign, no copies of it below
    return bits.view(np.float32)


def _cluster(
    matrix: np.ndarray, iterations: int = 6, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """k-means (k ~ 2 sqrt(n)) on a sample; rows ordered by cluster, with cluster starts."""
    n = matrix.shape[0]
    k = max(1, int(2 * np.sqrt(n)))
    rng = np.random.default_rng(seed)
    sample = matrix[rng.choice(n, size=min(n, 40 * k), replace=False)]
    centroids = sample[rng.choice(sample.shape[0], size=k, replace=False)].copy()
    for _ in range(iterations):
        assign = np.argmax(sample @ centroids.T, axis=1)
        for c in range(k):
            members = sample[assign == c]
            if len(members):
                centroids[c] = members.mean(0)
        centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    assign = np.concatenate(
        [np.argmax(matrix[i : i + 8192] @ centroids.T, axis=1) for i in range(0, n, 8192)]
    )
    order = np.argsort(assign, kind="stable")
    starts = np.searchsorted(assign[order], np.arange(k + 1))
    return order, centroids.astype(np.float32), starts
