"""The one-time move of a ``state.json`` (papers-bot 3cff8ee and earlier) into the state
database.

Done on the first start that finds the file, in one transaction: every channel, topic,
delivery, vote and meta value arrives, or none does. The file is then renamed
``state.json.imported`` (never deleted), and a ``state_json_imported`` meta row records
when and how much, with the file's digest, so an interrupted rename is finished on the next start instead
of importing twice, and another state.json put back later is refused, not merged.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from bot.models import Channel, Delivery, Feedback, Record, Topic
from bot.state_db import StateDB
from bot.storage_errors import StorageError

log = logging.getLogger(__name__)

LEGACY_STATE_FILE = "state.json"
IMPORTED_MARK = "state_json_imported"

_MODELS: dict[str, type[Record]] = {
    "channels": Channel,
    "topics": Topic,
    "deliveries": Delivery,
    "feedback": Feedback,
}


def import_legacy_state(db: StateDB, path: Path, tables: dict[str, dict[str, Any]]) -> None:
    """Copy ``tables`` (the checked contents of ``path``) into ``db``, then rename ``path``."""
    digest = _digest(path)
    mark = db.get_meta(IMPORTED_MARK)
    if not (isinstance(mark, dict) and mark.get("sha256") == digest):  # else: rename left
        if not db.is_empty():
            raise StorageError(
                f"{path}: found beside {db.label}, which already holds the bot's state; "
                "move one of them away (state.json is only imported into a new database)"
            )
        counts = _copy(db, tables, digest)
        log.info("imported %s into %s: %s", path, db.label, counts)
    done = _free_name(path.with_name(path.name + ".imported"))
    try:
        path.rename(done)
    except OSError as exc:
        raise StorageError(f"{path}: imported, but cannot rename it ({exc.strerror})") from exc


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise StorageError(f"{path}: cannot read ({exc.strerror})") from exc


def _copy(db: StateDB, tables: dict[str, dict[str, Any]], digest: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    records: list[Record] = []
    for name, model in _MODELS.items():
        docs = tables.get(name, {})
        records.extend(model.from_doc(dict(doc)) for doc in docs.values())
        counts[name] = len(docs)
    meta = {key: doc.get("value") for key, doc in tables.get("meta", {}).items()}
    with db.transaction():
        db.put(records)
        for key, value in meta.items():
            db.set_meta(key, value)
        mark = {"at": _now(), "from": LEGACY_STATE_FILE, "sha256": digest, **counts}
        db.set_meta(IMPORTED_MARK, mark)
    return counts


def _free_name(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.{n}")
    return candidate


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).replace(microsecond=0).isoformat()
