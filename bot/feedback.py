"""Feedback that tunes a channel's ranking, by a rule a person can check by hand.

* Every 👍 on a paper adds +1 to each of the paper's *terms*, every 👎 adds −1. A
  paper's terms are the stems of its title and AI keywords, leaving out generic ones
  (stems found in more than 10% of the corpus, such as "model" or "learn").
* A new paper's feedback score is the sum of its terms' weights, capped to −3..+3.
* Its ranking weight is ``(upvotes + 1) × 2^score``: each net point doubles (or halves)
  its weight against the others of the day. With no feedback the order is plain upvotes.

Feedback is per channel and kept in the state file, so it survives restarts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bot.models import Feedback, Paper

SCORE_CAP = 3.0
GENERIC_SHARE = 0.10


@dataclass(slots=True)
class Taste:
    """What a channel's feedback has taught: a weight per term."""

    weights: dict[str, float] = field(default_factory=dict)
    likes: int = 0
    dislikes: int = 0

    @property
    def empty(self) -> bool:
        return not any(self.weights.values())

    def describe(self, label: Callable[[str], str] = str, limit: int = 5) -> str:
        """In words: the counts, and the terms it favours and disfavours (``label`` turns
        an index stem back into a readable word)."""
        if self.likes + self.dislikes == 0:
            return "no feedback yet: 👍/👎 on a posted paper tunes the ranking"
        ranked = sorted(self.weights.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
        liked = [label(t) for t, w in ranked if w > 0][:limit]
        disliked = [label(t) for t, w in ranked if w < 0][:limit]
        parts = [f"{self.likes} 👍, {self.dislikes} 👎"]
        if liked:
            parts.append("favours " + ", ".join(liked))
        if disliked:
            parts.append("disfavours " + ", ".join(disliked))
        return "; ".join(parts)


TermsOf = Callable[[Paper], set[str]]


def learn(
    feedback: Iterable[Feedback], papers: Callable[[str], Paper | None], terms_of: TermsOf
) -> Taste:
    taste = Taste()
    weights: Counter[str] = Counter()
    for vote in feedback:
        paper = papers(vote.paper_id)
        if paper is None or vote.value == 0:
            continue
        if vote.value > 0:
            taste.likes += 1
        else:
            taste.dislikes += 1
        for term in terms_of(paper):
            weights[term] += 1 if vote.value > 0 else -1
    taste.weights = {t: float(w) for t, w in weights.items() if w}
    return taste


def score(taste: Taste, paper: Paper, terms_of: TermsOf) -> float:
    if taste.empty:
        return 0.0
    total = sum(taste.weights.get(t, 0.0) for t in terms_of(paper))
    return max(-SCORE_CAP, min(SCORE_CAP, total))


def weight(taste: Taste, paper: Paper, terms_of: TermsOf) -> float:
    """The ranking weight ``(upvotes + 1) × 2^score``."""
    return ((paper.upvotes or 0) + 1) * 2 ** score(taste, paper, terms_of)
