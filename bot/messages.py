"""How a long reply is cut into messages: the one place that decides it.

Each platform declares its :class:`RenderLimits` (on its adapter, ``adapter.limits``);
:func:`split_reply` cuts a :class:`~bot.replies.Reply` into parts that each fit one
message. The scheduler's deliveries (one record per message, :mod:`bot.scheduler.posting`)
and the renderers' command answers both split here, so a renderer only renders one part
as one message and fits its text (cuts it); it never splits cards over messages again.

A part is a reply of its own: the first part has the title; text too long for one
message is cut at line ends over several parts; cards follow, a few per part, as many as
``cards`` and the platform's size ``budget`` allow; the footer and the reply's own buttons
go on the last part. Parts keep the reply's kind and visibility.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.replies import Button, PaperCard, Reply

__all__ = ["DEFAULT_LIMITS", "RenderLimits", "Tail", "split_lines", "split_reply"]


@dataclass(frozen=True, slots=True)
class Tail:
    """A reply's closing pieces (footer and own buttons), measured together."""

    footer: str | None
    buttons: tuple[Button, ...]


Piece = str | PaperCard | Tail
"""What a budget measures: a title or a text part, a card, or the tail."""


@dataclass(frozen=True, slots=True)
class RenderLimits:
    """How much one message of a platform holds, as far as splitting is concerned.

    ``cards``: the most cards in one message. ``text``: the most characters of text (title
    included, as ``text_size`` counts them, i.e. after the platform's escaping) in one
    message; longer text goes over several, cut at line ends. ``budget`` with ``size``:
    the most of a platform measure (Slack's characters over all blocks, Discord's
    characters over all embeds) in one message, ``size`` giving each piece's share.
    ``components`` with ``count``: a second such budget (Discord's components a message).
    """

    cards: int = 5
    text: int | None = None
    text_size: Callable[[str], int] = len
    text_overhead: int = 0  # characters the platform adds around a title and text
    budget: int | None = None
    size: Callable[[Piece], int] | None = None
    components: int | None = None  # a second budget: Discord's 40 components a message
    count: Callable[[Piece], int] | None = None  # each piece's components


DEFAULT_LIMITS = RenderLimits()
"""For an adapter that declares none: five cards a message, no size budget."""


def split_lines(text: str, limit: int, size: Callable[[str], int] = len) -> list[str]:
    """``text`` in pieces whose ``size`` is at most ``limit``, cut at line ends where
    possible, else at spaces, else anywhere. Empty text is one empty piece."""
    if size(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if size(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        current = ""
        while size(line) > limit:  # one line too long: cut it at a space, else hard
            at = _longest_fit(line, limit, size)
            space = line.rfind(" ", 0, at)
            if space > 0:
                at = space
            pieces.append(line[:at])
            line = line[at:].lstrip(" ")
        current = line
    if current:
        pieces.append(current)
    return pieces or [""]


def _longest_fit(text: str, limit: int, size: Callable[[str], int]) -> int:
    """The longest prefix length of ``text`` whose ``size`` is at most ``limit`` (>= 1)."""
    low, high = 1, min(len(text), limit)
    if size(text[:high]) <= limit:
        return high
    while low < high:
        middle = (low + high + 1) // 2
        if size(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return max(1, low)


def split_reply(reply: Reply, limits: RenderLimits = DEFAULT_LIMITS) -> list[Reply]:
    """``reply`` as the messages it is sent as (see the module docstring); at least one."""
    texts = [reply.text]
    if limits.text and reply.text:
        reserve = limits.text_overhead
        if reply.title:
            reserve += limits.text_size(reply.title)
        first = split_lines(reply.text, max(1, limits.text - reserve), limits.text_size)
        rest = "\n".join(first[1:]).lstrip("\n")
        texts = first[:1] + (split_lines(rest, limits.text, limits.text_size) if rest else [])

    def part(**fields: object) -> Reply:
        blank = replace(
            reply, text="", title=None, cards=[], buttons=[], footer=None, attachment=None
        )
        return replace(blank, **fields)

    parts = [part(title=reply.title if n == 0 else None, text=t) for n, t in enumerate(texts)]
    budget, size = limits.budget, limits.size
    measured = budget is not None and size is not None
    used = 0
    if measured:
        last = parts[-1]
        used = sum(size(t) for t in (last.title, last.text) if t)  # type: ignore[misc]
    most = max(1, limits.cards)
    counted = limits.components is not None and limits.count is not None
    count = limits.count or (lambda piece: 0)
    current = parts[-1]
    n = 0
    for card in reply.cards:
        cost = size(card) if measured else 0  # type: ignore[misc]
        full = len(current.cards) >= most
        if counted and current.cards:
            full = full or n + count(card) > limits.components  # type: ignore[operator]
        if measured and (current.cards or current.text or current.title):
            full = full or used + cost > budget  # type: ignore[operator]
        if full:
            current = part()
            parts.append(current)
            used, n = 0, 0
        current.cards.append(card)
        used += cost
        n += count(card)
    if reply.footer or reply.buttons:
        tail_piece = Tail(reply.footer, tuple(reply.buttons))
        over = counted and bool(current.cards)
        over = over and n + count(tail_piece) > limits.components  # type: ignore[operator]
        if measured and (current.cards or current.text or current.title):
            tail = size(tail_piece)  # type: ignore[misc]
            over = over or used + tail > budget  # type: ignore[operator]
        if over:
            # The footer closes the cards it belongs to: the last card moves on with it.
            moved = current.cards[-1:] if len(current.cards) > 1 else []
            del current.cards[len(current.cards) - len(moved) :]
            current = part(cards=moved)
            parts.append(current)
        current.footer = reply.footer
        current.buttons = list(reply.buttons)
    parts[0].attachment = reply.attachment  # a file goes once, with the first message
    return parts
