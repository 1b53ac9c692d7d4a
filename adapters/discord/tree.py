"""``/papers`` on Discord, derived from the command declarations (:mod:`bot.registry`).

Every declared command with a :class:`~bot.registry.Form` becomes one ``/papers``
subcommand whose options are the command's options, typed as discord.py expects them
(``Range[int, 1, 1000]``, choices, autocomplete). discord.py reads a command's options
from its callback's signature, so each subcommand's callback is one generic function
given an :class:`inspect.Signature` built from the declaration; a call hands the typed
values, as they are, to the host's ``invoke`` (no text in between). Commands declared
``button_only`` have no subcommand.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any, Protocol

import discord
from discord import app_commands

from bot.app import refusal
from bot.layout import shorten
from bot.registry import Flag, Invocation, Number, Option, Paste, Spec, Text, Word
from bot.replies import Request

CHOICE_NAME_LIMIT = 100  # Discord's limit on an autocomplete choice's name
CHOICES_LIMIT = 25  # and on how many it shows


class Host(Protocol):
    """What the tree needs from the adapter that owns it."""

    def request_for(self, interaction: discord.Interaction, text: str) -> Request: ...

    async def suggest(
        self, interaction: discord.Interaction, spec: Spec, option: Option, current: str
    ) -> list[tuple[str, str]]: ...

    async def invoke(self, interaction: discord.Interaction, invocation: Invocation) -> None: ...


class PapersGroup(app_commands.Group):
    """The ``/papers`` group, registered with ``contexts`` and ``integration_types`` only.

    Installable to a server (the bot joins it: channels' digests) and to a user (``/papers``
    works for them anywhere, acting on their personal DM channel where the bot is not);
    usable in servers, in the DM with the bot and in other DMs and group DMs.

    discord.py 2.7 still sends the deprecated ``dm_permission`` beside ``contexts``; it is
    left out so Discord reads where the command works from ``contexts`` alone.
    """

    def to_dict(self, tree: app_commands.CommandTree[Any]) -> dict[str, Any]:
        payload = super().to_dict(tree)
        payload.pop("dm_permission", None)
        return payload


def build_group(host: Host, specs: Iterable[Spec]) -> app_commands.Group:
    """``/papers`` and one subcommand per command with a form."""
    # Everywhere, said with ``contexts``/``integration_types`` (not the deprecated
    # ``dm_permission``): the adapter decides which channel a command acts on.
    group = PapersGroup(
        name="papers",
        description="Trending research papers: search, digests, topics",
        allowed_contexts=app_commands.AppCommandContext(
            guild=True, dm_channel=True, private_channel=True
        ),
        allowed_installs=app_commands.AppInstallationType(guild=True, user=True),
    )
    for spec in specs:
        if spec.form is not None:
            group.add_command(subcommand(host, spec))
    return group


def subcommand(host: Host, spec: Spec) -> app_commands.Command[Any, ..., None]:
    """One declared command as a ``/papers`` subcommand."""
    assert spec.form is not None
    paste = spec.form.paste

    async def callback(interaction: discord.Interaction, **typed: Any) -> None:
        values = {option.key: _value(option, typed.get(option.name)) for option in spec.options}
        if paste is not None and values.get(paste.option) is None:
            request = host.request_for(interaction, spec.name)
            if refusal(request, spec) is None:
                await interaction.response.send_modal(PasteModal(host, spec, values, paste))
                return
            # someone who may not run it (or where the bot cannot post) hears the core's
            # refusal, not a form
        await host.invoke(interaction, Invocation(spec, values))

    callback.__name__ = callback.__qualname__ = spec.form_name
    callback.__signature__ = _signature(spec)  # type: ignore[attr-defined]
    callback = app_commands.describe(**{o.name: o.description for o in spec.options})(callback)
    choices = {o.name: _choices(o) for o in spec.options if isinstance(o, Word) and o.choices}
    if choices:
        callback = app_commands.choices(**choices)(callback)
    command = app_commands.Command(
        name=spec.form_name, description=spec.form.description, callback=callback
    )
    for option in spec.options:
        if option.suggest is not None:
            command.autocomplete(option.name)(_suggester(host, spec, option))
    return command


def _signature(spec: Spec) -> inspect.Signature:
    """The callback's signature discord.py reads the options from."""
    params = [
        inspect.Parameter(
            "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
        )
    ]
    for option in spec.options:
        annotation, default = _annotation(option)
        params.append(
            inspect.Parameter(
                option.name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
            )
        )
    return inspect.Signature(params, return_annotation=None)


def _annotation(option: Option) -> tuple[Any, Any]:
    """The option's discord.py annotation and default (``empty`` when required)."""
    annotation: Any
    if isinstance(option, Flag):
        return bool, bool(option.default)
    if isinstance(option, Number):
        annotation = app_commands.Range[int, option.low, option.high]
    elif isinstance(option, Word) and option.choices:
        annotation = app_commands.Choice[str]
    elif isinstance(option, Text | Word) and option.max_length:
        low = getattr(option, "min_length", None) or 1
        annotation = app_commands.Range[str, low, option.max_length]
    else:
        annotation = str
    optional = isinstance(option, Word) and option.discord_default is not None
    if option.required and not optional:
        return annotation, inspect.Parameter.empty
    if option.default is not None:
        return annotation, option.default
    return annotation | None, None


def _value(option: Option, value: Any) -> Any:
    """A value as discord.py gives it, as the core takes it."""
    if isinstance(value, app_commands.Choice):
        value = value.value
    if value is None and isinstance(option, Word) and option.discord_default is not None:
        value = option.discord_default
    return value


def _choices(option: Word) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=label, value=value) for label, value in option.choices]


def _suggester(host: Host, spec: Spec, option: Option) -> Any:
    async def suggest(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        found = await host.suggest(interaction, spec, option, current)
        return [
            app_commands.Choice(name=shorten(label, CHOICE_NAME_LIMIT), value=value)
            for label, value in found[:CHOICES_LIMIT]
        ]

    return suggest


class PasteModal(discord.ui.Modal):
    """A form with one paragraph box for an option that needs newlines (the multi-line
    snippet of ``/papers export``): slash command options cannot hold them. Submitting
    runs the command for the submitter, with the same permission rule."""

    def __init__(self, host: Host, spec: Spec, values: dict[str, Any], paste: Paste) -> None:
        super().__init__(title=paste.title, timeout=900)
        self.host, self.spec, self.values, self.paste = host, spec, values, paste
        self.box: discord.ui.TextInput[PasteModal] = discord.ui.TextInput(
            label=paste.label,
            style=discord.TextStyle.paragraph,
            placeholder=paste.placeholder,
            max_length=paste.max_length,
        )
        self.add_item(self.box)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        values = {**self.values, self.paste.option: self.box.value}
        await self.host.invoke(interaction, Invocation(self.spec, values))
