"""Issue 11, the store and user input: one bad command must never stop the posts.

A write that cannot be saved (a number beyond 64 bits, a lone surrogate, a full disk, a
read-only folder) fails alone, in one line, and leaves the store as it was in memory and
on disk; the commands refuse such values before they get that far; damaged records and
a deleted search index are named or repaired, never a traceback.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.models import Channel, Delivery, Paper
from bot.replies import ReplyKind, Request
from bot.scheduler import Scheduler
from bot.state_db import STATE_FILE
from bot.store import StorageError, Store
from tests.corpus_files import snapshot
from tests.fakes.recording import RecordingAdapter

REPO = Path(__file__).resolve().parents[1]
T0 = "2026-06-11T12:00:00+00:00"  # yesterday noon on the test clock


def ask(bot, text: str, channel_id: str = "lab", **kwargs):
    return bot.handle(Request(text=text, channel_id=channel_id, **kwargs))


def assert_one_line_refusal(reply, *words: str) -> None:
    """An error reply the user can act on: its message in one line, no traceback."""
    assert reply.kind == ReplyKind.ERROR, reply.text
    message = reply.text.split("\nUsage:")[0]
    assert "\n" not in message and "Traceback" not in reply.text
    assert "Something went wrong" not in reply.text and "damaged" not in reply.text
    for word in words:
        assert word in message, (word, message)


def enroll_at_nine(bot, channel_id: str) -> None:
    """A channel owed its 09:00 UTC post today (enrolled yesterday)."""
    assert ask(bot, "schedule 09:00 UTC", channel_id).kind != ReplyKind.ERROR
    bot.store.update_channel(
        f"console:local:{channel_id}", lambda ch: setattr(ch, "not_before", T0)
    )


async def post_due(bot, clock) -> RecordingAdapter:
    """Run the scheduler at 09:00 UTC: every owed channel gets its digest."""
    adapter = RecordingAdapter()
    clock.now = clock.now.replace(hour=9, minute=0)
    await Scheduler(bot, {"console": adapter}).run_once()
    return adapter


# ---- one command must not stop every channel's posts -------------------------------------


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("import [channel]; min_upvotes = 99999999999999999999999", ["min_upvotes", "100000"]),
        (
            'import [[topics]]; query = "agents"; alert_upvotes = 100000000000000000000000',
            ["alert_upvotes", "100000"],
        ),
        ("set min-upvotes 99999999999999999999999", ["0 to 100000"]),
        ("subscribe agents --alert 99999999999999999999999", ["--alert", "100,000"]),
    ],
)
async def test_huge_numbers_are_refused_and_other_channels_still_post(
    demo_bot, clock, command: str, words: list[str]
) -> None:
    enroll_at_nine(demo_bot, "other")
    assert_one_line_refusal(ask(demo_bot, command, "lab"), *words)
    assert ask(demo_bot, "set papers 3", "lab").text == "Posts carry up to 3 papers."
    adapter = await post_due(demo_bot, clock)
    assert len(adapter.to("console:local:other")) == 1
    recorded = demo_bot.store.deliveries("console:local:other")
    assert recorded and {d.status for d in recorded} == {"sent"}
    assert demo_bot.store.get_channel("console:local:other").last_post_date == "2026-06-12"


@pytest.mark.parametrize(
    ("command", "user_name"),
    [
        ("subscribe agents \ud800", ""),  # "\ud800" in a Slack or Discord JSON payload
        ("subscribe agents \udcff", ""),  # an invalid UTF-8 byte typed in the terminal
        ('import [[topics]]; query = "agents \udcff"', ""),
        ("pause", "Ada \ud800"),  # a display name is saved as the pause reason
    ],
)
async def test_lone_surrogates_are_cleaned_and_other_channels_still_post(
    demo_bot, clock, command: str, user_name: str
) -> None:
    enroll_at_nine(demo_bot, "other")
    enroll_at_nine(demo_bot, "lab")
    reply = ask(demo_bot, command, "lab", user_name=user_name)
    assert reply.kind != ReplyKind.ERROR, reply.text
    text = saved_state_text(demo_bot.store.data_dir)
    assert "\ufffd" in text  # what was typed, with the unsavable character marked
    adapter = await post_due(demo_bot, clock)
    assert len(adapter.to("console:local:other")) == 1
    assert {d.status for d in demo_bot.store.deliveries("console:local:other")} == {"sent"}


# ---- the mechanism: a failed write leaves the store exactly as it was ----------------------

STATE = STATE_FILE  # the state database in the data folder (state.json before issue 13)


def saved_state_text(folder: Path) -> str:
    """Every row of the state database as JSON text, read from the file by SQLite itself."""
    with contextlib.closing(sqlite3.connect(folder / STATE)) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = {t: db.execute(f'SELECT * FROM "{t}"').fetchall() for t in tables}
    return json.dumps(rows, ensure_ascii=False)


def state_files(folder: Path) -> bytes:
    """The state as it is on disk: the database file and its write-ahead log."""
    return b"".join(
        path.read_bytes() for path in (folder / STATE, folder / f"{STATE}-wal") if path.exists()
    )


def state_on_disk(store: Store) -> bytes:
    return state_files(store.data_dir)


@pytest.mark.parametrize(
    "poison",
    [
        pytest.param(
            lambda s: s.save_channel(Channel("slack", "T1", "C1", min_upvotes=2**70)), id="int"
        ),
        pytest.param(
            lambda s: s.save_channel(Channel("slack", "T1", "C1", timezone="\ud800")),
            id="surrogate",
        ),
        pytest.param(lambda s: s.add_topic("slack:T1:C1", "agents \udcff", "ada"), id="topic"),
        pytest.param(lambda s: s.set_meta("x", 10**23), id="meta"),
    ],
)
def test_a_failed_state_write_changes_nothing(tmp_path: Path, poison) -> None:
    store = Store(tmp_path)
    store.save_channel(Channel("slack", "T1", "C1", min_upvotes=3))
    before_disk, before_topics = state_on_disk(store), store.topics()
    with pytest.raises(StorageError) as err:
        poison(store)
    message = str(err.value)
    assert "\n" not in message and STATE in message and "left as it was" in message
    assert state_on_disk(store) == before_disk
    assert store.get_channel("slack:T1:C1").min_upvotes == 3  # memory agrees with the disk
    assert store.topics() == before_topics and store.get_meta("x") is None
    assert Store(tmp_path).channels() == store.channels()
    store.save_channel(Channel("slack", "T1", "C2"))  # the next write works
    assert {c.key for c in Store(tmp_path).channels()} == {"slack:T1:C1", "slack:T1:C2"}


def test_a_failed_corpus_write_changes_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.put_papers([Paper(id="2601.00001", title="Good")])
    before = snapshot(store.corpus_path)
    revision = store.corpus_revision
    with pytest.raises(StorageError) as err:
        # two partitions: the one with the good paper is staged before the bad one fails
        store.put_papers(
            [
                Paper(id="2601.00004", title="Fine"),
                Paper(id="2602.00002", title="Bad", upvotes=2**64),
            ]
        )
    message = str(err.value)
    assert "\n" not in message and f"{store.corpus_path}: cannot save (" in message
    assert "64-bit" in message and "left as it was" in message
    assert snapshot(store.corpus_path) == before  # no file changed, no temp file left
    assert store.corpus_revision == revision and store.paper_count() == 1
    assert store.get_paper("2602.00002") is None and store.get_paper("2601.00004") is None
    store.put_papers([Paper(id="2601.00003", title="Next")])
    assert Store(tmp_path).paper_count() == 2 and store.corpus_revision == revision + 1


def test_a_failed_group_commit_rolls_back_the_batch_only(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.save_channel(Channel("slack", "T1", "C1"))
    before = state_on_disk(store)
    good = Delivery("slack:T1:C1", "2601.00001", T0)
    with pytest.raises(StorageError), store.batched_state_writes():
        store.record_deliveries([good])
        store.record_deliveries([Delivery("slack:T1:C1", "2601.00002", T0, message_id="\ud800")])
    assert state_on_disk(store) == before and store.deliveries() == []
    store.record_deliveries([good])
    assert Store(tmp_path).deliveries() == [good]


# ---- disks that refuse: a read-only folder, a full disk -------------------------------------

CHILD_PRELUDE = textwrap.dedent(
    """
    import json, sys
    from bot.models import Channel, Paper
    from bot.store import StorageError, Store
    out = {}
    def attempt(name, write):
        try:
            write()
            out[name] = "ok"
        except StorageError as exc:
            out[name] = str(exc)
    """
)


def run_child(body: str, folder: Path, preexec=None) -> dict:
    """Run ``body`` in a fresh Python over ``folder``; it fills ``out``, which we return."""
    code = CHILD_PRELUDE + textwrap.dedent(body) + "\nprint(json.dumps(out))\n"
    done = subprocess.run(
        [sys.executable, "-c", code, str(folder)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=preexec,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def without_root_override() -> None:
    """In the child: root loses CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH at exec, so a
    read-only folder is read-only for it too (CI runs as root)."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_a_read_only_data_folder_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    store = Store(folder)
    store.save_channel(Channel("slack", "T1", "C1", min_upvotes=3))
    store.close()
    before = state_files(folder)
    try:
        # The folder and the state database's files made read-only under the running
        # store (an open SQLite file stays writable through its old handle, and a WAL
        # database only needs the folder to create its log: both are made read-only).
        out = run_child(
            """
            folder = sys.argv[1]
            import glob, os
            store = Store(folder)
            files = glob.glob(os.path.join(folder, "state.sqlite3*"))
            for path in files:
                os.chmod(path, 0o444)
            os.chmod(folder, 0o555)
            attempt("readonly", lambda: store.save_channel(Channel("slack", "T1", "C1", min_upvotes=9)))
            out["in_memory"] = store.get_channel("slack:T1:C1").min_upvotes
            os.chmod(folder, 0o755)
            for path in files:
                os.chmod(path, 0o644)
            attempt("after", lambda: store.save_channel(Channel("slack", "T1", "C2")))
            """,
            folder,
            without_root_override,
        )
    except subprocess.TimeoutExpired:
        raise
    except subprocess.SubprocessError as exc:  # preexec_fn failed: no CAP_SETPCAP here
        pytest.skip(f"cannot drop root's permission override here ({exc})")
    finally:
        folder.chmod(0o755)
        for path in folder.glob(f"{STATE}*"):
            path.chmod(0o644)
    assert (
        out["readonly"]
        == f"{folder / STATE}: cannot save (Permission denied); the file was left as it was"
    )
    assert out["in_memory"] == 3 and out["after"] == "ok"
    reopened = Store(folder)
    assert reopened.get_channel("slack:T1:C1").min_upvotes == 3
    assert reopened.get_channel("slack:T1:C2") is not None
    assert not list(folder.glob(f".{STATE}.*.tmp"))
    assert before != state_files(folder)  # the later write did land


def test_a_full_disk_during_import_is_one_line_and_keeps_the_corpus(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    store = Store(folder)
    store.put_papers([Paper(id=f"2601.{i:05d}", title=f"Paper {i}") for i in range(50)])
    store.close()
    corpus = folder / "corpus"
    before = snapshot(corpus)
    out = run_child(
        """
        import resource, signal
        from tests.corpus_files import snapshot
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit: EFBIG
        store = Store(sys.argv[1])
        revision = store.corpus_revision
        files = snapshot(store.corpus_path)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
        big = [Paper(id=f"2602.{i:05d}", title=f"Big {i}", abstract="x" * 1000) for i in range(200)]
        attempt("full", lambda: store.put_papers(big))
        out["count"], out["same_revision"] = store.paper_count(), store.corpus_revision == revision
        out["same_files"] = snapshot(store.corpus_path) == files
        attempt("after", lambda: store.put_papers([Paper(id="2603.00001", title="Small")]))
        """,
        folder,
    )
    assert out["full"] == f"{corpus}: cannot save (File too large); the corpus was left as it was"
    assert out["count"] == 50 and out["same_revision"] and out["same_files"]
    assert out["after"] == "ok"
    reopened = Store(folder)
    assert reopened.paper_count() == 51 and reopened.get_paper("2602.00000") is None
    assert reopened.get_paper("2603.00001").title == "Small"
    assert not list(corpus.glob(".*.tmp")) and not (corpus / "commit.json").exists()
    after = snapshot(corpus)
    assert after["2601-00.json"] == before["2601-00.json"]  # a partition not concerned
    assert after["meta.json"] != before["meta.json"] and "2603-00.json" in after
    assert "2602-00.json" not in after


# ---- one-line errors the README promises ---------------------------------------------------


def test_a_tzdata_folder_is_not_a_time_zone(demo_bot) -> None:
    for command in (
        "schedule 09:00 America/Argentina",
        "schedule weekly mon 09:00 America/Argentina",
    ):
        assert_one_line_refusal(ask(demo_bot, command), "America/Argentina", "IANA")
    reply = ask(demo_bot, 'import [channel]; timezone = "America/Argentina"')
    assert_one_line_refusal(reply, "Cannot import", "America/Argentina")
    assert "America/Buenos_Aires" in ask(demo_bot, "schedule 9 America/Buenos_Aires").text


def test_deeply_nested_import_is_a_one_line_error(demo_bot) -> None:
    # tomllib recurses per level: 900 arrays, or 490 inline tables, fit in one command
    for snippet in ("a=" + "[" * 900 + "]" * 900, "a=" + "{a=" * 490 + "}" * 490):
        assert_one_line_refusal(ask(demo_bot, "import " + snippet), "nested too deeply")
    assert ask(demo_bot, "set papers 4").kind != ReplyKind.ERROR


def write_legacy_state(store: Store) -> None:
    """Move the store's state into a state.json as papers-bot 3cff8ee wrote it (and drop the
    database), so that the next open imports that file."""
    state = {
        "_meta": {"schema": {"kind": "state", "version": 1, "revision": 0}},
        "meta": {"next_topic_id": {"value": store.get_meta("next_topic_id")}},
        "channels": {c.key: c.to_doc() for c in store.channels()},
        "topics": {str(t.id): t.to_doc() for t in store.topics()},
        "deliveries": {d.key: d.to_doc() for d in store.deliveries()},
        "feedback": {f.key: f.to_doc() for f in store.feedback()},
    }
    store.close()
    for path in store.data_dir.glob(f"{STATE}*"):
        path.unlink()
    (store.data_dir / "state.json").write_text(json.dumps(state))


def corrupt(folder: Path, name: str, change) -> bytes:
    """Apply ``change`` to the parsed file and write it back as valid JSON."""
    path = folder / name
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return path.read_bytes()


@pytest.mark.parametrize(
    ("name", "change", "words"),
    [
        (
            "corpus/meta.json",
            lambda d: d["_meta"]["schema"].update(revision="abc"),
            ["revision"],
        ),
        (
            "corpus/2601-00.json",
            lambda d: d["papers"]["2601.00001"].pop("title"),
            ["papers/'2601.00001'", "no title"],
        ),
        (
            "corpus/2601-00.json",
            lambda d: d["papers"].update({"2601.9": 7}),
            ["papers/'2601.9'", "not a JSON object"],
        ),
        (
            "state.json",
            lambda d: d["channels"]["slack:T1:C1"].update(timezone=5),
            ["channels/'slack:T1:C1'", "timezone"],
        ),
        (
            "state.json",
            lambda d: d["channels"]["slack:T1:C1"].pop("platform"),
            ["channels/'slack:T1:C1'", "no platform"],
        ),
        ("state.json", lambda d: d["topics"]["1"].update(id="one"), ["topics/'1'", "id"]),
        (
            "state.json",
            lambda d: d["deliveries"]["slack:T1:C1|2601.00001"].pop("status"),
            ["deliveries/", "no status"],
        ),
        (
            "state.json",
            lambda d: d["meta"]["next_topic_id"].update(value="abc"),
            ["meta/'next_topic_id'"],
        ),
    ],
)
def test_a_damaged_record_is_named_and_the_file_kept(tmp_path: Path, name, change, words) -> None:
    store = Store(tmp_path)
    store.put_papers([Paper(id="2601.00001", title="One"), Paper(id="2602.00001", title="Two")])
    store.save_channel(Channel("slack", "T1", "C1"))
    store.add_topic("slack:T1:C1", "agents", "ada")
    store.record_deliveries([Delivery("slack:T1:C1", "2601.00001", T0)])
    if name == "state.json":  # the state is a database now: damage a state.json to import
        write_legacy_state(store)
    store.close()
    damaged = corrupt(tmp_path, name, change)
    if name.startswith("corpus/") and name != "corpus/meta.json":
        # a partition is read (and its records checked) when a paper in it is wanted
        with contextlib.closing(Store(tmp_path)) as reopened:
            assert reopened.get_paper("2602.00001").title == "Two"  # another partition
            with pytest.raises(StorageError) as err:
                reopened.get_paper("2601.00001")
    else:  # meta.json and state.json are read at open
        with pytest.raises(StorageError) as err:
            Store(tmp_path)
    message = str(err.value)
    assert "\n" not in message and str(tmp_path / name) in message and "damaged" in message
    for word in words:
        assert word in message, (word, message)
    assert (tmp_path / name).read_bytes() == damaged  # never overwritten


def test_a_damaged_record_is_one_line_on_the_command_line(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.put_papers([Paper(id="2601.00001", title="One")])
    store.close()  # the data folder is the child's now
    damaged = corrupt(
        tmp_path, "corpus/meta.json", lambda d: d["_meta"]["schema"].update(revision="abc")
    )
    done = subprocess.run(
        [sys.executable, "-m", "papers_bot", "--db", str(tmp_path), "search", "one"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PAPERS_BOT_DATA": str(tmp_path)},
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    (line,) = [x for x in done.stderr.splitlines() if "meta.json" in x]
    assert str(tmp_path / "corpus" / "meta.json") in line
    assert "revision" in line and "damaged" in line
    assert (tmp_path / "corpus" / "meta.json").read_bytes() == damaged


# ---- a search index deleted under the running bot ---------------------------------------------


def test_a_deleted_index_is_rebuilt_from_the_corpus(demo_bot) -> None:
    assert "of 25 for “diffusion”" in ask(demo_bot, "search diffusion").text
    shutil.rmtree(demo_bot.store.data_dir / "index")
    demo_bot.add_papers(
        [Paper(id="2701.00001", title="Zymurgic diffusion", abstract="A zymurgic study.")]
    )
    reply = ask(demo_bot, "search zymurgic")
    assert reply.kind == ReplyKind.SEARCH, reply.text
    assert [c.paper.id for c in reply.cards] == ["2701.00001"]
    assert "of 26 for “diffusion”" in ask(demo_bot, "search diffusion").text
    # and once more, with the corpus changed behind the index's back
    shutil.rmtree(demo_bot.store.data_dir / "index")
    demo_bot.store.put_papers([Paper(id="2701.00002", title="Quixotic diffusion")])
    assert [c.paper.id for c in ask(demo_bot, "search quixotic").cards] == ["2701.00002"]
    assert (demo_bot.store.data_dir / "index" / "meta.json").is_file()


# ---- every number a user can set has a documented range ------------------------------------


def test_number_ranges_are_documented_and_enforced(demo_bot) -> None:
    assert "set min-upvotes <0-100000>" in ask(demo_bot, "help set").text
    assert "--alert <1-100000>" in ask(demo_bot, "help subscribe").text
    assert "min_upvotes 0-100000" in ask(demo_bot, "help import").text
    assert "1-25" in ask(demo_bot, "help trending").text
    readme = (REPO / "README.md").read_text()
    assert "`set min-upvotes <0-100000>`" in readme and "--alert <1-100000>" in readme
    assert_one_line_refusal(ask(demo_bot, "set min-upvotes 100001"), "0 to 100000")
    assert_one_line_refusal(ask(demo_bot, "import [channel]; min_upvotes = 100001"), "100000")
    assert "100000+ upvotes" in ask(demo_bot, "set min-upvotes 100000").text
    reply = ask(demo_bot, 'import [[topics]]; query = "agents"; alert_upvotes = 100000')
    assert reply.kind != ReplyKind.ERROR, reply.text
