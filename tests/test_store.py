"""Storage: atomic writes, corrupt files refused, threads, corpus and state kept apart."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from bot.corpus import SCHEMA_VERSION as CORPUS_SCHEMA_VERSION
from bot.models import Channel, Delivery, Paper
from bot.state_db import head_revision
from bot.store import StorageError, Store
from tests.corpus_files import file_stats, meta, snapshot


def papers(n: int, start: int = 0, tag: str = "") -> list[Paper]:
    return [
        Paper(id=f"2601.{i:05d}", title=f"Paper {i} {tag}", abstract="word " * 200, upvotes=i)
        for i in range(start, start + n)
    ]


def test_round_trip_and_schema_version(tmp_path: Path, state_url: str | None) -> None:
    store = Store(tmp_path, state_url=state_url)
    store.put_papers(papers(3))
    store.save_channel(Channel("slack", "T1", "C1", timezone="Europe/Berlin"))
    reopened = Store(tmp_path, state_url=state_url)
    assert reopened.paper_count() == 3
    assert reopened.get_paper("2601.00002").upvotes == 2
    assert reopened.get_channel("slack:T1:C1").timezone == "Europe/Berlin"
    schema = meta(reopened.corpus_path)
    assert schema["kind"] == "corpus" and schema["version"] == CORPUS_SCHEMA_VERSION == 2
    assert schema["revision"] == reopened.corpus_revision == 1  # one put_papers, one commit
    assert schema["partitions"] == {"2601-00": 3}
    assert not (tmp_path / "corpus.json").exists()  # the one-file layout is not written
    # the state's schema version is its Alembic revision
    assert reopened.state.revision() == head_revision() is not None


def test_wrong_schema_version_refused(tmp_path: Path) -> None:
    Store(tmp_path).put_papers(papers(1))
    path = tmp_path / "corpus" / "meta.json"
    data = json.loads(path.read_text())
    data["_meta"]["schema"]["version"] = 999
    path.write_text(json.dumps(data))
    before = snapshot(path.parent)
    with pytest.raises(StorageError, match=r"corpus/meta\.json: schema version 999"):
        Store(tmp_path)
    assert snapshot(path.parent) == before  # refused, not rewritten


@pytest.mark.parametrize("content", ["", '{"papers": {"1": {"title": "trunc', "[1, 2]", "\x00\x00"])
@pytest.mark.parametrize("name", ["corpus/meta.json", "corpus/2601-00.json", "corpus.json"])
def test_corrupt_file_refused_and_left_untouched(tmp_path: Path, name: str, content: str) -> None:
    """meta.json is read at open, a partition when a paper in it is first wanted, an old
    one-file corpus.json when it is imported: each refused by name, none overwritten."""
    store = Store(tmp_path)
    store.put_papers(papers(2))
    store.close()
    damaged = tmp_path / name
    if name == "corpus.json":  # a legacy file found beside a fresh folder: to import
        shutil.rmtree(tmp_path / "corpus")
    damaged.write_text(content)
    if name.endswith("2601-00.json"):  # a partition is read when a paper in it is wanted
        with contextlib.closing(Store(tmp_path)) as reopened, pytest.raises(StorageError) as err:
            reopened.get_paper("2601.00001")
    else:
        with pytest.raises(StorageError) as err:
            Store(tmp_path)
    assert str(damaged) in str(err.value) and "\n" not in str(err.value)
    assert damaged.read_text() == content  # never overwritten


def test_import_is_batched(tmp_path: Path) -> None:
    store = Store(tmp_path)
    before = store.corpus_storage.writes
    for start in range(0, 10_000, 2_500):
        store.put_papers(papers(2_500, start))
    assert store.paper_count() == 10_000
    assert store.corpus_storage.writes - before == 4


def test_deliveries_never_rewrite_the_corpus(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.put_papers(papers(50))
    corpus = store.corpus_path
    assert corpus == tmp_path / "corpus" and (corpus / "2601-00.json").is_file()
    before = (snapshot(corpus), file_stats(corpus), store.corpus_storage.writes)
    for i in range(20):
        store.record_deliveries(
            [Delivery("slack:T:C", f"2601.{i:05d}", "2026-06-12T09:00:00+00:00")]
        )
        store.save_channel(Channel("slack", "T", "C", last_post_date="2026-06-12"))
        store.add_topic("slack:T:C", f"topic {i}", "ada")
    assert (snapshot(corpus), file_stats(corpus), store.corpus_storage.writes) == before
    assert len(store.delivered_ids("slack:T:C")) == 20


def test_eight_threads_writing_lose_nothing(tmp_path: Path, state_url: str | None) -> None:
    store = Store(tmp_path, state_url=state_url)
    store.save_channels(Channel("console", "local", str(n)) for n in range(8))
    errors: list[BaseException] = []

    def bump(channel: Channel) -> None:  # a read-modify-write that must not lose updates
        channel.failures += 1

    def work(n: int) -> None:
        try:
            for i in range(25):
                store.record_deliveries([Delivery(f"c{n}", f"p{i}", "now")])
                store.add_topic(f"c{n}", f"t{i}", "x")
                store.put_papers([Paper(id=f"2602.{n}{i:04d}", title="t")])
                store.update_channel(f"console:local:{n % 2}", bump)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    reopened = Store(tmp_path, state_url=state_url)
    assert len(reopened.deliveries()) == 200
    topics = reopened.topics()
    assert len(topics) == 200 and len({t.id for t in topics}) == 200
    assert reopened.paper_count() == 200
    assert [reopened.get_channel(f"console:local:{n}").failures for n in (0, 1)] == [100, 100]


WRITER = textwrap.dedent(
    """
    import sys
    from bot.models import Paper
    from bot.store import Store
    store = Store(sys.argv[1])
    n = 0
    while True:
        n += 1
        store.put_papers([Paper(id=f"2603.{i:05d}", title=f"gen {n}", abstract="x" * 2000)
                          for i in range(2000)])
        print(n, flush=True)
    """
)


def test_atomic_write_survives_a_killed_writer(tmp_path: Path) -> None:
    for attempt in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        assert proc.stdout.readline()  # at least one complete write
        time.sleep(0.05 + 0.07 * attempt)  # land the kill at different points of a write
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        store = Store(tmp_path)  # opens: the file is whole
        assert store.paper_count() == 2000
        generation = store.get_paper("2603.00000").title
        assert all(p.title == generation for p in store.papers())  # one write, not a mix
        assert not list((tmp_path / "corpus").glob(".*.tmp"))  # stale temp files cleaned
        assert not (tmp_path / "corpus" / "commit.json").exists()  # no commit left half done
        store.close()


def test_a_second_process_is_refused_the_data_folder(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from bot.store import Store; Store(sys.argv[1]); "
            "print('ready', flush=True); sys.stdin.read()",
            str(tmp_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(
            StorageError, match=f"in use by another papers-bot process \\(pid {holder.pid}\\)"
        ):
            Store(tmp_path)
    finally:
        holder.communicate("", timeout=30)
    Store(tmp_path)  # free again once the other process has gone
