"""The terminal adapter: the whole bot in a shell, no tokens, no network.

It renders replies as readable plain text and reads ``/papers ...`` commands from a
prompt (or line by line from a pipe, so it can be scripted). Text from users and
upstream is stripped of control characters, so a hostile title cannot move the cursor
or recolour the terminal.
"""

from __future__ import annotations

import contextlib
import sys
import textwrap
from collections.abc import Iterator
from typing import TextIO

from bot.app import PapersBot
from bot.layout import card_layout, clean, shorten
from bot.messages import RenderLimits
from bot.models import Channel
from bot.replies import PaperCard, Reply, ReplyKind, Request

__all__ = ["ConsoleAdapter", "clean", "render", "render_card", "shorten"]

PLATFORM = "console"
WIDTH = 88
SUMMARY_CHARS = 320
# A terminal shows any length; scheduled posts still go five cards a message, as before.
LIMITS = RenderLimits(cards=5)


def render_card(card: PaperCard) -> str:
    """One card as indented plain text: the layout of :mod:`bot.layout`, cleaned."""
    shown = card_layout(card)
    head = shown.rank_prefix
    upvotes = f"  {shown.upvotes}" if shown.upvotes else ""
    lines = [textwrap.fill(head + clean(shown.title) + upvotes, WIDTH, subsequent_indent="   ")]
    facts = [*shown.facts, *([" ".join(shown.categories)] if shown.categories else [])]
    meta = [clean(shown.author_line), *facts]
    meta_text = " · ".join(m for m in meta if m)
    if meta_text:
        lines.append("   " + meta_text)
    if shown.topic:
        why = f"   topic: {clean(shown.topic)}"
        if shown.matched:
            why += " (matched: " + ", ".join(clean(t) for t in shown.matched) + ")"
        lines.append(why)
    elif shown.matched:
        lines.append("   matched: " + ", ".join(clean(t) for t in shown.matched))
    summary = clean(shown.summary)
    if summary:
        lines.append(
            textwrap.fill(
                shorten(summary, SUMMARY_CHARS),
                WIDTH,
                initial_indent="   ",
                subsequent_indent="   ",
            )
        )
    # A paper with no link of its own still leads somewhere: its arXiv title search.
    links = [url for _label, url in shown.links] or [shown.url or ""]
    if any(links):
        lines.append("   " + "  ".join(clean(u) for u in links))
    lines.extend("   " + clean(line) for line in shown.extra)
    if card.buttons:
        lines.append(
            "   "
            + "  ".join(f"[{clean(b.label)}] /papers {clean(b.command)}" for b in card.buttons)
        )
    return "\n".join(lines)


def render(reply: Reply) -> str:
    """A reply as plain text for a terminal."""
    parts = []
    if reply.title:
        parts.append(f"== {clean(reply.title)} ==")
    if reply.text:
        prefix = "! " if reply.kind == ReplyKind.ERROR else ""
        parts.append(prefix + clean(reply.text))
    for card in reply.cards:
        parts.append(render_card(card))
    if reply.footer:
        parts.append(clean(reply.footer))
    for button in reply.buttons:
        parts.append(f"[{clean(button.label)}]  /papers {clean(button.command)}")
    if reply.attachment is not None:  # a file (a reading list's BibTeX): printed whole
        name = clean(reply.attachment.filename)
        parts.append(
            f"--- {name} ---\n{clean(reply.attachment.text).rstrip()}\n--- end of {name} ---"
        )
    return "\n\n".join(parts)


class ConsoleAdapter:
    """One terminal acting as one channel (``console:local:<channel_id>``)."""

    platform = PLATFORM
    limits = LIMITS

    def __init__(self, bot: PapersBot, out: TextIO | None = None, channel_id: str = "demo") -> None:
        self.bot = bot
        self.out = out or sys.stdout
        self.channel_id = channel_id
        self.posted = 0

    def request(self, text: str) -> Request:
        return Request(
            text=text,
            platform=PLATFORM,
            workspace="local",
            channel_id=self.channel_id,
            user_id="you",
        )

    def write(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    async def start(self) -> None:  # nothing to connect
        return None

    async def stop(self) -> None:
        return None

    async def post(self, channel: Channel, reply: Reply, *, thread: str | None = None) -> list[str]:
        text = render(reply)
        if thread:  # a thread reply: indented under its headline
            text = "\n".join(f"  │ {line}" for line in text.splitlines())
        self.write(text)
        self.posted += 1
        return [f"console-{self.posted}"]

    async def post_direct(self, workspace: str, user_id: str, text: str) -> None:
        """A direct message (a pause notice) to ``user_id``: the terminal is everyone's,
        so it is written there, marked as meant for that person."""
        self.write(f"[to {clean(user_id)}] {clean(text)}")

    def run_lines(self, source: TextIO, interactive: bool) -> int:
        """Answer each command line from ``source`` until EOF or ``quit``; return the count.

        At a terminal the prompt uses ``input()`` with readline, so arrow keys edit the
        line and recall earlier commands; from a pipe, lines are read and echoed. A line
        that is not valid text in the input's encoding gets a one-line message and is
        skipped; the lines after it are still answered.
        """
        if interactive:
            with contextlib.suppress(ImportError):
                import readline  # noqa: F401 - imported for its effect on input()
        piped = None if interactive else read_lines(source)
        count = 0
        number = 0
        while True:
            number += 1
            try:
                line = input("papers> ") + "\n" if interactive else next(piped, "")  # type: ignore[arg-type]
            except (EOFError, KeyboardInterrupt):
                line = ""
            except UnicodeDecodeError as exc:
                line = exc
            if isinstance(line, UnicodeDecodeError):
                self.write(f"! {undecodable(line, number)}\n")
                continue
            if line == "":
                if interactive:
                    self.write("")
                return count
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            if text.lower() in {"quit", "exit", "/quit", "/exit"}:
                return count
            count += 1
            if not interactive:
                self.write(f"papers> {clean(text)}")
            self.write(render(self.bot.handle(self.request(text))))
            self.write("")


def read_lines(source: TextIO) -> Iterator[str | UnicodeDecodeError]:
    """The lines of ``source``, each decoded on its own.

    A text stream decodes whole buffered chunks, so one bad byte would raise for every
    line around it (and end the demo); decoding line by line from the underlying bytes
    costs only the bad line, which comes back as its :class:`UnicodeDecodeError`.
    """
    raw = getattr(source, "buffer", None)
    if raw is None:  # an in-memory text stream: already decoded
        yield from iter(source.readline, "")
        return
    encoding = getattr(source, "encoding", None) or "utf-8"
    for chunk in iter(raw.readline, b""):
        try:
            yield chunk.decode(encoding)
        except UnicodeDecodeError as exc:
            yield exc


def undecodable(error: UnicodeDecodeError, number: int) -> str:
    """One line about input that is not text, naming the line and the first bad byte."""
    bad = error.object[error.start : error.start + 1].hex()
    return (
        f"line {number} is not valid {error.encoding} text (byte 0x{bad} at offset "
        f"{error.start}); skipped"
    )
