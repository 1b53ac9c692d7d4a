"""Block Kit rendering of the core's neutral replies: pure functions, no network.

Everything users or upstream wrote passes through :func:`escape` before it lands in a
``mrkdwn`` text, so a title like ``<!channel>`` shows as text and pings nobody; URLs from
upstream are only linked when they look like plain ``http(s)`` URLs. Every message this
module returns respects Slack's limits (50 blocks, 3000 characters per section text, 150
per header, 75 per button label) plus a cumulative text budget, because ``chat.postMessage``
also rejects messages whose blocks hold too much text in total (``msg_blocks_too_long``, an
undocumented limit around 12,000 characters). Those limits are declared once as
:data:`LIMITS`; a long reply is split over several messages by :func:`bot.messages.split_reply`
(the one place that splits), each part rendered as one message, never truncated into an error.
A card's layout (what it shows, in which order) comes from :mod:`bot.layout`; each block's
size is counted as it is built, so nothing walks the blocks again to measure them.

Rendering never raises on what a paper holds: a field too long for its block is cut (never
inside an entity or a link), a URL too long to sit in text is only offered as a button (if
Slack takes it there at all), and lone surrogates (which no JSON encoder will send as UTF-8)
become U+FFFD. A scheduled post that still cannot be rendered fails for good, not for ever
(see :class:`adapters.slack.SlackAdapter.post`).
"""

from __future__ import annotations

import functools
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson

from bot.layout import CardLayout, card_layout, shorten
from bot.mentions import parts
from bot.messages import Piece, RenderLimits, Tail, split_reply
from bot.replies import Attachment, Button, ButtonRole, PaperCard, Reply, ReplyKind

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_TEXT = 2000
MAX_BUTTON_LABEL = 75
MAX_BUTTON_VALUE = 2000
MAX_URL = 3000
MAX_ACTIONS = 25
MAX_FALLBACK_TEXT = 3000
MAX_OVERFLOW_OPTIONS = 5
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_ALT_TEXT = 2000
# A URL is only linked inside mrkdwn text up to this length: a 2,000-character project page
# in a card's text would crowd out everything else (and once broke the 3,000 limit).
MAX_URL_IN_TEXT = 400
# Characters of URLs a card's link buttons may carry in all; longer ones are left out.
CARD_URL_BUDGET = 5000
# Total characters of text, URLs and values in one message's blocks. Slack's own cumulative
# limit is undocumented (reports put it near 12-13k); stay well clear of it.
MESSAGE_TEXT_BUDGET = 9000

# A file a reply carries (a reading list's BibTeX or RIS) cannot ride on a slash command's
# answer: it is shown as code blocks to copy, after the reply's own message, in at most
# FILE_MESSAGES messages (a response_url takes five posts) of FILE_SECTIONS sections each.
FILE_MESSAGES = 4
FILE_SECTIONS = 3
FILE_CHUNK = MAX_SECTION_TEXT - 100  # room for the ``` fences

TITLE_CHARS = 300
AUTHORS_CHARS = 250
SUMMARY_CHARS = 600

# action_id prefixes the bolt app listens for (see adapters.slack.app).
ACTION_COMMAND = "papers_cmd"  # runs a command; the answer is a new message
ACTION_NAV = "papers_nav"  # a paging button: on an ephemeral list the answer replaces it
ACTION_LINK = "papers_link"  # a URL button: Slack opens the link, we only ack
ACTION_MORE = "papers_more"  # a card's "⋯" menu: a link option only acks, a command runs
LINK_VALUE = "link:"  # the value of a "⋯" option that opens a URL (never a command)

Block = dict[str, Any]
Message = dict[str, Any]  # {"text": fallback, "blocks": [...]}

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_URL_RE = re.compile(r"^https?://[^\s<>|\"'`\\]+$", re.IGNORECASE)
# Characters that are mrkdwn syntax (bold, italic, strike, code) or that escaping rewrites:
# a matched term holding one is never highlighted, since wrapping it in ``*`` could pair
# with its own asterisk or land inside an ``&amp;`` entity.
_UNSAFE_TERM = frozenset("*_~`<>&|")
# Lookalikes shown instead of mrkdwn syntax characters in the topic / matched-terms line,
# where Slack offers no way to escape them: a topic ``*a`` next to a term ``b*`` must not
# turn the text between them bold.
_DEFANG = str.maketrans({"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ"})
# An entity produced by escape(): highlighting skips over it so ``amp`` in ``&amp;`` is
# never taken for a word.
_ENTITY = r"&(?:amp|lt|gt);"
MAX_HIGHLIGHT_TERMS = 20


def escape(text: str | None) -> str:
    """Text safe inside Slack ``mrkdwn``: only ``&``, ``<`` and ``>`` need escaping.

    Those three are what Slack parses into mentions (``<!channel>``, ``<@U123>``) and links
    (``<url|label>``); with them escaped the text is shown literally.
    """
    if not text:
        return ""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(text: str | None, limit: int) -> str:
    """``text`` escaped and cut at a word boundary so the *escaped* form fits ``limit``.

    Escaping can grow text fivefold (``&`` -> ``&amp;``), so the raw text is cut until its
    escaped form fits, rather than cutting the escaped text (which could split an entity).
    """
    raw = " ".join((text or "").split())
    budget = limit
    while True:
        out = escape(shorten(raw, budget))
        if len(out) <= limit:
            return out
        budget -= max(1, len(out) - limit)
        if budget <= 1:
            return "…"


def safe_url(url: str | None) -> str | None:
    """``url`` if it is a plain http(s) URL that cannot break out of ``<url|label>``."""
    if not url or len(url) > MAX_URL or not _URL_RE.match(url):
        return None
    return url


def plain(text: str, limit: int) -> dict[str, Any]:
    """A ``plain_text`` object (Slack never parses mentions in it), cut to ``limit``."""
    text = " ".join(text.split()) or " "
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return {"type": "plain_text", "text": text, "emoji": True}


def clip(text: str, limit: int) -> str:
    """mrkdwn ``text`` cut to at most ``limit`` characters, with an ellipsis when cut.

    The cut never ends inside an entity (``&amp;``) or one of our links (``<url|label>``):
    escaped user text holds no ``<``, so any ``<`` is the start of a link we made.
    """
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    lt = cut.rfind("<")
    if lt != -1 and ">" not in cut[lt:]:
        cut = cut[:lt]
    return cut + "…"


def mrkdwn(text: str, limit: int = MAX_SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit) or " "}


def section(text: str, accessory: Block | None = None) -> Block:
    """A mrkdwn section (clipped to Slack's 3000), with a button or menu at its side."""
    block: Block = {"type": "section", "text": mrkdwn(text, MAX_SECTION_TEXT)}
    if accessory is not None:
        block["accessory"] = accessory
    return block


def split_text(text: str, limit: int = MAX_SECTION_TEXT) -> list[str]:
    """Escaped ``text`` in chunks of at most ``limit`` characters, cut at line ends."""
    chunks: list[str] = []
    current = ""
    for line in escape(text).split("\n"):
        while len(line) > limit:  # one huge line: cut it hard, outside an entity
            cut = line[:limit]
            amp = cut.rfind("&")
            if amp > 0 and ";" not in cut[amp:]:
                cut = cut[:amp]
            if current:
                chunks.append(current)
                current = ""
            chunks.append(cut)
            line = line[len(cut) :]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        chunks.append(current)
    return [c for c in chunks if c.strip()]


def defang(text: str) -> str:
    """``text`` with mrkdwn's formatting characters replaced by harmless lookalikes."""
    return text.translate(_DEFANG)


def highlight_pattern(terms: tuple[str, ...] | list[str]) -> re.Pattern[str] | None:
    """:func:`compile_highlight` of ``terms``, remembered: in a fan-out thousands of cards
    share a few hundred topics, and compiling was a sixth of rendering a card."""
    return compile_highlight(tuple(terms))


@functools.lru_cache(maxsize=2048)
def compile_highlight(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    """A regex finding ``terms`` as whole words in *escaped* text, or None if none qualify.

    Terms come from the user's topic, so they are matched literally (``re.escape``),
    case-insensitively and on word boundaries, with a plain plural on either side
    ("network" also finds "networks") because the search matched them by stem. Terms
    holding mrkdwn or escaping characters are skipped rather than risk broken formatting.
    Group 1 is an entity to skip over, group 2 a word to bold.
    """
    words: set[str] = set()
    for term in list(terms)[:MAX_HIGHLIGHT_TERMS]:
        term = " ".join(term.split())
        if len(term) < 2 or len(term) > 100 or _UNSAFE_TERM & set(term):
            continue
        words.add(term)
        words.add(term[:-1] if term.lower().endswith("s") and len(term) > 3 else term + "s")
    if not words:
        return None
    # Longest first so "sparse attention" wins over "sparse".
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"({_ENTITY})|(?<!\w)({alternatives})(?!\w)", re.IGNORECASE)


def highlight(escaped: str, pattern: re.Pattern[str] | None) -> str:
    """Bold (``*word*``) each match of ``pattern`` in already-escaped mrkdwn text.

    It runs after :func:`escape`, so the only markup added is our own asterisks around
    words (word characters at both ends, which is what Slack needs to see bold), and
    nothing upstream wrote can turn into a mention or link.
    """
    if pattern is None:
        return escaped
    return pattern.sub(lambda m: m.group(1) or f"*{m.group(2)}*", escaped)


def command_button(button: Button, action_id: str) -> Block:
    element: Block = {
        "type": "button",
        "text": plain(button.label, MAX_BUTTON_LABEL),
        "action_id": action_id,
        # The value is the button's action, encoded as its command line; the core decodes it.
        "value": button.command[:MAX_BUTTON_VALUE],
    }
    if button.primary:
        element["style"] = "primary"
    return element


def is_paging(button: Button) -> bool:
    """Whether ``button`` pages through the list it sits on (its answer replaces the list).

    Other buttons of a reply, like a preview's "Subscribe", answer in a new message so
    the preview stays and a refusal does not wipe it.
    """
    return button.role is ButtonRole.PAGE


def element_size(element: Block) -> int:
    """An element's share of the message budget: a button's label and its URL or value,
    an overflow menu's options' labels, values and URLs."""
    if element.get("type") == "overflow":
        return sum(element_size(option) for option in element["options"])
    extra = len(element.get("url") or "") + len(element.get("value") or "")
    return len(element["text"]["text"]) + extra


@dataclass(slots=True)
class Group:
    """Blocks that stay in one message (a header, a card, the closing buttons), with the
    characters they count against :data:`MESSAGE_TEXT_BUDGET`, summed as they are built."""

    blocks: list[Block]
    size: int


def text_group(blocks: list[Block]) -> Group:
    """A group of header, section and context blocks, measured once."""
    size = 0
    for block in blocks:
        if "text" in block:
            size += len(block["text"]["text"])
        for element in block.get("elements", ()):
            size += len(element["text"]) if element.get("type") == "mrkdwn" else 0
    return Group(blocks, size)


def card_group(card: PaperCard, index: int) -> Group:
    """One paper: a section (linked title and ▲ upvotes, authors, summary; the thumbnail
    as its accessory image), a context line, and at most three buttons with a "⋯"
    overflow menu holding the links (and any further buttons).

    ``index`` makes the action ids unique within the message, as Slack requires. The
    content and its order come from :func:`bot.layout.card_layout`.
    """
    shown: CardLayout = card_layout(card)
    title = fit(shown.title, TITLE_CHARS) or "(untitled)"
    url = text_url(shown.url) or text_url(shown.arxiv_url)
    rank = shown.rank_prefix
    head = f"*{rank}<{escape(url)}|{title}>*" if url else f"*{rank}{title}*"
    if shown.upvotes:
        head += f"  {escape(shown.upvotes)}"
    lines = [head]
    authors = shown.author_line
    if authors:
        lines.append(fit(authors, AUTHORS_CHARS))
    if shown.summary:
        # The title is bold as a whole (Slack cannot nest bold), so "why this matched"
        # shows in the summary; every matched term is also named in the context line.
        lines.append(highlight(fit(shown.summary, SUMMARY_CHARS), highlight_pattern(shown.matched)))
    lines.extend(fit(line, MAX_CONTEXT_TEXT) for line in shown.extra)
    body = section("\n".join(lines))
    size = len(body["text"]["text"])
    image = safe_url(shown.thumbnail)
    if image and len(image) <= MAX_URL_IN_TEXT:
        alt = plain(shown.title, MAX_ALT_TEXT)["text"]
        body["accessory"] = {"type": "image", "image_url": image, "alt_text": alt}
        size += len(image) + len(alt)
    blocks = [body]

    context = [escape(fact) for fact in shown.facts]
    if shown.topic:
        context.append("topic: " + defang(fit(shown.topic, 200)))
    if shown.matched:
        context.append("matched: " + defang(fit(", ".join(shown.matched), 200)))
    if context:
        # Each part is escaped already (and short): escaping the joined line again would
        # show "&amp;lt;" to users where a topic had a "<".
        line = mrkdwn(" · ".join(context), MAX_CONTEXT_TEXT)
        blocks.append({"type": "context", "elements": [line]})
        size += len(line["text"])

    elements: list[Block] = [
        command_button(button, f"{ACTION_COMMAND}_{index}_{n}")
        for n, button in enumerate(shown.shown_buttons())
    ]
    more = overflow_menu(shown, f"{ACTION_MORE}_{index}")
    if more is not None:
        elements.append(more)
    return actions_group(blocks, size, elements)


# Cards built to be measured, kept for the rendering that follows: a scheduled post is cut
# into messages by the core (bot.messages.split_reply, sizing each card with piece_size)
# and then rendered here, and building every card twice was a quarter of a fan-out's CPU.
# Keyed by the card object, which the entry keeps alive so its id is not reused; bounded.
_MEASURED: OrderedDict[int, tuple[PaperCard, Group]] = OrderedDict()
_MEASURED_MAX = 1_024
_MEASURED_LOCK = threading.Lock()


def measured_group(card: PaperCard, index: int) -> Group:
    """:func:`card_group`, reusing the group built when ``card`` was last measured (only
    its action ids, which carry ``index``, are made anew)."""
    with _MEASURED_LOCK:
        hit = _MEASURED.get(id(card))
    if hit is not None and hit[0] is card:
        return _reindexed(hit[1], index)
    group = card_group(card, index)
    with _MEASURED_LOCK:
        _MEASURED[id(card)] = (card, group)
        while len(_MEASURED) > _MEASURED_MAX:
            _MEASURED.popitem(last=False)
    return group


def _reindexed(group: Group, index: int) -> Group:
    """``group`` with its buttons' action ids for position ``index`` (the size does not
    change: action ids do not count against the message budget)."""
    last = group.blocks[-1] if group.blocks else None
    if last is None or last.get("type") != "actions":
        return group
    elements = []
    for element in last["elements"]:
        action = element["action_id"]
        if action.startswith(ACTION_MORE + "_"):
            action = f"{ACTION_MORE}_{index}"
        elif action.startswith(ACTION_COMMAND + "_"):
            action = f"{ACTION_COMMAND}_{index}_{action.rsplit('_', 1)[1]}"
        elements.append({**element, "action_id": action})
    return Group([*group.blocks[:-1], {"type": "actions", "elements": elements}], group.size)


def overflow_menu(shown: CardLayout, action_id: str) -> Block | None:
    """The card's "⋯" menu: buttons beyond the three shown, then its links (each option
    opens its URL), at most :data:`MAX_OVERFLOW_OPTIONS`; None when there is nothing."""
    options: list[Block] = []
    for button in shown.more_buttons():
        if len(button.command) <= MAX_OPTION_VALUE:
            options.append({"text": plain(button.label, MAX_OPTION_TEXT), "value": button.command})
    url_budget = CARD_URL_BUDGET
    for n, (label, link) in enumerate(shown.links):
        good = safe_url(link)
        if good and len(good) <= url_budget:
            url_budget -= len(good)
            options.append(
                {"text": plain(label, MAX_OPTION_TEXT), "value": f"{LINK_VALUE}{n}", "url": good}
            )
    if not options:
        return None
    return {
        "type": "overflow",
        "action_id": action_id,
        "options": options[:MAX_OVERFLOW_OPTIONS],
    }


def text_url(url: str | None) -> str | None:
    """``url`` if it may be linked inside mrkdwn text: safe and short (see MAX_URL_IN_TEXT)."""
    good = safe_url(url)
    return good if good and len(good) <= MAX_URL_IN_TEXT else None


def actions_group(blocks: list[Block], size: int, elements: list[Block]) -> Group:
    """``blocks`` (of ``size``) and an actions block of ``elements``, within one message's
    text budget: buttons are dropped from the end until it fits.

    A group is never split over messages, so one that alone exceeds the budget (many
    buttons with long values) would make an invalid message; its last buttons go first.
    """
    kept: list[Block] = []
    for element in elements[:MAX_ACTIONS]:
        cost = element_size(element)
        if size + cost > MESSAGE_TEXT_BUDGET:
            break
        kept.append(element)
        size += cost
    if kept:
        blocks = [*blocks, {"type": "actions", "elements": kept}]
    return Group(blocks, size)


def fallback_text(reply: Reply) -> str:
    """The message's ``text``: shown in notifications and by clients without Block Kit."""
    if reply.title:
        base = reply.title
    elif reply.text:
        base = reply.text
    elif reply.cards:
        base = reply.cards[0].paper.title
    else:
        base = "papers-bot"
    return fit(base, 300)


def header_group(title: str) -> Group:
    return text_group([{"type": "header", "text": plain(title, MAX_HEADER_TEXT)}])


def reply_text(reply: Reply) -> str:
    return (":warning: " if reply.kind == ReplyKind.ERROR else "") + reply.text


def footer_group(footer: str) -> Group:
    return text_group([{"type": "context", "elements": [mrkdwn(fit(footer, 1000))]}])


def nav_group(buttons: list[Button] | tuple[Button, ...]) -> Group:
    """The reply's own buttons: paging ones (by role) replace the list they sit on."""
    elements = [
        command_button(b, f"{ACTION_NAV if is_paging(b) else ACTION_COMMAND + '_r'}_{n}")
        for n, b in enumerate(buttons[:MAX_ACTIONS])
    ]
    return actions_group([], 0, elements)


def piece_size(piece: Piece) -> int:
    """A piece's share of one message's budget, for :func:`bot.messages.split_reply`."""
    if isinstance(piece, str):
        return len(escape(piece)) + 10  # 10: a ":warning: " prefix
    if isinstance(piece, Tail):
        footer = footer_group(piece.footer).size if piece.footer else 0
        return footer + (nav_group(piece.buttons).size if piece.buttons else 0)
    return measured_group(piece, 0).size


LIMITS = RenderLimits(
    cards=5,  # 15 blocks of cards; the budget usually ends a message first
    text=8000,  # a few 3000-character sections
    text_size=lambda text: len(escape(text)),
    budget=MESSAGE_TEXT_BUDGET,
    size=piece_size,
)
"""Slack's limits as :func:`bot.messages.split_reply` needs them (the adapter's ``limits``)."""


def render(reply: Reply) -> list[Message]:
    """``reply`` as one or more Slack messages, each a dict with ``text`` and ``blocks``.

    :func:`bot.messages.split_reply` decides the messages, sizing each card with
    :func:`piece_size`; the groups built to size them are reused (:func:`measured_group`),
    and each part becomes one message by :func:`render_message`.
    """
    fallback = fallback_text(reply)
    messages = []
    taken = 0
    for part in split_reply(reply, LIMITS):
        mine = [measured_group(card, taken + n) for n, card in enumerate(part.cards)]
        taken += len(part.cards)
        messages.append(render_message(part, fallback, mine))
    if len(messages) > 1:
        for n, message in enumerate(messages[1:], start=2):
            message["text"] = f"{fallback} ({n}/{len(messages)})"
    if ping := mention_text(reply.mentions):
        with_mention(messages[0], ping)
    if reply.attachment is not None:
        messages += file_messages(reply.attachment)
    return [_without_surrogates(message) for message in messages]


def file_messages(attachment: Attachment) -> list[Message]:
    """A reply's file as messages of code blocks, cut at line ends, to copy into a file.

    Escaped like any text (``&``, ``<``, ``>``), and a run of three backticks inside it is
    broken with a zero-width space so nothing in the file can close its code block. What
    does not fit :data:`FILE_MESSAGES` messages is left out, and the last message says so.
    """
    text = attachment.text.replace("```", "``\u200b`")
    chunks = split_text(text, FILE_CHUNK)
    per_message = FILE_SECTIONS
    room = FILE_MESSAGES * per_message
    shown, cut = chunks[:room], chunks[room:]
    groups = [shown[n : n + per_message] for n in range(0, len(shown), per_message)]
    name = escape(attachment.filename)
    messages: list[Message] = []
    for n, group in enumerate(groups, start=1):
        part = f" ({n}/{len(groups)})" if len(groups) > 1 else ""
        blocks: list[Block] = [
            {"type": "context", "elements": [mrkdwn(f"`{name}`{part}: copy it into a file")]}
        ]
        blocks += [section(f"```{chunk}```") for chunk in group]
        messages.append({"text": f"{attachment.filename}{part}", "blocks": blocks})
    if cut and messages:
        lines = sum(c.count("\n") + 1 for c in cut)
        note = (
            f"About {lines:,} more lines of `{name}` do not fit in Slack replies: "
            "`/papers saved --export csv` is the most compact, or take papers you have "
            "read off the list (`/papers unsave <id>`)."
        )
        messages[-1]["blocks"].append({"type": "context", "elements": [mrkdwn(note)]})
    return messages


def mention_text(mentions: tuple[str, ...]) -> str:
    """A topic alert's ``--notify`` (neutral forms, :mod:`bot.mentions`) as Slack
    mentions: ``<!subteam^S1>`` for a user group, ``<@U1>`` for a person. The only
    mentions the bot ever writes; anything not a valid Slack form is left out."""
    shown = []
    for value in mentions:
        found = parts(value, "slack")
        if found is None:
            continue
        kind, ident = found
        shown.append(f"<!subteam^{ident}>" if kind == "group" else f"<@{ident}>")
    return " ".join(shown)


def with_mention(message: Message, ping: str) -> None:
    """Put ``ping`` on top of ``message`` and in its notification text."""
    blocks = message["blocks"]
    if len(blocks) >= MAX_BLOCKS:
        blocks.pop()
    blocks.insert(0, section(ping))
    message["text"] = f"{ping} {message['text']}"


def _without_surrogates(message: Message) -> Message:
    """``message`` as is when it holds no lone surrogate (orjson refuses those, and checks
    a message in microseconds), else passed through :func:`scrub`: walking every message costs
    15 % of rendering, and a fan-out renders thousands."""
    try:
        orjson.dumps(message)
    except TypeError:
        return scrub(message)
    return message


def render_message(part: Reply, fallback: str, cards: list[Group]) -> Message:
    """One part of a reply (see :func:`bot.messages.split_reply`) as one message.

    It only fits: text is cut into sections and, should the whole still be over the
    message budget, the last groups' buttons and then whole trailing text go.
    """
    groups: list[Group] = []
    if part.title:
        groups.append(header_group(part.title))
    if part.text:
        for chunk in split_text(reply_text(part)):
            groups.append(text_group([section(chunk)]))
    groups.extend(cards)  # the part's cards, built by render()
    if part.footer:
        groups.append(footer_group(part.footer))
    if part.buttons and (nav := nav_group(part.buttons)).blocks:
        groups.append(nav)
    blocks: list[Block] = []
    size = 0
    for group in groups:
        if blocks and (
            len(blocks) + len(group.blocks) > MAX_BLOCKS or size + group.size > MESSAGE_TEXT_BUDGET
        ):
            break  # a part is sized to fit; this only guards against a wrong estimate
        blocks.extend(group.blocks)
        size += group.size
    if not blocks:
        blocks.append(section(" "))
    return {"text": fallback, "blocks": blocks}


def scrub(node: Any) -> Any:
    """``node`` with every lone surrogate in its strings replaced by U+FFFD.

    Upstream JSON can carry ``\\ud800`` escapes; such a string cannot be encoded as UTF-8,
    so the HTTP client would fail on it every time the post is retried.
    """
    if isinstance(node, str):
        return _SURROGATE.sub("\ufffd", node)
    if isinstance(node, dict):
        return {key: scrub(value) for key, value in node.items()}
    if isinstance(node, list):
        return [scrub(value) for value in node]
    return node
