"""Neutral replies as Discord messages: Components V2 layouts, and Discord's size limits.

Everything here is a pure function of the :class:`~bot.replies.Reply` (plus the
:class:`CommandIds` map from custom ids to the buttons they stand for), so the limits can
be tested without a connection. The card layout comes from :mod:`bot.layout`; how a long
reply is split into messages is decided by :func:`bot.messages.split_reply` with
:data:`LIMITS`, and each part becomes one message here: a text display on top, then each card as a
container with its own row of buttons beside it, then the footer and the reply's own
buttons (paging). Buttons are placed by their role. Text from users and upstream (titles,
abstracts, author names, topics) is escaped: Markdown is shown literally and mentions
cannot form, on top of the client's ``AllowedMentions.none()``.

Limits (https://discord.com/developers/docs/components/reference): 40 components a
message with nested ones counted, 4000 characters over all text displays, 5 buttons a
row, button label 80, custom id 100. A Components V2 message has no content or embeds.
"""

from __future__ import annotations

import io
import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import quote

import discord

from bot.layout import VISIBLE_BUTTONS, card_layout, shorten
from bot.mentions import parts
from bot.messages import Piece, RenderLimits, Tail, split_reply
from bot.replies import Attachment, Button, ButtonRole, PaperCard, Reply, ReplyKind

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 3000  # one card's lines; all text displays together hold TEXT_LIMIT
TEXT_LIMIT = 4000  # characters over all text displays of a message (LayoutView.content_length)
COMPONENT_LIMIT = 40  # components of a message, nested ones counted
MAX_CARDS = 5
FOOTER_LIMIT = 1000
BUTTONS_PER_ROW = 5
LABEL_LIMIT = 80
CUSTOM_ID_LIMIT = 100

# How much of a summary or abstract a card shows: enough to judge the paper, small
# enough that several cards fit the 4000 characters of one message.
SUMMARY_CHARS = 600
CUSTOM_ID_PREFIX = "papers:"
_SHORT_MARK = "#"  # custom ids "papers:#<key>" point into CommandIds' map
# A card's "⋯" menu (a select): its custom id is this plus the card's place in the message;
# each option's value is a button's custom id, which the adapter runs like a press.
MORE_MENU_PREFIX = CUSTOM_ID_PREFIX + "more:"
MORE_LABEL = "⋯ More"
MENU_OPTIONS = 25

# Card accent colours by reply kind, so a digest stands out.
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


@dataclass(frozen=True, slots=True)
class ButtonSpec:
    label: str
    custom_id: str
    primary: bool = False


@dataclass(slots=True)
class CardPanel:
    """One paper as a Components V2 container: its text, its thumbnail, its own buttons.

    ``title`` (rank and escaped title) links to ``url``; ``description`` holds the lines
    under it. ``text`` is the Markdown the container's text display shows.
    """

    title: str
    url: str | None
    description: str
    thumbnail: str | None = None
    buttons: list[ButtonSpec] = field(default_factory=list)
    more: list[ButtonSpec] = field(default_factory=list)  # the "⋯" menu's entries

    @property
    def text(self) -> str:
        heading = f"[{self.title}]({self.url})" if self.url else self.title
        return f"### {heading}\n{self.description}" if self.description else f"### {heading}"

    def components(self) -> int:
        """Discord's count: container, section (+text, +thumbnail) or text, button row,
        and the "⋯" menu's row and select."""
        count = 1 + (3 if self.thumbnail else 1)
        count += 2 if self.more else 0
        return count + (1 + len(self.buttons) if self.buttons else 0)


def card_panel(
    card: PaperCard,
    buttons: list[ButtonSpec] | None = None,
    menu: list[ButtonSpec] | None = None,
) -> CardPanel:
    """One paper as a panel: the card layout of :mod:`bot.layout`, within Discord's limits.

    The linked title, then ▲ upvotes with the authors (and the date where it is not the
    post's), the summary, the other numbers and links, why it is there; the thumbnail as
    the section's accessory; the card's ``buttons`` in the row under it, and ``menu`` (the
    buttons past the shown ones) in its "⋯" select.
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
    return CardPanel(
        title=title,
        url=_link(shown.url),
        description=description,
        thumbnail=_link(shown.thumbnail),
        buttons=list(buttons or []),
        more=list(menu or []),
    )


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
        # Posts are rendered in worker threads (the fan-out) while the loop renders command
        # answers: the maps' move-and-evict steps must not interleave.
        self._lock = threading.Lock()

    def encode(self, button: Button) -> str:
        custom_id = CUSTOM_ID_PREFIX + button.command
        known = self._recent
        if len(custom_id) > CUSTOM_ID_LIMIT or button.command.startswith(_SHORT_MARK):
            custom_id = CUSTOM_ID_PREFIX + _SHORT_MARK + secrets.token_urlsafe(12)
            known = self._long  # kept apart: digest buttons never push these out
        with self._lock:
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


@dataclass(slots=True)
class MessagePayload:
    """One Discord message as a Components V2 layout: text on top, a panel per card, the
    footer, then the reply's own buttons (paging) in a row at the bottom."""

    content: str | None = None  # the text on top (title, text)
    panels: list[CardPanel] = field(default_factory=list)
    footer: str | None = None
    buttons: list[ButtonSpec] = field(default_factory=list)  # the reply's own
    ephemeral: bool = True
    cards: list[PaperCard] = field(default_factory=list)  # the cards its panels show
    colour: discord.Colour = _DEFAULT_COLOUR  # the panels' accent
    attachment: Attachment | None = None  # a file sent with it, shown by a file component
    # Who may be pinged: only a topic alert's ``--notify`` (see :func:`with_mention`);
    # None means nobody (the client sends ``AllowedMentions.none()``).
    allowed_mentions: discord.AllowedMentions | None = None

    def texts(self) -> list[str]:
        top = [self.content] if self.content else []
        bottom = [f"-# {self.footer}"] if self.footer else []
        return [*top, *(p.text for p in self.panels), *bottom]

    def text_length(self) -> int:
        """Characters over all text displays (Discord allows 4000 a message)."""
        return sum(len(t) for t in self.texts())

    def components(self) -> int:
        """Components over the whole layout, nested ones counted (Discord allows 40)."""
        count = (1 if self.content else 0) + (1 if self.footer else 0)
        count += sum(p.components() for p in self.panels)
        count += 1 if self.attachment else 0
        return count + (1 + len(self.buttons) if self.buttons else 0)


class CommandLayout(discord.ui.LayoutView):
    """A layout whose button presses the adapter handles in ``on_interaction`` by custom id.

    Not dispatchable, so discord.py never stores it: a press works the same whether the
    message is a minute or a month old, or was sent before a restart.
    """

    def is_dispatchable(self) -> bool:
        return False


def _button_row(buttons: list[ButtonSpec]) -> discord.ui.ActionRow[CommandLayout]:
    row: discord.ui.ActionRow[CommandLayout] = discord.ui.ActionRow()
    for spec in buttons[:BUTTONS_PER_ROW]:
        style = discord.ButtonStyle.primary if spec.primary else discord.ButtonStyle.secondary
        row.add_item(discord.ui.Button(label=spec.label, custom_id=spec.custom_id, style=style))
    return row


def build_view(payload: MessagePayload) -> CommandLayout:
    """The message as discord.py's ``LayoutView`` (sent with no content and no embeds)."""
    view = CommandLayout(timeout=None)
    if payload.content:
        view.add_item(discord.ui.TextDisplay(payload.content))
    for n, panel in enumerate(payload.panels):
        container: discord.ui.Container[CommandLayout] = discord.ui.Container(
            accent_colour=payload.colour
        )
        text = discord.ui.TextDisplay(panel.text)
        if panel.thumbnail:
            container.add_item(
                discord.ui.Section(text, accessory=discord.ui.Thumbnail(panel.thumbnail))
            )
        else:
            container.add_item(text)
        if panel.buttons:
            container.add_item(_button_row(panel.buttons))
        if panel.more:
            container.add_item(_more_menu(panel.more, f"{MORE_MENU_PREFIX}{n}"))
        view.add_item(container)
    if payload.attachment is not None:
        # A Components V2 message shows an uploaded file only through a file component.
        view.add_item(discord.ui.File(f"attachment://{payload.attachment.filename}"))
    if payload.footer:
        view.add_item(discord.ui.TextDisplay(f"-# {payload.footer}"))
    if payload.buttons:
        view.add_item(_button_row(payload.buttons))
    return view


def payload_files(payload: MessagePayload) -> list[discord.File]:
    """The files to upload with ``payload`` (its attachment, named as its file component
    refers to it). Made anew for each send: a ``discord.File`` is read once."""
    if payload.attachment is None:
        return []
    data = io.BytesIO(payload.attachment.text.encode("utf-8"))
    return [discord.File(data, filename=payload.attachment.filename)]


def _more_menu(entries: list[ButtonSpec], custom_id: str) -> discord.ui.ActionRow[CommandLayout]:
    """A card's "⋯" menu: a select whose options are the buttons past the shown ones
    (choosing one runs it as a press of that button would)."""
    options = [
        discord.SelectOption(label=spec.label, value=spec.custom_id)
        for spec in entries[:MENU_OPTIONS]
    ]
    menu: discord.ui.Select[CommandLayout] = discord.ui.Select(
        custom_id=custom_id, placeholder=MORE_LABEL, options=options
    )
    row: discord.ui.ActionRow[CommandLayout] = discord.ui.ActionRow()
    row.add_item(menu)
    return row


def _reply_buttons(reply: Reply, ids: CommandIds) -> list[ButtonSpec]:
    """A reply's own buttons (paging, Subscribe), one row under its cards."""
    out: list[ButtonSpec] = []
    seen: set[str] = set()
    for button in reply.buttons:
        if button.command in seen:
            continue
        seen.add(button.command)
        out.append(ButtonSpec(cut(button.label, LABEL_LIMIT), ids.encode(button), button.primary))
    return out[:BUTTONS_PER_ROW]


def _card_buttons(
    card: PaperCard, ids: CommandIds, public: bool
) -> tuple[list[ButtonSpec], list[ButtonSpec]]:
    """A card's buttons: the row under that card (at most :data:`VISIBLE_BUTTONS`, as on
    every platform), and the rest, for its "⋯" menu.

    On a public post a ``SHARE`` button is dropped: the card is public already. Presses
    there answer the presser ephemerally and never change the channel's message.
    """
    out: list[ButtonSpec] = []
    for b in card.buttons:
        if public and b.role is ButtonRole.SHARE:
            continue
        out.append(ButtonSpec(cut(b.label, LABEL_LIMIT), ids.encode(b), b.primary))
    return out[:VISIBLE_BUTTONS], out[VISIBLE_BUTTONS:]


def _unseen(buttons: list[ButtonSpec], seen: set[str]) -> list[ButtonSpec]:
    """``buttons`` whose custom id is not in ``seen`` yet (which then remembers them)."""
    out = []
    for button in buttons:
        if button.custom_id not in seen:
            seen.add(button.custom_id)
            out.append(button)
    return out


def _footer(reply: Reply) -> str:
    return cut(core_text(reply.footer), FOOTER_LIMIT) if reply.footer else ""


def _card_components(card: PaperCard) -> int:
    """A card's components: container, section or text, its row of buttons and, with more
    buttons than are shown, its "⋯" menu (a row and a select). Counted as if no button were
    dropped (a public card loses Share): never fewer than the card will have."""
    panel = card_panel(card)
    shown = min(len(card.buttons), VISIBLE_BUTTONS)
    menu = 2 if len(card.buttons) > VISIBLE_BUTTONS else 0
    return panel.components() + (1 + shown if shown else 0) + menu


def _piece_size(piece: Piece) -> int:
    """A piece's characters against the 4000 of all text displays."""
    if isinstance(piece, str):
        return len(core_text(piece))
    if isinstance(piece, Tail):
        return len("-# " + cut(core_text(piece.footer), FOOTER_LIMIT)) if piece.footer else 0
    return len(card_panel(piece).text)


def _piece_components(piece: Piece) -> int:
    if isinstance(piece, str):
        return 0
    if isinstance(piece, Tail):
        shown = min(len(piece.buttons), BUTTONS_PER_ROW)
        return (1 if piece.footer else 0) + (1 + shown if shown else 0)
    return _card_components(piece)


LIMITS = RenderLimits(
    cards=MAX_CARDS,
    text=TEXT_LIMIT - len("****\n⚠️ "),
    text_size=lambda text: len(core_text(text)),
    text_overhead=len("****\n⚠️ "),
    budget=TEXT_LIMIT - len("****\n⚠️ "),
    size=_piece_size,
    components=COMPONENT_LIMIT - 1,  # one kept for the text display on top
    count=_piece_components,
)
"""Discord's limits as :func:`bot.messages.split_reply` needs them (the adapter's ``limits``)."""


def render(reply: Reply, ids: CommandIds) -> list[MessagePayload]:
    """``reply`` as one or more messages, each within every Discord limit.

    :func:`bot.messages.split_reply` decides the messages: the title and text lead, paper
    panels follow, each with its own buttons, the footer and the reply's own buttons close
    the last message.
    """
    payloads = [render_message(part, ids) for part in split_reply(reply, LIMITS)]
    with_mention(payloads[0], reply.mentions)
    return payloads


def with_mention(payload: MessagePayload, mentions: tuple[str, ...]) -> None:
    """Put a topic alert's ``--notify`` (neutral forms, :mod:`bot.mentions`) on top of
    ``payload`` as Discord mentions (``<@&1>`` a role, ``<@1>`` a member) and allow
    exactly those to ping: the only mentions the bot ever sends."""
    shown: list[str] = []
    roles: list[discord.Object] = []
    users: list[discord.Object] = []
    for value in mentions:
        found = parts(value, "discord")
        if found is None:
            continue
        kind, ident = found
        if kind == "role":
            shown.append(f"<@&{ident}>")
            roles.append(discord.Object(int(ident)))
        elif kind == "user":
            shown.append(f"<@{ident}>")
            users.append(discord.Object(int(ident)))
    if not shown:
        return
    ping = " ".join(shown)
    head = payload.content or ""
    payload.content = f"{ping}\n{head}" if head else ping
    over = payload.text_length() - TEXT_LIMIT
    if over > 0 and head:
        payload.content = f"{ping}\n{cut(head, max(1, len(head) - over))}"
    payload.allowed_mentions = discord.AllowedMentions(
        everyone=False, users=users, roles=roles, replied_user=False
    )


def render_message(part: Reply, ids: CommandIds) -> MessagePayload:
    """One part of a reply (see :func:`bot.messages.split_reply`) as one message; text
    over a limit is cut, nothing is split further."""
    public = not part.ephemeral
    panels = [card_panel(card, *_card_buttons(card, ids, public)) for card in part.cards]
    head = []
    if part.title:
        head.append(f"**{core_text(part.title)}**")
    if part.text:
        prefix = "⚠️ " if part.kind is ReplyKind.ERROR else ""
        head.append(prefix + core_text(part.text))
    content = cut("\n".join(head), TEXT_LIMIT) if head else None
    message = MessagePayload(
        content=content,
        panels=panels,
        footer=_footer(part) or None,
        buttons=_reply_buttons(part, ids),
        ephemeral=part.ephemeral,
        cards=list(part.cards),
        colour=_COLOURS.get(part.kind, _DEFAULT_COLOUR),
        attachment=part.attachment,
    )
    # Discord refuses a message whose custom ids repeat: a button shown once is enough.
    seen: set[str] = set()
    for owner in [*message.panels, message]:
        owner.buttons = _unseen(owner.buttons, seen)
    if message.content is None and not message.panels and not message.buttons:
        message.content = "(nothing to show)"
    # split_reply keeps a message within 4000 characters; only one overlong piece gets
    # here, and is cut: the text on top, then the footer, then the cards' lines.
    for piece in ("content", "footer"):
        over = message.text_length() - TEXT_LIMIT
        text = getattr(message, piece)
        if over > 0 and text:
            setattr(message, piece, cut(text, max(1, len(text) - over)))
    for panel in message.panels:
        over = message.text_length() - TEXT_LIMIT
        if over > 0 and panel.description:
            panel.description = cut(panel.description, max(1, len(panel.description) - over))
    return message
