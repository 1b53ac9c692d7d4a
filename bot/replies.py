"""Neutral requests and replies: what adapters hand the core and what they get back.

An adapter turns a Slack slash command, a Discord interaction or a terminal line into a
:class:`Request`, and renders the :class:`Reply` in its own way (Block Kit, embeds, plain
text), escaping everything that came from users or upstream. Nothing here is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.models import Paper, channel_key, clean_text, user_key


@dataclass(slots=True, frozen=True)
class Request:
    """A ``/papers ...`` command as the core sees it, whatever platform sent it."""

    text: str
    platform: str = "console"
    workspace: str = "local"
    channel_id: str = "demo"
    user_id: str = "local-user"
    user_name: str = ""
    # Whether the platform says this user may change the channel's settings. Adapters
    # fill it from their permission rules (Slack allow-list, Discord Manage Channels).
    can_manage: bool = True
    # Set by the adapter when the bot cannot post in this channel (Slack: it is not a
    # member): one line telling the user how to let it in. A command that would set up
    # posts here answers with it instead of "Subscribed" (:meth:`PapersBot._permit`).
    cannot_post: str | None = None
    # Where ``user_id`` is unique: the workspace (Slack's team) unless the adapter says
    # otherwise. Discord user ids are global, so its adapter passes "*": one reading list
    # per person across servers and DMs.
    user_scope: str | None = None

    def __post_init__(self) -> None:
        """Replace lone surrogates in everything the platform sent: whatever an adapter
        hands over, no text reaches the store that it could not save."""
        for name in (
            "text",
            "platform",
            "workspace",
            "channel_id",
            "user_id",
            "user_name",
            "user_scope",
        ):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, clean_text(value))

    @property
    def channel(self) -> str:
        return channel_key(self.platform, self.workspace, self.channel_id)

    @property
    def person(self) -> str:
        """The asker's key across channels (their reading list's owner), ``slack:T1:U2``."""
        return user_key(self.platform, self.user_scope or self.workspace, self.user_id)


class ReplyKind(StrEnum):
    INFO = "info"
    ERROR = "error"
    SEARCH = "search"
    DIGEST = "digest"
    PAPER = "paper"


def paper_facts(paper: Paper) -> list[str]:
    """A paper's known numbers and date as every platform shows them, unescaped.

    Unknown facts are left out, never shown as zero.
    """
    facts = []
    if paper.upvotes is not None:
        facts.append(f"▲ {paper.upvotes:,} upvotes")
    if paper.comments is not None:
        facts.append(f"💬 {paper.comments:,} comments")
    if paper.github_stars is not None:
        facts.append(f"★ {paper.github_stars:,} GitHub stars")
    if paper.list_date:
        facts.append(paper.list_date[:10])
    return facts


class ButtonRole(StrEnum):
    """What a button is for; renderers choose its presentation by this, never by its command.

    ``PAGE`` moves through the list it sits on (an answer may replace that list);
    ``SHARE`` posts a private card to the channel (pointless on a public card);
    ``SIMILAR``, ``VOTE`` (👍/👎) and ``SAVE`` (to the presser's reading list) act on one
    paper (on a public post they answer the presser privately); ``COMMAND`` is any other
    command (answered in a new message).
    """

    PAGE = "page"
    SHARE = "share"
    SIMILAR = "similar"
    VOTE = "vote"
    SAVE = "save"
    COMMAND = "command"


@dataclass(slots=True, frozen=True)
class Action:
    """The command a button runs, as data: its declared name and typed values.

    The same shape as :class:`bot.registry.Invocation` without the declaration itself, so
    replies need no registry; :func:`bot.actions.invocation` turns it into one.
    """

    command: str
    values: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, command: str, **values: object) -> Action:
        return cls(command, tuple(values.items()))

    def as_dict(self) -> dict[str, object]:
        return dict(self.values)


@dataclass(slots=True, frozen=True)
class Button:
    """A button that runs another ``/papers`` command for whoever presses it.

    ``action`` is the command as data (dispatched through the registry on a press);
    ``command`` is the same command as typed after ``/papers`` (``"search --page 2
    diffusion"``): what the terminal shows, and the encoded form a platform button carries
    (Slack's ``value``, Discord's custom id), decoded by the core's parser. Renderers copy
    it, never read it: what a button looks like and how its answer is shown follow from
    ``role``. Build them with :func:`bot.actions.button`.
    """

    label: str
    command: str
    primary: bool = False
    role: ButtonRole = ButtonRole.COMMAND
    action: Action | None = None


@dataclass(slots=True)
class PaperCard:
    """A paper as one entry of a reply, with why it is there."""

    paper: Paper
    rank: int | None = None
    topic: str | None = None  # the channel topic it matched, for digests
    matched_terms: tuple[str, ...] = ()
    buttons: list[Button] = field(default_factory=list)
    day: str | None = None  # the post's day: a card shows its own date only when it differs
    summary: str = "short"  # how much summary it shows: "short", "long" or "off"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file a reply carries (a reading list's BibTeX or RIS): its name, MIME type and
    text. Each platform delivers it its own way (Discord attaches it, Slack shows it in
    code blocks, the terminal prints it); the core never knows which."""

    filename: str
    mime: str
    text: str


@dataclass(slots=True)
class Reply:
    """What a command answers. ``ephemeral`` replies are shown to the asker only."""

    text: str = ""
    kind: ReplyKind = ReplyKind.INFO
    title: str | None = None
    cards: list[PaperCard] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    ephemeral: bool = True
    footer: str | None = None
    attachment: Attachment | None = None
    # Who this message mentions, in neutral form (``group:S1``, ``role:1``: see
    # bot.mentions). Only a topic alert's first message sets it (``--notify``); renderers
    # turn it into the platform's mention, and nothing else in a reply ever pings.
    mentions: tuple[str, ...] = ()

    @classmethod
    def error(cls, text: str, usage: str | None = None) -> Reply:
        body = text if usage is None else f"{text}\nUsage: {usage}"
        return cls(text=body, kind=ReplyKind.ERROR)
