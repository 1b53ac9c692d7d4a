"""The bot's state in a transactional SQL database: channels, topics, settings (meta),
deliveries and feedback.

Why SQL and not a JSON file: recording a delivery must write one row, not rewrite the whole
history (a 242 MB state.json at 10,000 channels). SQLite is the default: embedded, one file
in the data folder (``state.sqlite3``), WAL mode, no server. Everything goes through
SQLAlchemy Core (no ORM: the rows map onto the plain dataclasses of :mod:`bot.models`), so
the same code runs on PostgreSQL: the URL is the only difference. SQL that only SQLite
understands lives in one marked section at the end of this module. The schema is created and
upgraded by Alembic (:mod:`bot.migrations`), run from code when the database is opened.

Transactions: every public method is one transaction, or joins the caller's
:meth:`StateDB.transaction` (group commit: many deliveries, one commit) inside a savepoint,
so a change that fails is undone alone. Writers are serialised by a lock (this process is
the folder's only writer); readers use their own pooled connection and see the last commit.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    exc,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bot.models import Channel, Delivery, Feedback, Record, Saved, Topic
from bot.storage_errors import StorageError
from bot.welcome import welcomed_key

log = logging.getLogger(__name__)

STATE_FILE = "state.sqlite3"
MIGRATIONS = "bot:migrations"  # Alembic's script location, found inside the installed package

# A surrogate key that is an INTEGER PRIMARY KEY (the rowid, insertion order) on SQLite and
# a BIGINT identity elsewhere.
_Serial = BigInteger().with_variant(Integer, "sqlite")

# ---- the tables (the current schema; Alembic revisions are the history) --------------------

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", JSON),
)

channels = Table(
    "channels",
    metadata,
    Column("id", _Serial, primary_key=True),  # insertion order, as the JSON file kept it
    Column("key", String, nullable=False, unique=True),
    Column("platform", String, nullable=False),
    Column("workspace", String, nullable=False),
    Column("channel_id", String, nullable=False),
    Column("post_time", String, nullable=False),
    Column("timezone", String, nullable=False),
    Column("paused", Boolean, nullable=False),
    Column("max_papers", Integer, nullable=False),
    Column("min_upvotes", Integer, nullable=False),
    Column("skip_weekends", Boolean, nullable=False),
    Column("pause_reason", String),
    Column("last_error", String),
    Column("failures", Integer, nullable=False),
    Column("last_post_date", String),
    Column("last_post_at", String),
    Column("created_at", String),
    Column("not_before", String),
    Column("retry_at", String),
    Column("daily", Boolean, nullable=False),
    Column("weekly_day", Integer),
    Column("weekly_time", String, nullable=False),
    Column("last_weekly_date", String),
    Column("thread_mode", Boolean, nullable=False),
    Column("summary", String, nullable=False, server_default="short"),  # revision 0003
    Column("managed_by", String),  # revision 0004
    Column("notice", String),  # revision 0004
)

topics = Table(
    "topics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # meta next_topic_id
    Column("channel", String, nullable=False, index=True),
    Column("query", String, nullable=False),
    Column("added_by", String, nullable=False),
    Column("added_at", String, nullable=False),
    Column("alert_upvotes", Integer),
    Column("notify", String),  # revision 0004
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", _Serial, primary_key=True),  # insertion order: a resumed post keeps its ranks
    Column("key", String, nullable=False),
    Column("channel", String, nullable=False),
    Column("paper_id", String, nullable=False),
    Column("at", String, nullable=False),
    Column("status", String, nullable=False),
    Column("message_id", String),
    Column("day", String),
    Column("kind", String, nullable=False),
)
# One index serves both the upsert's conflict target and every per-channel read: (channel,
# key) is unique because the key starts with the channel. A separate unique key index and
# channel index (revision 0001) cost each intent a page more in the write-ahead log.
Index("ux_deliveries_channel_key", deliveries.c.channel, deliveries.c.key, unique=True)
# Crash recovery asks for pending deliveries at every start: a partial index holds only
# those, so it costs nothing as the history grows.
Index(
    "ix_deliveries_pending",
    deliveries.c.channel,
    sqlite_where=deliveries.c.status == "pending",
    postgresql_where=deliveries.c.status == "pending",
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", _Serial, primary_key=True),
    Column("key", String, nullable=False, unique=True),
    Column("channel", String, nullable=False, index=True),
    Column("paper_id", String, nullable=False),
    Column("user", String, nullable=False),
    Column("value", Integer, nullable=False),
    Column("at", String, nullable=False),
)

saved = Table(  # revision 0004: reading lists
    "saved",
    metadata,
    Column("id", _Serial, primary_key=True),  # insertion order: newest last
    Column("key", String, nullable=False, unique=True),
    Column("user", String, nullable=False, index=True),
    Column("paper_id", String, nullable=False),
    Column("at", String, nullable=False),
    Column("channel", String),
)

claims = Table(  # revision 0005: which worker posts to a channel, until when (PostgreSQL)
    "claims",
    metadata,
    Column("channel", String, primary_key=True),
    Column("claimed_by", String, nullable=False),
    Column("lease_until", DateTime(timezone=True), nullable=False),
)

_CHANNEL_COLUMNS = [channels.c[f] for f in Channel.__dataclass_fields__]  # model order
_CHANNEL_BY_KEY = select(*_CHANNEL_COLUMNS).where(channels.c.key == bindparam("key"))
_CHANNELS_BY_KEYS = (
    select(*_CHANNEL_COLUMNS)
    .where(channels.c.key.in_(bindparam("keys", expanding=True)))
    .order_by(channels.c.id)
)
_CHANNELS_WITH_NOTICE = (
    select(*_CHANNEL_COLUMNS)
    .where(channels.c.notice.in_(bindparam("notices", expanding=True)))
    .order_by(channels.c.id)
)
_CHANNEL_BY_KEY_FOR_UPDATE = _CHANNEL_BY_KEY.with_for_update()  # built once: see _upsert_statement

# Claims (PostgreSQL only). Every channel a worker may claim has a row (free: no worker,
# a lease that lapsed at -infinity); claiming takes free or lapsed rows under FOR UPDATE
# SKIP LOCKED, so workers claiming at once get disjoint channels and never wait for each
# other. Missing rows are added first, in key order (no two inserts wait in a cycle).
_LEASE = "clock_timestamp() + make_interval(secs => :lease)"
_ADD_FREE = text(
    """INSERT INTO claims (channel, claimed_by, lease_until)
    SELECT k, '', '-infinity' FROM unnest(CAST(:keys AS text[])) AS k
    WHERE NOT EXISTS (SELECT 1 FROM claims c WHERE c.channel = k)
    ORDER BY k
    ON CONFLICT (channel) DO NOTHING"""
)
_TAKE = text(
    f"""UPDATE claims SET claimed_by = :w, lease_until = {_LEASE}
    WHERE channel IN (
        SELECT channel FROM claims
        WHERE channel = ANY(:keys) AND (lease_until < clock_timestamp() OR claimed_by = :w)
        ORDER BY channel LIMIT :n FOR UPDATE SKIP LOCKED)
    RETURNING channel"""
)
_RENEW = text(
    f"""UPDATE claims SET lease_until = {_LEASE}
    WHERE claimed_by = :w AND channel = ANY(:keys) RETURNING channel"""
)
_RELEASE = text(
    """UPDATE claims SET claimed_by = '', lease_until = '-infinity'
    WHERE claimed_by = :w AND channel = ANY(:keys)"""
)

_DELETE_DELIVERY = delete(deliveries).where(
    deliveries.c.channel == bindparam("c"), deliveries.c.key == bindparam("k")
)

_MODEL_TABLES: dict[type[Record], Table] = {
    Channel: channels,
    Topic: topics,
    Delivery: deliveries,
    Feedback: feedback,
    Saved: saved,
}


# ---- values the database must never be handed ------------------------------------------------

_INT64 = range(-(2**63), 2**63)


def on_a_server(url: str | None) -> bool:
    """Whether a state URL names a database server (several workers may share it) rather
    than a SQLite file (one process); None is the data folder's own SQLite file."""
    if url is None:
        return False
    try:
        return make_url(url).get_backend_name() != "sqlite"
    except exc.ArgumentError:  # not a URL at all: opening it says so, in one line
        return False


def unstorable(value: Any) -> str | None:
    """Why ``value`` cannot be stored (``None`` if it can): integers beyond 64 bits and lone
    surrogates fail differently in each driver, and on PostgreSQL a failed statement spoils
    the transaction, so they are refused before any SQL runs, with the same words."""
    if type(value) is int:
        return None if value in _INT64 else "Integer exceeds 64-bit range"
    if type(value) is str:
        try:
            value.encode()
        except UnicodeEncodeError:
            return "str is not valid UTF-8: surrogates not allowed"
        return None
    if isinstance(value, list | tuple):
        return next((r for r in map(unstorable, value) if r), None)
    if isinstance(value, dict):
        return next((r for r in map(unstorable, [*value.keys(), *value.values()]) if r), None)
    return None


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


# ---- the database ----------------------------------------------------------------------------


class StateDB:
    """The state database of one data folder (or of ``url``)."""

    def __init__(self, folder: Path, url: str | None = None) -> None:
        self.path = folder / STATE_FILE
        self.url = url or f"sqlite+pysqlite:///{self.path}"
        # The name in error messages: the file, or the URL without its password.
        self.label = str(self.path) if url is None else _safe_url(url)
        # What a failed write left unchanged, in its error message: the file, or the database.
        self._kept = "the database" if on_a_server(self.url) else "the file"
        self.writes = 0  # committed write transactions; tests and benchmarks read it
        self._write_lock = threading.RLock()
        self._local = threading.local()  # .conn: the open transaction of this thread
        with self._failing_as("cannot open"):
            self.engine, self._writer = _make_engines(self.url)
            self.upgrade()
            self.check()

    # ---- transactions

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction; nested calls on the same thread join it in a savepoint."""
        outer: Connection | None = getattr(self._local, "conn", None)
        if outer is not None:
            with self._failing_as("cannot save"), _savepoint(outer):
                yield outer
            return
        with self._write_lock, self._failing_as("cannot save"):
            with self._writer.connect() as conn:
                self._local.conn = conn
                try:
                    try:
                        with conn.begin():
                            yield conn
                    except exc.DBAPIError:
                        _discard(conn)  # a connection that failed a write is not reused
                        raise
                finally:
                    self._local.conn = None
            self.writes += 1

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reads: this thread's open transaction, or a pooled one."""
        outer: Connection | None = getattr(self._local, "conn", None)
        if outer is not None:
            yield outer
            return
        with self._failing_as("cannot read"), self.engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def _failing_as(self, what: str) -> Iterator[None]:
        """Turn a driver error into a one-line StorageError naming the database."""
        try:
            yield
        except exc.DBAPIError as error:
            if _is_not_a_database(error):
                raise StorageError(
                    f"{self.label}: not a papers-bot state database, or damaged "
                    f"({_reason(error, self.path)}). It was left untouched; restore it from a "
                    "backup or move it away to start afresh."
                ) from error
            suffix = f"; {self._kept} was left as it was" if what == "cannot save" else ""
            raise StorageError(
                f"{self.label}: {what} ({_reason(error, self.path)}){suffix}"
            ) from error
        except exc.StatementError as error:  # a value the driver refused (bind parameters)
            raise StorageError(
                f"{self.label}: {what} ({_short_reason(error.orig)}); {self._kept} was left as it was"
            ) from error

    def _refuse_unstorable(self, values: Iterable[Any]) -> None:
        for value in values:
            reason = unstorable(value)
            if reason:
                raise StorageError(
                    f"{self.label}: cannot save ({reason}); {self._kept} was left as it was"
                )

    # ---- schema

    def upgrade(self) -> None:
        """Bring the schema to the newest Alembic revision (nothing to do most starts)."""
        from alembic import command
        from alembic.runtime.migration import MigrationContext

        config = _alembic_config()
        head = head_revision()
        with self._write_lock, self._writer.begin() as conn:
            _schema_lock(conn)
            current = MigrationContext.configure(conn).get_current_revision()
            if current == head:
                return
            config.attributes["connection"] = conn
            # A new database is created quietly; upgrading an existing one is worth a line.
            level = logging.INFO if current is not None else logging.DEBUG
            log.log(level, "state database %s: schema %s -> %s", self.label, current, head)
            chatter = logging.getLogger("alembic")  # "Context impl SQLiteImpl." at each open
            saved = chatter.level
            chatter.setLevel(max(saved, logging.WARNING))
            try:
                command.upgrade(config, "head")
            finally:
                chatter.setLevel(saved)

    def create_tables(self, tables: MetaData) -> None:
        """Create another library's tables where missing (slack_sdk's installation stores:
        their schema is theirs, not an Alembic revision of ours). On PostgreSQL under the
        schema lock, so workers starting together on a new database create them once."""
        with self._write_lock, self._writer.begin() as conn:
            _schema_lock(conn)
            tables.create_all(conn, checkfirst=True)

    def revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.reading() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def check(self) -> None:
        """Refuse a database holding a record the bot cannot use, naming it."""
        with self.reading() as conn:
            for key, value in conn.execute(select(meta.c.key, meta.c.value)):
                if key == "next_topic_id" and type(value) is not int:
                    raise self.damaged("meta", key, "expected an integer value")
            if conn.dialect.name == "sqlite":
                _sqlite_check_types(conn, self.damaged)

    def damaged(self, table: str, key: Any, problem: str) -> StorageError:
        return StorageError(
            f"{self.label}: record {table}/{_short(key)} is damaged ({problem}). The database "
            "was left untouched; fix or remove that record, or restore it from a backup."
        )

    def is_empty(self) -> bool:
        with self.reading() as conn:
            return not any(
                conn.execute(select(t.c[_key_column(t)]).limit(1)).first()
                for t in (meta, channels, topics, deliveries, feedback)
            )

    # ---- meta

    def get_meta(self, key: str, default: Any = None) -> Any:
        with self.reading() as conn:
            row = conn.execute(select(meta.c.value).where(meta.c.key == key)).first()
        return default if row is None else row[0]

    def set_meta(self, key: str, value: Any) -> None:
        self._refuse_unstorable([key, value])
        with self.transaction() as conn:
            upsert(conn, meta, [{"key": key, "value": value}])

    # ---- records: generic

    def put(self, records: Iterable[Record]) -> None:
        """Insert or replace records (one kind or several) in one transaction."""
        by_table = self._rows_by_table(records)
        if by_table:
            with self.transaction() as conn:
                for table, rows in by_table.items():
                    upsert(conn, table, rows)

    def _rows_by_table(self, records: Iterable[Record]) -> dict[Table, list[dict[str, Any]]]:
        """The records as rows to write, refused here if a value cannot be stored."""
        by_table: dict[Table, list[dict[str, Any]]] = {}
        for record in records:
            row = {name: getattr(record, name) for name in _fields(type(record))}  # flat: no asdict
            table = _MODEL_TABLES[type(record)]
            if "key" in table.c:
                row["key"] = record.key  # type: ignore[attr-defined]
            self._refuse_unstorable(row.values())
            by_table.setdefault(table, []).append(row)
        return by_table

    def rows(self, model: type[Record], **equal: Any) -> list[Any]:
        """The model's records whose columns equal these values, in insertion (id) order."""
        query = _rows_query(model, tuple(sorted(equal)))
        with self.reading() as conn:
            return [model(*row) for row in conn.execute(query, equal)]

    def delete_keys(self, model: type[Record], keys: Iterable[Any]) -> int:
        """Delete records by key; deliveries by ``(channel, key)`` pairs, their index."""
        table = _MODEL_TABLES[model]
        keys = list(keys)
        if not keys:
            return 0
        if table is deliveries:
            with self.transaction() as conn:
                return conn.execute(_DELETE_DELIVERY, [{"c": c, "k": k} for c, k in keys]).rowcount
        column = table.c[_key_column(table)]
        removed = 0
        with self.transaction() as conn:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                removed += conn.execute(delete(table).where(column.in_(chunk))).rowcount
        return removed

    # ---- channels

    def get_channel(self, key: str) -> Channel | None:
        with self.reading() as conn:
            row = conn.execute(_CHANNEL_BY_KEY, {"key": key}).first()
        return None if row is None else Channel(*row)

    def channels_by_key(self, keys: Iterable[str]) -> list[Channel]:
        """The channels of these keys that exist, in insertion order, read now."""
        wanted = sorted(set(keys))
        found: list[Channel] = []
        with self.reading() as conn:
            for start in range(0, len(wanted), 1000):
                chunk = wanted[start : start + 1000]
                found += (Channel(*row) for row in conn.execute(_CHANNELS_BY_KEYS, {"keys": chunk}))
        return found

    def channels_with_notice(self, notices: Iterable[str]) -> list[Channel]:
        """The channels whose ``notice`` is one of these, in insertion order: one query."""
        with self.reading() as conn:
            rows = conn.execute(_CHANNELS_WITH_NOTICE, {"notices": list(notices)})
            return [Channel(*row) for row in rows]

    def update_channel(self, key: str, change: Callable[[Channel], None]) -> Channel | None:
        with self.transaction() as conn:
            row = conn.execute(_CHANNEL_BY_KEY_FOR_UPDATE, {"key": key}).first()
            if row is None:
                return None
            channel = Channel(*row)
            change(channel)
            upsert(conn, channels, self._rows_by_table([channel])[channels])
            return channel

    # ---- topics

    def add_topics(
        self, items: Iterable[tuple[str, str, str, int | None, str | None]], now: str
    ) -> list[Topic]:
        """Add topics (channel, query, added_by, alert_upvotes, notify) with the next ids,
        atomically."""
        items = list(items)
        for item in items:
            self._refuse_unstorable(item)
        with self.transaction() as conn:
            # The counter's row first, if there is none, so that FOR UPDATE has a row to lock:
            # two processes adding the first topics at once would otherwise both take id 1.
            conn.execute(_first_topic_id(conn.dialect.name))
            row = conn.execute(
                select(meta.c.value).where(meta.c.key == "next_topic_id").with_for_update()
            ).first()
            next_id = 1 if row is None else int(row[0])
            added = [
                Topic(
                    id=next_id + n,
                    channel=channel,
                    query=query,
                    added_by=by,
                    added_at=now,
                    alert_upvotes=alert,
                    notify=notify,
                )
                for n, (channel, query, by, alert, notify) in enumerate(items)
            ]
            if added:
                conn.execute(topics.insert(), [t.to_doc() for t in added])
            upsert(conn, meta, [{"key": "next_topic_id", "value": next_id + len(added)}])
        return added

    # ---- reading lists

    def add_saved(self, item: Saved) -> bool:
        """Put ``item`` on its person's reading list; False (and nothing written) when that
        paper is on it already. One INSERT ... ON CONFLICT DO NOTHING on the unique key: two
        presses of the same Save button, even on two workers at once, record it once and
        neither fails."""
        row = self._rows_by_table([item])[saved][0]
        with self.transaction() as conn:
            insert = (sqlite if conn.dialect.name == "sqlite" else postgresql).insert(saved)
            fresh = insert.values(row).on_conflict_do_nothing(index_elements=["key"])
            # RETURNING, not rowcount: with the row's id returned, psycopg reports no count.
            return conn.execute(fresh.returning(saved.c.id)).first() is not None

    # ---- deliveries

    def delivered_by_channel(
        self, *, weekly: bool, among: Iterable[str] | None = None
    ) -> dict[str, set[str]]:
        """Every channel's delivered paper ids; with ``among``, only those of these papers
        (a fan-out's candidates). No index on ``paper_id``: one scan in the database with
        the ids as an IN list takes 0.4 s at 1.2 million records, where fetching them all
        into Python took 1.9 s; an index would cost every delivery a page more of
        write-ahead log (2.2 -> 4.5 KB per delivery, measured).

        The rows come straight from the driver's cursor as plain tuples: at 1.2 million
        records, building SQLAlchemy rows cost as much again as the query itself."""
        kind = "=" if weekly else "!="
        sql = f"SELECT channel, paper_id FROM deliveries WHERE kind {kind} 'weekly'"
        ids = None if among is None else sorted(set(among))
        found: dict[str, set[str]] = {}
        if ids == []:
            return found
        # One statement when possible (each is a scan); SQLite allows 32,766 parameters.
        chunks = [ids[i : i + 30_000] for i in range(0, len(ids), 30_000)] if ids else [None]
        rows: list[Any] = []
        with self.reading() as conn:
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            for chunk in chunks:
                query = sql
                if chunk is not None:
                    query += f" AND paper_id IN ({','.join([mark] * len(chunk))})"
                result = conn.exec_driver_sql(query, tuple(chunk or ()))
                try:
                    rows += result.cursor.fetchall()
                except conn.dialect.loaded_dbapi.Error as error:  # the driver's own
                    raise StorageError(
                        f"{self.label}: cannot read ({_short_reason(error)})"
                    ) from error
        for channel, paper_id in rows:
            found.setdefault(channel, set()).add(paper_id)
        return found

    def delivered_ids(self, channel: str, *, weekly: bool) -> set[str]:
        kind = deliveries.c.kind == "weekly" if weekly else deliveries.c.kind != "weekly"
        with self.reading() as conn:
            return set(
                conn.scalars(
                    select(deliveries.c.paper_id).where(deliveries.c.channel == channel, kind)
                )
            )

    def pending_channels(self) -> set[str]:
        with self.reading() as conn:
            return set(
                conn.scalars(
                    select(deliveries.c.channel).where(deliveries.c.status == "pending").distinct()
                )
            )

    def forget_workspace(self, platform: str, workspace: str) -> int:
        """Delete every record of a workspace the app was removed from, in one transaction:
        its channels, their topics, deliveries, feedback and claims, its people's reading
        lists, and the marks of its welcomes (installed again, it is welcomed again).
        Returns how many channels went."""
        prefix = f"{platform}:{workspace}:"
        with self.transaction() as conn:
            for table in (topics, deliveries, feedback, claims):
                conn.execute(
                    delete(table).where(table.c.channel.startswith(prefix, autoescape=True))
                )
            conn.execute(delete(saved).where(saved.c.user.startswith(prefix, autoescape=True)))
            welcomed = welcomed_key(prefix)
            conn.execute(
                delete(meta).where(
                    meta.c.key.startswith(welcomed, autoescape=True) | (meta.c.key == welcomed[:-1])
                )
            )
            gone = conn.execute(
                delete(channels).where(
                    channels.c.platform == platform, channels.c.workspace == workspace
                )
            )
            return gone.rowcount

    def prune_deliveries(self, before: str, chunk: int = 2000) -> int:
        """Delete sent deliveries older than ``before``, ``chunk`` rows per transaction.

        The rows are found on a reader connection (a scan of the whole history, with no
        write lock held), then deleted in short transactions: a group commit of the
        fan-out waits for one chunk at most, never for the whole prune."""
        old = (deliveries.c.status == "sent", deliveries.c.at < before)
        with self.reading() as conn:
            ids = list(conn.scalars(select(deliveries.c.id).where(*old)))
        removed = 0
        for start in range(0, len(ids), chunk):
            part = ids[start : start + chunk]
            with self.transaction() as conn:  # the conditions again: a row may have changed
                removed += conn.execute(
                    delete(deliveries).where(deliveries.c.id.in_(part), *old)
                ).rowcount
        return removed

    def count(self, model: type[Record], **equal: Any) -> int:
        """How many rows of ``model`` (with these column values, as :meth:`rows`)."""
        table = _MODEL_TABLES[model]
        query = select(func.count()).select_from(table)
        for column, value in equal.items():
            query = query.where(table.c[column] == value)
        with self.reading() as conn:
            return int(conn.scalar(query) or 0)

    # ---- several workers on one database ---------------------------------------------
    # A database server may be shared by several ``papers-bot run`` processes; an SQLite
    # file has one (the data folder's claim), so there every claim is granted at once and
    # nothing is written.

    @property
    def fleet(self) -> bool:
        """Whether other processes may write this database at the same time (a server)."""
        return self.engine.dialect.name != "sqlite"

    def claim(
        self, keys: Iterable[str], worker: str, lease: float, limit: int | None = None
    ) -> list[str]:
        """The channels of ``keys`` that ``worker`` now holds for ``lease`` seconds (at most
        ``limit``), in the order given: those nobody holds, and those whose holder's lease
        has lapsed (a killed worker). Rows another worker is claiming at this instant are
        skipped (SKIP LOCKED), never waited for. Leases run on the server's clock, so the
        workers' clocks need not agree."""
        wanted = list(dict.fromkeys(keys))
        if not self.fleet:
            return wanted
        limit = len(wanted) if limit is None else min(limit, len(wanted))
        if limit <= 0:
            return []
        values = {"keys": wanted, "w": worker, "lease": float(lease)}
        with self._on_its_own() as conn:
            conn.execute(_ADD_FREE, {"keys": wanted})
        with self._on_its_own() as conn:
            held = set(conn.execute(_TAKE, {**values, "n": limit}).scalars())
        return [k for k in wanted if k in held]

    def renew(self, keys: Iterable[str], worker: str, lease: float) -> set[str]:
        """Extend ``worker``'s leases on ``keys``; the keys it still held."""
        wanted = list(keys)
        if not self.fleet or not wanted:
            return set(wanted)
        with self._on_its_own() as conn:
            return set(
                conn.execute(_RENEW, {"keys": wanted, "w": worker, "lease": float(lease)}).scalars()
            )

    def release(self, keys: Iterable[str], worker: str) -> None:
        """Give up ``worker``'s claims on ``keys`` (its posts there are recorded)."""
        wanted = list(keys)
        if self.fleet and wanted:
            with self._on_its_own() as conn:
                conn.execute(_RELEASE, {"keys": wanted, "w": worker})

    @contextlib.contextmanager
    def _on_its_own(self) -> Iterator[Connection]:
        """A short transaction on a server, outside this process's write lock: a claim or a
        lease renewal must not wait behind a group commit of a thousand posts (a late
        renewal hands a channel being posted to another worker)."""
        with self._failing_as("cannot save"), self.engine.begin() as conn:
            yield conn

    def claimed(self) -> dict[str, str]:
        """channel -> the worker holding it (lapsed leases included): for tests and status."""
        with self.reading() as conn:
            rows = conn.execute(
                select(claims.c.channel, claims.c.claimed_by).where(claims.c.claimed_by != "")
            )
            return dict(rows.all())

    @contextlib.contextmanager
    def fleet_lock(self, name: str) -> Iterator[bool]:
        """Whether this process won ``name``, a lock across every process on the database
        (a PostgreSQL session advisory lock, tried, never waited for), held until the block
        ends or the process dies (its connection closes). On SQLite: always won."""
        if not self.fleet:
            yield True
            return
        key = _lock_key(name)
        with self._failing_as("cannot lock"), self.engine.connect() as conn:
            won = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()  # a session lock outlives the transaction: none stays open
            try:
                yield won
            finally:
                if won:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()

    # ---- closing

    def checkpoint(self) -> None:
        """Move the write-ahead log into the database file (SQLite; elsewhere nothing)."""
        if self.engine.dialect.name == "sqlite":
            with self.reading() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        """Close every pooled connection. The store may still be used: it reconnects."""
        self.engine.dispose()
        self._writer.dispose()


def _schema_lock(conn: Connection) -> None:
    """PostgreSQL: hold the schema's advisory lock to the end of this transaction. Workers
    starting together on a new database: one creates the tables (DDL is transactional
    there), the others wait here, then find them made. SQLite has one process: nothing."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key("schema")})


def _lock_key(name: str) -> int:
    """A PostgreSQL advisory lock's 64-bit key, from a name."""
    digest = hashlib.sha256(f"papers-bot {name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _alembic_config() -> Any:
    """Alembic's settings, built in code: no alembic.ini to ship or to find."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    return config


def head_revision() -> str | None:
    """The newest schema revision this papers-bot knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def upsert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` or, where the table's natural key exists, replace them, in one
    statement. The dialect's own INSERT ... ON CONFLICT (SQLite and PostgreSQL spell it
    alike); elsewhere, delete then insert."""
    if not rows:
        return
    key = _key_column(table)
    name = conn.dialect.name
    if name in ("sqlite", "postgresql"):
        conn.execute(_upsert_statement(name, table, tuple(rows[0])), rows)
        return
    conn.execute(delete(table).where(table.c[key].in_([r[key] for r in rows])))
    conn.execute(table.insert(), rows)


@functools.cache
def _upsert_statement(dialect: str, table: Table, columns: tuple[str, ...]) -> Any:
    """Built once per table and column set: building one costs more than running it."""
    target = conflict_target(table)
    insert = (sqlite if dialect == "sqlite" else postgresql).insert(table)
    return insert.on_conflict_do_update(
        index_elements=list(target),
        set_={c: insert.excluded[c] for c in columns if c not in (*target, "id")},
    )


@functools.cache
def _first_topic_id(dialect: str) -> Any:
    """INSERT next_topic_id = 1 unless the row exists (ON CONFLICT DO NOTHING)."""
    insert = (sqlite if dialect == "sqlite" else postgresql).insert(meta)
    return insert.values(key="next_topic_id", value=1).on_conflict_do_nothing(
        index_elements=["key"]
    )


def conflict_target(table: Table) -> tuple[str, ...]:
    """The unique columns an upsert of ``table`` conflicts on: its natural key, and for
    deliveries (channel, key), the one unique index that table has."""
    return ("channel", "key") if table is deliveries else (_key_column(table),)


@functools.cache
def _rows_query(model: type[Record], names: tuple[str, ...]) -> Any:
    """SELECT the model's fields WHERE each named column equals its parameter, built once."""
    table = _MODEL_TABLES[model]
    query = select(*[table.c[name] for name in _fields(model)])
    query = query.where(*[table.c[name] == bindparam(name) for name in names])
    return query.order_by(table.c.id)


@contextlib.contextmanager
def _savepoint(conn: Connection) -> Iterator[None]:
    """Undo a failed change alone inside a larger transaction. PostgreSQL needs it: one
    failed statement spoils its whole transaction. SQLite undoes a failed statement by
    itself, and values it would refuse are refused before any SQL runs, so there the
    savepoint (two more statements per change, a third of a group commit's time) is skipped."""
    if conn.dialect.name == "sqlite":
        yield
        return
    with conn.begin_nested():
        yield


def _key_column(table: Table) -> str:
    return "key" if "key" in table.c else "id"


_FIELDS: dict[type[Record], list[str]] = {}


def _fields(model: type[Record]) -> list[str]:
    """The model's field names in declaration order: rows are built positionally."""
    if model not in _FIELDS:
        _FIELDS[model] = list(model.__dataclass_fields__)  # type: ignore[attr-defined]
    return _FIELDS[model]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _discard(conn: Connection) -> None:
    with contextlib.suppress(Exception):
        conn.invalidate()


def _short_reason(error: BaseException | None) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _reason(error: exc.DBAPIError, path: Path) -> str:
    """The OS's words for a failed write where the driver has vaguer ones."""
    name = getattr(error.orig, "sqlite_errorname", "")
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")):
        target = path if path.exists() else path.parent
        if not os.access(target, os.W_OK) or not os.access(path.parent, os.W_OK):
            return os.strerror(errno.EACCES)
    if name == "SQLITE_FULL":
        return os.strerror(errno.ENOSPC)
    return _short_reason(error.orig)


# ---- SQLite only -------------------------------------------------------------------------
# Everything below is specific to SQLite, the default; other databases skip it.


def _make_engines(url: str) -> tuple[Engine, Engine]:
    """(readers, writer). On SQLite the writer opens the file afresh for each transaction
    (a connection costs tens of microseconds, and group commit makes transactions few), so
    permissions changed under a running bot (a folder or file made read-only) are met at
    the next write, as with a file rewrite, not hidden by an old read-write handle.
    Elsewhere one pooled engine does both."""
    if not url.startswith("sqlite"):
        engine = create_engine(url, pool_pre_ping=True, json_serializer=_dumps)
        return engine, engine
    options: dict[str, Any] = {
        "connect_args": {"check_same_thread": False, "timeout": 30},
        "json_serializer": _dumps,
    }
    readers = create_engine(url, pool_size=8, max_overflow=16, **options)
    writer = create_engine(url, poolclass=NullPool, **options)
    for engine in (readers, writer):
        event.listen(engine, "connect", _sqlite_on_connect)
    # Readers run each SELECT in SQLite's own implicit transaction (a consistent snapshot
    # per statement), which saves a BEGIN and a ROLLBACK per read.
    event.listen(writer, "begin", _sqlite_on_begin)
    return readers, writer


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite's own transaction handling would skip BEGIN before reads and break
    # savepoints; SQLAlchemy's recipe: turn it off and BEGIN ourselves (below).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute("PRAGMA synchronous=FULL")  # a commit is on disk before a post goes out
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN")


def _is_not_a_database(error: exc.DBAPIError) -> bool:
    return getattr(error.orig, "sqlite_errorname", "") in ("SQLITE_NOTADB", "SQLITE_CORRUPT")


# What each column may hold. SQLite keeps whatever a hand edit wrote (a column's type is only
# an affinity), so a record with a wrong type is refused at open, naming it; PostgreSQL
# enforces the types itself.
_SQLITE_TYPES = {String: ("text",), Integer: ("integer",), Boolean: ("integer",)}


def _sqlite_check_types(conn: Connection, damaged: Callable[[str, Any, str], StorageError]) -> None:
    """One scan per table: the first row holding a value of the wrong type, if any."""
    for table in (channels, topics, deliveries, feedback):
        key = table.c[_key_column(table)]
        checks = {}
        for column in table.c:
            if column.name == "id" and table is not topics:
                continue
            kinds = next(v for t, v in _SQLITE_TYPES.items() if isinstance(column.type, t))
            allowed = (*kinds, *(("null",) if column.nullable else ()))
            checks[column.name] = (kinds, allowed)
        wrong = " OR ".join(
            f'typeof("{name}") NOT IN ({", ".join(repr(k) for k in allowed)})'
            for name, (_kinds, allowed) in checks.items()
        )
        names = ", ".join(f'"{name}"' for name in checks)
        row = conn.exec_driver_sql(
            f'SELECT "{key.name}", {names} FROM "{table.name}" WHERE {wrong} LIMIT 1'
        ).first()
        if row is None:
            continue
        for value, (name, (kinds, allowed)) in zip(row[1:], checks.items(), strict=True):
            if _sqlite_typeof(value) not in allowed:
                wanted = " or ".join("str" if k == "text" else k for k in kinds)
                raise damaged(table.name, row[0], f"{name} is {_short(value)}, not {wanted}")


def _sqlite_typeof(value: Any) -> str:
    if value is None:
        return "null"
    return {bytes: "blob", str: "text", int: "integer", float: "real"}.get(type(value), "?")
