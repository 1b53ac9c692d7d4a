"""Neutral replies as Discord messages: embeds, buttons, and Discord's size limits.

Everything here is a pure function of the :class:`~bot.replies.Reply` (plus the
:class:`CommandIds` map from custom ids to the buttons they stand for), so the limits can
be tested without a connection. The card layout comes from :mod:`bot.layout`; how a long
reply is split into messages is decided by :func:`bot.messages.split_reply` with
:data:`LIMITS`, and each part becomes one message here. Buttons are placed by their role. Text from users and upstream (titles,
abstracts, author names, topics) is escaped: Markdown is shown literally and mentions
cannot form, on top of the client's ``AllowedMentions.none()``.

Limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits):
title 256, description 4096, 25 fields (name 256, value 1024), footer 2048, 6000 characters
per message over all embeds, 10 embeds per message, content 2000, 5 rows of 5 buttons,
button label 80, custom id 100.
"""

from __future__ import annotations

import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from urllib.parse import quote

import discord

from bot.layout import card_layout, shorten
from bot.messages import Piece, RenderLimits, Tail, split_reply
from bot.models import Paper
from bot.replies import Button, ButtonRole, PaperCard, Reply, ReplyKind

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_LIMIT = 25
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
CONTENT_LIMIT = 2000
BUTTONS_PER_MESSAGE = 25
BUTTONS_PER_ROW = 5
LABEL_LIMIT = 80
CUSTOM_ID_LIMIT = 100

# How much of a summary or abstract a card shows: enough to judge the paper, small
# enough that several cards fit the 6000-character budget of one message.
SUMMARY_CHARS = 600
CUSTOM_ID_PREFIX = "papers:"
_SHORT_MARK = "#"  # custom ids "papers:#<key>" point into CommandIds' map

# Discord colours by reply kind, so errors stand out.
_COLOURS = {
    ReplyKind.ERROR: discord.Colour.red(),
    ReplyKind.DIGEST: discord.Colour.gold(),
}
_DEFAULT_COLOUR = discord.Colour.blurple()

_MENTION_RE = re.compile(r"<(@[!&]?|#)")
_LINE_START_RE = re.compile(r"^(#{1,3} |>|-# |[-*+] |\d+\. )", re.MULTILINE)


_MARKDOWN_CHAR_RE = re.compile(r"([\\*_~|`\[\]])")
_URL_RE = re.compile(r"(https?://[^\s<>]+)")


def escape(text: str | None, *, keep_links: bool = True) -> str:
    """Upstream or user text shown literally: no Markdown, no mentions, no headings.

    Every emphasis, code, spoiler and link character is backslash-escaped one by one
    (``discord.utils.escape_markdown`` skips whatever lies between a ``[`` and the last
    ``)``, so ``[x](y) ||spoiler|| (v2)`` kept its spoiler). ``keep_links`` leaves bare
    URLs untouched so they stay clickable.
    """
    parts = _URL_RE.split(text or "") if keep_links else [text or ""]
    text = "".join(
        part if n % 2 else _MARKDOWN_CHAR_RE.sub(r"\\\1", part) for n, part in enumerate(parts)
    )
    text = discord.utils.escape_mentions(text)
    # escape_mentions only knows 17-20 digit ids; break every <@…>, <@&…>, <#…> form.
    text = _MENTION_RE.sub(lambda m: "<\u200b" + m.group(1), text)
    return _LINE_START_RE.sub(lambda m: "\\" + m.group(1), text)


def safe_mentions(text: str | None) -> str:
    """Our own text (which may use Markdown on purpose) with mentions defused."""
    text = discord.utils.escape_mentions(text or "")
    return _MENTION_RE.sub(lambda m: "<\u200b" + m.group(1), text)


_CODE_RE = re.compile(r"(```.*?```|`[^`\n]*`)", re.DOTALL)


def core_text(text: str | None) -> str:
    """The core's reply text: its `code` spans (commands) and ``` blocks (the export
    snippet) kept, everything else escaped. The core quotes user and upstream text into
    replies (a topic, a title, a display name), so outside code nothing may format: no
    masked links, headings or spoilers from a hostile topic."""
    parts = _CODE_RE.split(text or "")
    return "".join(safe_mentions(part) if n % 2 else escape(part) for n, part in enumerate(parts))


def highlight(escaped: str, terms: tuple[str, ...] | list[str]) -> str:
    """Bold the matched ``terms`` (``**word**``) where they occur in already-escaped text.

    Runs after :func:`escape`, on the escaped form of each term, so a term or a text with
    Markdown or mention syntax in it cannot inject formatting: only our ``**`` pairs are
    added. Matches are case-insensitive on word boundaries (never inside a word or right
    after an escaping backslash); one pass over all terms, longest first, so bold spans
    never nest or overlap. A phrase matches across any run of spaces.
    """
    patterns = []
    for term in sorted({t.strip() for t in terms if t and t.strip()}, key=len, reverse=True):
        words = [re.escape(escape(w)) for w in term.split()]
        patterns.append(r"\s+".join(words))
    if not patterns or not escaped:
        return escaped
    regex = re.compile(r"(?<![\w\\])(?:" + "|".join(patterns) + r")(?!\w)", re.IGNORECASE)
    return regex.sub(lambda m: f"**{m.group(0)}**", escaped)


def cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, cut at a word boundary when it has to be."""
    if len(text) <= limit:
        return text
    out = shorten(text, limit)
    if len(out) > limit:  # one long word: shorten cannot find a space to cut at
        out = text[: limit - 1] + "…"
    return out


def _link(url: str | None) -> str | None:
    """A URL safe inside ``[label](url)`` and as an embed URL, or None if it is not http(s)."""
    if not url or not re.match(r"https?://[^\s]+$", url) or len(url) > 512:
        return None
    return quote(url, safe=":/?#[]@!$&'*+,;=%~-._")


def paper_links(paper: Paper) -> str:
    shown = [f"[{label}]({url})" for label, raw in paper.links() if (url := _link(raw))]
    return " · ".join(shown)


def card_embed(card: PaperCard, colour: discord.Colour = _DEFAULT_COLOUR) -> discord.Embed:
    """One paper as an embed: the card layout of :mod:`bot.layout`, within the embed limits.

    The linked title, then ▲ upvotes with the authors (and the date where it is not the
    post's), the summary, the other numbers and links, why it is there; the thumbnail as
    the embed's thumbnail.
    """
    shown = card_layout(card)
    title = cut(shown.rank_prefix + escape(shorten(shown.title, TITLE_LIMIT)), TITLE_LIMIT)
    lines = []
    byline = " · ".join(
        part
        for part in (shown.upvotes and f"**{shown.upvotes}**", escape(shown.author_line))
        if part
    )
    if byline:
        lines.append(cut(byline, 320))
    if shown.summary:
        lines.append(highlight(escape(shorten(shown.summary, SUMMARY_CHARS)), shown.matched))
    links = [f"[{label}]({url})" for label, raw in shown.links if (url := _link(raw))]
    more = " · ".join([*shown.facts, *links])
    if more:
        lines.append(more)
    if shown.topic:
        why = f"Topic: {escape(shown.topic)}"
        if shown.matched:
            why += " (matched: " + ", ".join(escape(t) for t in shown.matched) + ")"
        lines.append(cut(why, 300))
    elif shown.matched:
        lines.append(cut("Matched: " + ", ".join(escape(t) for t in shown.matched), 300))
    lines.extend(escape(line) for line in shown.extra)
    description = cut("\n".join(lines), DESCRIPTION_LIMIT)
    embed = discord.Embed(title=title, url=_link(shown.url), description=description, colour=colour)
    thumbnail = _link(shown.thumbnail)
    if thumbnail:
        embed.set_thumbnail(url=thumbnail)
    return embed


class CommandIds:
    """Custom ids for buttons, and the buttons (role and action) they stand for.

    A button's custom id is ``papers:<its command line>`` when that fits Discord's 100
    characters, so a press still works after a restart (decoded by the core's parser);
    a longer one (a long search query) gets ``papers:#<key>``, a short random key. Every
    button encoded is remembered under its id in a bounded in-memory map, so a press is
    dispatched as its action and presented by its role; a long one's button stops working
    after a restart or once the map has dropped it, and the presser is told to run the
    command again.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._long: OrderedDict[str, Button] = OrderedDict()  # papers:#<key> -> button
        self._recent: OrderedDict[str, Button] = OrderedDict()  # papers:<command> -> button

    def encode(self, button: Button) -> str:
        custom_id = CUSTOM_ID_PREFIX + button.command
        known = self._recent
        if len(custom_id) > CUSTOM_ID_LIMIT or button.command.startswith(_SHORT_MARK):
            custom_id = CUSTOM_ID_PREFIX + _SHORT_MARK + secrets.token_urlsafe(12)
            known = self._long  # kept apart: digest buttons never push these out
        known[custom_id] = button
        known.move_to_end(custom_id)
        while len(known) > self.capacity:
            known.popitem(last=False)
        return custom_id

    def button(self, custom_id: str) -> Button | None:
        """The button a custom id was made for, while it is remembered."""
        return self._long.get(custom_id) or self._recent.get(custom_id)

    def decode(self, custom_id: str) -> str | None:
        """The command a custom id stands for; None when it is not ours or has expired."""
        if not custom_id.startswith(CUSTOM_ID_PREFIX):
            return None
        rest = custom_id[len(CUSTOM_ID_PREFIX) :]
        if rest.startswith(_SHORT_MARK):
            known = self._long.get(custom_id)
            return known.command if known else None
        return rest


@dataclass(frozen=True, slots=True)
class ButtonSpec:
    label: str
    custom_id: str
    primary: bool = False
    row: int | None = None  # None: rows fill in order, five buttons each


@dataclass(slots=True)
class MessagePayload:
    """One Discord message: what ``send``/``send_message``/``edit_message`` take."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)
    buttons: list[ButtonSpec] = field(default_factory=list)
    ephemeral: bool = True
    cards: list[PaperCard] = field(default_factory=list)  # the cards its embeds show

    def embed_chars(self) -> int:
        return sum(len(e) for e in self.embeds)


class CommandView(discord.ui.View):
    """Buttons whose presses the adapter handles in ``on_interaction`` by custom id.

    Not dispatchable, so discord.py never stores it: a press works the same whether the
    message is a minute or a month old, or was sent before a restart.
    """

    def is_dispatchable(self) -> bool:
        return False


def build_view(buttons: list[ButtonSpec]) -> discord.ui.View | None:
    if not buttons:
        return None
    view = CommandView(timeout=None)
    for n, spec in enumerate(buttons[:BUTTONS_PER_MESSAGE]):
        style = discord.ButtonStyle.primary if spec.primary else discord.ButtonStyle.secondary
        view.add_item(
            discord.ui.Button(
                label=spec.label,
                custom_id=spec.custom_id,
                style=style,
                row=n // BUTTONS_PER_ROW if spec.row is None else spec.row,
            )
        )
    return view


def _buttons(reply: Reply, ids: CommandIds) -> list[ButtonSpec]:
    """An answer's buttons: the reply's own, then each card's (numbered by rank)."""
    specs: list[tuple[Button, str]] = [(b, b.label) for b in reply.buttons]
    if reply.ephemeral:
        for card in reply.cards:
            for b in card.buttons:
                label = f"{b.label} #{card.rank}" if card.rank else b.label
                specs.append((b, label))
    out: list[ButtonSpec] = []
    seen: set[str] = set()
    for button, label in specs:
        if button.command in seen:
            continue
        seen.add(button.command)
        out.append(ButtonSpec(cut(label, LABEL_LIMIT), ids.encode(button), button.primary))
    return out[:BUTTONS_PER_MESSAGE]


def _public_card_buttons(card: PaperCard, ids: CommandIds, row: int) -> list[ButtonSpec]:
    """A posted card's buttons (Similar, 👍, 👎) on one row of the message that shows it.

    A ``SHARE`` button is dropped: the card is public already. Presses answer the presser
    ephemerally and never change the channel's message.
    """
    out: list[ButtonSpec] = []
    for b in card.buttons:
        if b.role is ButtonRole.SHARE:
            continue
        label = f"{b.label} #{card.rank}" if card.rank else b.label
        out.append(ButtonSpec(cut(label, LABEL_LIMIT), ids.encode(b), b.primary, row))
    return out[:BUTTONS_PER_ROW]


def _footer(reply: Reply) -> str:
    return cut(core_text(reply.footer), FOOTER_LIMIT) if reply.footer else ""


def _piece_size(piece: Piece) -> int:
    """A piece's characters against the 6000 of all embeds (text goes in ``content``)."""
    if isinstance(piece, str):
        return 0
    if isinstance(piece, Tail):
        return len(cut(core_text(piece.footer), FOOTER_LIMIT)) if piece.footer else 0
    return len(card_embed(piece))


LIMITS = RenderLimits(
    cards=EMBEDS_PER_MESSAGE,
    card_rows=BUTTONS_PER_MESSAGE // BUTTONS_PER_ROW,  # a public card's buttons: one row each
    text=CONTENT_LIMIT,
    text_size=lambda text: len(core_text(text)),
    text_overhead=len("****\n⚠️ "),
    budget=EMBED_TOTAL_LIMIT,
    size=_piece_size,
)
"""Discord's limits as :func:`bot.messages.split_reply` needs them (the adapter's ``limits``)."""


def render(reply: Reply, ids: CommandIds) -> list[MessagePayload]:
    """``reply`` as one or more messages, each within every Discord limit.

    :func:`bot.messages.split_reply` decides the messages (embeds are built once here and
    measured as built): the title and text lead, paper embeds follow, the footer goes on
    the last embed and the buttons on the last message.
    """
    colour = _COLOURS.get(reply.kind, _DEFAULT_COLOUR)
    embeds = [card_embed(card, colour) for card in reply.cards]
    sizes = {id(card): len(embed) for card, embed in zip(reply.cards, embeds, strict=True)}

    def size(piece: Piece) -> int:
        return sizes[id(piece)] if isinstance(piece, PaperCard) else _piece_size(piece)

    messages = []
    taken = 0
    for part in split_reply(reply, replace(LIMITS, size=size)):
        mine = embeds[taken : taken + len(part.cards)]
        taken += len(part.cards)
        messages.append(render_message(part, ids, mine))
    return messages


def render_message(
    part: Reply, ids: CommandIds, embeds: list[discord.Embed] | None = None
) -> MessagePayload:
    """One part of a reply (see :func:`bot.messages.split_reply`) as one message; text
    over a limit is cut, nothing is split further."""
    if embeds is None:
        colour = _COLOURS.get(part.kind, _DEFAULT_COLOUR)
        embeds = [card_embed(card, colour) for card in part.cards]
    head = []
    if part.title:
        head.append(f"**{core_text(part.title)}**")
    if part.text:
        prefix = "⚠️ " if part.kind is ReplyKind.ERROR else ""
        head.append(prefix + core_text(part.text))
    footer = _footer(part)
    if footer:
        if embeds:
            embeds[-1].set_footer(text=footer)
        else:
            head.append(f"-# {footer}")
    content = cut("\n".join(head), CONTENT_LIMIT) if head else None
    message = MessagePayload(
        content=content, embeds=list(embeds), ephemeral=part.ephemeral, cards=list(part.cards)
    )
    reply_buttons = _buttons(part, ids)
    # A public post carries each card's buttons on its own row; the reply's own buttons get
    # the row under the last card.
    if not part.ephemeral and any(c.buttons for c in part.cards):
        for row, card in enumerate(part.cards):
            message.buttons.extend(_public_card_buttons(card, ids, row))
        row = len(part.cards)
        message.buttons.extend(replace(b, row=row) for b in reply_buttons[:BUTTONS_PER_ROW])
    else:
        message.buttons = reply_buttons
    if message.content is None and not message.embeds and not message.buttons:
        message.content = "(nothing to show)"
    return message
