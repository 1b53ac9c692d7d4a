"""The SQLite FTS5 baseline: same corpus, same queries, stdlib ``sqlite3`` only.

The translation is meant to be fair to FTS5: it uses our own query parser, the same field
weights as our index (``bm25`` column weights), the porter stemmer, filters as indexed
``WHERE`` clauses, the same "all words, else any word" fallback, the same total count
(our replies say "Results 1-5 of N") and it returns :class:`bot.models.Paper` records.
What FTS5 cannot do it is not asked to do: there is no typo tolerance, so a misspelt
word is searched literally (usually finding nothing, which is cheap).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

import orjson

from bot.models import Paper
from bot.query import ParsedQuery, parse_query
from bot.search import day_number

# Same weights as bot.search._BOOSTS: title, abstract, keywords, authors.
_BM25 = "bm25(fts, 3.0, 1.0, 2.0, 1.5)"
_SCHEMA = """
CREATE TABLE papers (rowid INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, day INTEGER, doc BLOB);
CREATE INDEX papers_day ON papers(day);
CREATE TABLE cats (paper INTEGER NOT NULL, cat TEXT NOT NULL);
CREATE INDEX cats_cat ON cats(cat, paper);
CREATE VIRTUAL TABLE fts USING fts5(
    title, abstract, keywords, authors,
    content='', tokenize='porter unicode61 remove_diacritics 2'
);
"""


def build(path: Path, papers: Iterable[Paper], batch: int = 10_000) -> None:
    """Create the database: one transaction per ``batch`` papers (as our import batches)."""
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.executescript("PRAGMA journal_mode=WAL;" + _SCHEMA)
    rows: list[Paper] = []
    rowid = 0

    def flush() -> None:
        nonlocal rowid
        with db:
            for p in rows:
                rowid += 1
                db.execute(
                    "INSERT INTO papers VALUES (?, ?, ?, ?)",
                    (rowid, p.id, day_number(p.list_date), orjson.dumps(p.to_doc())),
                )
                db.executemany(
                    "INSERT INTO cats VALUES (?, ?)", [(rowid, c.lower()) for c in p.categories]
                )
                db.execute(
                    "INSERT INTO fts(rowid, title, abstract, keywords, authors) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (rowid, p.title, p.abstract, " ; ".join(p.ai_keywords), " ; ".join(p.authors)),
                )
        rows.clear()

    for paper in papers:
        rows.append(paper)
        if len(rows) >= batch:
            flush()
    flush()
    db.execute("INSERT INTO fts(fts) VALUES ('optimize')")
    db.commit()
    db.close()


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def to_match(parsed: ParsedQuery, *, require_all: bool = True) -> str | None:
    """The FTS5 MATCH expression for ``parsed`` (``None``: no full-text part)."""
    text = [_quote(w) for w in parsed.words] + [_quote(p) for p in parsed.phrases]
    parts: list[str] = []
    if text:
        parts.append(" AND ".join(text) if require_all else "(" + " OR ".join(text) + ")")
    for name in parsed.authors:
        parts += [f"authors : {_quote(tok)}" for tok in name.split()]
    if not parts:
        return None
    expr = " AND ".join(parts)
    for word in parsed.excluded:
        expr = f"({expr}) NOT {_quote(word)}"
    return expr


class FTS5Search:
    """One connection, reused across queries (as a server would)."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False)

    def search(self, query: str, per_page: int = 5) -> tuple[list[Paper], int]:
        """Top ``per_page`` papers and the total, as ``PapersBot.search`` shows them."""
        parsed = parse_query(query)
        papers, total = self._run(parsed, per_page, require_all=True)
        if total == 0 and len(parsed.words) + len(parsed.phrases) > 1:
            papers, total = self._run(parsed, per_page, require_all=False)
        return papers, total

    def _run(
        self, parsed: ParsedQuery, per_page: int, *, require_all: bool
    ) -> tuple[list[Paper], int]:
        match = to_match(parsed, require_all=require_all)
        where: list[str] = []
        args: list[object] = []
        if parsed.since:
            where.append("p.day >= ?")
            args.append(int(parsed.since.strftime("%Y%m%d")))
        if parsed.categories:
            marks = ",".join("?" * len(parsed.categories))
            where.append(f"h.rowid IN (SELECT paper FROM cats WHERE cat IN ({marks}))")
            args += [c.lower() for c in parsed.categories]
        cond = f"WHERE {' AND '.join(where)}" if where else ""
        if match is None:  # filters only (newest first), as ours
            sql = (
                "SELECT h.rowid, count(*) OVER () FROM papers h JOIN papers p "
                f"ON p.rowid = h.rowid {cond} ORDER BY p.day DESC LIMIT ?"
            )
        else:
            # The fastest form we found: bm25 cannot be used next to a window function or
            # a join, and "rowid IN (...)" next to MATCH takes seconds; a materialized CTE
            # of the matches, then filters, count and top-k over it, takes milliseconds.
            order = "h.r" if parsed.has_text else "p.day DESC"
            sql = (
                f"WITH h AS MATERIALIZED (SELECT rowid, {_BM25} AS r FROM fts WHERE fts MATCH ?) "
                "SELECT h.rowid, count(*) OVER () FROM h JOIN papers p ON p.rowid = h.rowid "
                f"{cond} ORDER BY {order} LIMIT ?"
            )
            args.insert(0, match)
        top = self.db.execute(sql, [*args, per_page]).fetchall()
        if not top:
            return [], 0
        total = top[0][1]
        ids = [rowid for rowid, _ in top]
        marks = ",".join("?" * len(ids))
        docs = dict(self.db.execute(f"SELECT rowid, doc FROM papers WHERE rowid IN ({marks})", ids))
        rows = [(docs[i], total) for i in ids]
        return [Paper.from_doc(orjson.loads(doc)) for doc, _ in rows], total
