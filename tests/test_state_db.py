"""Issue 13, the bot state in SQL: the upgrade from state.json, one row per delivery,
transactions, damaged rows named, the schema portable to PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable
from tinydb import Query, TinyDB
from tinydb.table import Table

from bot import state_db
from bot.models import Channel, Delivery, Feedback, Paper, Topic
from bot.state_db import STATE_FILE, head_revision
from bot.state_import import IMPORTED_MARK
from bot.store import StorageError, Store
from tests.corpus_files import snapshot, stored_papers

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "state_3cff8ee"
T0 = "2026-06-12T09:00:00+00:00"


def old_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("state.json", "corpus.json"):
        shutil.copy(FIXTURE / name, folder / name)
    return folder


# ---- the upgrade of a 3cff8ee data folder -----------------------------------------------------


def test_a_3cff8ee_data_folder_upgrades_without_losing_a_record(
    tmp_path: Path, state_url: str | None
) -> None:
    folder = old_folder(tmp_path)
    raw = (folder / "state.json").read_bytes()
    old = json.loads(raw)
    assert all(old[t] for t in ("channels", "topics", "deliveries", "feedback", "meta"))

    store = Store(folder, state_url=state_url)

    assert not (folder / "state.json").exists()
    assert (folder / "state.json.imported").read_bytes() == raw  # renamed, never changed
    assert store.state.revision() == head_revision()
    assert {c.key: c for c in store.channels()} == {
        key: Channel.from_doc(doc) for key, doc in old["channels"].items()
    }
    assert store.topics() == sorted(
        (Topic.from_doc(doc) for doc in old["topics"].values()), key=lambda t: t.id
    )
    assert {d.key: d for d in store.deliveries()} == {
        key: Delivery.from_doc(doc) for key, doc in old["deliveries"].items()
    }
    assert {f.key: f for f in store.feedback()} == {
        key: Feedback.from_doc(doc) for key, doc in old["feedback"].items()
    }
    for key, doc in old["meta"].items():
        assert store.get_meta(key) == doc["value"], key
    assert store.get_meta(IMPORTED_MARK)["deliveries"] == len(old["deliveries"])
    assert store.pending_channels() == {
        d["channel"] for d in old["deliveries"].values() if d["status"] == "pending"
    }
    for channel in old["channels"]:
        assert store.delivered_ids(channel) == {
            d["paper_id"]
            for d in old["deliveries"].values()
            if d["channel"] == channel and d["kind"] != "weekly"
        }
    # the corpus: split into partitions, every paper readable, the old file set aside
    old_corpus = (FIXTURE / "corpus.json").read_bytes()
    old_papers = json.loads(old_corpus)["papers"]
    assert old_papers and store.paper_count() == len(old_papers)
    for pid, doc in old_papers.items():
        assert store.get_paper(pid) == Paper.from_doc(doc), pid
    assert stored_papers(store.corpus_path) == old_papers
    assert not (folder / "corpus.json").exists()
    assert (folder / "corpus.json.imported").read_bytes() == old_corpus
    # topic ids go on from where the old file stopped
    assert (
        store.add_topic("console:local:lab", "new", "ada").id
        == old["meta"]["next_topic_id"]["value"]
    )
    before, revision = store.deliveries(), store.corpus_revision
    store.close()

    reopened = Store(folder, state_url=state_url)  # no second import; everything still there
    assert reopened.deliveries() == before and len(reopened.topics()) == len(old["topics"]) + 1
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("state.json")) == [
        "state.json.imported"
    ]
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("corpus.json")) == [
        "corpus.json.imported"
    ]
    assert reopened.paper_count() == len(old_papers) and reopened.corpus_revision == revision


def test_the_import_is_one_transaction(tmp_path: Path, monkeypatch) -> None:
    folder = old_folder(tmp_path)
    real = state_db.StateDB.set_meta

    def fail_at_the_end(self, key, value):
        if key == IMPORTED_MARK:
            raise StorageError("disk gone")
        real(self, key, value)

    monkeypatch.setattr(state_db.StateDB, "set_meta", fail_at_the_end)
    with pytest.raises(StorageError, match="disk gone"):
        Store(folder)
    monkeypatch.undo()
    with contextlib.closing(sqlite3.connect(folder / STATE_FILE)) as db:
        for table in ("channels", "topics", "deliveries", "feedback", "meta"):
            assert db.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,), table
    assert (folder / "state.json").exists()  # not renamed: the next start imports it
    assert len(Store(folder).deliveries()) == len(
        json.loads((folder / "state.json.imported").read_text())["deliveries"]
    )


def test_a_state_json_beside_a_used_database_is_refused(
    tmp_path: Path, state_url: str | None
) -> None:
    folder = old_folder(tmp_path)
    Store(folder, state_url=state_url).close()
    # the same file again: a rename the last start did not finish; it is done now
    shutil.copy(FIXTURE / "state.json", folder / "state.json")
    assert len(Store(folder, state_url=state_url).channels()) == len(
        json.loads(FIXTURE.joinpath("state.json").read_text())["channels"]
    )
    assert not (folder / "state.json").exists() and (folder / "state.json.imported.2").exists()
    # another state.json: not merged into the database that already holds the state
    other = json.loads((FIXTURE / "state.json").read_text())
    other["meta"]["next_topic_id"]["value"] += 1
    (folder / "state.json").write_text(json.dumps(other))
    before = (folder / "state.json").read_bytes()
    with pytest.raises(StorageError) as err:
        Store(folder, state_url=state_url)
    assert "\n" not in str(err.value) and "already holds" in str(err.value)
    assert (folder / "state.json").read_bytes() == before


# ---- one row per delivery -----------------------------------------------------------------


def wal_bytes_of_one_delivery(folder: Path, history: int) -> tuple[int, list[str]]:
    """Bytes the state database's log grows by when one more delivery is recorded (intent,
    then completion), after ``history`` old deliveries; and the statements it ran."""
    store = Store(folder)
    store.record_deliveries(
        Delivery(f"slack:T:C{n % 500}", f"2601.{n:05d}", T0, day="2026-06-12")
        for n in range(history)
    )
    store.state.checkpoint()  # the log is empty now: what follows is the new delivery
    wal = folder / f"{STATE_FILE}-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    db_before = (folder / STATE_FILE).read_bytes()
    statements: list[str] = []
    event.listen(
        store.state._writer,
        "before_cursor_execute",
        lambda _c, _cur, sql, *_a: statements.append(sql.split()[0]),
    )
    pending = Delivery("slack:T:C1", "2609.00001", T0, status="pending", day="2026-06-12")
    store.record_deliveries([pending])
    store.record_deliveries([Delivery("slack:T:C1", "2609.00001", T0, message_id="1.2")])
    assert (folder / STATE_FILE).read_bytes() == db_before  # only the log was written
    size = wal.stat().st_size
    assert len(store.deliveries()) == history + 1
    store.close()
    return size, statements


def test_recording_a_delivery_writes_bytes_that_do_not_grow_with_history(tmp_path: Path) -> None:
    small, small_sql = wal_bytes_of_one_delivery(tmp_path / "a", 100)
    large, large_sql = wal_bytes_of_one_delivery(tmp_path / "b", 10_000)
    # per transaction: BEGIN and one INSERT ... ON CONFLICT row (the driver commits)
    assert small_sql == large_sql == ["BEGIN", "INSERT"] * 2
    page = 4096 + 24  # a WAL frame: one page and its header
    assert large <= small + 2 * page, (small, large)  # a b-tree one level deeper at most
    assert large <= 12 * page, large  # two commits of a handful of pages, not the history


# ---- transactions -------------------------------------------------------------------------


def test_group_commit_is_one_transaction_and_a_failed_change_is_undone_alone(
    tmp_path: Path, state_url: str | None
) -> None:
    store = Store(tmp_path, state_url=state_url)
    writes = store.state_storage.writes
    failed = []
    with store.batched_state_writes():
        for n in range(100):
            store.record_deliveries([Delivery("slack:T:C", f"2601.{n:05d}", T0)])
            try:  # one change in the batch fails; the others stand
                if n == 50:
                    store.update_channel("slack:T:C", lambda c: None)
                    store.state.put([Channel("slack", "T", "X", min_upvotes=2**70)])
            except StorageError as exc:
                failed.append(str(exc))
        # inside the batch the writer sees its own changes
        assert len(store.delivered_ids("slack:T:C")) == 100
    assert store.state_storage.writes == writes + 1
    assert len(failed) == 1 and "64-bit" in failed[0]
    assert (
        len(Store(tmp_path, state_url=state_url).deliveries()) == 100
        and store.get_channel("slack:T:X") is None
    )


def test_readers_in_other_threads_see_only_committed_state(
    tmp_path: Path, state_url: str | None
) -> None:
    import threading

    store = Store(tmp_path, state_url=state_url)
    seen: list[int] = []
    with store.batched_state_writes():
        store.record_deliveries([Delivery("slack:T:C", "2601.00001", T0)])
        reader = threading.Thread(target=lambda: seen.append(len(store.deliveries())))
        reader.start()
        reader.join(10)
    assert seen == [0] and len(store.deliveries()) == 1


# ---- damaged databases ----------------------------------------------------------------------


def made_store(folder: Path) -> None:
    store = Store(folder)
    store.save_channel(Channel("slack", "T1", "C1"))
    store.add_topic("slack:T1:C1", "agents", "ada")
    store.record_deliveries([Delivery("slack:T1:C1", "2601.00001", T0)])
    store.put_feedback(Feedback("slack:T1:C1", "2601.00001", "U1", 1, T0))
    store.close()


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("UPDATE channels SET timezone = X'05'", ["channels/'slack:T1:C1'", "timezone", "str"]),
        ("UPDATE topics SET alert_upvotes = 'many'", ["topics/1", "alert_upvotes", "integer"]),
        ("UPDATE deliveries SET status = X'00'", ["deliveries/'slack:T1:C1|2601.00001'", "status"]),
        ("UPDATE feedback SET value = 'up'", ["feedback/", "value"]),
        ("UPDATE channels SET paused = 'yes'", ["channels/", "paused"]),
        ("UPDATE meta SET value = '\"abc\"' WHERE key = 'next_topic_id'", ["meta/'next_topic_id'"]),
    ],
)
def test_a_damaged_row_is_named_and_the_database_kept(tmp_path: Path, sql, words) -> None:
    made_store(tmp_path)
    with contextlib.closing(sqlite3.connect(tmp_path / STATE_FILE)) as db:
        db.execute(sql)
        db.commit()
    damaged = (tmp_path / STATE_FILE).read_bytes()
    with pytest.raises(StorageError) as err:
        Store(tmp_path)
    message = str(err.value)
    assert "\n" not in message and str(tmp_path / STATE_FILE) in message and "damaged" in message
    for word in words:
        assert word in message, (word, message)
    assert (tmp_path / STATE_FILE).read_bytes() == damaged


def test_a_file_that_is_not_a_database_is_one_line_and_kept(tmp_path: Path) -> None:
    made_store(tmp_path)
    (tmp_path / STATE_FILE).write_bytes(b'{"channels": {}}' * 300)
    with pytest.raises(StorageError) as err:
        Store(tmp_path)
    assert "\n" not in str(err.value) and str(tmp_path / STATE_FILE) in str(err.value)
    assert (tmp_path / STATE_FILE).read_bytes() == b'{"channels": {}}' * 300


# ---- portable: the URL is the only difference -------------------------------------------------


def test_the_schema_and_the_upsert_compile_for_postgresql() -> None:
    dialect = postgresql.dialect()
    for table in state_db.metadata.sorted_tables:
        CreateTable(table).compile(dialect=dialect)
        for index in table.indexes:
            CreateIndex(index).compile(dialect=dialect)
    insert = postgresql.insert(state_db.deliveries)
    upsert = insert.on_conflict_do_update(
        index_elements=["key"], set_={"status": insert.excluded.status}
    )
    assert "ON CONFLICT (key) DO UPDATE" in str(upsert.compile(dialect=dialect))
    # the statement the store runs: deliveries conflict on their one unique index
    ours = state_db._upsert_statement("postgresql", state_db.deliveries, ("channel", "key", "at"))
    assert "ON CONFLICT (channel, key) DO UPDATE" in str(ours.compile(dialect=dialect))


def test_the_migrations_ship_inside_the_package() -> None:
    from importlib.resources import files

    versions = files("bot") / "migrations" / "versions"
    assert (versions / "0001_initial.py").is_file() and head_revision() == "0005"
    assert (versions / "0002_deliveries_one_index.py").is_file()
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert '"migrations/versions/*.py"' in pyproject and '"migrations/*.py"' in pyproject


class ArxivIdTable(Table):
    document_id_class = str


def test_the_corpus_is_still_tinydb_and_untouched_by_state_writes(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.put_papers([Paper(id="2601.00001", title="One")])
    corpus = snapshot(store.corpus_path)
    store.save_channel(Channel("slack", "T1", "C1"))
    store.record_deliveries([Delivery("slack:T1:C1", "2601.00001", T0)])
    assert snapshot(store.corpus_path) == corpus
    assert set(corpus) == {"2601-00.json", "meta.json"}
    # a partition is a TinyDB document that TinyDB itself opens and queries (its
    # document ids are arXiv ids: strings, TinyDB's documented custom id class)
    with TinyDB(store.corpus_path / "2601-00.json", access_mode="r") as db:
        db.table_class = ArxivIdTable
        papers = db.table("papers")
        assert papers.get(doc_id="2601.00001")["title"] == "One"
        assert [d.doc_id for d in papers.search(Query().title == "One")] == ["2601.00001"]
    assert snapshot(store.corpus_path) == corpus  # reading changed nothing


# ---- revision 0002: deliveries keep one unique index ------------------------------------------


def test_a_0001_database_upgrades_to_one_delivery_index_keeping_rows_and_order(
    tmp_path: Path,
) -> None:
    Store(tmp_path).close()
    downgrade_to_0001(tmp_path)
    old_rows = [
        Delivery("slack:T:C1", "2601.00002", T0, status="pending", day="2026-06-12"),
        Delivery("slack:T:C1", "2601.00001", T0, day="2026-06-12"),
        Delivery("slack:T:C2", "2601.00001", T0, kind="weekly"),
        Delivery("slack:T:C2", "2601.00001", T0, kind="alert", message_id="9.1"),
    ]
    with contextlib.closing(sqlite3.connect(tmp_path / STATE_FILE)) as db:
        assert indexes(db) >= {"ix_deliveries_channel", "ix_deliveries_pending"}
        assert "ux_deliveries_channel_key" not in indexes(db)
        for n, d in enumerate(old_rows, start=7):
            db.execute(
                "INSERT INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (n, d.key, d.channel, d.paper_id, d.at, d.status, d.message_id, d.day, d.kind),
            )
        db.commit()

    store = Store(tmp_path)
    assert store.state.revision() == head_revision()
    assert store.deliveries() == old_rows  # every row, in insertion order
    assert store.pending_channels() == {"slack:T:C1"}
    assert store.delivered_ids("slack:T:C2") == {"2601.00001"}
    assert store.delivered_ids("slack:T:C2", weekly=True) == {"2601.00001"}
    # the upsert conflicts on the new index: a completion replaces its intent
    store.record_deliveries([Delivery("slack:T:C1", "2601.00002", T0, message_id="1.1")])
    assert store.pending_channels() == set() and len(store.deliveries()) == 4
    store.remove_deliveries([old_rows[1]])
    assert [d.paper_id for d in store.deliveries("slack:T:C1")] == ["2601.00002"]
    store.record_deliveries([Delivery("slack:T:C3", "2601.00003", T0)])
    store.close()
    with contextlib.closing(sqlite3.connect(tmp_path / STATE_FILE)) as db:
        assert db.execute("SELECT max(id) FROM deliveries").fetchone() == (11,)  # ids go on
        assert "ux_deliveries_channel_key" in indexes(db)
        assert "ix_deliveries_channel" not in indexes(db)
        assert "sqlite_autoindex_deliveries_1" not in indexes(db)  # the key's own UNIQUE


def downgrade_to_0001(folder: Path) -> None:
    """Leave the state database as revision 0001 made it (Alembic's own downgrade)."""
    from alembic import command

    db = state_db.StateDB(folder)
    with db._writer.begin() as conn:
        config = state_db._alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")
    db.close()


def indexes(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


def test_delivered_by_channel_among_reads_only_those_papers(
    tmp_path: Path, state_url: str | None
) -> None:
    """A fan-out asks who had its candidates only."""
    store = Store(tmp_path, state_url=state_url)
    at = "2026-06-12T09:00:00+00:00"
    store.record_deliveries(
        [
            Delivery(f"slack:T:C{c}", f"2601.{n:05d}", at)
            for c in range(3)
            for n in range(c, 1200, 3)
        ]
        + [Delivery("slack:T:C0", "2601.99999", at, "sent", None, "2026-06-12", "weekly")]
    )
    wanted = [f"2601.{n:05d}" for n in range(0, 1200, 2)] + ["2699.00001"]  # 601 ids
    found = store.delivered_by_channel(among=wanted)
    everything = store.delivered_by_channel()
    assert found == {key: {p for p in ids if p in set(wanted)} for key, ids in everything.items()}
    assert sum(map(len, found.values())) == 600
    # More ids than one statement may carry (30,000 a statement): the same answer.
    many = wanted + [f"2698.{n:05d}" for n in range(30_000)]
    assert store.delivered_by_channel(among=many) == found
    assert store.delivered_by_channel(among=[]) == {}
    assert store.delivered_by_channel(weekly=True, among=["2601.99999"]) == {
        "slack:T:C0": {"2601.99999"}
    }
