"""Settings: a TOML file (every key optional, see ``config.example.toml``) plus secrets
from the environment. Unknown keys and bad values stop start-up with a message that names
the key, before anything connects. Secrets are never read from the file and never logged.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

_TIME_RE = re.compile(r"^(\d{1,2})(?:[:.h]([0-5]\d))?\s*(am|pm)?$", re.IGNORECASE)


class ConfigError(ValueError):
    """A setting is wrong. The message names the key."""


def parse_hhmm(value: str) -> tuple[int, int]:
    """``09:00``, ``9:00``, ``9``, ``17h30``, ``9am``, ``5:30pm`` -> (hour, minute)."""
    match = _TIME_RE.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a time like 09:00")
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), (match.group(3) or "")
    if half:
        if not 1 <= hour <= 12:
            raise ValueError(f"{value!r} is not a time like 9am or 09:00")
        hour = hour % 12 + (12 if half.lower() == "pm" else 0)
    if hour > 23:
        raise ValueError(f"{value!r} is not a time like 09:00")
    return hour, minute


def check_timezone(name: str) -> ZoneInfo:
    # "EST"-style abbreviations exist in the tz database but rarely mean what users think.
    if name not in ("UTC", "GMT") and "/" not in name:
        raise ValueError(f"{name!r} is not an IANA time zone like Europe/Berlin")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a tzdata folder
        raise ValueError(f"{name!r} is not an IANA time zone like Europe/Berlin") from None


@dataclass(slots=True)
class BotSettings:
    data_dir: str = ""  # empty: $PAPERS_BOT_DATA or the per-user data folder
    default_post_time: str = "09:00"
    default_timezone: str = "UTC"
    default_max_papers: int = 5
    search_page_size: int = 5
    empty_day: str = "message"  # "message": post "no new papers today (reason)"; "silent"
    log_level: str = "INFO"


@dataclass(slots=True)
class HuggingFaceSource:
    enabled: bool = True
    base_url: str = "https://huggingface.co"
    timeout: float = 20.0
    page_size: int = 100
    max_pages: int = 5


@dataclass(slots=True)
class ArxivSource:
    enabled: bool = True
    base_url: str = "https://rss.arxiv.org"
    api_base_url: str = "https://export.arxiv.org"
    categories: list[str] = field(default_factory=lambda: ["cs.CL", "cs.LG", "cs.AI", "cs.CV"])
    include_cross_lists: bool = False
    timeout: float = 30.0
    min_interval: float = 3.0  # seconds between requests, as arXiv asks


@dataclass(slots=True)
class SourcesSettings:
    huggingface: HuggingFaceSource = field(default_factory=HuggingFaceSource)
    arxiv: ArxivSource = field(default_factory=ArxivSource)
    user_agent: str = "papers-bot/0.1 (+https://github.com/papers-bot/papers-bot)"
    retries: int = 4
    retry_backoff: float = 1.0  # seconds before the first retry; doubles each time, with jitter
    # Whatever upstream does (drip-feeds bytes, asks us to wait an hour), one request, its
    # retries included, ends within request_deadline and one ingest within ingest_deadline.
    request_deadline: float = 60.0
    ingest_deadline: float = 600.0
    max_body_bytes: int = 20_000_000  # an answer's size after decompression; larger is refused


@dataclass(slots=True)
class SchedulerSettings:
    ingest_time: str = "06:00"  # UTC
    tick_seconds: int = 30
    catch_up: str = "one"  # after downtime: "one" late post, "all" missed days (a week), "none"
    max_failures: int = 5  # permanent failures in a row before a channel is paused
    keep_deliveries_days: int = 60  # delivery records older than this are forgotten


@dataclass(slots=True)
class SlackSettings:
    enabled: bool = False
    mode: str = "socket"  # "socket" or "http"
    host: str = "127.0.0.1"
    port: int = 3000
    api_base_url: str = "https://slack.com/api/"
    manage_users: list[str] = field(default_factory=list)  # empty: everyone may
    admins_only: bool = False


@dataclass(slots=True)
class DiscordSettings:
    enabled: bool = False
    guild_ids: list[int] = field(default_factory=list)
    sync_on_start: bool = False
    require_manage_channels: bool = True
    sharded: bool = False
    api_base_url: str = "https://discord.com/api/v10"
    gateway_url: str = ""  # empty: ask Discord


@dataclass(slots=True)
class ConsoleSettings:
    enabled: bool = False  # `run` prints the posts of terminal channels to stdout
    channel: str = "demo"


@dataclass(slots=True)
class Secrets:
    """Read from the environment only."""

    slack_bot_token: str | None = None
    slack_app_token: str | None = None
    slack_signing_secret: str | None = None
    discord_token: str | None = None

    def __repr__(self) -> str:  # never print a secret by accident
        shown = {f.name: ("set" if getattr(self, f.name) else "unset") for f in fields(self)}
        return f"Secrets({shown})"

    def missing(self, platform: str, slack_mode: str = "socket") -> list[str]:
        """The environment variables ``platform`` needs that are not set."""
        if platform == "slack":
            needed = {"SLACK_BOT_TOKEN": self.slack_bot_token}
            if slack_mode == "http":
                needed["SLACK_SIGNING_SECRET"] = self.slack_signing_secret
            else:
                needed["SLACK_APP_TOKEN"] = self.slack_app_token
        elif platform == "discord":
            needed = {"DISCORD_TOKEN": self.discord_token}
        else:
            needed = {}
        return [name for name, value in needed.items() if not value]

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Secrets:
        env = dict(os.environ if env is None else env)
        return cls(
            slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
            slack_app_token=env.get("SLACK_APP_TOKEN") or None,
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            discord_token=env.get("DISCORD_TOKEN") or None,
        )


@dataclass(slots=True)
class Config:
    bot: BotSettings = field(default_factory=BotSettings)
    sources: SourcesSettings = field(default_factory=SourcesSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    slack: SlackSettings = field(default_factory=SlackSettings)
    discord: DiscordSettings = field(default_factory=DiscordSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    secrets: Secrets = field(default_factory=Secrets)
    path: str | None = None  # where it was read from

    def data_dir(self, override: str | None = None) -> Path:
        chosen = override or os.environ.get("PAPERS_BOT_DATA") or self.bot.data_dir
        if chosen:
            return Path(chosen).expanduser()
        return Path(platformdirs.user_data_dir("papers-bot", appauthor=False))


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    hints = get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{where}.{key}" if where else key
        if key not in known or key in ("secrets", "path"):
            raise ConfigError(f"{name}: unknown setting")
        hint = hints[key]
        if is_dataclass(hint):
            if not isinstance(value, dict):
                raise ConfigError(f"{name}: expected a [{name}] table")
            kwargs[key] = _build(hint, value, name)  # type: ignore[arg-type]
        else:
            kwargs[key] = _coerce(value, hint, name)
    return cls(**kwargs)


def _coerce(value: Any, hint: Any, name: str) -> Any:
    text = str(hint)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name}: expected a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{name}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name}: expected a string, got {value!r}")
        return value
    if text.startswith("list["):
        if not isinstance(value, list):
            raise ConfigError(f"{name}: expected a list, got {value!r}")
        inner = int if "int" in text else str
        if not all(isinstance(v, inner) and not isinstance(v, bool) for v in value):
            raise ConfigError(f"{name}: every item must be a {inner.__name__}")
        return value
    return value


def _validate(config: Config) -> None:
    checks = [
        ("bot.default_post_time", lambda: parse_hhmm(config.bot.default_post_time)),
        ("bot.default_timezone", lambda: check_timezone(config.bot.default_timezone)),
        ("scheduler.ingest_time", lambda: parse_hhmm(config.scheduler.ingest_time)),
    ]
    for key, check in checks:
        try:
            check()
        except ValueError as exc:
            raise ConfigError(f"{key}: {exc}") from None
    choices = {
        "bot.empty_day": (config.bot.empty_day, {"message", "silent"}),
        "scheduler.catch_up": (config.scheduler.catch_up, {"one", "all", "none"}),
        "slack.mode": (config.slack.mode, {"socket", "http"}),
    }
    for key, (value, allowed) in choices.items():
        if value not in allowed:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(sorted(allowed))}")
    limits = {
        "scheduler.tick_seconds": (config.scheduler.tick_seconds, 1, 3600),
        "scheduler.max_failures": (config.scheduler.max_failures, 1, 1000),
        "scheduler.keep_deliveries_days": (config.scheduler.keep_deliveries_days, 8, 3650),
        "sources.huggingface.page_size": (config.sources.huggingface.page_size, 1, 100),
        "sources.huggingface.max_pages": (config.sources.huggingface.max_pages, 1, 100),
        "sources.retries": (config.sources.retries, 0, 10),
        "slack.port": (config.slack.port, 0, 65535),
    }
    for key, (value, low, high) in limits.items():
        if not low <= value <= high:
            raise ConfigError(f"{key}: must be between {low} and {high}, got {value}")
    _validate_sources(config.sources)
    if config.bot.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(
            f"bot.log_level: {config.bot.log_level!r} is not DEBUG, INFO, WARNING or ERROR"
        )
    if not 1 <= config.bot.default_max_papers <= 25:
        raise ConfigError("bot.default_max_papers: must be between 1 and 25")
    if not 1 <= config.bot.search_page_size <= 10:
        raise ConfigError("bot.search_page_size: must be between 1 and 10")


def _validate_sources(sources: SourcesSettings) -> None:
    """The fetch limits: a deadline of zero would refuse everything, none would allow hangs."""
    limits = {
        "sources.request_deadline": (sources.request_deadline, 0.1, 3600.0),
        "sources.ingest_deadline": (sources.ingest_deadline, 0.1, 86400.0),
        "sources.max_body_bytes": (sources.max_body_bytes, 1024, 1_000_000_000),
        "sources.huggingface.timeout": (sources.huggingface.timeout, 0.1, 3600.0),
        "sources.arxiv.timeout": (sources.arxiv.timeout, 0.1, 3600.0),
    }
    for key, (value, low, high) in limits.items():
        if not low <= value <= high:
            raise ConfigError(f"{key}: must be between {low} and {high}, got {value}")


def load_config(
    path: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None
) -> Config:
    """Read and check the config file (``None``: built-in defaults) and the environment."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as fh:
                values = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    config = _build(Config, values, "")
    config.secrets = Secrets.from_env(env)
    config.path = str(path) if path is not None else None
    _validate(config)
    return config
