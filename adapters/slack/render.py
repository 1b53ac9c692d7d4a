"""Block Kit rendering of the core's neutral replies: pure functions, no network.

Everything users or upstream wrote passes through :func:`escape` before it lands in a
``mrkdwn`` text, so a title like ``<!channel>`` shows as text and pings nobody; URLs from
upstream are only linked when they look like plain ``http(s)`` URLs. Every message this
module returns respects Slack's limits (50 blocks, 3000 characters per section text, 150
per header, 75 per button label) plus a cumulative text budget, because ``chat.postMessage``
also rejects messages whose blocks hold too much text in total (``msg_blocks_too_long``, an
undocumented limit around 12,000 characters). A long reply is split over several messages,
never truncated into an error.
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


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text or " "}


def section(text: str) -> Block:
    assert len(text) <= MAX_SECTION_TEXT
    return {"type": "section", "text": mrkdwn(text)}


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
    url = safe_url(paper.url) or safe_url(paper.arxiv_url)
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
        assert len(text) <= MAX_CONTEXT_TEXT
        blocks.append({"type": "context", "elements": [mrkdwn(text)]})

    elements: list[Block] = []
    for n, (label, link) in enumerate(paper.links()):
        good = safe_url(link)
        if good:
            elements.append(link_button(label, good, f"{ACTION_LINK}_{index}_{n}"))
    for n, button in enumerate(card.buttons):
        elements.append(command_button(button, f"{ACTION_COMMAND}_{index}_{n}"))
    if elements:
        blocks.append({"type": "actions", "elements": elements[:MAX_ACTIONS]})
    return blocks


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
        groups.append([{"type": "actions", "elements": nav}])
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
    return messages
