"""The words the bot says on its own when it arrives somewhere, or cannot act there.

A platform adapter decides *when* (Slack: ``member_joined_channel`` for the bot itself;
a settings command in a channel the bot is not in) and passes the platform's own bits
(how to invite it, where its direct messages are); this module decides how they read,
so both platforms greet and explain alike. Nothing here is escaped: renderers escape.
"""

from __future__ import annotations

COMMAND = "/papers"
WELCOMED = "welcomed:"  # the meta key prefix that records a welcome, so it is said once


def welcomed_key(place: str) -> str:
    """The meta key recording that ``place`` (a channel key, or ``<platform>:<server>``)
    got its welcome; removing a workspace deletes every key under its prefix."""
    return f"{WELCOMED}{place}"


def welcome_text(platform_hint: str = "") -> str:
    """The one short welcome posted when the bot is added to a channel.

    ``platform_hint`` is one optional sentence only that platform needs (Slack: where the
    personal digest lives), appended as is.
    """
    text = (
        "👋 Hi! I post trending research papers here. To start: "
        f'`{COMMAND} subscribe "your topic"` keeps this channel\'s posts to a topic, '
        f"`{COMMAND} schedule 09:00 Europe/Berlin` sets when the daily post comes, "
        f"`{COMMAND} search <words>` looks something up now, and `{COMMAND} help` lists "
        "the rest."
    )
    return f"{text} {platform_hint.strip()}".strip()


def not_a_member(invite: str) -> str:
    """A settings command in a channel the bot is not in: how to let it in first."""
    return (
        f"I'm not in this channel, so I could not post here. Invite me with `{invite}`, "
        "then run the command again."
    )


def cannot_see(invite: str) -> str:
    """A settings command in a private channel the bot is not in (it cannot even see it)."""
    return (
        f"I can't see this channel (a private channel I'm not in), so I could not post "
        f"here. Invite me with `{invite}`, then run the command again."
    )


def archived() -> str:
    """A settings command in an archived channel: nobody can post there."""
    return "This channel is archived, so I could not post here."


def not_our_conversation(where: str) -> str:
    """A settings command in a direct conversation the bot is not part of."""
    return (
        "I can't post in this conversation. For your own papers, use "
        f"`{COMMAND}` in {where}, or invite me to a channel."
    )
