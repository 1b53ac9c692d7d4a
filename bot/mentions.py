"""Who a topic alert mentions (``subscribe <topic> --alert N --notify @group``).

The platforms send a mention in their own form; this module reads it into one neutral,
validated form, stored on the topic (``Topic.notify``) as ``kind:id``:

- ``group:S0123ABC`` a Slack user group, sent as ``<!subteam^S0123ABC|@ml-team>``;
- ``user:U0123ABC`` a Slack user, sent as ``<@U0123ABC|jane>`` (the slash command must
  have ``should_escape: true`` in the manifest, or Slack sends a bare ``@ml-team``);
- ``role:123...`` a Discord role, sent as ``<@&123...>``;
- ``user:123...`` a Discord member, sent as ``<@123...>`` (or ``<@!123...>``).

Only an alert message's renderer turns it back into a platform mention, and only that
mention may ping (``adapters/*/render.py``). ``@here``, ``@channel`` and ``@everyone`` are
refused: an alert tells the people who asked for it, not the whole channel.
"""

from __future__ import annotations

import re

_SLACK_ID = r"[A-Z0-9]{2,20}"
_DISCORD_ID = r"\d{15,21}"

# The neutral forms each platform may store, and the platform's own forms read into them.
NEUTRAL = {
    "slack": re.compile(rf"^(?:group:S{_SLACK_ID}|user:[UW]{_SLACK_ID})$"),
    "discord": re.compile(rf"^(?:role|user):{_DISCORD_ID}$"),
}
_FORMS = {
    "slack": (
        (re.compile(rf"^<!subteam\^(S{_SLACK_ID})(?:\|[^<>]*)?>$"), "group"),
        (re.compile(rf"^<@([UW]{_SLACK_ID})(?:\|[^<>]*)?>$"), "user"),
    ),
    "discord": (
        (re.compile(rf"^<@&({_DISCORD_ID})>$"), "role"),
        (re.compile(rf"^<@!?({_DISCORD_ID})>$"), "user"),
    ),
}
_EVERYONE = re.compile(
    r"^(?:<!(?:here|channel|everyone)(?:\|[^<>]*)?>|@?(?:here|channel|everyone))$"
)

WHAT = {
    "slack": "a user group or a person",
    "discord": "a role or a member",
}


class MentionError(ValueError):
    """``--notify`` was given something that is not a mention this platform can ping."""


def read_mention(text: str, platform: str) -> str:
    """``text`` (a mention as ``platform`` sends it, or already neutral) in neutral form.

    Raises :class:`MentionError` with one line a channel can read.
    """
    text = text.strip()
    if platform not in NEUTRAL:
        raise MentionError("Alerts can mention someone on Slack and Discord only.")
    if _EVERYONE.match(text):
        raise MentionError(
            f"--notify takes {WHAT[platform]}, not @here, @channel or @everyone: "
            "an alert tells the people who asked for it."
        )
    if NEUTRAL[platform].match(text):
        return text
    for pattern, kind in _FORMS[platform]:
        if match := pattern.match(text):
            return f"{kind}:{match.group(1)}"
    raise MentionError(
        f"--notify needs {WHAT[platform]} as a mention: type @ and pick one from the list "
        f"(got `{text[:40]}`)."
    )


def parts(value: str | None, platform: str) -> tuple[str, str] | None:
    """A stored mention's ``(kind, id)`` if it is a valid neutral form on ``platform``,
    else ``None`` (an old, hand-edited or other platform's value never reaches a message)."""
    form = NEUTRAL.get(platform)
    if not value or form is None or not form.match(value):
        return None
    kind, _, ident = value.partition(":")
    return kind, ident
