"""Block Kit rendering of the core's neutral replies: pure functions, no network.

Everything users or upstream wrote passes through :func:`escape` before it lands in a
``mrkdwn`` text, so a title like ``<!channel>`` shows as text and pings nobody; URLs from
upstream are only linked when they look like plain ``http(s)`` URLs. Every message this
module returns respects Slack's limits (50 blocks, 3000 characters per section text, 150
per header, 75 per button label) plus a cumulative text budget, because ``chat.postMessage``
also rejects messages whose blocks hold too much text in total (``msg_blocks_too_long``, an
undocumented limit around 12,000 characters). A long reply is split over several messages,
never truncated into an error.

Rendering never raises on what a paper holds: a field too long for its block is cut (never
inside an entity or a link), a URL too long to sit in text is only offered as a button (if
Slack takes it there at all), and lone surrogates (which no JSON encoder will send as UTF-8)
become U+FFFD. A scheduled post that still cannot be rendered fails for good, not for ever
(see :class:`adapters.slack.SlackAdapter.post`).
"""

from __future__ import annotations

import re
from typing import Any

from adapters.console import author_line, shorten
from bot.models import Paper
from bot.replies import Button, PaperCard, Reply, ReplyKind, paper_facts

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_TEXT = 2000
MAX_BUTTON_LABEL = 75
MAX_BUTTON_VALUE = 2000
MAX_URL = 3000
MAX_ACTIONS = 25
MAX_FALLBACK_TEXT = 3000
# A URL is only linked inside mrkdwn text up to this length: a 2,000-character project page
# in a card's text would crowd out everything else (and once broke the 3,000 limit).
MAX_URL_IN_TEXT = 400
# Characters of URLs a card's link buttons may carry in all; longer ones are left out.
CARD_URL_BUDGET = 5000
# Total characters of text, URLs and values in one message's blocks. Slack's own cumulative
# limit is undocumented (reports put it near 12-13k); stay well clear of it.
MESSAGE_TEXT_BUDGET = 9000

TITLE_CHARS = 300
AUTHORS_CHARS = 250
SUMMARY_CHARS = 600

# action_id prefixes the bolt app listens for (see adapters.slack.app).
ACTION_COMMAND = "papers_cmd"  # runs a command; the answer is a new message
ACTION_NAV = "papers_nav"  # a paging button: on an ephemeral list the answer replaces it
ACTION_LINK = "papers_link"  # a URL button: Slack opens the link, we only ack

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


def section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(text, MAX_SECTION_TEXT)}


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


def facts(paper: Paper) -> list[str]:
    """Upvotes, comments, stars and the list date, only those that are known."""
    return [escape(fact) for fact in paper_facts(paper)]


def command_button(button: Button, action_id: str) -> Block:
    element: Block = {
        "type": "button",
        "text": plain(button.label, MAX_BUTTON_LABEL),
        "action_id": action_id,
        # The value is the command to run for whoever presses the button.
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
    return re.search(r"(?:^|\s)--page\s", button.command) is not None


def link_button(label: str, url: str, action_id: str) -> Block:
    return {
        "type": "button",
        "text": plain(label, MAX_BUTTON_LABEL),
        "action_id": action_id,
        "url": url,
    }


def card_blocks(card: PaperCard, index: int) -> list[Block]:
    """One paper: a section (linked title, authors, summary), a context line, buttons.

    ``index`` makes the action ids unique within the message, as Slack requires.
    """
    paper = card.paper
    rank = f"{card.rank}. " if card.rank else ""
    title = fit(paper.title, TITLE_CHARS) or "(untitled)"
    url = text_url(paper.url) or text_url(paper.arxiv_url)
    head = f"*{rank}<{escape(url)}|{title}>*" if url else f"*{rank}{title}*"
    lines = [head]
    authors = author_line([" ".join(a.split()) for a in paper.authors])
    if authors:
        lines.append(fit(authors, AUTHORS_CHARS))
    summary = paper.ai_summary or paper.abstract
    if summary:
        # The title is bold as a whole (Slack cannot nest bold), so "why this matched"
        # shows in the summary; every matched term is also named in the context line.
        lines.append(highlight(fit(summary, SUMMARY_CHARS), highlight_pattern(card.matched_terms)))
    blocks = [section("\n".join(lines))]

    context = facts(paper)
    if card.topic:
        context.append("topic: " + defang(fit(card.topic, 200)))
    if card.matched_terms:
        context.append("matched: " + defang(fit(", ".join(card.matched_terms), 200)))
    if context:
        # Each part is escaped already (and short): escaping the joined line again would
        # show "&amp;lt;" to users where a topic had a "<".
        text = " · ".join(context)
        blocks.append({"type": "context", "elements": [mrkdwn(text, MAX_CONTEXT_TEXT)]})

    elements: list[Block] = []
    url_budget = CARD_URL_BUDGET
    for n, (label, link) in enumerate(paper.links()):
        good = safe_url(link)
        if good and len(good) <= url_budget:
            url_budget -= len(good)
            elements.append(link_button(label, good, f"{ACTION_LINK}_{index}_{n}"))
    for n, button in enumerate(card.buttons):
        elements.append(command_button(button, f"{ACTION_COMMAND}_{index}_{n}"))
    if elements:
        blocks.append({"type": "actions", "elements": elements[:MAX_ACTIONS]})
    return within_budget(blocks)


def text_url(url: str | None) -> str | None:
    """``url`` if it may be linked inside mrkdwn text: safe and short (see MAX_URL_IN_TEXT)."""
    good = safe_url(url)
    return good if good and len(good) <= MAX_URL_IN_TEXT else None


def within_budget(group: list[Block]) -> list[Block]:
    """``group`` with buttons dropped from its end until it fits one message's text budget.

    A group is never split over messages, so one that alone exceeds the budget (many
    buttons with long values) would make an invalid message; its last buttons go first.
    """
    while block_size(group) > MESSAGE_TEXT_BUDGET:
        actions = next((b for b in reversed(group) if b.get("type") == "actions"), None)
        if actions is None:
            break
        actions["elements"] = actions["elements"][:-1]
        if not actions["elements"]:
            group = [b for b in group if b is not actions]
    return group


def block_size(block: Block) -> int:
    """Characters of text, URLs and values in ``block``, for the per-message budget."""
    if isinstance(block, dict):
        return sum(
            len(v) if k in ("text", "url", "value") and isinstance(v, str) else block_size(v)
            for k, v in block.items()
        )
    if isinstance(block, list):
        return sum(block_size(b) for b in block)
    return 0


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


def render(reply: Reply) -> list[Message]:
    """``reply`` as one or more Slack messages, each a dict with ``text`` and ``blocks``.

    Groups (the header and text, each paper card, the closing buttons) are never split
    across messages; messages are filled up to 50 blocks or the text budget.
    """
    groups: list[list[Block]] = []
    if reply.title:
        groups.append([{"type": "header", "text": plain(reply.title, MAX_HEADER_TEXT)}])
    if reply.text:
        text = reply.text
        if reply.kind == ReplyKind.ERROR:
            text = ":warning: " + text
        for chunk in split_text(text):
            groups.append([section(chunk)])
    for index, card in enumerate(reply.cards):
        groups.append(card_blocks(card, index))
    if reply.footer:
        groups.append([{"type": "context", "elements": [mrkdwn(fit(reply.footer, 1000))]}])
    if reply.buttons:
        nav = [
            command_button(b, f"{ACTION_NAV if is_paging(b) else ACTION_COMMAND + '_r'}_{n}")
            for n, b in enumerate(reply.buttons[:MAX_ACTIONS])
        ]
        if nav_group := within_budget([{"type": "actions", "elements": nav}]):
            groups.append(nav_group)
    if not groups:
        groups.append([section(" ")])

    fallback = fallback_text(reply)
    messages: list[Message] = []
    blocks: list[Block] = []
    size = 0
    for group in groups:
        group_size = block_size(group)
        if blocks and (
            len(blocks) + len(group) > MAX_BLOCKS or size + group_size > MESSAGE_TEXT_BUDGET
        ):
            messages.append({"text": fallback, "blocks": blocks})
            blocks, size = [], 0
        blocks.extend(group)
        size += group_size
    messages.append({"text": fallback, "blocks": blocks})
    if len(messages) > 1:
        for n, message in enumerate(messages[1:], start=2):
            message["text"] = f"{fallback} ({n}/{len(messages)})"
    return [scrub(message) for message in messages]


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
