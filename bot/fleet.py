"""Several ``papers-bot run`` workers on one PostgreSQL database and one data volume.

What they share and what each keeps (docs/deploy.md):

* the state database: channels, deliveries, claims; each post is claimed by one worker
  (:mod:`bot.scheduler.claims`), the daily ingest runs under a fleet lock
  (:mod:`bot.scheduler.ingest_timing`);
* the corpus folder on the volume: whoever ingests commits it (commits lock out each
  other across processes), the others notice the new revision (:mod:`bot.corpus`);
* not the search index: a tantivy index has one writer, so each worker keeps its own,
  ``<data>/indexes/<worker>``, rebuilt from the corpus when its revision moves on. The
  worker's name is ``$PAPERS_BOT_WORKER``, else the host name; two live workers of one
  name are refused, as two processes on one data folder are.

A database that is a file (SQLite) has one process: the data folder is claimed whole and
the index is ``<data>/index``, as ever.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

from bot.store import Store, claim_folder


def worker_base() -> str:
    """This worker's stable name: ``$PAPERS_BOT_WORKER``, else the host name."""
    return os.environ.get("PAPERS_BOT_WORKER") or socket.gethostname() or "worker"


def index_folder(store: Store) -> Path:
    """Where this process's search index lives (claimed for it when workers share)."""
    if not store.shared:
        return store.data_dir / "index"
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", worker_base())
    folder = store.data_dir / "indexes" / name
    folder.mkdir(parents=True, exist_ok=True)
    claim_folder(folder)
    return folder / "index"
