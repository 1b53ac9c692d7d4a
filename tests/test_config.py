"""Config: defaults, the example file, errors that name the key, secrets kept out of sight."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError
from papers_bot.plugins import load_config

REPO = Path(__file__).resolve().parents[1]


def test_example_config_is_the_defaults() -> None:
    example = load_config(REPO / "config.example.toml", env={})
    defaults = load_config(None, env={})
    example.path = defaults.path = None
    assert example == defaults


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[bot]\nnope = 1\n", "bot.nope: unknown setting"),
        ("[bot]\ndefault_timezone = 'Moon/Base'\n", "bot.default_timezone"),
        ("[bot]\ndefault_post_time = '25:00'\n", "bot.default_post_time"),
        ("[slack]\nmode = 'carrier-pigeon'\n", "slack.mode"),
        ("[slack]\nport = 'eighty'\n", "slack.port: expected a whole number"),
        ("[discord]\nguild_ids = ['x']\n", "discord.guild_ids"),
        ("[sources.arxiv]\ncategories = 'cs.CL'\n", "sources.arxiv.categories: expected a list"),
        ("[secrets]\nslack_bot_token = 'xoxb'\n", "secrets: unknown setting"),
        ("bot = 3\n", "bot: expected a [bot] table"),
        ("[bot]\nlog_level = 'LOUD'\n", "bot.log_level"),
        ("[scheduler]\ntick_seconds = 0\n", "scheduler.tick_seconds: must be between 1"),
        ("[scheduler]\nmax_failures = 0\n", "scheduler.max_failures"),
        ("[sources.huggingface]\npage_size = 500\n", "page_size: must be between 1 and 100"),
        ("[bot\n", "not valid TOML"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=None) as err:
        load_config(path, env={})
    assert message in str(err.value)


def test_secrets_from_env_never_printed() -> None:
    config = load_config(
        None, env={"SLACK_BOT_TOKEN": "xoxb-very-secret", "DISCORD_TOKEN": "abc.def"}
    )
    assert config.secrets.slack_bot_token == "xoxb-very-secret"
    assert "very-secret" not in repr(config) and "abc.def" not in repr(config.secrets)


def test_debug_logging_keeps_libraries_that_log_capability_urls_quiet() -> None:
    import logging

    from bot.cli import QUIET_LIBRARIES, setup_logging

    root = logging.getLogger()
    saved = root.level, {n: logging.getLogger(n).level for n in QUIET_LIBRARIES}
    try:
        setup_logging("DEBUG")
        assert logging.getLogger("bot.scheduler").isEnabledFor(logging.DEBUG)
        for name in ("slack_sdk.socket_mode", "slack_bolt.App", "discord.http", "httpx"):
            assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name
    finally:
        root.setLevel(saved[0])
        for name, level in saved[1].items():
            logging.getLogger(name).setLevel(level)


def test_example_config_documents_every_setting() -> None:
    """Every key of every section appears in config.example.toml (with its default)."""
    import tomllib
    from dataclasses import fields, is_dataclass
    from typing import get_type_hints

    from bot.config import Config
    from papers_bot.plugins import sections

    example = tomllib.loads((REPO / "config.example.toml").read_text())
    missing = []

    def walk(cls: type, table: dict, where: str) -> None:
        hints = get_type_hints(cls)
        for f in fields(cls):
            if f.name in ("secrets", "path", "platforms", "each"):  # filled in below
                continue
            if is_dataclass(hints[f.name]):
                walk(hints[f.name], table.get(f.name, {}), f"{where}{f.name}.")
            elif f.name not in table:
                missing.append(where + f.name)

    walk(Config, example, "")
    registered = sections()  # every registered platform's and source's table too
    for name, cls in registered.platforms.items():
        walk(cls, example.get(name, {}), f"{name}.")
    for name, cls in registered.sources.items():
        walk(cls, example.get("sources", {}).get(name, {}), f"sources.{name}.")
    assert missing == []


def test_state_url_puts_the_state_database_where_it_says(tmp_path: Path) -> None:
    """``[state] url`` (or $PAPERS_BOT_STATE_URL, which wins) chooses the state database;
    a URL SQLAlchemy cannot read is one line naming the key, never echoing a password."""
    elsewhere = tmp_path / "other-disk" / "state.db"
    elsewhere.parent.mkdir()
    config = tmp_path / "c.toml"
    config.write_text(f'[state]\nurl = "sqlite:///{elsewhere}"\n')
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k != "PAPERS_BOT_STATE_URL"}
    run = [sys.executable, "-m", "papers_bot", "--config", str(config), "--db", str(data)]
    done = subprocess.run([*run, "import", "--demo"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert elsewhere.is_file() and not (data / "state.sqlite3").exists()

    override = tmp_path / "from-env.db"
    env["PAPERS_BOT_STATE_URL"] = f"sqlite:///{override}"
    done = subprocess.run([*run, "search", "diffusion"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert override.is_file()

    config.write_text('[state]\nurl = "mysql://papers:hunter2@db/papers"\n')
    env.pop("PAPERS_BOT_STATE_URL")
    done = subprocess.run([*run, "search", "x"], capture_output=True, text=True, env=env)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "papers-bot: config error: state.url: 'mysql' is not supported (sqlite or postgresql)"
    ]
    config.write_text('[state]\nurl = "::nonsense"\n')
    done = subprocess.run([*run, "search", "x"], capture_output=True, text=True, env=env)
    assert done.returncode == 2 and done.stderr.startswith("papers-bot: config error: state.url:")
    config.write_text("")
    env["PAPERS_BOT_STATE_URL"] = "mysql://papers:hunter2@db/papers"  # the variable too
    done = subprocess.run([*run, "search", "x"], capture_output=True, text=True, env=env)
    assert done.returncode == 2 and "hunter2" not in done.stderr
    assert done.stderr.splitlines() == [
        "papers-bot: config error: state.url: 'mysql' is not supported (sqlite or postgresql)"
    ]
