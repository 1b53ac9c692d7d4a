"""Command declarations: one per ``/papers`` command, written next to its handler.

A handler module declares each command once with :func:`command`::

    @command("trending", "trending [N]", "the top N papers of the latest trending day",
             options=[Number("count", "How many papers", low=1, high=25, default=5)],
             form=Form("The top papers of the latest trending day"))
    def trending(ctx: Context, request: Request, count: int) -> Reply: ...

Everything else is derived from these declarations: the text parser
(:mod:`bot.commands`, for Slack and the terminal), ``help``, the permission check and
answer visibility (:mod:`bot.app`), and Discord's app-command tree
(:mod:`adapters.discord.tree`). Handlers receive typed values (``count: int``), never an
argument string to parse again. :mod:`bot.handlers` imports every handler module, so
importing it fills :data:`REGISTRY`.

This module knows no handler and no platform: it only describes commands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the handler signature names them; neither imports this module
    from bot.context import Context
    from bot.replies import Reply, Request

Handler = Callable[..., "Reply"]
"""``handler(ctx, request, **values) -> Reply``; ``values`` are keyed by :attr:`Option.key`."""

Suggester = Callable[["Context", "Request", str], list[tuple[str, str]]]
"""``suggest(ctx, request, typed_so_far) -> [(label, value), ...]``: autocompletion."""


class CommandError(ValueError):
    """Something the user typed that we cannot run. ``usage`` is shown with it."""

    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.usage = usage


# ---- options -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Option:
    """One typed value a command takes.

    ``name`` is what users see (Discord's option name); ``param`` is the handler's keyword
    when that name would not make a good Python name (``id``). ``default`` is what the
    handler gets when the option is left out. ``suggest`` offers completions where the
    platform can show them (Discord's autocomplete).
    """

    name: str
    description: str
    _: KW_ONLY
    required: bool = False
    default: Any = None
    param: str | None = None
    suggest: Suggester | None = None

    @property
    def key(self) -> str:
        return self.param or self.name


@dataclass(frozen=True, slots=True)
class Text(Option):
    """Free text: the rest of the line in a typed command (a query, a topic, a snippet)."""

    min_length: int | None = None  # Discord's bounds; the handler checks the meaning
    max_length: int | None = None


@dataclass(frozen=True, slots=True)
class Word(Option):
    """One word. With ``strict``, it must be one of ``choices`` (else the command's syntax
    error); otherwise ``choices`` only offers values (Discord shows them as a list) and the
    handler checks what it gets. ``stops`` are values after which nothing else may follow
    (``schedule weekly off``)."""

    choices: tuple[tuple[str, str], ...] = ()  # (label, value)
    strict: bool = False
    lower: bool = False  # compared and passed on in lower case
    prefix: int | None = None  # only the first N letters count (``monday`` -> ``mon``)
    stops: tuple[str, ...] = ()
    max_length: int | None = None
    discord_default: str | None = None  # what Discord's form means when left out

    def values(self) -> tuple[str, ...]:
        return tuple(value for _, value in self.choices)


@dataclass(frozen=True, slots=True)
class Number(Option):
    """A whole number in ``low..high``: a positional word, or with ``flag`` a ``--name N``
    (``--name=N``) anywhere in the line. The messages are the user-visible refusals."""

    low: int = 0
    high: int = 0
    flag: bool = False
    not_a_number: str | None = None  # formatted with text=; default by kind
    out_of_range: str | None = None  # formatted with low=, high=

    def refuse_text(self, text: str) -> str:
        if self.not_a_number:
            return self.not_a_number.format(text=text[:20])
        return f"--{self.name} needs a number." if self.flag else f"`{text[:20]}` is not a number."

    def refuse_range(self) -> str:
        if self.out_of_range:
            return self.out_of_range.format(low=self.low, high=self.high)
        return f"--{self.name} must be between {self.low} and {self.high:,}."


@dataclass(frozen=True, slots=True)
class Flag(Option):
    """``--name``, anywhere in the line: a bool. With ``runs``, the flag turns the command
    into that command (``subscribe <topic> --preview`` is ``preview <topic>``), which is
    given ``passes`` (this command's option keys) and decides permission and visibility."""

    runs: str | None = None
    passes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Mention(Option):
    """``--name <mention>``, anywhere in the line: someone to mention (a user group, a
    role, a person) as the platform sends a mention (Slack ``<!subteam^S1|@team>``,
    Discord ``<@&1>``). The handler reads it with :func:`bot.mentions.read_mention`.
    A platform with typed forms may offer its own mention picker for it (Discord's
    mentionable option) and pass the neutral form (``role:1``)."""


# ---- commands ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Paste:
    """A form with one paragraph box, opened when ``option`` is left out of a typed form:
    options on Discord cannot hold newlines, and a pasted snippet has them."""

    option: str
    title: str
    label: str
    placeholder: str = ""
    max_length: int = 4000


@dataclass(frozen=True, slots=True)
class Form:
    """The command's typed form on platforms that have them (Discord's app commands): a
    ``/papers <name>`` subcommand whose options are the command's options.

    ``name`` defaults to the command's last word (``schedule weekly`` is ``/papers
    weekly``).
    """

    description: str
    name: str | None = None
    paste: Paste | None = None


@dataclass(frozen=True, slots=True)
class Spec:
    """One command, declared once.

    ``name`` is one word, or two for a variant reached by a keyword (``schedule weekly``):
    variants are not listed in help (their parent's summary describes them) and refuse
    with their own usage. ``manages``: it changes the channel, so the platform's permission
    rule applies. ``public``: it answers in the channel whoever runs it (``share``);
    permitted changes answer publicly too. ``form=None`` needs ``button_only``: the
    command is reached by buttons and has no typed form. ``syntax_error`` is the refusal when the
    words do not fit the options (too few, too many, not a choice); without it, extra
    words are ignored. ``fetches`` names the option holding a paper reference to fetch
    from arXiv first when it is not in the corpus. ``starts_posts``: it sets up or restarts
    posts here, so where the bot cannot post (:attr:`Request.cannot_post`) it is refused
    with how to let the bot in; stopping or trimming posts (``pause``, ``unsubscribe``)
    always works.
    """

    name: str
    usage: str
    summary: str
    handler: Handler
    _: KW_ONLY
    options: tuple[Option, ...] = ()
    manages: bool = False
    public: bool = False
    hidden: bool = False
    button_only: bool = False
    aliases: tuple[str, ...] = ()
    form: Form | None = None
    syntax_error: str | None = None
    syntax_usage: str | None = ""  # "" means this command's usage line; None, none
    fetches: str | None = None
    starts_posts: bool = False

    @property
    def root(self) -> str:
        """The command word users type first (``schedule`` for ``schedule weekly``)."""
        return self.name.split()[0]

    @property
    def keyword(self) -> str | None:
        """A variant's second word (``weekly``), None for a plain command."""
        parts = self.name.split()
        return parts[1] if len(parts) > 1 else None

    @property
    def listed(self) -> bool:
        """Whether help lists it: neither hidden nor a variant."""
        return not self.hidden and self.keyword is None

    @property
    def form_name(self) -> str:
        """The name of its typed form (``weekly`` for ``schedule weekly``)."""
        if self.form is not None and self.form.name:
            return self.form.name
        return self.name.split()[-1]

    @property
    def usage_line(self) -> str:
        return f"/papers {self.usage}"

    def syntax(self) -> CommandError:
        usage = self.usage_line if self.syntax_usage == "" else self.syntax_usage
        return CommandError(self.syntax_error or "", usage)

    def option(self, key: str) -> Option:
        return next(o for o in self.options if o.key == key)

    def defaults(self) -> dict[str, Any]:
        return {o.key: o.default for o in self.options}


@dataclass(frozen=True, slots=True)
class Invocation:
    """A command with its typed values, however it arrived (typed text, Discord options)."""

    spec: Spec
    values: Mapping[str, Any]

    @property
    def name(self) -> str:
        return self.spec.name


class Registry:
    """Every declared command, in declaration order, with the views derived from them."""

    def __init__(self) -> None:
        self._specs: dict[str, Spec] = {}
        self._aliases: dict[str, str] = {}

    def command(
        self, name: str, usage: str, summary: str, **declaration: Any
    ) -> Callable[[Handler], Handler]:
        """Declare the decorated handler as command ``name`` (see :class:`Spec`)."""
        options = tuple(declaration.pop("options", ()))
        aliases = tuple(declaration.pop("aliases", ()))

        def register(handler: Handler) -> Handler:
            spec = Spec(
                name, usage, summary, handler, options=options, aliases=aliases, **declaration
            )
            self.add(spec)
            return handler

        return register

    def add(self, spec: Spec) -> None:
        if spec.name in self._specs or spec.name in self._aliases:
            raise ValueError(f"command {spec.name!r} is declared twice")
        self._specs[spec.name] = spec
        for alias in spec.aliases:
            self._aliases[alias] = spec.name

    def __iter__(self) -> Iterator[Spec]:
        return iter(self._specs.values())

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __getitem__(self, name: str) -> Spec:
        return self._specs[name]

    @property
    def aliases(self) -> Mapping[str, str]:
        return self._aliases

    def names(self) -> list[str]:
        """The one-word commands users can type, without aliases."""
        return [s.name for s in self if s.keyword is None]

    def find(self, word: str) -> Spec | None:
        """The command ``word`` names (a name or an alias, any case), if any."""
        word = word.lower()
        return self._specs.get(self._aliases.get(word, word))

    def variant(self, spec: Spec, keyword: str) -> Spec | None:
        """``spec``'s variant reached by ``keyword`` (``schedule`` + ``weekly``), if any."""
        return self._specs.get(f"{spec.name} {keyword.lower()}")

    def usage(self, name: str) -> str:
        return self._specs[name].usage_line

    def help_text(self, name: str | None = None) -> str:
        """The list of listed commands, or one command's usage (``name``: any alias)."""
        if name:
            spec = self.find(name)
            if spec is None or spec.keyword is not None:
                raise CommandError(f"There is no command `{name[:40]}`.", "/papers help")
            who = " (people who may change this channel's settings)" if spec.manages else ""
            return f"`{spec.usage_line}`: {spec.summary}{who}"
        lines = ["papers-bot: trending research papers, searched and posted daily.", ""]
        for spec in self:
            if spec.listed:
                mark = " ⚙" if spec.manages else ""
                lines.append(f"`{spec.usage_line}`{mark}: {spec.summary}")
        for spec in self:  # what buttons run is listed too, so a press is never a mystery
            if spec.button_only and spec.keyword is None:
                lines.append(f"`{spec.usage_line}` (a button): {spec.summary}")
        shortcuts = ", ".join(f"`{a}` = `{c}`" for a, c in self._aliases.items())
        lines += [
            "",
            "⚙ changes the channel's settings, which the workspace may limit to some people. "
            "A channel gets daily posts (09:00 UTC until you say otherwise) once someone runs "
            "`schedule` or `subscribe`. 👍/👎 under a posted paper tune the channel's ranking.",
            "Search syntax: `transformer quantization` (papers matching most words, or the "
            'same meaning, first; typos and word forms forgiven), `"speech recognition"` '
            "(exact phrase), `-survey`, `author:Hinton`, `cat:cs.CL`, `since:2026-05-01` "
            "(these always hold).",
            f"Shortcuts: {shortcuts}.",
        ]
        return "\n".join(lines)

    def redirect(self, invocation: Invocation) -> Invocation:
        """Follow a set :class:`Flag` with ``runs`` to the command it stands for."""
        for option in invocation.spec.options:
            if isinstance(option, Flag) and option.runs and invocation.values.get(option.key):
                target = self._specs[option.runs]
                values = target.defaults()
                values.update({k: invocation.values[k] for k in option.passes})
                return Invocation(target, values)
        return invocation

    def answers_publicly(self, invocation: Invocation, can_manage: bool) -> bool:
        """Whether the answer will be posted in the channel, known before running it.

        A permitted change or a ``public`` command answers publicly; everything else
        (refusals and errors included) answers the asker only. Discord defers a slow
        command with this visibility.
        """
        spec = self.redirect(invocation).spec
        return spec.public or (spec.manages and can_manage)


REGISTRY = Registry()
command = REGISTRY.command
usage = REGISTRY.usage
