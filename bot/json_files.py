"""JSON files written atomically and read once: the storage under every TinyDB file.

Serialise, write a temp file in the same folder, fsync, ``os.replace``, fsync the folder:
a crash mid-write leaves the old file. A file that is empty or not JSON is refused with a
one-line :class:`StorageError`, never overwritten.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from tinydb.storages import Storage

from bot.background_work import gc_paused
from bot.storage_errors import StorageError

__all__ = ["AtomicJSONStorage", "fsync_dir", "not_saved", "reason", "write_temp"]


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
            tmp = write_temp(self.path, payload)
            os.replace(tmp, self.path)
        except BaseException as exc:
            self._cache = None  # the failed change is in the cached dict: reread the file
            error = not_saved(exc, self.path, "the file", [tmp] if tmp else [])
            if error is exc:
                raise
            raise error from exc
        fsync_dir(self.path.parent)
        self._cache = data
        self.writes += 1

    def close(self) -> None:
        self._cache = None


def write_temp(path: Path, data: bytes) -> str:
    """``data`` in a new temp file beside ``path``, flushed to disk; returns its name."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def not_saved(exc: BaseException, where: Path, what: str, temps: list[str]) -> BaseException:
    """What a failed save raises: its temp files removed, then a one-line
    :class:`StorageError` saying ``what`` was left as it was (for a full disk, a
    read-only folder, a value JSON cannot hold), or ``exc`` itself for anything else."""
    for tmp in temps:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    if isinstance(exc, orjson.JSONEncodeError | OSError):
        return StorageError(f"{where}: cannot save ({reason(exc)}); {what} was left as it was")
    return exc


def reason(exc: BaseException) -> str:
    """Why a write failed, in a few words: ``No space left on device``, ``File too large``,
    ``Integer exceeds 64-bit range``."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


def _loads_without_gc(raw: bytes) -> Any:
    """``orjson.loads`` with the cyclic GC paused: parsing creates many containers, and
    each allocation burst would trigger a collection that walks them all again (at
    100,000 papers in one file the parse took 1.1 s with the GC on and 0.4 s with it off).
    JSON values cannot form reference cycles; reference counting frees them."""
    with gc_paused():
        return orjson.loads(raw)


def fsync_dir(folder: Path) -> None:
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
