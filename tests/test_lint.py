"""The code stays `ruff check` and `ruff format` clean: part of the README's test command."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def test_ruff_check_is_clean() -> None:
    result = ruff("check", "bot", "adapters", "tests", "bench", "scripts")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = ruff("format", "--check", "bot", "adapters", "tests", "bench", "scripts")
    assert result.returncode == 0, result.stdout + result.stderr
