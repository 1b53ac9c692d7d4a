"""A channel's topics and settings as a small TOML snippet, to move between channels,
workspaces and platforms (``/papers export`` / ``/papers import``, and the CLI).

Chat boxes that flatten newlines (Discord options, one-line terminals) can carry the
snippet on one line: entries separated by ``;`` outside quotes are read as lines.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from typing import Any

from bot.config import check_timezone, parse_hhmm
from bot.mentions import NEUTRAL
from bot.models import MAX_PAPERS_PER_POST, MAX_UPVOTES, Channel, Topic, clean_text
from bot.query import SMART_QUOTES

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_SETTINGS = {
    "post_time": str,
    "timezone": str,
    "max_papers": int,
    "min_upvotes": int,
    "skip_weekends": bool,
    "daily": bool,
    "weekly": str,  # "mon 09:00" or "off"
    "thread_mode": bool,
}


class SettingsError(ValueError):
    """The snippet cannot be imported; the message names the key."""


@dataclass(slots=True, frozen=True)
class TopicEntry:
    """One ``[[topics]]`` entry: the query, its alert threshold and who its alerts mention
    (a neutral form, :mod:`bot.mentions`; whether it names someone on the importing
    platform is the import's to check)."""

    query: str
    alert_upvotes: int | None = None
    notify: str | None = None


@dataclass(slots=True)
class Snapshot:
    settings: dict[str, Any] = field(default_factory=dict)
    topics: list[TopicEntry] = field(default_factory=list)


def _quote(value: str) -> str:
    """A TOML basic string: JSON's escaping is valid TOML and covers control characters."""
    return json.dumps(value, ensure_ascii=False)


def export_settings(channel: Channel, topics: list[Topic]) -> str:
    weekly = (
        "off"
        if channel.weekly_day is None
        else f"{WEEKDAYS[channel.weekly_day]} {channel.weekly_time}"
    )
    lines = [
        "[channel]",
        f"post_time = {_quote(channel.post_time)}",
        f"timezone = {_quote(channel.timezone)}",
        f"max_papers = {channel.max_papers}",
        f"min_upvotes = {channel.min_upvotes}",
        f"skip_weekends = {str(channel.skip_weekends).lower()}",
        f"daily = {str(channel.daily).lower()}",
        f"weekly = {_quote(weekly)}",
        f"thread_mode = {str(channel.thread_mode).lower()}",
    ]
    for topic in topics:
        lines += ["[[topics]]", f"query = {_quote(topic.query)}"]
        if topic.alert_upvotes:
            lines.append(f"alert_upvotes = {topic.alert_upvotes}")
            if topic.notify:
                lines.append(f"notify = {_quote(topic.notify)}")
    return "\n".join(lines) + "\n"


def one_line(snippet: str) -> str:
    return "; ".join(line for line in snippet.splitlines() if line.strip())


def _split_one_line(text: str) -> str:
    out, quoted, escaped = [], False, False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            out.append("\n")
            continue
        out.append(ch)
    return "".join(out)


def parse_settings(text: str) -> Snapshot:
    """Read an exported snippet, checking every value (ranges included) before anything
    is applied. Lone surrogates (undecodable input) are replaced first, so no text that
    cannot be saved gets into a channel's settings or topics."""
    text = clean_text(text).translate(SMART_QUOTES).strip().strip("`").strip()
    if text.startswith("toml\n"):
        text = text[5:]
    if "\n" not in text:
        text = _split_one_line(text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(
            f"not a settings snippet ({exc}); paste what `/papers export` gave"
        ) from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise SettingsError(
            "not a settings snippet (nested too deeply); paste what `/papers export` gave"
        ) from None
    unknown = set(data) - {"channel", "topics"}
    if unknown:
        raise SettingsError(f"unknown section {sorted(unknown)[0]!r}")
    snap = Snapshot()
    for key, value in (data.get("channel") or {}).items():
        kind = _SETTINGS.get(key)
        if kind is None:
            raise SettingsError(f"channel.{key}: unknown setting")
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise SettingsError(f"channel.{key}: expected {kind.__name__}, got {value!r}")
        snap.settings[key] = value
    _check(snap.settings)
    for n, item in enumerate(data.get("topics") or []):
        if not isinstance(item, dict):
            raise SettingsError(f"topics[{n}]: expected a [[topics]] entry")
        unknown = set(item) - {"query", "alert_upvotes", "notify"}
        if unknown:
            raise SettingsError(f"topics[{n}].{sorted(unknown)[0]}: unknown key")
        query, alert, notify = item.get("query"), item.get("alert_upvotes"), item.get("notify")
        if not isinstance(query, str) or not query.strip():
            raise SettingsError(f"topics[{n}].query: expected a topic query")
        if alert is not None and (
            not isinstance(alert, int) or isinstance(alert, bool) or not 1 <= alert <= MAX_UPVOTES
        ):
            raise SettingsError(
                f"topics[{n}].alert_upvotes: expected a number from 1 to {MAX_UPVOTES}"
            )
        if notify is not None:
            if not isinstance(notify, str) or not any(
                form.match(notify) for form in NEUTRAL.values()
            ):
                raise SettingsError(f"topics[{n}].notify: expected a mention as export wrote it")
            if alert is None:
                raise SettingsError(f"topics[{n}].notify: goes with alert_upvotes")
        snap.topics.append(TopicEntry(query.strip(), alert, notify))
    return snap


def _check(settings: dict[str, Any]) -> None:
    try:
        if "post_time" in settings:
            parse_hhmm(settings["post_time"])
        if "timezone" in settings:
            check_timezone(settings["timezone"])
    except ValueError as exc:
        raise SettingsError(f"channel: {exc}") from None
    if not 1 <= settings.get("max_papers", 5) <= MAX_PAPERS_PER_POST:
        raise SettingsError(f"channel.max_papers: must be between 1 and {MAX_PAPERS_PER_POST}")
    if not 0 <= settings.get("min_upvotes", 0) <= MAX_UPVOTES:
        raise SettingsError(f"channel.min_upvotes: must be between 0 and {MAX_UPVOTES}")
    if "weekly" in settings:
        parse_weekly(settings["weekly"])


def parse_weekly(value: str) -> tuple[int, str] | None:
    """``"mon 09:00"`` -> (0, "09:00"); ``"off"`` -> None."""
    parts = value.lower().split()
    if parts == ["off"]:
        return None
    if len(parts) != 2 or parts[0][:3] not in WEEKDAYS:
        raise SettingsError(f'channel.weekly: {value!r} is not like "mon 09:00" or "off"')
    try:
        hour, minute = parse_hhmm(parts[1])
    except ValueError as exc:
        raise SettingsError(f"channel.weekly: {exc}") from None
    return WEEKDAYS.index(parts[0][:3]), f"{hour:02d}:{minute:02d}"


def apply_settings(channel: Channel, settings: dict[str, Any]) -> None:
    """Change ``channel`` in place; ``settings`` was checked by :func:`parse_settings`."""
    for key, value in settings.items():
        if key == "weekly":
            weekly = parse_weekly(value)
            channel.weekly_day, channel.weekly_time = (
                (None, channel.weekly_time) if weekly is None else weekly
            )
        elif key == "post_time":
            hour, minute = parse_hhmm(value)
            channel.post_time = f"{hour:02d}:{minute:02d}"
        else:
            setattr(channel, key, value)
