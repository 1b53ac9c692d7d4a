"""JSON files read once and written atomically.

Reading: :class:`AtomicJSONStorage`, the TinyDB storage under every corpus file; a file
that is empty or not JSON is refused with a one-line :class:`StorageError`, never
overwritten. Writing: :func:`write_temp` (a temp file in the same folder, fsynced) for the
caller to ``os.replace``, then :func:`fsync_dir`; :func:`not_saved` says why a save failed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson
from tinydb.storages import Storage

from bot.background_work import gc_paused
from bot.storage_errors import StorageError

__all__ = ["AtomicJSONStorage", "fsync_dir", "not_saved", "reason", "write_temp"]


class AtomicJSONStorage(Storage):
    """A TinyDB storage that reads a JSON file once and refuses a corrupt one.

    The parsed file is cached: TinyDB calls ``read()`` before every operation. Nothing
    writes through it: the corpus's files are replaced by :class:`bot.corpus.Corpus`
    commits (all or nothing across files, with :func:`write_temp`), and the one-file
    layouts of older versions are only read, to be imported.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._cache: dict[str, dict[str, Any]] | None = None

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

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        raise StorageError(f"{self.path}: read-only here (corpus files change by commits)")

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
