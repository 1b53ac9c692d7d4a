"""How lexical and semantic results are merged into one ranking.

Reciprocal rank fusion: a paper scores ``sum(weight / (K + rank))`` over the lists it is
in (BM25's, the dense vectors'), so neither list's raw scores need calibrating against
the other. A paper near the top of both comes first; one at the top of only one still
ranks well, which is how a paraphrase ("portrait animation" for "audio-driven portrait
video generation") or a partial word match reaches the first page.
"""

from __future__ import annotations

from collections.abc import Sequence

K = 60
LEXICAL_WEIGHT = 1.0
DENSE_WEIGHT = 1.0
COVERAGE_WEIGHT = 1.0  # the papers with every plain word, in BM25 order

# A paper reached by meaning only is listed when its cosine to the query is at least this
# (all-MiniLM-L6-v2; the static fallback's cosines run higher across unrelated texts, its
# averaged word vectors sharing much, so its floors are higher).
MIN_DENSE = {"all-MiniLM-L6-v2": 0.30, "wordllama-l2-256": 0.35}
# A topic matches a paper by meaning alone at this cosine or more (README: topic threshold).
TOPIC_THRESHOLD = {"all-MiniLM-L6-v2": 0.45, "wordllama-l2-256": 0.55}


def fuse(lists: Sequence[tuple[Sequence[str], float]], k: int = K) -> list[tuple[str, float]]:
    """Ids from ranked ``lists`` (each with a weight), fused, best first."""
    scores: dict[str, float] = {}
    for ids, weight in lists:
        for rank, pid in enumerate(ids, start=1):
            scores[pid] = scores.get(pid, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
