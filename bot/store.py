"""The data folder: the corpus in TinyDB, the bot state in a SQL database.

* ``corpus.json``: papers, keyed by id, plus a ``_meta`` table with the schema version and
  a revision number that the search index compares against. The only TinyDB file.
* ``state.sqlite3``: channels, topics, deliveries, feedback and the bot's own bookkeeping,
  one row each (:mod:`bot.state_db`), so recording a delivery never rewrites the history.
  A ``state.json`` from an older papers-bot is imported on the first start
  (:mod:`bot.state_import`), then renamed ``state.json.imported``.

Corpus writes go through :class:`AtomicJSONStorage`: serialise, write a temp file in the
same folder, fsync, ``os.replace``. A crash mid-write leaves the old file. TinyDB rereads
the whole file on every operation, so the storage keeps the parsed document in memory
(this process is the file's only writer) and corpus writes are batched into one
``_update_table`` call per import. A re-entrant lock guards the corpus; the state database
has its own transactions. Threads and asyncio tasks can share a :class:`Store`.
"""

from __future__ import annotations

import contextlib
import gc
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

from bot.models import (
    Channel,
    Delivery,
    Feedback,
    Paper,
    Record,
    Topic,
    allowed_names,
    record_fields,
)
from bot.state_db import StateDB
from bot.state_import import LEGACY_STATE_FILE, import_legacy_state
from bot.storage_errors import StorageError

__all__ = ["SCHEMA_VERSION", "StorageError", "Store", "utc_now"]

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, one process by convention
    fcntl = None  # type: ignore[assignment]

SCHEMA_VERSION = 1
META_TABLE = "_meta"
_META_ID = "schema"


def utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class AtomicJSONStorage(Storage):
    """A TinyDB storage that writes atomically and refuses a corrupt file.

    The parsed file is cached: TinyDB calls ``read()`` before every operation, and parsing a
    100,000-paper corpus each time would make every lookup take a second.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._cache: dict[str, dict[str, Any]] | None = None
        self.writes = 0  # how many times the file was rewritten; benchmarks and tests read it
        self._defer = 0
        self._dirty = False

    def read(self) -> dict[str, dict[str, Any]] | None:
        if self._cache is not None:
            return self._cache
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot read ({exc.strerror})") from exc
        if not raw or raw.isspace():  # raw.strip() would copy the whole file
            raise StorageError(
                f"{self.path}: the file is empty (truncated?). It was left untouched; "
                "restore it from a backup or move it away to start afresh."
            )
        try:
            data = _loads_without_gc(raw)
        except orjson.JSONDecodeError as exc:
            raise StorageError(
                f"{self.path}: not valid JSON ({exc}). The file was left untouched; "
                "restore it from a backup or move it away to start afresh."
            ) from exc
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise StorageError(f"{self.path}: not a papers-bot data file (unexpected layout)")
        self._cache = data
        return data

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Coalesce every write inside the block into one file write at its end."""
        self._defer += 1
        try:
            yield
        finally:
            self._defer -= 1
            if self._defer == 0 and self._dirty:
                self._dirty = False
                assert self._cache is not None
                self._write_file(self._cache)

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        if self._defer:
            self._cache, self._dirty = data, True
            return
        self._write_file(data)

    def _write_file(self, data: dict[str, dict[str, Any]]) -> None:
        """Replace the file with ``data``, or leave both the file and the cache as they were.

        TinyDB (and :class:`Store`) change the cached document in place before calling
        ``write``, so a write that fails must not leave that change behind: the next
        write would carry it again and fail again, for every caller. On any failure the
        cache is dropped and the next read takes the file as it is on disk, which is
        exactly the state before the failed change (this process is the only writer).
        """
        tmp: str | None = None
        try:
            payload = orjson.dumps(data)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
            )
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException as exc:
            self._cache = None  # the failed change is in the cached dict: reread the file
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            if isinstance(exc, orjson.JSONEncodeError | OSError):
                raise StorageError(
                    f"{self.path}: cannot save ({_reason(exc)}); the file was left as it was"
                ) from exc
            raise
        _fsync_dir(self.path.parent)
        self._cache = data
        self.writes += 1

    def close(self) -> None:
        self._cache = None


def _reason(exc: BaseException) -> str:
    """Why a write failed, in a few words: ``No space left on device``, ``File too large``,
    ``Integer exceeds 64-bit range``."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


def _loads_without_gc(raw: bytes) -> Any:
    """``orjson.loads`` with the cyclic GC paused, its result kept out of later collections.

    Parsing creates millions of containers, and each allocation burst triggers a
    collection that walks all of them again: at 100,000 papers the parse takes 1.1 s with
    the GC on and 0.4 s with it off. Even then the next young, middle and full collections
    would each walk those 2 million objects once more (0.15-0.26 s each, the full ones
    again whenever they recur, a pause in the middle of a search). ``gc.freeze()`` moves
    them to the permanent generation instead. JSON values cannot form reference cycles,
    so the GC could never have freed any of them; reference counting still frees them.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        data = orjson.loads(raw)
        gc.freeze()
        return data
    finally:
        if enabled:
            gc.enable()


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); harmless where unsupported."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class KeyedTable(Table):
    """A TinyDB table whose document ids are strings we choose (arXiv ids, channel keys)."""

    document_id_class = str  # type: ignore[assignment]

    def put_many(self, docs: dict[str, dict[str, Any]]) -> None:
        """Insert or replace many documents with a single file write.

        Edits the stored table in place: TinyDB's own update path copies the whole table
        twice per call, which costs more than the write itself once a table is large.
        """
        self._edit(lambda table: table.update(docs))

    def delete_many(self, doc_ids: Iterable[str]) -> None:
        """Remove documents by id (missing ones are ignored) with a single file write."""
        ids = list(doc_ids)
        self._edit(lambda table: [table.pop(i, None) for i in ids])

    def _edit(self, change: Callable[[dict[str, Any]], object]) -> None:
        tables = self._storage.read() or {}
        change(tables.setdefault(self.name, {}))
        try:
            self._storage.write(tables)
        finally:
            self.clear_cache()  # a failed write rolled the storage back: forget either way

    def put(self, doc_id: str, doc: dict[str, Any]) -> None:
        self.put_many({doc_id: doc})

    def raw(self) -> dict[str, dict[str, Any]]:
        """The stored documents without copying them. Callers must not mutate them."""
        return self._read_table()  # type: ignore[return-value]


def _open_db(path: Path, kind: str) -> tuple[TinyDB, AtomicJSONStorage]:
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a writer killed mid-write
        with contextlib.suppress(OSError):
            stale.unlink()
    db = TinyDB(path, storage=AtomicJSONStorage)
    db.table_class = KeyedTable
    storage: AtomicJSONStorage = db.storage  # type: ignore[assignment]
    meta = db.table(META_TABLE).get(doc_id=_META_ID)  # type: ignore[call-overload]
    if meta is None:
        if storage.read() not in (None, {}):
            raise StorageError(f"{path}: no schema version; not a papers-bot {kind} file")
        db.table(META_TABLE).put(_META_ID, {"kind": kind, "version": SCHEMA_VERSION, "revision": 0})
    else:
        _check_file(path, kind, meta, storage.read() or {})
    return db, storage


def _check_file(path: Path, kind: str, meta: dict[str, Any], tables: dict[str, Any]) -> None:
    if meta.get("kind") != kind:
        raise StorageError(f"{path}: expected a {kind} file, found {meta.get('kind')!r}")
    if meta.get("version") != SCHEMA_VERSION:
        raise StorageError(
            f"{path}: schema version {meta.get('version')} is not supported "
            f"(this papers-bot reads version {SCHEMA_VERSION})"
        )
    _check_records(path, tables)


def read_legacy_state(path: Path) -> dict[str, dict[str, Any]]:
    """A state.json of papers-bot 3cff8ee or earlier, checked record by record, unchanged."""
    tables = AtomicJSONStorage(path).read() or {}
    meta = tables.get(META_TABLE, {}).get(_META_ID)
    if type(meta) is not dict:
        raise StorageError(f"{path}: no schema version; not a papers-bot state file")
    _check_file(path, "state", meta, tables)
    return tables


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


def _claim_folder(folder: Path) -> None:
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
        self._claimed = claim
        if claim:
            _claim_folder(self.data_dir)
        self.lock = threading.RLock()
        self._corpus, self.corpus_storage = _open_db(self.data_dir / "corpus.json", "corpus")
        legacy = self.data_dir / LEGACY_STATE_FILE
        legacy_tables = read_legacy_state(legacy) if legacy.exists() else None
        self.state = StateDB(self.data_dir, state_url)
        self.state_storage = self.state  # its .path and .writes, as the JSON storage had
        if legacy_tables is not None:
            import_legacy_state(self.state, legacy, legacy_tables)
        # Paper objects built so far, for the corpus revision they came from. Built on
        # demand: a search needs five, and building all 100,000 took 0.9 s of cold start.
        self._papers_cache: dict[str, Paper] = {}
        self._papers_cache_revision = -1
        self._papers_cache_complete = False

    # ---- corpus ---------------------------------------------------------------------

    @property
    def corpus_path(self) -> Path:
        return self.corpus_storage.path

    def _papers_table(self) -> KeyedTable:
        return self._corpus.table("papers")  # type: ignore[return-value]

    @property
    def corpus_revision(self) -> int:
        with self.lock:
            meta = self._corpus.table(META_TABLE).get(doc_id=_META_ID)  # type: ignore[call-overload]
            return int(meta["revision"])

    def paper_count(self) -> int:
        with self.lock:
            return len(self._papers_table().raw())

    def _current_cache(self) -> dict[str, Paper]:
        """The Paper cache, emptied when the corpus changed. Call with the lock held."""
        revision = self.corpus_revision
        if revision != self._papers_cache_revision:
            self._papers_cache = {}
            self._papers_cache_revision = revision
            self._papers_cache_complete = False
        return self._papers_cache

    def _all_papers(self) -> dict[str, Paper]:
        """Every paper as a model object (in corpus order), built once per corpus revision."""
        with self.lock:
            cache = self._current_cache()
            if not self._papers_cache_complete:
                raw = self._papers_table().raw()
                built = {pid: cache.get(pid) or Paper.from_doc(doc) for pid, doc in raw.items()}
                self._papers_cache = built
                self._papers_cache_complete = True
            return self._papers_cache

    def get_paper(self, paper_id: str) -> Paper | None:
        with self.lock:
            cache = self._current_cache()
            paper = cache.get(paper_id)
            if paper is None and not self._papers_cache_complete:
                doc = self._papers_table().raw().get(paper_id)
                if doc is not None:
                    paper = cache[paper_id] = Paper.from_doc(doc)
            return paper

    def papers(self) -> list[Paper]:
        return list(self._all_papers().values())

    def put_papers(self, papers: Iterable[Paper], remove_ids: Iterable[str] = ()) -> int:
        """Insert or replace papers (and drop ``remove_ids``) in one atomic write.

        Bumps the corpus revision so the search index knows to follow.
        """
        docs = {p.id: p.to_doc() for p in papers}
        remove = set(remove_ids) - docs.keys()
        if not docs and not remove:
            return 0
        with self.lock:
            tables = self.corpus_storage.read() or {}
            table = tables.setdefault("papers", {})
            for pid in remove:
                table.pop(pid, None)
            table.update(docs)
            meta = tables[META_TABLE][_META_ID]
            meta["revision"] = int(meta["revision"]) + 1
            self.corpus_storage.write(tables)
        return len(docs)

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

    def save_channels(self, channels: Iterable[Channel]) -> None:
        """Save many channels in one transaction (imports, benchmarks)."""
        self.state.put(channels)

    def channels(self) -> list[Channel]:
        return self.state.rows(Channel)

    # ---- state: topics --------------------------------------------------------------

    def add_topic(
        self, channel: str, query: str, added_by: str, alert_upvotes: int | None = None
    ) -> Topic:
        (topic,) = self.state.add_topics([(channel, query, added_by, alert_upvotes)], utc_now())
        return topic

    def add_topics(self, items: Iterable[tuple[str, str, str]]) -> list[Topic]:
        """Add many (channel, query, added_by) topics in one transaction."""
        rows = [(channel, query, by, None) for channel, query, by in items]
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

    def deliveries(self, channel: str | None = None) -> list[Delivery]:
        return self.state.rows(Delivery, **_in_channel(channel))

    def delivered_ids(self, channel: str, *, weekly: bool = False) -> set[str]:
        """Papers this channel has had, or that are on their way to it (pending).

        Daily posts and alerts share one "already had" set; the weekly recap has its own.
        """
        return self.state.delivered_ids(channel, weekly=weekly)

    def delivered_by_channel(self, *, weekly: bool = False) -> dict[str, set[str]]:
        """Every channel's delivered (or pending) paper ids, in one pass: for fan-out."""
        return self.state.delivered_by_channel(weekly=weekly)

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

    def close(self) -> None:
        with self.lock:
            self._corpus.close()
            self.state.close()
            if self._claimed:
                self._claimed = False
                _release_folder(self.data_dir)


def _in_channel(channel: str | None) -> dict[str, str]:
    return {} if channel is None else {"channel": channel}
