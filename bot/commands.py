"""The ``/papers`` command language: one parser shared by every adapter.

:func:`parse_command` splits the text after ``/papers`` into a subcommand and its argument
text; each handler in :mod:`bot.app` reads its own arguments. Everything a user can get
wrong raises :class:`CommandError`, whose message and usage line go back to the user.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from bot.models import MAX_PAPERS_PER_POST, MAX_UPVOTES, clean_text

MAX_COMMAND_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Spec:
    name: str
    usage: str
    summary: str
    manages: bool = False  # changes the channel's settings: needs permission
    hidden: bool = False  # reached through buttons, not listed in help


SPECS: dict[str, Spec] = {
    s.name: s
    for s in [
        Spec("help", "help [command]", "show this help, or one command's usage"),
        Spec(
            "search",
            "search <query> [--page N]",
            'search the corpus: words, "phrases", -exclude, author:NAME, cat:cs.CL, since:2026-05-01',
        ),
        Spec(
            "trending",
            "trending [N]",
            "the top N (1-25, default 5) papers of the latest trending day",
        ),
        Spec("paper", "paper <arXiv id or URL>", "one paper's card"),
        Spec(
            "subscribe",
            f"subscribe <topic query> [--alert <1-{MAX_UPVOTES}>] [--preview]",
            "keep this channel's posts to a topic; --alert N also posts a paper on it as soon "
            "as it reaches N upvotes; --preview shows what it would post, without subscribing",
            True,
        ),
        Spec(
            "unsubscribe", "unsubscribe <topic id | all>", "drop a topic (ids from `topics`)", True
        ),
        Spec("topics", "topics", "this channel's topics"),
        Spec(
            "preview",
            "preview <topic query>",
            "what a topic would have posted on each of the last 7 days, before subscribing",
        ),
        Spec(
            "schedule",
            "schedule <HH:MM> [IANA time zone]",
            "when the daily post comes, e.g. `schedule 09:00 Europe/Berlin`; also "
            "`schedule weekly <mon..sun> <HH:MM> [zone]` for a weekly digest of the week's top "
            "papers (`schedule weekly off` stops it) and `schedule daily on|off`",
            True,
        ),
        Spec(
            "set",
            f"set papers <1-{MAX_PAPERS_PER_POST}> | set min-upvotes <0-{MAX_UPVOTES}> "
            "| set weekends skip|post",
            "how many papers a post carries (5), the upvotes a paper needs to be posted (0), "
            "and whether posts come on weekends",
            True,
        ),
        Spec(
            "thread",
            "thread on|off",
            "post each paper as a reply in a thread under a headline",
            True,
        ),
        Spec("similar", "similar <arXiv id or URL>", "the papers closest to one paper"),
        Spec("export", "export", "this channel's topics and settings as a snippet to copy"),
        Spec(
            "import",
            "import <snippet from export>",
            f"apply exported topics and settings here (max_papers 1-{MAX_PAPERS_PER_POST}, "
            f"min_upvotes 0-{MAX_UPVOTES}, a topic's alert_upvotes 1-{MAX_UPVOTES})",
            True,
        ),
        Spec("pause", "pause", "stop the daily posts here", True),
        Spec("resume", "resume", "start the daily posts again", True),
        Spec("digest", "digest", "show this channel's next post now (nothing is marked as posted)"),
        Spec("status", "status", "corpus size, last ingest, last and next post, topics"),
        Spec("share", "share <paper id>", "post a paper's card to the channel", hidden=True),
        Spec("feedback", "feedback up|down <paper id>", "👍/👎 on a posted paper", hidden=True),
    ]
}

ALIASES = {
    "find": "search",
    "s": "search",
    "top": "trending",
    "sub": "subscribe",
    "unsub": "unsubscribe",
}

_PREFIX_RE = re.compile(r"^\s*/?papers\b", re.IGNORECASE)


class CommandError(ValueError):
    """Something the user typed that we cannot run. ``usage`` is shown with it."""

    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: str  # the text after the subcommand, stripped

    @property
    def spec(self) -> Spec:
        return SPECS[self.name]


def parse_command(text: str) -> Command:
    """Parse ``text`` (with or without a leading ``/papers``). Empty text means ``help``."""
    if text is None:
        text = ""
    # Lone surrogates (undecodable terminal bytes, "\ud800" in a platform's JSON) would be
    # saved with a topic or setting and make the data file unwritable.
    text = clean_text(text).replace("\x00", "").strip()
    text = _PREFIX_RE.sub("", text, count=1).strip()
    if len(text) > MAX_COMMAND_CHARS:
        raise CommandError(
            f"That command is {len(text):,} characters long; the limit is {MAX_COMMAND_CHARS:,}."
        )
    if not text:
        return Command("help", "")
    head, _, rest = text.partition(" ")
    name = head.lower()
    name = ALIASES.get(name, name)
    if name not in SPECS:
        shown = head if len(head) <= 40 else head[:40] + "…"
        close = difflib.get_close_matches(name, [*SPECS, *ALIASES], n=1, cutoff=0.6)
        hint = f"Did you mean `/papers {ALIASES.get(close[0], close[0])}`? " if close else ""
        raise CommandError(f"Unknown command `{shown}`. {hint}Try `/papers help`.")
    return Command(name, rest.strip())


def usage(name: str) -> str:
    return f"/papers {SPECS[name].usage}"


def help_text(name: str | None = None) -> str:
    if name:
        key = ALIASES.get(name.lower(), name.lower())
        if key not in SPECS:
            raise CommandError(f"There is no command `{name[:40]}`.", "/papers help")
        spec = SPECS[key]
        who = " (people who may change this channel's settings)" if spec.manages else ""
        return f"`/papers {spec.usage}`: {spec.summary}{who}"
    lines = ["papers-bot: trending research papers, searched and posted daily.", ""]
    for spec in SPECS.values():
        if not spec.hidden:
            mark = " ⚙" if spec.manages else ""
            lines.append(f"`/papers {spec.usage}`{mark}: {spec.summary}")
    shortcuts = ", ".join(f"`{a}` = `{c}`" for a, c in ALIASES.items())
    lines += [
        "",
        "⚙ changes the channel's settings, which the workspace may limit to some people. "
        "A channel gets daily posts (09:00 UTC until you say otherwise) once someone runs "
        "`schedule` or `subscribe`. 👍/👎 under a posted paper tune the channel's ranking.",
        "Search syntax: `transformer quantization` (all words; typos and word forms forgiven), "
        '`"speech recognition"`, `-survey`, `author:Hinton`, `cat:cs.CL`, `since:2026-05-01`.',
        f"Shortcuts: {shortcuts}.",
    ]
    return "\n".join(lines)
