"""Settings: a TOML file (every key optional, see ``config.example.toml``) plus secrets
from the environment. Unknown keys and bad values stop start-up with a message that names
the key, before anything connects. Secrets are never read from the file and never logged.

This module knows the core tables only ([bot], [sources], [scheduler]). Each platform
([slack], [discord], ...) and each source ([sources.huggingface], ...) owns its table's
dataclass and checks; the composition root hands them in as :class:`Sections`.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
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
class SourcesSettings:
    """``[sources]``: what every source shares, and each registered source's own table.

    ``[sources.<name>]`` is read into the source plug-in registered under that name (see
    :class:`bot.sources.base.Source`); ``config.sources.<name>`` reads it back.
    """

    user_agent: str = "papers-bot/0.1 (+https://github.com/papers-bot/papers-bot)"
    retries: int = 4
    retry_backoff: float = 1.0  # seconds before the first retry; doubles each time, with jitter
    # Whatever upstream does (drip-feeds bytes, asks us to wait an hour), one request, its
    # retries included, ends within request_deadline and one ingest within ingest_deadline.
    request_deadline: float = 60.0
    ingest_deadline: float = 600.0
    max_body_bytes: int = 20_000_000  # an answer's size after decompression; larger is refused
    each: dict[str, Any] = field(default_factory=dict)  # name -> that source, in registry order

    def __getattr__(self, name: str) -> Any:  # only reached when no field has that name
        if name.startswith("_") or name in SourcesSettings.__dataclass_fields__:
            raise AttributeError(name)  # a half-built copy: no recursion
        try:
            return self.each[name]
        except KeyError:
            raise AttributeError(f"no source named {name!r} is registered") from None


@dataclass(slots=True)
class SchedulerSettings:
    ingest_time: str = "06:00"  # UTC
    tick_seconds: int = 30
    catch_up: str = "one"  # after downtime: "one" late post, "all" missed days (a week), "none"
    max_failures: int = 5  # permanent failures in a row before a channel is paused
    keep_deliveries_days: int = 60  # delivery records older than this are forgotten
    # Topic-alert messages one channel gets in an hour at most; a burst beyond it is folded
    # into one last message listing the rest (bot.scheduler.alerts).
    max_alerts_per_hour: int = 3
    # Several workers on one PostgreSQL database (docs/deploy.md): the channels a worker
    # claims per tick beyond those it is still posting to, and how long its claims last
    # if it dies (renewed while it lives).
    claim_batch: int = 500
    lease_seconds: int = 120


@dataclass(slots=True)
class StateSettings:
    # The state database (channels, topics, deliveries, feedback) as an SQLAlchemy URL.
    # Empty: state.sqlite3 in the data folder. $PAPERS_BOT_STATE_URL, when set, wins, so a
    # URL with a password need not be written in a file.
    url: str = ""

    def resolved(self, env: Mapping[str, str] | None = None) -> str | None:
        """The URL to use, or None for the SQLite file in the data folder."""
        source = os.environ if env is None else env
        return source.get("PAPERS_BOT_STATE_URL") or self.url or None


class Secrets:
    """Secrets, read from the environment only and never shown by ``repr``.

    Which variables are read is up to the registered platforms (each names its own);
    ``secrets.slack_bot_token`` reads ``SLACK_BOT_TOKEN`` (``None`` when unset), and
    ``Secrets(slack_bot_token="xoxb-...")`` sets it, for tests.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str | None] | None = None, **named: str | None) -> None:
        merged = {**(values or {}), **{key.upper(): value for key, value in named.items()}}
        self._values: dict[str, str] = {k: v for k, v in merged.items() if v}

    @classmethod
    def from_env(cls, names: Iterable[str], env: Mapping[str, str] | None = None) -> Secrets:
        """The variables ``names`` from ``env`` (default: the process environment)."""
        source = os.environ if env is None else env
        return cls({name: source.get(name) for name in names})

    def get(self, name: str) -> str | None:
        """The value of the environment variable ``name``, or ``None`` if it is not set."""
        return self._values.get(name)

    def missing(self, names: Iterable[str]) -> list[str]:
        """Those of ``names`` that are not set, in order."""
        return [name for name in names if name not in self._values]

    def __getattr__(self, name: str) -> str | None:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._values.get(name.upper())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secrets) and other._values == self._values

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:  # never print a secret by accident
        return f"Secrets({ {name: 'set' for name in sorted(self._values)} })"


@dataclass(frozen=True, slots=True)
class Sections:
    """The plug-in tables a config file may hold, as the composition root registered them.

    The core knows no platform and no source by name: ``papers_bot.plugins`` hands them
    in. Each class is a dataclass whose fields are its settings (with defaults); it may
    define ``check(self, where)`` to refuse a bad value with :class:`ConfigError`.
    """

    platforms: Mapping[str, type] = field(default_factory=dict)  # [name]
    sources: Mapping[str, type] = field(default_factory=dict)  # [sources.name]
    secrets: tuple[str, ...] = ()  # environment variables the platforms read


@dataclass(slots=True)
class Config:
    bot: BotSettings = field(default_factory=BotSettings)
    sources: SourcesSettings = field(default_factory=SourcesSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    state: StateSettings = field(default_factory=StateSettings)
    platforms: dict[str, Any] = field(default_factory=dict)  # [name] -> that platform's settings
    secrets: Secrets = field(default_factory=Secrets)
    path: str | None = None  # where it was read from

    def __getattr__(self, name: str) -> Any:
        """``config.slack``: a registered platform's settings, like a core section."""
        if name.startswith("_") or name in Config.__dataclass_fields__:
            raise AttributeError(name)  # only reached when no field has that name
        try:
            return self.platforms[name]
        except KeyError:
            raise AttributeError(f"no platform named {name!r} is registered") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name in Config.__dataclass_fields__:
            object.__setattr__(self, name, value)
        elif name in self.platforms:
            self.platforms[name] = value
        else:
            raise AttributeError(f"no platform named {name!r} is registered")

    def section(self, name: str) -> Any:
        """A platform's settings by name (``KeyError`` if no such platform is registered)."""
        return self.platforms[name]

    def data_dir(self, override: str | None = None) -> Path:
        chosen = override or os.environ.get("PAPERS_BOT_DATA") or self.bot.data_dir
        if chosen:
            return Path(chosen).expanduser()
        return Path(platformdirs.user_data_dir("papers-bot", appauthor=False))


# Keys a config file may not set: they come from elsewhere.
_NOT_SETTINGS = ("secrets", "path", "platforms", "each")


def _build(cls: type, values: Any, where: str) -> Any:
    """An instance of the dataclass ``cls`` from the TOML table ``values`` at ``where``."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a [{where}] table")
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls) if f.init}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{where}.{key}" if where else key
        if key not in known or key in _NOT_SETTINGS:
            raise ConfigError(f"{name}: unknown setting")
        hint = hints[key]
        if is_dataclass(hint):
            kwargs[key] = _build(hint, value, name)  # type: ignore[arg-type]
        else:
            kwargs[key] = _coerce(value, hint, name)
    return cls(**kwargs)


def _build_config(values: dict[str, Any], sections: Sections) -> Config:
    """The core tables, then each registered platform's and source's own table."""
    core = {k: v for k, v in values.items() if k not in sections.platforms}
    table = core.get("sources", {})
    if isinstance(table, dict):
        core["sources"] = {k: v for k, v in table.items() if k not in sections.sources}
    config: Config = _build(Config, core, "")
    for name, cls in sections.sources.items():
        config.sources.each[name] = _build(cls, table.get(name, {}), f"sources.{name}")
    for name, cls in sections.platforms.items():
        config.platforms[name] = _build(cls, values.get(name, {}), name)
    return config


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


def check_choice(key: str, value: str, allowed: Iterable[str]) -> None:
    """Refuse ``value`` unless it is one of ``allowed``; the message names ``key``."""
    allowed = set(allowed)
    if value not in allowed:
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(sorted(allowed))}")


def check_range(key: str, value: float, low: float, high: float) -> None:
    """Refuse ``value`` outside ``low``..``high``; the message names ``key``."""
    if not low <= value <= high:
        raise ConfigError(f"{key}: must be between {low} and {high}, got {value}")


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
    check_choice("bot.empty_day", config.bot.empty_day, {"message", "silent"})
    check_choice("scheduler.catch_up", config.scheduler.catch_up, {"one", "all", "none"})
    check_range("scheduler.tick_seconds", config.scheduler.tick_seconds, 1, 3600)
    check_range("scheduler.max_failures", config.scheduler.max_failures, 1, 1000)
    check_range("scheduler.keep_deliveries_days", config.scheduler.keep_deliveries_days, 8, 3650)
    check_range("scheduler.max_alerts_per_hour", config.scheduler.max_alerts_per_hour, 1, 100)
    check_range("scheduler.claim_batch", config.scheduler.claim_batch, 1, 1_000_000)
    check_range("scheduler.lease_seconds", config.scheduler.lease_seconds, 2, 86400)
    check_range("sources.retries", config.sources.retries, 0, 10)
    _validate_sources(config.sources)
    for name, section in config.platforms.items():
        _check_section(section, name)
    if config.bot.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(
            f"bot.log_level: {config.bot.log_level!r} is not DEBUG, INFO, WARNING or ERROR"
        )
    if not 1 <= config.bot.default_max_papers <= 25:
        raise ConfigError("bot.default_max_papers: must be between 1 and 25")
    if not 1 <= config.bot.search_page_size <= 10:
        raise ConfigError("bot.search_page_size: must be between 1 and 10")
    if config.state.url:
        check_state_url(config.state.url)


def _validate_sources(sources: SourcesSettings) -> None:
    """The fetch limits: a deadline of zero would refuse everything, none would allow hangs."""
    check_range("sources.request_deadline", sources.request_deadline, 0.1, 3600.0)
    check_range("sources.ingest_deadline", sources.ingest_deadline, 0.1, 86400.0)
    check_range("sources.max_body_bytes", sources.max_body_bytes, 1024, 1_000_000_000)
    for name, source in sources.each.items():
        _check_section(source, f"sources.{name}")


def _check_section(section: Any, where: str) -> None:
    """A plug-in's own checks, if it has any (``check(where)`` raising ConfigError)."""
    check = getattr(section, "check", None)
    if check is not None:
        check(where)


def load_config(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    sections: Sections | None = None,
) -> Config:
    """Read and check the config file (``None``: built-in defaults) and the environment.

    ``sections`` are the platforms' and sources' tables (the composition root's registry,
    ``papers_bot.plugins.load_config``); without it only the core tables are known.
    """
    sections = sections or Sections()
    values: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as fh:
                values = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    config = _build_config(values, sections)
    config.secrets = Secrets.from_env(sections.secrets, env)
    config.path = str(path) if path is not None else None
    _validate(config)
    return config


def check_state_url(url: str) -> None:
    """Refuse a state database URL ([state] url or $PAPERS_BOT_STATE_URL) SQLAlchemy
    cannot read, or of another database than SQLite and PostgreSQL, without echoing it
    (it may hold a password)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            "state.url: not a database URL (like postgresql+psycopg://user@host/papers)"
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"state.url: {parsed.get_backend_name()!r} is not supported (sqlite or postgresql)"
        )
