"""The data folder: the corpus in TinyDB files, the bot state in a SQL database.

* ``corpus/``: papers, one TinyDB file per block of arXiv ids (:mod:`bot.corpus`), so an
  ingest rewrites only the blocks it touches and a lookup reads one small file. Its
  ``meta.json`` holds the schema version and a revision the search index compares against.
  A ``corpus.json`` from an older papers-bot (one file) is split into partitions on the
  first start, then renamed ``corpus.json.imported``.
* ``state.sqlite3``: channels, topics, deliveries, feedback and the bot's own bookkeeping,
  one row each (:mod:`bot.state_db`), so recording a delivery never rewrites the history.
  A ``state.json`` from an older papers-bot is imported on the first start
  (:mod:`bot.state_import`), then renamed ``state.json.imported``.

The serving process does not hold the corpus: :meth:`Store.get_paper` answers from a
bounded cache of papers, then the search index's stored copy (when the index is current),
then the paper's partition (itself in a bounded cache). Threads and asyncio tasks can share
a :class:`Store`: the corpus has one lock, the state database its own transactions.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.corpus import OTHER, Corpus, release_gradually
from bot.json_files import AtomicJSONStorage
from bot.models import (
    Channel,
    Delivery,
    Feedback,
    Paper,
    Record,
    Saved,
    Topic,
    allowed_names,
    record_fields,
)
from bot.state_db import StateDB, on_a_server
from bot.state_import import LEGACY_STATE_FILE, import_legacy_state
from bot.storage_errors import StorageError

__all__ = ["SCHEMA_VERSION", "StorageError", "Store", "utc_now"]

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, one process by convention
    fcntl = None  # type: ignore[assignment]

SCHEMA_VERSION = 1  # of the one-file JSON layouts read on upgrade (corpus.json, state.json)
CORPUS_DIR = "corpus"
LEGACY_CORPUS_FILE = "corpus.json"
PAPERS_CACHED = 4_096  # Paper objects kept (a day's digest is ~1,000 papers)
PARTITIONS_CACHED = 8  # parsed partitions kept (2,000 papers at most each)
META_TABLE = "_meta"
_META_ID = "schema"


def utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _check_file(path: Path, kind: str, meta: dict[str, Any], tables: dict[str, Any]) -> None:
    if meta.get("kind") != kind:
        raise StorageError(f"{path}: expected a {kind} file, found {meta.get('kind')!r}")
    if meta.get("version") != SCHEMA_VERSION:
        raise StorageError(
            f"{path}: schema version {meta.get('version')} is not supported "
            f"(this papers-bot reads version {SCHEMA_VERSION})"
        )
    _check_records(path, tables)


def read_legacy_file(path: Path, kind: str) -> dict[str, dict[str, Any]]:
    """A state.json or corpus.json of papers-bot 3cff8ee-era, checked record by record."""
    tables = AtomicJSONStorage(path).read() or {}
    meta = tables.get(META_TABLE, {}).get(_META_ID)
    if type(meta) is not dict:
        raise StorageError(f"{path}: no schema version; not a papers-bot {kind} file")
    _check_file(path, kind, meta, tables)
    return tables


def read_legacy_state(path: Path) -> dict[str, dict[str, Any]]:
    """A state.json of papers-bot 3cff8ee or earlier, checked record by record, unchanged."""
    return read_legacy_file(path, "state")


def _check_papers(path: Path, records: dict[str, Any]) -> None:
    """A corpus partition's records, checked when the partition is read."""
    _check_records(path, {"papers": records})


# What each table's records must hold. Checked once, when a file is opened, so that a
# hand-edited or damaged record stops the bot with its name instead of a traceback later.
_MODELS: dict[str, type[Record]] = {
    "papers": Paper,
    "channels": Channel,
    "topics": Topic,
    "deliveries": Delivery,
    "feedback": Feedback,
}
# Fields the code reads straight from the stored dicts, so they must be there even
# though the model has a default for them.
_ALSO_REQUIRED = {"deliveries": ("status",)}
# Only the required fields of papers are checked: a corpus holds 100,000 of them and
# checking every field would add half a second to each start.
_REQUIRED_ONLY = {"papers"}


def _check_records(path: Path, tables: dict[str, dict[str, Any]]) -> None:
    """Refuse a file with a record the bot cannot use, naming the record and the fault."""
    for name, records in tables.items():
        if name == META_TABLE:
            _check_meta_table(path, records)
            continue
        if name == "meta":
            for key, doc in records.items():
                if type(doc) is not dict or (
                    key == "next_topic_id" and type(doc.get("value")) is not int
                ):
                    raise _damaged(path, name, key, "expected {'value': ...} (an integer)")
            continue
        model = _MODELS.get(name)
        if model is None:  # a table from a newer papers-bot: not ours to judge
            continue
        fields = record_fields(model, also_required=_ALSO_REQUIRED.get(name, ()))
        if name in _REQUIRED_ONLY:
            fields = [f for f in fields if f[2]]
        for key, doc in records.items():
            if type(doc) is not dict:
                raise _damaged(path, name, key, "not a JSON object")
            for field_name, allowed, required in fields:
                value = doc.get(field_name, _MISSING)
                if value is _MISSING:
                    if required:
                        raise _damaged(path, name, key, f"no {field_name}")
                elif type(value) not in allowed:
                    raise _damaged(
                        path,
                        name,
                        key,
                        f"{field_name} is {_short(value)}, not {allowed_names(allowed)}",
                    )


_MISSING = object()


def _check_meta_table(path: Path, records: dict[str, Any]) -> None:
    for key, doc in records.items():
        if type(doc) is not dict:
            raise _damaged(path, META_TABLE, key, "not a JSON object")
        if key == _META_ID and type(doc.get("revision")) is not int:
            raise _damaged(
                path, META_TABLE, key, f"revision is {_short(doc.get('revision'))}, not an integer"
            )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _damaged(path: Path, table: str, key: str, problem: str) -> StorageError:
    return StorageError(
        f"{path}: record {table}/{_short(key)} is damaged ({problem}). The file was left "
        "untouched; fix or remove that record, or restore the file from a backup."
    )


# data folder -> [lock file descriptor, how many open Stores of this process use it]
_HELD_FOLDERS: dict[Path, list[int]] = {}


def claim_folder(folder: Path) -> None:
    """Hold an exclusive lock on the data folder for the life of this process.

    The store caches the files it writes, so a second process writing the same folder
    would silently lose one side's changes. It is refused with a clear message instead.
    (Stores opened again within one process share the claim.)
    """
    key = folder.resolve()
    if fcntl is None:
        return
    if key in _HELD_FOLDERS:
        _HELD_FOLDERS[key][1] += 1
        return
    fd = os.open(key / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise StorageError(
            f"{folder}: in use by another papers-bot process (pid {holder}); stop it "
            "first, or use another --db"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    _HELD_FOLDERS[key] = [fd, 1]


def _release_folder(folder: Path) -> None:
    held = _HELD_FOLDERS.get(folder.resolve())
    if held is None:
        return
    held[1] -= 1
    if held[1] == 0:
        del _HELD_FOLDERS[folder.resolve()]
        os.close(held[0])  # closing the descriptor releases the flock


class Store:
    """The corpus (TinyDB, one lock) and the bot state (SQL). Construct with the data folder."""

    def __init__(
        self, data_dir: str | os.PathLike[str], *, claim: bool = True, state_url: str | None = None
    ) -> None:
        """``claim=False`` is for a process that only reads (benchmarks, inspection):
        it does not lock the folder, and may see another process's writes late.
        ``state_url`` puts the state in another database (an SQLAlchemy URL); by default
        it is ``state.sqlite3`` in the data folder."""
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # A state database on a server: the data folder may be the volume of several
        # workers (bot.fleet), so it is not claimed whole and its corpus is shared.
        self.shared = on_a_server(state_url)
        if self.shared:
            claim = False
        self._claimed = claim
        if claim:
            claim_folder(self.data_dir)
        try:
            self._open_files(state_url)
        except BaseException:
            if claim:  # a refused folder is not held by this process either
                self._claimed = False
                _release_folder(self.data_dir)
            raise
        # Paper objects built lately: a bounded LRU (a search needs five, a digest a day's).
        self._papers: OrderedDict[str, Paper] = OrderedDict()
        self._papers_lock = threading.Lock()
        self._papers_revision = self.corpus.revision  # shared: another's commit empties it
        # Where a paper's stored record can be had without reading its partition: the
        # search index's stored copy, set by whoever owns the index (see bot.app). Called
        # with (paper id, corpus revision); answers None when it is not current.
        self.record_lookup: Callable[[str, int], dict[str, Any] | None] | None = None

    def _open_files(self, state_url: str | None) -> None:
        self.lock = threading.RLock()  # close() against close(); the parts lock themselves
        self.corpus = Corpus(
            self.data_dir / CORPUS_DIR,
            check=_check_papers,
            cached_partitions=PARTITIONS_CACHED,
            shared=self.shared,
        )
        self.corpus_storage = self.corpus  # its .path and .writes, for tests and benchmarks
        legacy = self.data_dir / LEGACY_STATE_FILE
        legacy_tables = read_legacy_state(legacy) if legacy.exists() else None
        self.state = StateDB(self.data_dir, state_url)
        self.state_storage = self.state  # its .path and .writes, as the JSON storage had
        if legacy_tables is not None:
            import_legacy_state(self.state, legacy, legacy_tables)
        self._import_legacy_corpus()

    def _import_legacy_corpus(self) -> None:
        """Split a one-file ``corpus.json`` (papers-bot before partitions) into partitions."""
        legacy = self.data_dir / LEGACY_CORPUS_FILE
        if not legacy.exists():
            return
        tables = read_legacy_file(legacy, "corpus")
        papers = tables.get("papers", {})
        if self.corpus.count():
            # A start that died between the import's commit and the rename: finish it.
            if len(self.corpus.get_many(papers)) != len(papers):
                raise StorageError(
                    f"{legacy}: an old one-file corpus beside a partitioned one in "
                    f"{self.corpus.path}; move one of them away"
                )
        else:
            self.corpus.commit(papers)  # one commit: all or nothing
        os.replace(legacy, legacy.with_name(LEGACY_CORPUS_FILE + ".imported"))

    # ---- corpus ---------------------------------------------------------------------

    @property
    def corpus_path(self) -> Path:
        return self.corpus.path

    @property
    def corpus_revision(self) -> int:
        return self.corpus.revision

    def paper_count(self) -> int:
        return self.corpus.count()

    def get_paper(self, paper_id: str) -> Paper | None:
        """The paper, from the LRU, else the index's stored copy, else its partition.

        Holds a lock only around the LRU: a lookup never waits for a commit
        that is writing partitions (it reads the partition as it was until the swap).
        """
        revision = self.corpus.revision  # (shared: one refresh per lookup)
        with self._papers_lock:
            if self.shared and revision != self._papers_revision:
                self._papers.clear()  # another worker committed: its papers may differ
                self._papers_revision = revision
            paper = self._papers.get(paper_id)
            if paper is not None:
                self._papers.move_to_end(paper_id)
                return paper
        doc = None
        if self.record_lookup is not None:
            doc = self.record_lookup(paper_id, revision)
        if doc is None:
            doc = self.corpus.get(paper_id)
        if doc is None:
            return None
        paper = Paper.from_doc(doc)
        with self._papers_lock:
            if self.corpus.known_revision == revision:  # not overtaken by a commit meanwhile
                self._papers[paper_id] = paper
                if len(self._papers) > PAPERS_CACHED:
                    self._papers.popitem(last=False)
        return paper

    def stored_papers(self, paper_ids: Iterable[str]) -> dict[str, Paper]:
        """The papers of those ids that are in the corpus, read from their partitions (each
        once): what a merge compares incoming papers with."""
        return {pid: Paper.from_doc(doc) for pid, doc in self.corpus.get_many(paper_ids).items()}

    def iter_papers(self) -> Iterator[Paper]:
        """Every paper, a partition at a time: for index rebuilds and tools, never per
        request (it reads the whole corpus)."""
        for _pid, doc in self.corpus.iter_records():
            yield Paper.from_doc(doc)

    def papers(self) -> list[Paper]:
        """Every paper in a list: tests and small tools only (see :meth:`iter_papers`)."""
        return list(self.iter_papers())

    def untitled_papers(self) -> list[Paper]:
        """The papers without an arXiv id (keyed by title): the ones an arXiv id may
        replace. They have one partition of their own, so this reads only that."""
        return [Paper.from_doc(doc) for doc in self.corpus.records(OTHER).values()]

    def put_papers(self, papers: Iterable[Paper], remove_ids: Iterable[str] = ()) -> int:
        """Insert or replace papers (and drop ``remove_ids``) in one atomic commit that
        rewrites only the partitions concerned. Bumps the corpus revision so the search
        index knows to follow."""
        docs = {p.id: p.to_doc() for p in papers}
        remove = set(remove_ids) - docs.keys()
        if not docs and not remove:
            return 0
        self.corpus.commit(docs, remove)
        with self._papers_lock:
            for pid in (*docs, *remove):
                self._papers.pop(pid, None)
        count = len(docs)
        release_gradually(docs)  # see there: a merge's records, freed without a stall
        return count

    # ---- state (rows in the state database, see bot.state_db) --------------------------

    @contextlib.contextmanager
    def batched_state_writes(self) -> Iterator[None]:
        """Every state change inside the block is one transaction: all durable, or none.

        The scheduler uses this for group commit: the delivery records of many concurrent
        posts are committed together, and none of them proceeds before the commit is done.
        A change that raises inside the block is undone alone (a savepoint); an exception
        leaving the block rolls the whole batch back.
        """
        with self.state.transaction():
            yield

    def get_meta(self, key: str, default: Any = None) -> Any:
        return self.state.get_meta(key, default)

    def set_meta(self, key: str, value: Any) -> None:
        self.state.set_meta(key, value)

    # ---- state: channels ------------------------------------------------------------

    def get_channel(self, key: str) -> Channel | None:
        return self.state.get_channel(key)

    def save_channel(self, channel: Channel) -> None:
        self.state.put([channel])

    def update_channel(self, key: str, change: Callable[[Channel], None]) -> Channel | None:
        """Read, change and write one channel in one transaction (no lost updates)."""
        return self.state.update_channel(key, change)

    def import_channel(
        self,
        key: str,
        change: Callable[[Channel], None],
        topics: Iterable[tuple[str, str, int | None, str | None]],
    ) -> Channel | None:
        """Change a channel and add its topics (query, added_by, alert_upvotes, notify) in
        one transaction: an import that fails half-way leaves the channel as it was."""
        rows = [(key, query, by, alert, notify) for query, by, alert, notify in topics]
        with self.state.transaction():
            channel = self.state.update_channel(key, change)
            if rows:
                self.state.add_topics(rows, utc_now())
            return channel

    def forget_workspace(self, platform: str, workspace: str) -> int:
        """Remove a workspace's channels and everything kept for them (the app was
        uninstalled there); returns how many channels went."""
        return self.state.forget_workspace(platform, workspace)

    def save_channels(self, channels: Iterable[Channel]) -> None:
        """Save many channels in one transaction (imports, benchmarks)."""
        self.state.put(channels)

    def channels(self) -> list[Channel]:
        return self.state.rows(Channel)

    def channels_by_key(self, keys: Iterable[str]) -> list[Channel]:
        """These channels (those that exist), in one query."""
        return self.state.channels_by_key(keys)

    def channels_with_notice(self, *notices: str) -> list[Channel]:
        """The channels whose ``notice`` is one of these (the owed pause and recovery
        notices: :mod:`bot.scheduler.notices`)."""
        return self.state.channels_with_notice(notices)

    # ---- state: topics --------------------------------------------------------------

    def add_topic(
        self,
        channel: str,
        query: str,
        added_by: str,
        alert_upvotes: int | None = None,
        notify: str | None = None,
    ) -> Topic:
        """Add one topic; ``notify`` is who its alerts mention (:mod:`bot.mentions`)."""
        row = (channel, query, added_by, alert_upvotes, notify)
        (topic,) = self.state.add_topics([row], utc_now())
        return topic

    def add_topics(self, items: Iterable[tuple[str, str, str]]) -> list[Topic]:
        """Add many (channel, query, added_by) topics in one transaction."""
        rows = [(channel, query, by, None, None) for channel, query, by in items]
        return self.state.add_topics(rows, utc_now())

    def topics(self, channel: str | None = None) -> list[Topic]:
        return self.state.rows(Topic, **_in_channel(channel))

    def remove_topics(self, channel: str, topic_ids: Iterable[int] | None = None) -> list[Topic]:
        """Remove the channel's topics with these ids (all of them when ``None``)."""
        with self.state.transaction():
            mine = self.topics(channel)
            wanted = {t.id for t in mine} if topic_ids is None else set(topic_ids)
            gone = [t for t in mine if t.id in wanted]
            self.state.delete_keys(Topic, [t.id for t in gone])
            return gone

    def topics_by_channel(self) -> dict[str, list[Topic]]:
        """Every channel's topics, in one pass: for fan-out over many channels."""
        found: dict[str, list[Topic]] = {}
        for topic in self.topics():
            found.setdefault(topic.channel, []).append(topic)
        return found

    # ---- state: deliveries ----------------------------------------------------------

    def record_deliveries(self, deliveries: Iterable[Delivery]) -> None:
        """Write delivery records (intent or completion): one row each, one transaction."""
        self.state.put(deliveries)

    def deliveries(self, channel: str | None = None, **equal: str) -> list[Delivery]:
        """Delivery records (of one channel), those whose columns equal ``equal`` only."""
        return self.state.rows(Delivery, **_in_channel(channel), **equal)

    def delivered_ids(self, channel: str, *, weekly: bool = False) -> set[str]:
        """Papers this channel has had, or that are on their way to it (pending).

        Daily posts and alerts share one "already had" set; the weekly recap has its own.
        """
        return self.state.delivered_ids(channel, weekly=weekly)

    def delivered_by_channel(
        self, *, weekly: bool = False, among: Iterable[str] | None = None
    ) -> dict[str, set[str]]:
        """Every channel's delivered (or pending) paper ids, in one pass: for fan-out."""
        return self.state.delivered_by_channel(weekly=weekly, among=among)

    def pending_channels(self) -> set[str]:
        """Channels with deliveries a crash left pending (an index lookup)."""
        return self.state.pending_channels()

    def pending_deliveries(self, channel: str | None = None) -> list[Delivery]:
        """Deliveries whose intent was recorded but whose completion was not (a crash)."""
        return self.state.rows(Delivery, status="pending", **_in_channel(channel))

    def remove_deliveries(self, deliveries: Iterable[Delivery]) -> None:
        """Forget deliveries that were never sent (their post failed), in one transaction."""
        self.state.delete_keys(Delivery, [(d.channel, d.key) for d in deliveries])

    def prune_deliveries(self, before: str) -> int:
        """Forget sent deliveries recorded before ``before`` (ISO time); returns how many.

        Keeps the history from growing without end. A paper only returns to a digest
        if it trends again after that long, which readers would welcome, not resent.
        """
        return self.state.prune_deliveries(before)

    # ---- state: feedback -------------------------------------------------------------

    def put_feedback(self, feedback: Feedback) -> None:
        """Record a 👍/👎; a person's new vote on a paper replaces their old one."""
        self.state.put([feedback])

    def feedback(self, channel: str | None = None) -> list[Feedback]:
        return self.state.rows(Feedback, **_in_channel(channel))

    # ---- state: reading lists -------------------------------------------------------

    def save_paper(
        self, person: str, paper_id: str, channel: str | None, *, at: str | None = None
    ) -> bool:
        """Put a paper on ``person``'s reading list (one list per person, across channels);
        False when it is there already (the first save's time and channel are kept)."""
        return self.state.add_saved(Saved(person, paper_id, at or utc_now(), channel))

    def unsave_paper(self, person: str, paper_id: str) -> bool:
        """Take a paper off ``person``'s reading list; False when it was not on it."""
        return self.state.delete_keys(Saved, [Saved(person, paper_id, "").key]) > 0

    def saved_count(self, person: str) -> int:
        """How many papers are on ``person``'s reading list (one COUNT, not the list)."""
        return self.state.count(Saved, user=person)

    def saved_papers(self, person: str) -> list[Saved]:
        """``person``'s reading list, newest first."""
        return self.state.rows(Saved, user=person)[::-1]

    def close(self) -> None:
        with self.lock:
            self.state.close()
            if self._claimed:
                self._claimed = False
                _release_folder(self.data_dir)


def _in_channel(channel: str | None) -> dict[str, str]:
    return {} if channel is None else {"channel": channel}
