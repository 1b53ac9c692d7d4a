"""The terminal adapter end to end: commands piped into `papers-bot demo` as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from adapters.console import clean, render, shorten
from bot.models import Paper
from bot.replies import Button, PaperCard, Reply


def run_cli(*args: str, stdin: str = "", data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "papers_bot", "--db", str(data), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_demo_answers_piped_commands(tmp_path: Path) -> None:
    script = "\n".join(
        [
            "help",
            "/papers search transfomer quantization",
            "search --page 2 transfomer quantization",
            'subscribe "sparse attention"',
            "digest",
            "schedule 07:45 Europe/Berlin",
            "status",
            "frobnicate",
            "search " + "x" * 10_000,
            "quit",
            "status",  # after quit: never runs
        ]
    )
    result = run_cli("demo", stdin=script, data=tmp_path / "d")
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "loaded the bundled demo corpus, 177 papers" in out
    assert "== Trending papers, 2026-06-12 ==" in out.split("papers> help")[0]
    assert "`/papers search <query> [--page N]`" in out
    assert "1. Boost Vision Transformer with GPU-Friendly Sparsity and Quantization" in out
    assert "[Next ▶]  /papers search --page 2 transfomer quantization" in out
    assert "6. " in out  # page 2 continues the numbering
    assert "Subscribed to “sparse attention”" in out
    assert 'topic: "sparse attention" (matched: sparse attention)' in out
    assert "Daily post at 07:45 Europe/Berlin" in out
    assert "Daily post: 07:45 Europe/Berlin, active" in out
    assert "! Unknown command `frobnicate`" in out
    assert "the limit is 2,000" in out
    assert out.count("papers> status") == 1
    assert "Traceback" not in out + result.stderr


def test_import_and_search_json(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert "177 new" in run_cli("import", "--demo", data=data).stdout
    again = run_cli("import", "--demo", data=data)
    assert "0 new, 0 updated, 177 unchanged" in again.stdout
    result = run_cli("search", "transfomer quantization", "--json", data=data)
    hits = json.loads(result.stdout)
    assert (
        hits[0]["title"] == "Boost Vision Transformer with GPU-Friendly Sparsity and Quantization"
    )
    assert all({"id", "title", "score"} <= set(h) for h in hits)
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_import_hf_file_and_digest_records(tmp_path: Path) -> None:
    data = tmp_path / "d"
    fixture = (
        Path(__file__).resolve().parent / "fixtures/upstream/hf_daily_papers_by_date_sample.json"
    )
    assert "3 new" in run_cli("import", str(fixture), data=data).stdout
    dry = run_cli("digest", "--channel", "lab", "--dry-run", data=data)
    assert "Trending papers, 2026-05-08" in dry.stdout and "dry run" in dry.stdout
    real = run_cli("digest", "--channel", "lab", data=data)
    assert "recorded 3 papers as delivered to console:local:lab" in real.stdout
    again = run_cli("digest", "--channel", "lab", data=data)
    assert "No new papers today (every paper of 2026-05-08 was already posted here)" in again.stdout


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("<html>oops</html>")
    result = run_cli("import", str(bad), data=tmp_path / "d")
    assert (
        result.returncode == 2
        and result.stderr.count("\n") == 1
        and "not valid JSON" in result.stderr
    )
    cfg = tmp_path / "c.toml"
    cfg.write_text("[bot]\ndefault_timezon = 'UTC'\n")
    result = run_cli("--config", str(cfg), "search", "x", data=tmp_path / "d")
    assert result.returncode == 2 and "bot.default_timezon: unknown setting" in result.stderr
    meta = tmp_path / "d" / "corpus" / "meta.json"  # a truncated file, read at every start
    meta.parent.mkdir(parents=True, exist_ok=True)
    meta.write_text("{trunc")
    result = run_cli("search", "x", data=tmp_path / "d")
    assert result.returncode == 3 and "meta.json: not valid JSON" in result.stderr
    assert result.stderr.count("\n") == 1 and meta.read_text() == "{trunc"
    assert "Traceback" not in result.stderr


def test_render_strips_terminal_escapes() -> None:
    paper = Paper(
        id="2601.00001", title="\x1b[2J\x1b[31mRed\x07 title", authors=["A\x1b]0;pwn\x07"]
    )
    text = render(
        Reply(title="t", cards=[PaperCard(paper, rank=1)], buttons=[Button("Next", "search x")])
    )
    assert "\x1b" not in text and "\x07" not in text and "Red title" in text
    assert clean("ok\ttab") == "ok\ttab"
    assert shorten("one two three four", 12) == "one two…"


def test_cli_search_with_no_match_quotes_a_phrase_once(tmp_path: Path) -> None:
    data = tmp_path / "d"
    run_cli("import", "--demo", data=data)
    out = run_cli("search", '"zzqx yyqz"', data=data).stdout
    assert out.strip() == "No papers match “zzqx yyqz”."
