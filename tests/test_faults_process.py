"""Process faults, through the real ``papers-bot`` process: start and stop with a
platform that cannot be reached, and the one-line errors the README promises.

"Unreachable" is a local port that was bound, noted and closed again: connecting to it
is refused at once, the way a platform that is down (or a firewall) refuses. Every test
reads the child's stderr: a log record is one line, and nothing prints a traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import REPO
from tests.corpus_files import snapshot
from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.slack_api import FakeSlack
from tests.test_discord import is_callback
from tests.test_faults_store import without_root_override
from tests.test_run_platforms import common, slack_http
from tests.test_slack import SECRET, TEAM, command_body, free_port, sign

SLACK_TOKEN = "xoxb-test-token-not-real"
COMMON = common() + '[console]\nenabled = true\nchannel = "lab"\n'
# A log record as bot/cli.py formats it: every line of stderr must start like this.
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+: ")
GRACE = 20.0  # README: "SIGINT/SIGTERM finish the posts in flight (20 s of grace)"


def closed_port() -> int:
    """A local port nothing listens on: bound, noted, closed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def env_for(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_"))}
    env.pop("PAPERS_BOT_FAKE_START", None)
    return env | {"PYTHONDONTWRITEBYTECODE": "1"} | extra


def cli(
    data: Path,
    *args: str,
    config: Path | None = None,
    stdin: bytes = b"",
    env: dict[str, str] | None = None,
    preexec_fn=None,
) -> subprocess.CompletedProcess[bytes]:
    """``python -m papers_bot [--config C] --db D ARGS`` to the end; output as bytes."""
    options = ["--config", str(config)] if config else []
    return subprocess.run(
        [sys.executable, "-m", "papers_bot", *options, "--db", str(data), *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        cwd=REPO,
        env=env or env_for(),
        preexec_fn=preexec_fn,
    )


def one_line_error(result: subprocess.CompletedProcess[bytes], *words: str) -> str:
    """The child failed with exactly one ``papers-bot:`` line on stderr and no traceback."""
    err = result.stderr.decode(errors="replace")
    assert result.returncode != 0, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    problems = [line for line in lines if not LOG_LINE.match(line)]
    assert len(problems) == 1 and problems[0].startswith("papers-bot: "), err
    for word in words:
        assert word in problems[0], (word, problems[0])
    return problems[0]


def assert_clean_log(err: str) -> None:
    """No traceback, and every line of stderr is a whole log record."""
    assert "Traceback" not in err and "Unclosed client session" not in err, err
    strays = [line for line in err.splitlines() if line.strip() and not LOG_LINE.match(line)]
    assert not strays, strays[:5]


# ---- start and stop with a platform that cannot be reached --------------------------------


class Bot:
    """``papers-bot run`` as a child of the test's loop, its output collected as it comes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.out: list[str] = []
        self.err: list[str] = []
        assert proc.stdout is not None and proc.stderr is not None
        self._pumps = [
            asyncio.ensure_future(self._pump(proc.stdout, self.out)),
            asyncio.ensure_future(self._pump(proc.stderr, self.err)),
        ]

    @classmethod
    async def run(cls, config: Path, data: Path, **env: str) -> Bot:
        when = env_for(PAPERS_BOT_FAKE_START="2026-12-01T08:59:58Z", **env)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "papers_bot", "--config", str(config), "--db", str(data), "run",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=when, cwd=REPO,
        )  # fmt: skip
        return cls(proc)

    @staticmethod
    async def _pump(stream: asyncio.StreamReader, sink: list[str]) -> None:
        async for line in stream:
            sink.append(line.decode(errors="replace"))

    def stdout(self) -> str:
        return "".join(self.out)

    def stderr(self) -> str:
        return "".join(self.err)

    async def wait_for(self, text: str, *, count: int = 1, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self.stdout().count(text) + self.stderr().count(text) < count:
            assert self.proc.returncode is None, f"exited early:\n{self.stderr()[-3000:]}"
            assert time.monotonic() < deadline, f"no {text!r} ×{count}:\n{self.stderr()[-3000:]}"
            await asyncio.sleep(0.05)

    async def sigterm(self) -> tuple[int, float]:
        """SIGTERM; the exit status and how long the stop took (killed after 2 × GRACE)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            status = await asyncio.wait_for(self.proc.wait(), 2 * GRACE)
        except TimeoutError:
            self.proc.kill()
            status = await self.proc.wait()
        took = time.monotonic() - started
        await asyncio.gather(*self._pumps)
        return status, took

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


def prepare(tmp_path: Path, platforms: str) -> tuple[Path, Path]:
    """A config with the terminal channel ``lab`` (daily post at 09:00 UTC) and
    ``platforms``; the demo corpus in a fresh data folder."""
    config, data = tmp_path / "config.toml", tmp_path / "data"
    config.write_text(COMMON + platforms)
    setup = cli(
        data,
        "demo",
        config=config,
        stdin=b"schedule 09:00 UTC\n",
        env=env_for(PAPERS_BOT_FAKE_START="2026-12-01T08:00:00Z"),
    )
    assert b"Daily post at 09:00 UTC" in setup.stdout, setup.stderr
    return config, data


def retry_lines(err: str, platform: str) -> list[str]:
    return [line for line in err.splitlines() if f"{platform} adapter could not connect" in line]


async def test_slack_unreachable_is_retried_and_sigterm_stops_in_time(tmp_path: Path) -> None:
    """Socket Mode with Slack down used to retry inside slack_sdk forever (a traceback
    every 10 s) before the scheduler even started, and ignore SIGTERM. Now: one line a
    try with growing delays, Discord answers and the terminal channel gets its post
    meanwhile, and SIGTERM ends the process at once."""
    dead = closed_port()
    fake = FakeDiscord()
    await fake.start()
    bot = None
    try:
        config, data = prepare(
            tmp_path,
            f'[slack]\nenabled = true\nmode = "socket"\napi_base_url = "http://127.0.0.1:{dead}/api/"\n'
            f'[discord]\nenabled = true\napi_base_url = "{fake.api_base_url}"\n'
            f'gateway_url = "{fake.gateway_url}"\n',
        )
        bot = await Bot.run(
            config,
            data,
            SLACK_BOT_TOKEN=SLACK_TOKEN,
            SLACK_APP_TOKEN="xapp-1-test",
            DISCORD_TOKEN="fake-token-secret",
        )
        await bot.wait_for("slack adapter could not connect (try 2)")
        await bot.wait_for("== Trending papers, 2026-06-12 ==")  # the terminal's 09:00 post
        await bot.wait_for("discord adapter started")
        interaction = fake.command_interaction("search", {"query": "transfomer quantization"})
        await fake.dispatch_interaction(interaction)
        callback = await fake.wait_for(is_callback(interaction), timeout=10)
        assert "Quantization" in json.dumps(callback.body["data"])
        status, took = await bot.sigterm()
    finally:
        if bot is not None:
            await bot.kill()
        await fake.stop()
    err = bot.stderr()
    assert status == 0 and took < GRACE, (status, took, err[-3000:])
    assert "papers-bot stopped" in err
    assert_clean_log(err)
    tries = retry_lines(err, "slack")
    assert len(tries) >= 2 and "retrying in 1 s" in tries[0] and "retrying in 2 s" in tries[1]
    assert all("ClientConnectorError" in line for line in tries), tries


async def test_discord_unreachable_is_retried_and_sigterm_stops_in_time(tmp_path: Path) -> None:
    """Discord's REST API down used to crash ``run`` with a traceback and "Unclosed
    client session". Now: one line a try, Slack answers and the terminal channel gets
    its post meanwhile, and SIGTERM ends the process at once."""
    dead = closed_port()
    bot = None
    async with FakeSlack(token=SLACK_TOKEN, team_id=TEAM) as slack:
        port = free_port()
        config, data = prepare(
            tmp_path,
            slack_http(slack, port) + f"[discord]\nenabled = true\n"
            f'api_base_url = "http://127.0.0.1:{dead}/api/v10"\n'
            f'gateway_url = "ws://127.0.0.1:{dead}/gateway"\n',
        )
        try:
            bot = await Bot.run(
                config,
                data,
                SLACK_BOT_TOKEN=SLACK_TOKEN,
                SLACK_SIGNING_SECRET=SECRET,
                DISCORD_TOKEN="fake-token-secret",
            )
            await bot.wait_for("discord adapter could not connect (try 2)")
            await bot.wait_for("== Trending papers, 2026-06-12 ==")
            await bot.wait_for("slack adapter started")
            body = command_body(slack, "search transfomer quantization")
            stamp = int(time.time())
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": str(stamp),
                "X-Slack-Signature": sign(body, stamp),
            }
            async with aiohttp.ClientSession() as session:
                url = f"http://127.0.0.1:{port}/slack/events"
                async with session.post(url, data=body, headers=headers) as answer:
                    assert answer.status == 200
            await slack.wait_for(lambda: bool(slack.responses_to("r1")), timeout=10)
            assert "Quantization" in json.dumps(slack.responses_to("r1")[0].payload)
            status, took = await bot.sigterm()
        finally:
            if bot is not None:
                await bot.kill()
    err = bot.stderr()
    assert status == 0 and took < GRACE, (status, took, err[-3000:])
    assert_clean_log(err)
    tries = retry_lines(err, "discord")
    assert len(tries) >= 2 and "retrying in 1 s" in tries[0] and "retrying in 2 s" in tries[1]


async def test_discord_gateway_unreachable_logs_one_line_a_try(tmp_path: Path) -> None:
    """Logged in over REST but the gateway is down: discord.py logged a traceback, and
    ``start`` waited 60 s for READY with SIGTERM unheard. (discord.py's own reconnect
    loop dies when the very first connection fails.) Now each try is logged without a
    traceback, retried with backoff, and SIGTERM stops at once."""
    dead = closed_port()
    fake = FakeDiscord()
    await fake.start()
    bot = None
    try:
        config, data = prepare(
            tmp_path,
            f'[discord]\nenabled = true\napi_base_url = "{fake.api_base_url}"\n'
            f'gateway_url = "ws://127.0.0.1:{dead}/gateway"\n',
        )
        bot = await Bot.run(config, data, DISCORD_TOKEN="fake-token-secret")
        await bot.wait_for("discord adapter could not connect (try 2)")
        await bot.wait_for("== Trending papers, 2026-06-12 ==")
        status, took = await bot.sigterm()
    finally:
        if bot is not None:
            await bot.kill()
        await fake.stop()
    err = bot.stderr()
    assert status == 0 and took < GRACE, (status, took, err[-3000:])
    assert_clean_log(err)
    tries = retry_lines(err, "discord")
    assert all("gateway unreachable: ClientConnectorError" in line for line in tries), tries
    assert len(fake.find("GET", "/users/@me")) >= 2  # each try logs in afresh


# ---- the command line's one-line errors ----------------------------------------------------


@pytest.fixture
def demo_data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    done = cli(data, "import", "--demo")
    assert done.returncode == 0, done.stderr
    return data


def test_a_closed_pipe_ends_quietly(demo_data: Path) -> None:
    """``papers-bot digest ... | head``: the reader is gone before we write (closing our
    end of the pipe first makes that certain). No traceback, SIGPIPE's status."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "papers_bot", "--db", str(demo_data), "digest", "--channel", "demo",
             "--dry-run"],
            stdout=write_end, stderr=subprocess.PIPE, timeout=120, cwd=REPO, env=env_for(),
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert done.returncode == 128 + signal.SIGPIPE
    assert done.stderr == b""


def test_a_time_zone_folder_is_one_line(tmp_path: Path, demo_data: Path) -> None:
    """``America/Argentina`` is a folder of zones in tzdata (ZoneInfo raised
    IsADirectoryError): in the config and in imported settings it is one line."""
    config = tmp_path / "zone.toml"
    config.write_text('[bot]\ndefault_timezone = "America/Argentina"\n')
    for command in (["run"], ["search", "diffusion"]):
        done = cli(demo_data, *command, config=config)
        line = one_line_error(done, "bot.default_timezone", "America/Argentina")
        assert done.returncode == 2, line
    settings = tmp_path / "settings.toml"
    settings.write_text('[channel]\ntimezone = "America/Argentina"\n')
    done = cli(demo_data, "import-settings", "--channel", "lab", str(settings))
    one_line_error(done, "America/Argentina")


def test_settings_that_are_not_utf8_are_one_line(tmp_path: Path, demo_data: Path) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_bytes(b'[channel]\npost_time = "09:00"\n# caf\xe9 \xff\n')
    done = cli(demo_data, "import-settings", "--channel", "lab", str(settings))
    one_line_error(done, str(settings), "utf-8", "0xe9")
    config = tmp_path / "latin1.toml"
    config.write_bytes(b"# caf\xe9\n[bot]\n")
    done = cli(demo_data, "search", "diffusion", config=config)
    assert done.returncode == 2
    one_line_error(done, "config error", str(config), "0xe9")


def test_demo_with_strict_utf8_stdin_skips_the_bad_line(demo_data: Path) -> None:
    """stdin decoded strictly (PYTHONIOENCODING): a line that is not UTF-8 gets one line
    of its own and the lines around it are still answered."""
    env = env_for(PYTHONIOENCODING="utf-8:strict", LANG="C.UTF-8", LC_ALL="C.UTF-8")
    done = cli(
        demo_data,
        "demo",
        stdin=b"search diffusion\nsearch caf\xe9 \xff\ntrending 2\n",
        env=env,
    )
    out, err = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0 and "Traceback" not in err, err
    assert "papers> search diffusion" in out and "papers> trending 2" in out
    assert "Top 2 of" in out
    (bad,) = [line for line in out.splitlines() if "not valid utf-8" in line]
    assert bad.startswith("! line 2 ") and "0xe9" in bad and "skipped" in bad


def test_a_read_only_data_folder_is_one_line(demo_data: Path) -> None:
    """The data folder and everything in it made read-only (as ``chmod -R a-w`` or a
    read-only mount would). CI runs as root, who writes there anyway, so the child drops
    root's permission override at exec (see test_faults_store). Nothing changes on disk."""

    def files() -> dict[str, bytes]:
        return {
            str(p.relative_to(demo_data)): p.read_bytes()
            for p in sorted(demo_data.rglob("*"))
            if p.is_file()
        }

    before = files()
    paths = [demo_data, *demo_data.rglob("*")]
    for path in paths:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        done = cli(demo_data, "digest", "--channel", "lab", preexec_fn=without_root_override)
        fresh = cli(demo_data / "new", "search", "x", preexec_fn=without_root_override)
    except subprocess.SubprocessError as exc:  # preexec_fn failed: no CAP_SETPCAP here
        pytest.skip(f"cannot drop root's permission override here ({exc})")
    finally:
        for path in paths:
            path.chmod(0o755 if path.is_dir() else 0o644)
    one_line_error(done, "Permission denied")
    one_line_error(fresh, str(demo_data / "new"), "Permission denied")
    assert files() == before


def test_a_full_disk_during_import_is_one_line(tmp_path: Path) -> None:
    """Files may not grow past 64 KiB (RLIMIT_FSIZE, SIGXFSZ ignored: writes fail with
    EFBIG, as on a full disk). The import fails in one line; the corpus is kept."""
    data = tmp_path / "data"
    fixture = REPO / "tests/fixtures/upstream/hf_daily_papers_by_date_sample.json"
    assert cli(data, "import", str(fixture)).returncode == 0
    corpus = snapshot(data / "corpus")
    assert "meta.json" in corpus  # the import did land

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    done = cli(data, "import", "--demo", preexec_fn=small_files)
    one_line_error(done, f"{data / 'corpus'}: cannot save (File too large)")
    assert snapshot(data / "corpus") == corpus  # no file changed, no temp file left
    assert cli(data, "search", "--json", "diffusion").returncode == 0


def test_search_limit_out_of_range_is_a_usage_error(demo_data: Path) -> None:
    """``--limit 0`` made tantivy panic (a Rust backtrace) and ``-1`` an OverflowError."""
    for limit in ("0", "-1", "10000000000000000000000"):
        done = cli(demo_data, "search", "diffusion", "--limit", limit)
        err = done.stderr.decode()
        assert done.returncode == 2 and "Traceback" not in err and "panicked" not in err, err
        assert "argument --limit" in err.splitlines()[-1]
