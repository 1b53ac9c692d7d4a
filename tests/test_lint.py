"""The code stays `ruff check` and `ruff format` clean: part of the README's test command."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def test_ruff_check_is_clean() -> None:
    result = ruff("check", "bot", "adapters", "papers_bot", "tests", "bench", "scripts")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = ruff("format", "--check", "bot", "adapters", "papers_bot", "tests", "bench", "scripts")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    command = readme.split("# 2. Install with the test extras")[1].split("\n")[1].strip()
    assert command.endswith("python -m pytest -q")
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert command in ci


def test_no_file_reads_outside_the_repository() -> None:
    """A user's clone has nothing beside it: every fixture the tests and scripts read is in the repo."""
    tracked = subprocess.run(
        ["git", "ls-files", "*.py", "*.toml", "*.cfg", ".ci/*"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert tracked, "git ls-files listed nothing"
    outside = re.compile(r"\.\./shared|[\"']shared[\"'/]|parents\[[2-9]\]")
    offenders = [
        name for name in tracked if outside.search((REPO / name).read_text(errors="replace"))
    ]
    assert offenders == []
