"""The ``/papers`` command language as typed on Slack and the terminal: one parser.

:func:`parse_command` finds the command (its name or an alias) in the text after
``/papers``; :meth:`Command.parse` then reads its options, once, into typed values, as
the command's declaration (:mod:`bot.registry`) says: ``--flags`` anywhere, then words
in order, then free text. The two steps are apart because the permission check comes
between them: someone who may not change the channel is told so before being told
their words are wrong. Everything a user can get wrong raises
:class:`~bot.registry.CommandError`, whose message and usage line go back to the user.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from bot.handlers import REGISTRY
from bot.models import clean_text
from bot.registry import (
    CommandError,
    Flag,
    Invocation,
    Mention,
    Number,
    Option,
    Spec,
    Text,
    Word,
)

__all__ = [
    "MAX_COMMAND_CHARS",
    "REGISTRY",
    "Command",
    "CommandError",
    "describe",
    "parse_command",
    "read_typed",
]

MAX_COMMAND_CHARS = 2000

_PREFIX_RE = re.compile(r"^\s*/?papers\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Command:
    """A command found in typed text: its name and the text after it, not yet read."""

    name: str
    args: str  # the text after the subcommand, stripped

    @property
    def spec(self) -> Spec:
        return REGISTRY[self.name]

    def redirects(self) -> bool:
        """Whether a flag in the text turns it into another command (``--preview``)."""
        return any(
            isinstance(o, Flag) and o.runs and _flag_pattern(o.name).search(self.args)
            for o in self.spec.options
        )

    def parse(self) -> Invocation:
        """The command's typed values (a variant's, for ``schedule weekly ...``)."""
        spec, rest = self.spec, self.args
        words = rest.split(None, 1)
        variant = REGISTRY.variant(spec, words[0]) if words else None
        if variant is not None:
            spec, rest = variant, words[1] if len(words) > 1 else ""
        return Invocation(spec, parse_options(spec, rest))


def parse_command(text: str) -> Command:
    """Find the command in ``text`` (with or without a leading ``/papers``). Empty text
    means ``help``."""
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
    spec = REGISTRY.find(head)
    if spec is None or spec.keyword is not None:
        shown = head if len(head) <= 40 else head[:40] + "…"
        words = [*REGISTRY.names(), *REGISTRY.aliases]
        close = difflib.get_close_matches(head.lower(), words, n=1, cutoff=0.6)
        hint = f"Did you mean `/papers {REGISTRY.find(close[0]).name}`? " if close else ""  # type: ignore[union-attr]
        raise CommandError(f"Unknown command `{shown}`. {hint}Try `/papers help`.")
    return Command(spec.name, rest.strip())


def parse_options(spec: Spec, text: str) -> dict[str, Any]:
    """Read ``text`` into ``spec``'s options: ``--flags`` first, then the words in order."""
    values = spec.defaults()
    for option in spec.options:
        if isinstance(option, Flag):
            text, values[option.key] = _pop_flag(text, option.name)
        elif isinstance(option, Number) and option.flag:
            text, number = _pop_number(text, option, spec.usage_line)
            if number is not None:
                values[option.key] = number
        elif isinstance(option, Mention):
            text, mention = _pop_mention(text, option, spec.usage_line)
            if mention is not None:
                values[option.key] = mention
    rest = text.strip()
    for option in spec.options:
        if isinstance(option, Flag | Mention) or (isinstance(option, Number) and option.flag):
            continue
        if isinstance(option, Text):
            values[option.key], rest = rest, ""
            continue
        words = rest.split(None, 1)
        word, rest = (words[0], words[1] if len(words) > 1 else "") if words else ("", "")
        if not word:
            if option.required and spec.syntax_error:
                raise spec.syntax()
            continue
        values[option.key] = _read_word(spec, option, word)
        if isinstance(option, Word) and values[option.key] in option.stops:
            break
    if rest and spec.syntax_error:
        raise spec.syntax()
    return values


def _read_word(spec: Spec, option: Option, word: str) -> Any:
    if isinstance(option, Number):
        return check_number(option, word, spec.usage_line)
    if isinstance(option, Word):
        value = normalize_word(option, word)
        if option.strict and value not in option.values():
            raise spec.syntax()
        return value
    return word


def normalize_word(option: Word, word: str) -> str:
    """A word as the handler compares it (lower case, or its first letters)."""
    if option.lower:
        word = word.lower()
    if option.prefix and word not in option.values():
        short = word[: option.prefix]
        # A stop word (``off``) must be written as it is: ``offx`` is a typo, not ``off``.
        if short not in option.stops:
            word = short
    return word


def check_number(option: Number, text: str, usage: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise CommandError(option.refuse_text(text), usage) from None
    if not option.low <= number <= option.high:
        raise CommandError(option.refuse_range(), usage)
    return number


def _flag_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?:^|\s)--{name}(?=\s|$)")


def _pop_flag(args: str, flag: str) -> tuple[str, bool]:
    """``args`` without ``--flag``, and whether it was there."""
    pattern = _flag_pattern(flag)
    return " ".join(pattern.sub(" ", args).split()), bool(pattern.search(args))


def _pop_number(args: str, option: Number, usage: str) -> tuple[str, int | None]:
    """``args`` without ``--flag N`` (or ``--flag=N``), and N, checked to be in range.

    One parser for the numeric options (``search --page``, ``subscribe --alert``), so
    they accept the same forms and refuse bad values with the same words.
    """
    pattern = re.compile(rf"(?:^|\s)--{option.name}[ =](\S+)")
    numbers = [check_number(option, m.group(1), usage) for m in pattern.finditer(args)]
    if not numbers:
        return args.strip(), None
    # Every occurrence leaves the text (``x --page 2 --page 3`` searches "x"); the last wins.
    return pattern.sub(" ", args).strip(), numbers[-1]


def _pop_mention(args: str, option: Mention, usage: str) -> tuple[str, str | None]:
    """``args`` without ``--flag <mention>``, and the mention as sent (read by the
    handler). A Slack mention (``<!subteam^S1|@ml team>``) is one value even with spaces
    in its label; the last occurrence wins."""
    pattern = re.compile(rf"(?:^|\s)--{option.name}(?:[ =](<[^<>]*>|(?!--)[^\s<>]+)|(?=\s|$))")
    found = [m.group(1) for m in pattern.finditer(args)]
    if not found:
        return args.strip(), None
    if found[-1] is None:
        raise CommandError(f"--{option.name} needs a mention after it: type @ and pick one.", usage)
    return " ".join(pattern.sub(" ", args).split()), found[-1]


def read_typed(typed: Invocation) -> Invocation:
    """A command whose values a platform typed already (Discord's app-command options,
    keyed by option key), cleaned and checked as typed text is, with no text in between.

    Left-out options get their declared default; words are compared as the text parser
    compares them (lower case, first letters); numbers are checked against their range;
    the whole obeys the length limit of a typed line.
    """
    spec, values = typed.spec, typed.values
    read = spec.defaults()
    for option in spec.options:
        value = values.get(option.key)
        if value is None:
            continue
        if isinstance(value, str):
            value = clean_text(value).replace("\x00", "").strip()
            if isinstance(option, Word):
                value = normalize_word(option, value)
                if option.strict and value not in option.values():
                    raise spec.syntax()
        elif isinstance(option, Number):
            value = check_number(option, str(value), spec.usage_line)
        read[option.key] = value
    words = [spec.name, *(v for v in read.values() if isinstance(v, str) and v)]
    length = len(" ".join(words))
    if length > MAX_COMMAND_CHARS:
        raise CommandError(
            f"That command is {length:,} characters long; the limit is {MAX_COMMAND_CHARS:,}."
        )
    return Invocation(spec, read)


def describe(invocation: Invocation) -> str:
    """An invocation as Discord shows it (``search query:diffusion page:2``), for logs."""
    shown = [invocation.spec.name]
    for option in invocation.spec.options:
        value = invocation.values.get(option.key)
        if value not in (None, False, ""):
            shown.append(f"{option.name}:{value}")
    return " ".join(shown)


def spec_of(text: str) -> Spec | None:
    """The declaration of the command ``text`` runs (``None``: not a command we know).
    Adapters read its ``manages`` (ask the platform for permissions? a change made where
    the bot cannot post?) and ``starts_posts`` before running it; the core reads them
    again itself."""
    try:
        return parse_command(text).spec
    except CommandError:
        return None
