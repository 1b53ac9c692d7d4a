"""Issue 17: the state database on a real PostgreSQL server, where several processes write
it at once (each a :class:`StateDB` of its own here: its own engine and connections)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from bot.models import Channel, Delivery, Saved
from bot.state_db import StateDB
from bot.store import StorageError, Store
from tests.postgres_server import PostgresServer, free_port

T0 = "2026-06-12T09:00:00+00:00"


def together(work: Callable[[int], None], n: int) -> list[BaseException]:
    """Run ``work(0..n-1)`` in threads released at once; what any of them raised."""
    start, errors = threading.Barrier(n), []

    def run(i: int) -> None:
        try:
            start.wait()
            work(i)
        except BaseException as exc:  # reported to the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_the_schema_on_postgresql_is_alembics_with_its_partial_index(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    url = postgres.new_database()
    db = StateDB(tmp_path, url)
    assert db.engine.dialect.name == "postgresql"
    with db.reading() as conn:
        names = set(inspect(conn).get_table_names())
        pending = conn.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_deliveries_pending'")
        ).scalar()
    assert {"meta", "channels", "topics", "deliveries", "feedback", "alembic_version"} <= names
    assert pending is not None and "WHERE" in pending and "pending" in pending
    db.set_meta("json", {"a": [1, "two", None], "b": True})
    assert StateDB(tmp_path, url).get_meta("json") == {"a": [1, "two", None], "b": True}
    assert not (tmp_path / "state.sqlite3").exists()  # the URL is the only state


def test_an_unreachable_server_is_one_line_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://papers:hunter2@127.0.0.1:{free_port()}/papers"
    with pytest.raises(StorageError) as err:
        Store(tmp_path, state_url=url)
    message = str(err.value)
    assert "\n" not in message and "hunter2" not in message, message
    assert "cannot open" in message and f"127.0.0.1:{url.rsplit(':', 1)[1]}" in message


def test_processes_adding_the_first_topics_at_once_get_distinct_ids(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    url = postgres.new_database()
    dbs = [StateDB(tmp_path / str(n), url) for n in range(4)]  # no next_topic_id yet
    added: list[int] = []
    errors = together(
        lambda n: added.extend(
            t.id for t in dbs[n].add_topics([(f"c{n}", "agents", "ada", None, None)] * 5, T0)
        ),
        4,
    )
    assert errors == []
    assert sorted(added) == list(range(1, 21))
    assert dbs[0].get_meta("next_topic_id") == 21


def test_workers_saving_one_paper_at_once_record_it_once_and_none_fails(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    """Two presses of Save reaching two workers: one row, one "saved", no error."""
    url = postgres.new_database()
    dbs = [StateDB(tmp_path / str(n), url) for n in range(4)]
    item = Saved("slack:T1:U1", "2606.00001", T0)
    answers: list[bool] = []
    for _ in range(5):  # a few rounds: the race is to be had, not hoped for
        dbs[0].delete_keys(Saved, [item.key])
        answers.clear()
        assert together(lambda n: answers.append(dbs[n].add_saved(item)), 4) == []
        assert sorted(answers) == [False, False, False, True]
    assert len(dbs[0].rows(Saved)) == 1


def test_processes_changing_one_channel_at_once_lose_no_update(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    url = postgres.new_database()
    dbs = [StateDB(tmp_path / str(n), url) for n in range(4)]
    first = Channel("slack", "T", "C")
    dbs[0].put([first])

    def bump(n: int) -> None:
        for _ in range(25):
            dbs[n].update_channel(first.key, lambda c: setattr(c, "failures", c.failures + 1))
            dbs[n].put([Delivery(first.key, f"2601.{n}{_:04d}", T0)])

    assert together(bump, 4) == []
    assert dbs[1].get_channel(first.key).failures == 100
    assert len(dbs[2].rows(Delivery)) == 100


def test_workers_starting_together_on_a_new_database_create_the_schema_once(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    url = postgres.new_database()
    opened: list[StateDB] = []
    errors = together(lambda n: opened.append(StateDB(tmp_path / str(n), url)), 4)
    assert errors == []
    assert {db.revision() for db in opened} == {opened[0].revision()} != {None}


def test_a_claim_skips_rows_another_worker_is_claiming_without_waiting(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    url = postgres.new_database()
    one, two = StateDB(tmp_path / "1", url), StateDB(tmp_path / "2", url)
    keys = [f"slack:T:C{n}" for n in range(10)]
    assert one.claim(keys, "w1", lease=60, limit=3) == keys[:3]
    one.release(keys[:3], "w1")  # free again, rows kept
    with one.engine.connect() as busy:  # a worker in the middle of claiming the first five
        busy.execute(
            text("SELECT channel FROM claims WHERE channel = ANY(:k) FOR UPDATE"), {"k": keys[:5]}
        )
        got: list[list[str]] = []
        claiming = threading.Thread(target=lambda: got.append(two.claim(keys, "w2", 60, 5)))
        claiming.start()
        claiming.join(5)
        waited = claiming.is_alive()
        busy.rollback()
        claiming.join(10)
    assert not waited and got == [keys[5:]]  # the next five, at once
    assert one.claim(keys, "w1", lease=60) == keys[:5]  # the others are w2's
    assert one.claimed() == {**dict.fromkeys(keys[:5], "w1"), **dict.fromkeys(keys[5:], "w2")}
    one.release(keys, "w1")
    assert set(one.claimed()) == set(keys[5:])
