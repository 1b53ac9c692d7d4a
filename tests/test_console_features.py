"""Issue 7's features through the terminal adapter: piped into `papers-bot demo`, and the
weekly digest and thread mode posted by `papers-bot run` (fake clock, real process)."""

from __future__ import annotations

import re
import signal
from pathlib import Path

from tests.test_run import Running, cli, write_config


def test_features_from_the_terminal(tmp_path: Path) -> None:
    config, data = write_config(tmp_path), tmp_path / "d"
    script = "\n".join(
        [
            'preview "sparse attention"',
            "similar 2606.13392",
            "schedule 09:00 UTC",
            "feedback down 2606.13681",
            "feedback up 2606.13392",
            "digest",
            "topics",
            'subscribe "speech recognition" --alert 40',
            "export",
        ]
    )
    out = cli(config, data, "demo", stdin=script).stdout
    assert "== Preview of “sparse attention”, 2026-06-06 to 2026-06-12 ==" in out
    assert "2026-06-12: 1 of 8 papers match, 1 would be posted" in out
    assert '[Subscribe]  /papers subscribe "sparse attention"' in out
    assert "== Similar papers ==" in out
    similar = out.split("== Similar papers ==")[1].split("papers>")[0]
    cards = similar.split("keywords.", 1)[1]
    assert "1. " in cards and "MiniMax Sparse Attention" not in cards
    digest = out.split("papers> digest")[1].split("papers>")[0]
    assert digest.index("MiniMax Sparse Attention") < digest.index("EvoArena")  # feedback
    assert "[👍] /papers feedback up 2606.13392" in digest
    assert "Feedback: 1 👍, 1 👎; favours" in out
    one_line = out.rsplit("`/papers import ", 1)[1].split("`")[0]
    assert "\n" not in one_line
    # Another terminal channel takes the one-line form at its prompt...
    (tmp_path / "other").mkdir()
    other_config = write_config(tmp_path / "other")
    other_config.write_text(
        other_config.read_text().replace("channel = 'lab'", "channel = 'other'")
    )
    other = cli(other_config, data, "demo", stdin=f"import {one_line}\ntopics\n").stdout
    assert "Imported 8 settings and 1 topic." in other
    assert '. "speech recognition"  (added by you; alert at 40+ upvotes)' in other
    # ...and the CLI takes the multi-line snippet from a file.
    imported = cli(
        config, data, "import-settings", "--channel", "slack:T1:C1", str(_write(tmp_path, out))
    ).stdout
    assert "slack:T1:C1: Imported 8 settings and 1 topic" in imported
    exported = cli(config, data, "export-settings", "--channel", "slack:T1:C1").stdout
    assert 'post_time = "09:00"' in exported and 'query = "\\"speech recognition\\""' in exported


def _write(tmp_path: Path, out: str) -> Path:
    snippet = out.split("```\n")[1].split("```")[0]
    path = tmp_path / "settings.toml"
    path.write_text(snippet)
    return path


def test_run_posts_thread_and_weekly_to_the_terminal(tmp_path: Path) -> None:
    config, data = write_config(tmp_path), tmp_path / "d"
    setup = "schedule 09:00 UTC\nthread on\nschedule weekly fri 10:00\n"
    assert (
        "every Friday at 10:00 UTC"
        in cli(config, data, "demo", when="2026-12-04T08:00:00Z", stdin=setup).stdout
    )

    daily = Running(config, data, when="2026-12-04T08:59:58Z")  # a Friday
    assert daily.wait_for("5 papers, one per reply in this thread.")
    assert daily.wait_for("daily post for 2026-12-04 done")
    assert daily.kill(signal.SIGTERM) == 0
    lines = daily.stdout().splitlines()
    assert [line[4:6] for line in lines if re.match(r"  │ \d\. ", line)] == [
        "1.",
        "2.",
        "3.",
        "4.",
        "5.",
    ]

    weekly = Running(config, data, when="2026-12-04T10:00:00Z")
    assert weekly.wait_for("== Top papers of the week, 2026-06-06 to 2026-06-12 ==")
    assert weekly.kill(signal.SIGTERM) == 0
