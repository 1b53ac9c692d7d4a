"""A synthetic corpus and query mix, re-combined from the 177-paper demo corpus.

Real titles and abstracts give the term statistics (Zipf-like word frequencies, real
phrases, real author names); re-combining their sentences and words scales that to any
size. Everything is driven by one ``random.Random(seed)`` so two runs with the same
``--papers`` and ``--seed`` produce the same corpus and the same queries.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import orjson

from bot.models import Paper

DEMO = Path(__file__).resolve().parents[1] / "bot" / "data" / "demo_corpus.json"
END_DAY = date(2026, 5, 15)  # the corpus spans the two years before this day
SPAN_DAYS = 730
# The demo corpus has few categories; spread papers over a realistic arXiv mix.
EXTRA_CATEGORIES = [
    "cs.CL",
    "cs.CV",
    "cs.LG",
    "cs.AI",
    "cs.RO",
    "cs.IR",
    "cs.NE",
    "cs.SD",
    "eess.AS",
    "eess.IV",
    "stat.ML",
    "stat.ME",
    "math.OC",
    "q-bio.NC",
    "physics.comp-ph",
    "cs.CR",
    "cs.DC",
    "cs.HC",
    "cs.SE",
    "cs.MA",
]
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z\-]{2,}")
_STOP = set(
    [
        "the",
        "and",
        "for",
        "with",
        "from",
        "that",
        "this",
        "are",
        "was",
        "were",
        "has",
        "have",
        "been",
        "our",
        "their",
        "its",
        "into",
        "than",
        "which",
        "while",
        "these",
        "those",
        "such",
        "can",
        "also",
        "not",
        "but",
        "all",
        "any",
        "each",
        "more",
        "most",
        "other",
        "over",
        "under",
        "using",
        "use",
        "used",
        "based",
        "between",
        "both",
        "via",
        "where",
        "when",
        "how",
        "what",
        "who",
        "why",
        "new",
        "two",
        "one",
        "show",
        "shows",
        "shown",
        "propose",
        "proposed",
        "method",
        "methods",
        "paper",
        "approach",
        "results",
    ]
)


@dataclass(slots=True)
class Vocabulary:
    """What the demo corpus offers to re-combine."""

    sentences: list[str]
    title_words: list[str]
    words: list[str]  # content words, weighted by frequency (repeats allowed)
    distinct_words: list[str]  # content words seen at least 3 times, >= 5 letters
    first_names: list[str]
    last_names: list[str]
    categories: list[str]
    keywords: list[str]


def load_vocabulary() -> Vocabulary:
    demo = orjson.loads(DEMO.read_bytes())
    sentences: list[str] = []
    title_words: list[str] = []
    counts: Counter[str] = Counter()
    firsts: set[str] = set()
    lasts: set[str] = set()
    cats: set[str] = set(EXTRA_CATEGORIES)
    keywords: set[str] = set()
    for doc in demo:
        sentences += [s.strip() for s in _SENTENCE_RE.split(doc.get("abstract") or "") if s.strip()]
        title_words += doc["title"].split()
        counts.update(w.lower() for w in _WORD_RE.findall(doc.get("abstract") or ""))
        for name in doc.get("authors") or []:
            parts = name.split()
            if len(parts) >= 2:
                firsts.add(parts[0])
                lasts.add(parts[-1])
        cats.update(doc.get("categories") or [])
        keywords.update(doc.get("ai_keywords") or [])
    content = [w for w in counts.elements() if w not in _STOP]
    distinct = sorted(w for w, c in counts.items() if c >= 3 and len(w) >= 5 and w not in _STOP)
    if len(keywords) < 50:  # few demo papers carry keywords: make some from word pairs
        rng = random.Random(0)
        keywords.update(f"{rng.choice(distinct)} {rng.choice(distinct)}" for _ in range(300))
    return Vocabulary(
        sentences=sentences,
        title_words=title_words,
        words=content,
        distinct_words=distinct,
        first_names=sorted(firsts),
        last_names=sorted(lasts),
        categories=sorted(cats),
        keywords=sorted(keywords),
    )


def make_papers(n: int, seed: int, vocab: Vocabulary | None = None) -> list[Paper]:
    """``n`` papers with unique arXiv-style ids, dated over the two years before END_DAY."""
    vocab = vocab or load_vocabulary()
    rng = random.Random(seed)
    # A few thousand distinct authors, some prolific (authors are drawn with a skew).
    authors = [f"{f} {la}" for f in vocab.first_names for la in vocab.last_names]
    rng.shuffle(authors)
    authors = authors[: max(500, min(len(authors), n // 4))]
    cat_weights = [1.0 / (i + 1) for i in range(len(vocab.categories))]
    papers: list[Paper] = []
    # arXiv numbers each month's papers in order (2605.00001, 2605.00002, ...): so do we,
    # so that a month's papers fill consecutive blocks as real ones do (bot.corpus).
    numbered: Counter[str] = Counter()
    for i in range(n):
        day = END_DAY - timedelta(days=rng.randrange(SPAN_DAYS))
        month = f"{day:%y%m}"
        numbered[month] += 1
        pid = f"{month}.{numbered[month]:05d}"
        title_len = rng.randint(5, 11)
        title = " ".join(rng.choice(vocab.title_words) for _ in range(title_len))
        sentences = rng.sample(vocab.sentences, rng.randint(4, 8))
        # Swap a word per sentence so abstracts are not verbatim copies of each other.
        abstract = " ".join(
            s.replace(w, rng.choice(vocab.words), 1) if (w := _pick_word(s, rng)) else s
            for s in sentences
        )
        n_authors = min(len(authors), max(1, int(rng.expovariate(1 / 4))))
        paper_authors = [authors[int(len(authors) * rng.random() ** 2)]]  # a few prolific
        paper_authors += rng.sample(authors, n_authors - 1) if n_authors > 1 else []
        papers.append(
            Paper(
                id=pid,
                title=title,
                abstract=abstract,
                authors=list(dict.fromkeys(paper_authors)),
                published=(day - timedelta(days=rng.randrange(3))).isoformat(),
                daily_date=day.isoformat(),
                upvotes=int(rng.paretovariate(1.1)) - 1,
                comments=rng.randrange(5),
                github_repo=f"https://github.com/lab{i % 997}/repo{i}" if i % 3 == 0 else None,
                ai_keywords=rng.sample(vocab.keywords, rng.randint(0, 5)),
                categories=list(
                    dict.fromkeys(rng.choices(vocab.categories, cat_weights, k=rng.randint(1, 3)))
                ),
                sources=["hf_daily"] if i % 2 else ["arxiv"],
                first_seen=f"{day.isoformat()}T08:00:00+00:00",
            )
        )
    return papers


def _pick_word(sentence: str, rng: random.Random) -> str | None:
    words = _WORD_RE.findall(sentence)
    return rng.choice(words) if words else None


@dataclass(slots=True, frozen=True)
class BenchQuery:
    """One query of the mix: our syntax, its kind, and the FTS5 translation pieces."""

    kind: str
    text: str


def make_queries(
    papers: list[Paper], seed: int, vocab: Vocabulary | None = None
) -> list[BenchQuery]:
    """The fixed mix of 200 queries: words, phrases, typos and filters, as users write them."""
    vocab = vocab or load_vocabulary()
    rng = random.Random(seed + 1)
    words = vocab.distinct_words
    authors = [p.authors[0] for p in rng.sample(papers, 40)]
    queries: list[BenchQuery] = []

    def add(kind: str, count: int, make: object) -> None:
        for _ in range(count):
            queries.append(BenchQuery(kind, make()))  # type: ignore[operator]

    add("one-word", 50, lambda: rng.choice(words))
    add("multi-word", 40, lambda: " ".join(rng.sample(words, rng.randint(2, 3))))
    add("phrase", 30, lambda: f'"{_phrase(vocab, rng)}"')
    add("typo", 30, lambda: _typo(rng.choice([w for w in words if len(w) >= 7]), rng))
    add(
        "author",
        20,
        lambda: (
            f'author:"{rng.choice(authors)}"'
            + (f" {rng.choice(words)}" if rng.random() < 0.5 else "")
        ),
    )
    add("since", 15, lambda: f"{rng.choice(words)} since:{_since(rng)}")
    add("cat", 15, lambda: f"{rng.choice(words)} cat:{rng.choice(vocab.categories[:8])}")
    assert len(queries) == 200
    return queries


def _phrase(vocab: Vocabulary, rng: random.Random) -> str:
    while True:
        found = _WORD_RE.findall(rng.choice(vocab.sentences))
        if len(found) >= 3:
            start = rng.randrange(len(found) - 1)
            return " ".join(found[start : start + 2]).lower()


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    if rng.random() < 0.5:
        return word[:i] + word[i + 1 :]  # dropped letter
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # swapped letters


def _since(rng: random.Random) -> str:
    return (END_DAY - timedelta(days=rng.randrange(30, SPAN_DAYS))).isoformat()
