"""The corpus on disk: TinyDB files, one per block of arXiv ids, so an ingest rewrites
only the blocks it touches.

Layout of ``<data>/corpus/``:

* ``2611-03.json``: the papers whose arXiv ids are ``2611.06000``-``2611.07999`` (month
  ``2611``, block 3 of 2,000 sequence numbers). arXiv numbers a month's submissions in
  order, so a day's new papers land in one or two blocks, and a paper's block follows from
  its id: a lookup opens one small file, with no catalogue to hold in memory.
  Old-style ids (``hep-th/9901001``) go to ``old-9901.json``; papers without an arXiv id
  (keyed by title) to ``other.json``.
* ``meta.json``: the schema version, the revision the search index compares against, and
  how many papers each partition holds (so counting needs no partition).
* ``commit.json``: present only while a commit is being applied (see :meth:`Corpus.commit`).

A corpus opened ``shared=True`` is written by other processes too (workers on one volume,
docs/deploy.md). Those processes commit one at a time, each on top of the last: a commit
or a recovery holds ``corpus.lock`` beside the folder (an exclusive ``flock``) and first
reads the newest ``meta.json`` (always: its identity is not trusted there). A reader
notices a newer commit by ``meta.json``'s identity (a commit replaces the file: a new
inode), two ``stat`` calls per read of the revision (the journal's, then
``meta.json``'s), then reads the new partition list and
forgets the partitions it had cached; it finishes a commit a killed process left half
done (its ``commit.json``) under the lock first.

Every file is a TinyDB document (``{"papers": {id: record}}``, ``{"_meta": {...}}``), read
through :class:`bot.json_files.AtomicJSONStorage` (its parser and its refusals).

A commit is all or nothing across files: each new partition is written to a temp file and
fsynced, then a journal naming the renames is written atomically, then the renames are
done and the journal removed. A failure before the journal leaves every file as it was; a
crash after it is rolled forward when the corpus is next opened. Parsed partitions are kept
in a small LRU (``cached_partitions``): memory does not grow with the corpus.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
from tinydb import TinyDB
from tinydb.table import Table

from bot.json_files import AtomicJSONStorage, fsync_dir, not_saved, reason, write_temp
from bot.storage_errors import StorageError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks
    fcntl = None  # type: ignore[assignment]

SCHEMA_VERSION = 2  # 1: one corpus.json; 2: partitions in corpus/
BLOCK = 2_000  # arXiv sequence numbers per partition
META_FILE = "meta.json"
JOURNAL_FILE = "commit.json"
OTHER = "other"  # papers without an arXiv id (models.ARXIV_ID_RE): the same split
_NEW_ID = re.compile(r"^(\d{4})\.(\d{4,5})$")
_OLD_ID = re.compile(r"^[a-z\-]+(?:\.[A-Z]{2})?/(\d{4})\d{3}$")
_PART_NAME = re.compile(r"^(?:\d{4}-\d{2,3}|old-\d{4}|other)$")


def partition_of(paper_id: str) -> str:
    """The partition a paper lives in, from its id alone."""
    if m := _NEW_ID.match(paper_id):
        return f"{m[1]}-{int(m[2]) // BLOCK:02d}"
    if m := _OLD_ID.match(paper_id):
        return f"old-{m[1]}"
    return OTHER


class Corpus:
    """Papers as stored records (dicts), partitioned; thread-safe: readers share one lock
    (held for a lookup or a partition read), writers queue on another."""

    def __init__(
        self,
        folder: Path,
        *,
        cached_partitions: int = 8,
        check: Any = None,
        shared: bool = False,
    ) -> None:
        """``check(path, records)`` validates a partition's records when it is read (the
        store passes its record checks); it raises :class:`StorageError`."""
        self.path = folder
        self.lock = threading.RLock()  # readers: held for a dict lookup or a partition read
        self._commit_lock = threading.Lock()  # writers, one at a time
        self._check = check
        self._cache: OrderedDict[str, dict[str, dict[str, Any]]] = OrderedDict()
        self._cache_size = max(1, cached_partitions)
        self.writes = 0  # commits (each one atomic write), for benchmarks and tests
        self.files_written = 0
        self.bytes_written = 0
        self.shared = shared
        self._seen: tuple[int, int, int] | None = None  # meta.json's identity when read
        folder.mkdir(parents=True, exist_ok=True)
        with _other_processes_kept_out(folder, shared):
            self._recover()
            self._meta = self._read_meta()

    def refresh(self) -> bool:
        """Read another process's newer commit, if there is one (whether there was).

        A journal left behind (a worker killed between its journal and its renames) is
        rolled forward first, under ``corpus.lock``: a live committer holds the lock until
        its journal is gone, so one still there once the lock is ours is a dead one's."""
        if self.shared and (self.path / JOURNAL_FILE).exists():
            with self._commit_lock, _other_processes_kept_out(self.path, self.shared):
                return self._reread_locked()
        try:
            seen = _identity(self.path / META_FILE)
        except FileNotFoundError:
            return False
        if seen == self._seen:
            return False
        with self.lock:
            meta = self._read_meta()
            return self._take_meta(meta)

    def _reread_locked(self) -> bool:
        """Under ``corpus.lock``: finish a leftover commit, then read ``meta.json`` whatever
        its identity (an inode is reused, a timestamp is coarse: a file replaced twice may
        look unchanged, and a commit on top of a stale revision would drop the other's)."""
        journal = self.path / JOURNAL_FILE
        rolled = journal.exists()
        if rolled:
            self._roll_forward(journal)
        with self.lock:
            if rolled:  # partition files were replaced under the parsed ones
                self._cache.clear()
            return self._take_meta(self._read_meta())

    def _take_meta(self, meta: dict[str, Any]) -> bool:
        """Adopt ``meta`` (read under :attr:`lock`); whether its revision is new."""
        changed = meta["revision"] != self._meta["revision"] or (
            meta["partitions"] != self._meta["partitions"]
        )
        if changed:
            self._cache.clear()
            self._meta = meta
        return changed

    # ---- reading ----------------------------------------------------------------------

    @property
    def revision(self) -> int:
        if self.shared:
            self.refresh()
        return self.known_revision

    @property
    def known_revision(self) -> int:
        """The revision last read, without looking for another process's newer one."""
        return int(self._meta["revision"])

    def count(self) -> int:
        return sum(self._meta["partitions"].values())

    def partitions(self) -> list[str]:
        return sorted(self._meta["partitions"])

    def get(self, paper_id: str) -> dict[str, Any] | None:
        """The stored record of ``paper_id``. Callers must not mutate it."""
        with self.lock:
            return self._partition(partition_of(paper_id)).get(paper_id)

    def get_many(self, paper_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored records of those ids that exist, each partition read once (a merge
        asks for thousands of ids; asked one by one in arrival order they would thrash
        the partition cache)."""
        wanted: dict[str, list[str]] = {}
        for pid in paper_ids:
            wanted.setdefault(partition_of(pid), []).append(pid)
        found: dict[str, dict[str, Any]] = {}
        with self.lock:
            for name, ids in wanted.items():
                if name not in self._meta["partitions"]:
                    continue
                records = self._partition(name)
                found.update((pid, records[pid]) for pid in ids if pid in records)
        return found

    def records(self, partition: str) -> dict[str, dict[str, Any]]:
        """One partition's records, id -> record. Callers must not mutate them."""
        with self.lock:
            return self._partition(partition)

    def iter_records(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every record, a partition at a time (for index rebuilds and exports: the
        partitions read this way do not stay cached beyond the LRU's size)."""
        for name in self.partitions():
            yield from self.records(name).items()

    def _partition(self, name: str) -> dict[str, dict[str, Any]]:
        found = self._cache.get(name)
        if found is not None:
            self._cache.move_to_end(name)
            return found
        records = self._load(name)
        self._cache[name] = records
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return records

    def _load(self, name: str) -> dict[str, dict[str, Any]]:
        if name not in self._meta["partitions"]:
            return {}
        path = self._file(name)
        tables = _read_partition(path)
        if tables is None:
            raise StorageError(
                f"{path}: missing, though {self.path / META_FILE} lists it; restore the corpus "
                "folder from a backup, or move it away and ingest again"
            )
        records = tables.get("papers", {})
        if type(records) is not dict:
            raise StorageError(f"{path}: not a papers-bot corpus partition")
        if self._check is not None:
            self._check(path, records)
        return records

    def _file(self, name: str) -> Path:
        return self.path / f"{name}.json"

    # ---- writing ----------------------------------------------------------------------

    def commit(self, put: dict[str, dict[str, Any]], remove: Iterable[str] = ()) -> int:
        """Insert or replace the records in ``put`` and drop the ids in ``remove``, in
        every partition concerned, all or nothing. Returns the bytes written.

        Readers are not held up by the writing: the new partitions are copies, built
        under the lock, written without it (commits queue on their own lock), and swapped
        in under it at the end.
        """
        changes: dict[str, tuple[dict[str, dict[str, Any]], list[str]]] = {}
        for pid, doc in put.items():
            changes.setdefault(partition_of(pid), ({}, []))[0][pid] = doc
        for pid in remove:
            if pid not in put:
                changes.setdefault(partition_of(pid), ({}, []))[1].append(pid)
        if not changes:
            return 0
        with self._commit_lock, _other_processes_kept_out(self.path, self.shared):
            if self.shared or (self.path / JOURNAL_FILE).exists():
                # On top of another process's last commit, and after finishing an earlier
                # commit whose renames failed half-way (its error said so).
                self._reread_locked()
            new_parts: dict[str, dict[str, dict[str, Any]]] = {}
            for name, (docs, gone) in changes.items():
                with self.lock:
                    records = dict(self._partition(name))  # a copy: the old stays valid
                for pid in gone:
                    records.pop(pid, None)
                records.update(docs)
                new_parts[name] = records
            meta = {
                **self._meta,
                "revision": int(self._meta["revision"]) + 1,
                "partitions": {
                    **self._meta["partitions"],
                    **{name: len(records) for name, records in new_parts.items()},
                },
            }
            payloads = {self._file(n): {"papers": r} for n, r in new_parts.items()}
            payloads[self.path / META_FILE] = {"_meta": {"schema": meta}}
            written = self._apply(payloads)
            with self.lock:
                for name, records in new_parts.items():
                    if name in self._cache:
                        self._cache[name] = records
                self._meta = meta
            payloads.clear()
            release_gradually(new_parts)
            return written

    def _apply(self, payloads: dict[Path, dict[str, Any]]) -> int:
        staged: list[tuple[str, Path]] = []
        journal = self.path / JOURNAL_FILE
        try:
            written = 0
            for path, document in payloads.items():
                data = orjson.dumps(document)
                staged.append((write_temp(path, data), path))
                written += len(data)
            plan = [[os.path.basename(tmp), path.name] for tmp, path in staged]
            tmp_journal = write_temp(journal, orjson.dumps(plan))
            os.replace(tmp_journal, journal)
            fsync_dir(self.path)
        except BaseException as exc:
            error = not_saved(exc, self.path, "the corpus", [t for t, _ in staged])
            if error is exc:
                raise
            raise error from exc
        # The journal is durable: from here the commit happens, now or at the next open.
        self._roll_forward(journal)
        self.writes += 1
        self.files_written += len(payloads)
        self.bytes_written += written
        return written

    def _recover(self) -> None:
        """Finish a commit a crash interrupted; drop temp files of one that never began."""
        journal = self.path / JOURNAL_FILE
        if journal.exists():
            self._roll_forward(journal)
        for stale in self.path.glob(".*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()

    def _roll_forward(self, journal: Path) -> None:
        try:
            plan = orjson.loads(journal.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise StorageError(f"{journal}: unreadable commit journal ({exc})") from exc
        try:
            for tmp_name, final_name in plan:
                tmp = self.path / tmp_name
                if tmp.exists():
                    os.replace(tmp, self.path / final_name)
            fsync_dir(self.path)
            journal.unlink()
            fsync_dir(self.path)
        except OSError as exc:
            raise StorageError(
                f"{self.path}: a commit could not be finished ({reason(exc)}); it will be "
                "finished when papers-bot next starts"
            ) from exc

    def _read_meta(self) -> dict[str, Any]:
        path = self.path / META_FILE
        with contextlib.suppress(FileNotFoundError):
            self._seen = _identity(path)
        tables = _read_json(path)
        if tables is None:
            meta: dict[str, Any] = {"kind": "corpus", "version": SCHEMA_VERSION}
            return {**meta, "revision": 0, "partitions": {}}
        meta = tables.get("_meta", {}).get("schema") if type(tables.get("_meta")) is dict else None
        if type(meta) is not dict or meta.get("kind") != "corpus":
            raise StorageError(f"{path}: not a papers-bot corpus folder")
        if meta.get("version") != SCHEMA_VERSION:
            raise StorageError(
                f"{path}: schema version {meta.get('version')} is not supported "
                f"(this papers-bot reads version {SCHEMA_VERSION})"
            )
        parts = meta.get("partitions")
        if (
            type(meta.get("revision")) is not int
            or type(parts) is not dict
            or not all(type(n) is int and _PART_NAME.match(p) for p, n in parts.items())
        ):
            raise StorageError(f"{path}: damaged (revision or partition list)")
        return meta


def _identity(path: Path) -> tuple[int, int, int]:
    stat = os.stat(path)
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


@contextlib.contextmanager
def _other_processes_kept_out(folder: Path, shared: bool) -> Iterator[None]:
    """Hold ``corpus.lock`` (an exclusive ``flock``) while committing or recovering, when
    other processes share the folder: they wait, and none takes another's journal or temp
    files for a crash's leftovers."""
    if not shared or fcntl is None:  # one process: its own locks suffice
        yield
        return
    fd = os.open(folder.with_name(folder.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def release_gradually(mapping: dict[Any, Any]) -> None:
    """Empty ``mapping`` one entry at a time (a partition of at most 2,000 records, or one
    record). Dropped at once, a large merge's records are freed in one deallocation
    cascade that holds the GIL throughout (70-120 ms at 300,000 papers, measured as a
    stall of the event loop thread); a Python loop lets the other threads in between."""
    while mapping:
        mapping.popitem()


def _read_json(path: Path) -> dict[str, Any] | None:
    return AtomicJSONStorage(path).read()


def _read_partition(path: Path) -> dict[str, Any] | None:
    """A partition file's ``papers`` table, opened as the TinyDB document it is."""
    if not path.exists():
        return None
    db = TinyDB(path, storage=AtomicJSONStorage)
    db.table_class = KeyedTable
    try:
        return {"papers": db.table("papers").raw()}  # type: ignore[attr-defined]
    finally:
        db.close()


class KeyedTable(Table):
    """A TinyDB table whose document ids are strings we choose (arXiv ids)."""

    document_id_class = str  # type: ignore[assignment]

    def raw(self) -> dict[str, dict[str, Any]]:
        """The stored documents without copying them. Callers must not mutate them."""
        return self._read_table()  # type: ignore[return-value]
