"""The corpus in partitions (``<data>/corpus/``), through :class:`Store` and real files:
an ingest rewrites only the blocks it touches, a commit is all or nothing across files
(even when the process is killed in the middle), a failed commit changes nothing, memory
holds a bounded number of partitions, and a one-file corpus.json is imported once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bot.corpus import OTHER, Corpus, partition_of
from bot.models import Paper, is_arxiv_id, stable_id_for_title
from bot.store import PARTITIONS_CACHED, StorageError, Store
from tests.conftest import REPO
from tests.corpus_files import file_stats, leftovers, meta, snapshot, stored_papers
from tests.test_faults_store import run_child, without_root_override


def paper(pid: str, title: str = "", abstract: str = "") -> Paper:
    return Paper(
        id=pid,
        title=title or f"Paper {pid}",
        abstract=abstract or f"On {pid}. " + "words " * 80,
        authors=["Ada Lovelace", "Alan Turing"],
        published="2026-05-08",
        upvotes=len(pid),
        categories=["cs.LG"],
        sources=["arxiv"],
    )


# ---- which partition a paper lives in ---------------------------------------------------------


@pytest.mark.parametrize(
    ("paper_id", "partition"),
    [
        ("2611.06123", "2611-03"),  # block 3: 06000-07999
        ("2611.06000", "2611-03"),
        ("2611.05999", "2611-02"),
        ("2611.00001", "2611-00"),
        ("2611.99999", "2611-49"),
        ("0704.0001", "0704-00"),  # a four-digit number (2007-2014)
        ("1412.9999", "1412-04"),
        ("hep-th/9901001", "old-9901"),
        ("math.AG/0601123", "old-0601"),
        ("cond-mat/0512999", "old-0512"),
        (stable_id_for_title("A paper without an arXiv id"), OTHER),
        ("Some Title", OTHER),
        ("2611.123", OTHER),  # not an arXiv id: too few digits
        ("hep-th/990100", OTHER),
        ("", OTHER),
    ],
)
def test_partition_of(paper_id: str, partition: str) -> None:
    assert partition_of(paper_id) == partition
    # "other" holds exactly the ids that are not arXiv ids (the title-keyed ones)
    assert (partition == OTHER) == (not is_arxiv_id(paper_id))


def test_each_kind_of_id_lands_in_its_partition_file(tmp_path: Path) -> None:
    titled = stable_id_for_title("A workshop paper")
    ids = ["2611.06123", "2611.06124", "0704.0001", "hep-th/9901001", titled]
    store = Store(tmp_path)
    store.put_papers(paper(pid) for pid in ids)
    store.close()
    corpus = tmp_path / "corpus"
    assert set(snapshot(corpus)) == {
        "2611-03.json",
        "0704-00.json",
        "old-9901.json",
        "other.json",
        "meta.json",
    }
    assert set(json.loads((corpus / "2611-03.json").read_text())["papers"]) == {
        "2611.06123",
        "2611.06124",
    }
    assert set(json.loads((corpus / "other.json").read_text())["papers"]) == {titled}
    assert meta(corpus)["partitions"] == {
        "2611-03": 2,
        "0704-00": 1,
        "old-9901": 1,
        "other": 1,
    }
    reopened = Store(tmp_path)
    assert reopened.paper_count() == 5
    assert all(reopened.get_paper(pid) == paper(pid) for pid in ids)
    assert [p.id for p in reopened.untitled_papers()] == [titled]
    reopened.close()


# ---- an ingest rewrites only the partitions it touches ----------------------------------------

MONTHS = [f"25{m:02d}" for m in range(1, 13)] + [f"26{m:02d}" for m in range(1, 9)]


def test_an_ingest_of_one_month_rewrites_only_its_partitions(tmp_path: Path) -> None:
    # ~20,000 papers over 20 months, each month's ids spread over ten partitions
    store = Store(tmp_path)
    for month in MONTHS:
        store.put_papers(paper(f"{month}.{seq:05d}") for seq in range(0, 20_000, 20))
    assert store.paper_count() == 20_000
    corpus = store.corpus_path
    assert len(meta(corpus)["partitions"]) == 200
    before_files, before_stats = snapshot(corpus), file_stats(corpus)
    writes, files, written = (
        store.corpus_storage.writes,
        store.corpus_storage.files_written,
        store.corpus_storage.bytes_written,
    )

    # a day of 1,000 new papers of one month: odd ids 2608.07001-08999, blocks 3 and 4
    new = [paper(f"2608.{seq:05d}", title=f"New {seq}") for seq in range(7_001, 9_000, 2)]
    assert store.put_papers(new) == 1_000

    touched = {"2608-03.json", "2608-04.json", "meta.json"}
    after_files, after_stats = snapshot(corpus), file_stats(corpus)
    assert set(after_files) == set(before_files)  # no partition added, no temp file left
    for name in before_files:
        if name in touched:
            assert after_files[name] != before_files[name], name
        else:  # not rewritten: same bytes, same inode, same mtime
            assert after_files[name] == before_files[name], name
            assert after_stats[name] == before_stats[name], name
    assert store.corpus_storage.writes == writes + 1  # one commit
    assert store.corpus_storage.files_written == files + len(touched)
    ingest_bytes = store.corpus_storage.bytes_written - written
    folder_bytes = sum(len(data) for data in after_files.values())
    assert ingest_bytes == sum(len(after_files[name]) for name in touched)
    assert ingest_bytes < folder_bytes / 10, (ingest_bytes, folder_bytes)
    assert meta(corpus)["partitions"]["2608-03"] == meta(corpus)["partitions"]["2608-04"] == 600
    store.close()

    reopened = Store(tmp_path)
    assert reopened.paper_count() == 21_000
    assert reopened.get_paper("2608.07001").title == "New 7001"
    assert reopened.get_paper("2608.07520") == paper("2608.07520")  # an old neighbour, kept
    assert reopened.get_paper("2501.19980") == paper("2501.19980")
    reopened.close()


# ---- a commit is all or nothing across partitions, even when the process is killed ----------

TWO_PARTITIONS = textwrap.dedent(
    """
    def generation(n):
        # one commit over two partitions (2603-00 and 2604-00), every title saying which
        return [Paper(id=f"{month}.{i:05d}", title=f"gen {n}", abstract="x" * 2000)
                for month in ("2603", "2604") for i in range(1000)]
    """
)

KILLED_WRITER = (
    """
import sys
from bot.models import Paper
from bot.store import Store
"""
    + TWO_PARTITIONS
    + """
store = Store(sys.argv[1])
n = 0
while True:
    n += 1
    store.put_papers(generation(n))
    print(n, flush=True)
"""
)


def generations(store: Store) -> dict[str, set[str]]:
    """The titles found in each of the two partitions."""
    found: dict[str, set[str]] = {"2603": set(), "2604": set()}
    for p in store.papers():
        found[p.id[:4]].add(p.title)
    return found


def test_a_killed_writer_leaves_whole_commits(tmp_path: Path) -> None:
    last = 0
    for attempt in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITER, str(tmp_path)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        done = int(proc.stdout.readline())  # at least one whole commit
        time.sleep(0.05 + 0.07 * attempt)  # land the kill at different points of a commit
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        printed = [int(line) for line in [str(done), *proc.stdout.read().split()]]
        last = printed[-1]  # committed before the print; the next one may have landed too
        store = Store(tmp_path)
        assert store.paper_count() == 2000
        found = generations(store)
        assert found["2603"] == found["2604"] and len(found["2603"]) == 1, found  # no mix
        (title,) = found["2603"]
        assert title in (f"gen {last}", f"gen {last + 1}")
        assert leftovers(store.corpus_path) == []  # rolled forward or cleaned
        store.close()


CRASHING_WRITER = (
    """
import os, signal, sys
from bot.models import Paper
from bot.store import Store
"""
    + TWO_PARTITIONS
    + """
store = Store(sys.argv[1])
store.put_papers(generation(1))
store.put_papers(generation(2))
allowed = int(sys.argv[2])  # steps of the third commit that may happen before the kill
real_replace, real_unlink = os.replace, os.unlink
def step():
    global allowed
    if allowed == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    allowed -= 1
def replace(src, dst):  # a rename: the journal into place, then each file
    step()
    real_replace(src, dst)
def unlink(path, *args, **kwargs):  # the journal's removal, the commit's last step
    if str(path).endswith("commit.json"):
        step()
    real_unlink(path, *args, **kwargs)
os.replace, os.unlink = replace, unlink
store.put_papers(generation(3))
print("not killed", flush=True)
"""
)


@pytest.mark.parametrize(
    ("renames", "survives"),
    [
        (0, "gen 2"),  # killed before the journal: the temp files are dropped
        (1, "gen 3"),  # the journal is written, no partition renamed yet
        (2, "gen 3"),  # one partition renamed, the other not
        (3, "gen 3"),  # both partitions, not meta.json
        (4, "gen 3"),  # every file, the journal not yet removed
        (5, "gen 3"),  # not killed: the commit is whole before the next open
    ],
)
def test_a_commit_killed_after_its_journal_is_finished_at_the_next_open(
    tmp_path: Path, renames: int, survives: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CRASHING_WRITER, str(tmp_path), str(renames)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    corpus = tmp_path / "corpus"
    left = leftovers(corpus)
    if renames == 5:  # the control: five steps make a commit, and nothing is left over
        assert done.returncode == 0 and done.stdout == "not killed\n", done.stderr[-2000:]
        assert left == []
    else:
        assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
        assert ("commit.json" in left) == (renames > 0), left
        assert any(name.endswith(".tmp") for name in left) == (renames < 4), left
    if renames == 2:  # what the disk holds before recovery: the two partitions disagree
        raw = stored_papers(corpus)
        assert raw["2603.00000"]["title"] == "gen 3" and raw["2604.00000"]["title"] == "gen 2"

    store = Store(tmp_path)
    found = generations(store)
    assert found == {"2603": {survives}, "2604": {survives}}
    assert store.paper_count() == 2000 and meta(corpus)["partitions"] == {
        "2603-00": 1000,
        "2604-00": 1000,
    }
    assert store.corpus_revision == (3 if survives == "gen 3" else 2)
    assert leftovers(corpus) == []
    assert stored_papers(corpus) == {p.id: p.to_doc() for p in store.papers()}
    store.put_papers([paper("2603.01000")])  # and the next commit works
    store.close()
    assert Store(tmp_path).paper_count() == 2001


# ---- processes sharing one corpus folder (workers on one volume) ---------------------------

SHARED_WRITER = """
import sys, time
from pathlib import Path
from bot.corpus import Corpus
from bot.models import Paper
folder, name, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
corpus = Corpus(folder, shared=True)
while not go.exists():
    time.sleep(0.001)
for n in range(20):  # the same partition as the other writer, one paper a commit
    pid = f"2603.{int(name) * 100 + n:05d}"
    corpus.commit({pid: Paper(id=pid, title=f"{name} {n}").to_doc()})
"""


def test_processes_committing_to_one_shared_corpus_lose_nothing(tmp_path: Path) -> None:
    folder, go = tmp_path / "corpus", tmp_path / "go"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", SHARED_WRITER, str(folder), name, str(go)], cwd=REPO
        )
        for name in ("1", "2")
    ]
    time.sleep(1.0)  # both opened, then released at once
    go.touch()
    assert [w.wait(60) for w in writers] == [0, 0]
    corpus = Corpus(folder, shared=True)
    wanted = {f"2603.{name * 100 + n:05d}" for name in (1, 2) for n in range(20)}
    assert set(corpus.records("2603-00")) == wanted
    assert corpus.revision == 40 and corpus.count() == 40


def test_a_commit_reads_the_newest_meta_even_when_it_looks_unchanged(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    one, two = Corpus(folder, shared=True), Corpus(folder, shared=True)  # two workers
    one.commit({"2603.00001": Paper(id="2603.00001", title="First").to_doc()})
    assert one.revision == 1 and one.records("2603-00")  # read and cached by one
    meta_file, kept = folder / "meta.json", folder / "meta.kept"
    seen = os.stat(meta_file)
    os.link(meta_file, kept)  # the inode one saw, kept for the file system to reuse
    two.commit({"2603.00002": Paper(id="2603.00002", title="Second").to_doc()})
    # What a reused inode with a coarse timestamp looks like: two's meta.json, carrying
    # the very (inode, mtime, size) one last saw.
    newer = meta_file.read_bytes()
    assert len(newer) == seen.st_size
    kept.write_bytes(newer)
    os.utime(kept, ns=(seen.st_atime_ns, seen.st_mtime_ns))
    os.replace(kept, meta_file)
    one.commit({"2603.00003": Paper(id="2603.00003", title="Third").to_doc()})
    again = Corpus(folder, shared=True)
    assert set(again.records("2603-00")) == {"2603.00001", "2603.00002", "2603.00003"}
    assert again.revision == 3


HALF_COMMITTED = """
import os, signal, sys
from pathlib import Path
from bot.corpus import Corpus
from bot.models import Paper
corpus = Corpus(Path(sys.argv[1]), shared=True)
real_replace = os.replace
def replace(src, dst):  # killed once its journal is in place, before any rename
    real_replace(src, dst)
    if str(dst).endswith("commit.json"):
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
corpus.commit({"2603.00002": Paper(id="2603.00002", title="Second").to_doc()})
"""


def test_a_reader_finishes_the_commit_a_killed_worker_left(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    reader = Corpus(folder, shared=True)  # a running worker
    reader.commit({"2603.00001": Paper(id="2603.00001", title="First").to_doc()})
    assert reader.revision == 1
    done = subprocess.run([sys.executable, "-c", HALF_COMMITTED, str(folder)], cwd=REPO, timeout=60)
    assert done.returncode == -signal.SIGKILL
    assert "commit.json" in leftovers(folder)
    assert reader.revision == 2  # rolled forward by the reader, not at the next start
    assert reader.get("2603.00002")["title"] == "Second"
    assert leftovers(folder) == []


# ---- a failed commit changes nothing ----------------------------------------------------------


def unwritable_folder() -> None:
    without_root_override()  # in the child: root obeys the folder's permissions too


@pytest.mark.parametrize(
    ("how", "fault", "preexec"),
    [
        pytest.param(
            """
            os.chmod(corpus, 0o555)
            out["writable"] = os.access(corpus, os.W_OK)
            """,
            "Permission denied",
            unwritable_folder,
            id="read-only folder",
        ),
        pytest.param(
            # the small partition's temp file is written, the big one's fails (EFBIG)
            """
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
            out["writable"] = False
            """,
            "File too large",
            None,
            id="file size limit",
        ),
    ],
)
def test_a_failed_commit_leaves_every_file_as_it_was(tmp_path: Path, how, fault, preexec) -> None:
    store = Store(tmp_path)
    store.put_papers(paper(f"2601.{i:05d}") for i in range(5))
    store.put_papers(paper(f"2602.{i:05d}") for i in range(5))
    store.close()
    corpus = tmp_path / "corpus"
    before = snapshot(corpus)
    body = (
        """
        import os, resource, signal
        from tests.corpus_files import snapshot
        folder = sys.argv[1]
        store = Store(folder)
        corpus = store.corpus_path
        files, revision = snapshot(corpus), store.corpus_revision
        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        """
        + textwrap.indent(textwrap.dedent(how), " " * 8)
        + """
        batch = [Paper(id="2601.00100", title="small")] + [
            Paper(id=f"2602.{i:05d}", title="big", abstract="x" * 1000) for i in range(100, 300)
        ]
        attempt("failed", lambda: store.put_papers(batch))
        out["same_files"] = snapshot(corpus) == files
        out["same_revision"] = store.corpus_revision == revision
        out["count"] = store.paper_count()
        out["unseen"] = [store.get_paper(p) is None for p in ("2601.00100", "2602.00100")]
        out["kept"] = store.get_paper("2602.00004").title
        os.chmod(corpus, 0o755)
        resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
        attempt("after", lambda: store.put_papers([Paper(id="2601.00200", title="after")]))
        """
    )
    try:
        out = run_child(body, tmp_path, preexec)
    except subprocess.SubprocessError as exc:  # preexec_fn failed: no CAP_SETPCAP here
        pytest.skip(f"cannot drop root's permission override here ({exc})")
    finally:
        corpus.chmod(0o755)
    if out["writable"]:
        pytest.skip("chmod does not stop this user writing (root with CAP_DAC_OVERRIDE)")
    assert out["failed"] == f"{corpus}: cannot save ({fault}); the corpus was left as it was"
    assert out["same_files"] and out["same_revision"] and out["count"] == 10
    assert out["unseen"] == [True, True] and out["kept"] == "Paper 2602.00004"
    assert out["after"] == "ok"
    after = snapshot(corpus)
    assert after["2602-00.json"] == before["2602-00.json"]  # the failed write left no trace
    assert after["2601-00.json"] != before["2601-00.json"] and leftovers(corpus) == []
    reopened = Store(tmp_path)
    assert reopened.paper_count() == 11 and reopened.get_paper("2602.00100") is None
    assert reopened.get_paper("2601.00200").title == "after"
    reopened.close()


# ---- memory: a bounded number of parsed partitions ---------------------------------------------


def test_reading_many_partitions_keeps_a_bounded_cache(tmp_path: Path) -> None:
    # 40 partitions of one month (blocks 00-39), 25 papers each
    ids = [f"2605.{block * 2000 + i:05d}" for block in range(40) for i in range(25)]
    store = Store(tmp_path)
    store.put_papers(paper(pid) for pid in ids)
    store.close()
    assert PARTITIONS_CACHED <= 8

    store = Store(tmp_path)
    assert len(store.corpus._cache) == 0  # no partition is read at open
    for block in range(40):
        pid = f"2605.{block * 2000 + 7:05d}"
        assert store.get_paper(pid) == paper(pid)
        assert len(store.corpus._cache) <= 8
    assert len(store.corpus.partitions()) == 40
    assert sum(1 for _ in store.iter_papers()) == 1000  # a full pass: still bounded
    assert len(store.corpus._cache) <= 8
    # an evicted partition is read again when wanted
    assert store.get_paper("2605.00003") == paper("2605.00003")
    assert len(store.corpus._cache) <= 8
    store.close()


# ---- a one-file corpus.json from an older papers-bot -------------------------------------------


def test_a_legacy_corpus_json_is_imported_once(tmp_path: Path) -> None:
    titled = stable_id_for_title("A paper seen without its arXiv id")
    old = [
        paper("2601.00001"),
        paper("2601.00002"),
        paper("2601.05000"),
        paper("2512.12345"),
        paper("hep-th/9901001"),
        paper(titled, title="A paper seen without its arXiv id"),
    ]
    legacy = tmp_path / "corpus.json"
    legacy.write_text(
        json.dumps(
            {
                "_meta": {"schema": {"kind": "corpus", "version": 1, "revision": 3}},
                "papers": {p.id: p.to_doc() for p in old},
            }
        )
    )
    raw = legacy.read_bytes()

    store = Store(tmp_path)
    assert store.paper_count() == len(old)
    for p in old:
        assert store.get_paper(p.id) == p, p.id
    assert not legacy.exists()
    assert (tmp_path / "corpus.json.imported").read_bytes() == raw  # renamed, not changed
    corpus = store.corpus_path
    assert meta(corpus)["partitions"] == {
        "2601-00": 2,
        "2601-02": 1,
        "2512-06": 1,
        "old-9901": 1,
        OTHER: 1,
    }
    assert stored_papers(corpus) == {p.id: p.to_doc() for p in old}
    assert [p.id for p in store.untitled_papers()] == [titled]
    files, revision = file_stats(corpus), store.corpus_revision
    store.close()

    again = Store(tmp_path)  # no second import
    assert again.corpus_storage.writes == 0 and again.corpus_revision == revision
    assert file_stats(corpus) == files
    assert again.paper_count() == len(old) and again.get_paper("2512.12345") == old[3]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("corpus.json")) == [
        "corpus.json.imported"
    ]
    again.close()


def test_a_start_that_died_between_the_legacy_import_and_the_rename_finishes_it(
    tmp_path: Path,
) -> None:
    old = [paper("2601.00001"), paper("2512.12345")]
    legacy = tmp_path / "corpus.json"
    document = {
        "_meta": {"schema": {"kind": "corpus", "version": 1, "revision": 3}},
        "papers": {p.id: p.to_doc() for p in old},
    }
    legacy.write_text(json.dumps(document))
    Store(tmp_path).close()
    # As if the process died after the partitions' commit, before the rename.
    (tmp_path / "corpus.json.imported").rename(legacy)
    files = file_stats(tmp_path / "corpus")
    store = Store(tmp_path)  # starts, and finishes the import
    assert store.paper_count() == 2 and store.get_paper("2512.12345") == old[1]
    assert not legacy.exists() and (tmp_path / "corpus.json.imported").exists()
    assert file_stats(tmp_path / "corpus") == files  # nothing imported twice
    store.close()

    # A one-file corpus that is NOT what the partitions hold: refused, both left alone.
    document["papers"]["2602.00009"] = paper("2602.00009").to_doc()
    legacy.write_text(json.dumps(document))
    with pytest.raises(StorageError, match="old one-file corpus beside a partitioned one"):
        Store(tmp_path)
    assert legacy.exists()
    # The refused open let go of the folder: another process may open it (after the
    # one-file corpus is moved away, as the message says).
    legacy.rename(tmp_path / "moved-away.json")
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from bot.store import Store; Store(sys.argv[1])",
            tmp_path,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert child.returncode == 0, child.stderr
