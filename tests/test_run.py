"""`papers-bot run` as a real process: start-up checks, the post at its minute, a SIGKILL
and restart that does not repeat it, a "day" of downtime that brings one catch-up post,
and a clean SIGTERM. The clock is moved with PAPERS_BOT_FAKE_START, never by waiting."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.test_run_platforms import common


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(common() + "[console]\nenabled = true\nchannel = 'lab'\n" + extra)
    return path


def env_at(when: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_"))}
    env.pop("PAPERS_BOT_FAKE_START", None)
    if when:
        env["PAPERS_BOT_FAKE_START"] = when
    return env


def cli(
    config: Path, data: Path, *args: str, when: str | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "papers_bot", "--config", str(config), "--db", str(data), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env_at(when),
    )


class Running:
    """A `papers-bot run` process whose stdout is collected in the background."""

    def __init__(self, config: Path, data: Path, when: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "papers_bot", "--config", str(config), "--db", str(data), "run"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env_at(when),
        )
        self.out: list[str] = []
        self.err: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.out), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True).start()

    @staticmethod
    def _pump(stream, sink: list[str]) -> None:
        for line in stream:
            sink.append(line)

    def wait_for(self, text: str, seconds: float = 20) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(text in line for line in self.out + self.err):
                return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        return any(text in line for line in self.out + self.err)

    def stdout(self) -> str:
        return "".join(self.out)

    def kill(self, sig: int = signal.SIGKILL) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)


def test_startup_errors_name_what_is_missing(tmp_path: Path) -> None:
    data = tmp_path / "d"
    nothing = tmp_path / "nothing.toml"
    nothing.write_text("")
    result = cli(nothing, data, "run")
    assert result.returncode == 2 and "nothing to run" in result.stderr
    slack = write_config(tmp_path, "[slack]\nenabled = true\nmode = 'http'\n")
    result = cli(slack, data, "run")
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are not set" in result.stderr
    assert result.stderr.count("\n") == 1
    zone = tmp_path / "zone.toml"
    zone.write_text("[bot]\ndefault_timezone = 'Europe/Berlln'\n")
    result = cli(zone, data, "run")
    assert result.returncode == 2 and "bot.default_timezone" in result.stderr


def test_posts_at_its_minute_once_across_kill_and_catches_up_after_a_day(tmp_path: Path) -> None:
    config, data = write_config(tmp_path), tmp_path / "d"
    setup = cli(config, data, "demo", when="2026-12-01T08:00:00Z", stdin="schedule 09:00 UTC\n")
    assert "Daily post at 09:00 UTC" in setup.stdout, setup.stdout + setup.stderr

    first = Running(config, data, when="2026-12-01T08:59:57Z")
    assert first.wait_for("== Trending papers, 2026-06-12 =="), first.stdout() + "".join(first.err)
    assert first.wait_for("daily post for 2026-12-01 done")
    first.kill(signal.SIGKILL)
    assert first.stdout().count("== Trending papers") == 1
    assert "late" not in first.stdout()

    second = Running(config, data, when="2026-12-01T09:10:00Z")
    assert second.wait_for("papers-bot running")
    time.sleep(3)  # three ticks
    assert second.kill(signal.SIGTERM) == 0
    assert "== Trending papers" not in second.stdout()
    assert second.wait_for("papers-bot stopped")

    third = Running(config, data, when="2026-12-02T15:00:00Z")
    assert third.wait_for("(late: the bot was offline at post time)")
    time.sleep(2)
    assert third.kill(signal.SIGTERM) == 0
    assert third.stdout().count("== Trending papers") == 1
    status = cli(config, data, "demo", when="2026-12-02T15:05:00Z", stdin="status\n").stdout
    assert "Last post: 2026-12-02T15:00" in status
