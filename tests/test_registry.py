"""One declaration per command: the handler table, help, the text parser and Discord's
app-command tree all come from :data:`bot.handlers.REGISTRY`, and nothing is forgotten."""

from __future__ import annotations

import inspect
from typing import Any

import discord
import pytest

from adapters.discord.tree import build_group
from bot import app as app_module
from bot import commands
from bot.app import PapersBot
from bot.commands import parse_command, read_typed
from bot.handlers import REGISTRY
from bot.registry import Flag, Invocation, Number, Option, Registry, Spec, Text, Word
from bot.replies import ReplyKind, Request

SPECS = list(REGISTRY)


def ask(bot: PapersBot, text: str, **kwargs: Any) -> Any:
    return bot.handle(Request(text=text, **kwargs))


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_every_command_has_a_handler_taking_its_options(spec: Spec) -> None:
    assert callable(spec.handler)
    params = list(inspect.signature(spec.handler).parameters)
    assert params[:2] == ["ctx", "request"], spec.name
    assert set(params[2:]) == {o.key for o in spec.options}, spec.name


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_every_command_has_a_discord_form_unless_button_only(spec: Spec) -> None:
    if spec.button_only:
        assert spec.form is None and spec.hidden, spec.name
    else:
        assert spec.form is not None, f"{spec.name} has no form and is not button_only"


def test_help_lists_every_listed_command_from_the_declarations(demo_bot: PapersBot) -> None:
    text = ask(demo_bot, "help").text
    assert text == REGISTRY.help_text()
    for spec in SPECS:
        if spec.listed:
            assert f"`{spec.usage_line}`" in text, spec.name
        elif spec.keyword is not None:  # a variant: its parent's summary describes it
            assert spec.name in REGISTRY[spec.root].summary, spec.name
        elif spec.button_only:  # what a button runs is listed as such (issue 16)
            assert f"`{spec.usage_line}` (a button)" in text, spec.name
        else:
            assert f"/papers {spec.name}" not in text, spec.name
    for alias, name in REGISTRY.aliases.items():
        assert f"`{alias}` = `{name}`" in text


def test_names_aliases_and_forms_are_unique() -> None:
    words = [*REGISTRY.names(), *REGISTRY.aliases]
    assert len(words) == len(set(words))
    forms = [s.form_name for s in SPECS if s.form is not None]
    assert len(forms) == len(set(forms))
    assert all(REGISTRY[name] for name in REGISTRY.aliases.values())


def test_a_second_declaration_of_a_name_is_refused() -> None:
    registry = Registry()
    registry.command("ping", "ping", "alive?")(lambda ctx, request: None)
    with pytest.raises(ValueError, match="declared twice"):
        registry.command("ping", "ping", "again")(lambda ctx, request: None)


class _Host:
    def request_for(self, interaction: Any, text: str) -> Request:
        return Request(text=text)

    def suggest(self, interaction: Any, spec: Spec, option: Option, current: str) -> list:
        return []

    async def invoke(self, interaction: Any, invocation: Invocation) -> None:
        pass


def _discord_type(option: Option) -> int:
    if isinstance(option, Flag):
        return discord.AppCommandOptionType.boolean.value
    if isinstance(option, Number):
        return discord.AppCommandOptionType.integer.value
    return discord.AppCommandOptionType.string.value


def test_the_discord_tree_is_derived_from_the_declarations() -> None:
    tree = discord.app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))
    payload = build_group(_Host(), REGISTRY).to_dict(tree)
    subs = {o["name"]: o for o in payload["options"]}
    formed = [s for s in SPECS if s.form is not None]
    assert set(subs) == {s.form_name for s in formed}
    assert {"weekly", "daily"} <= set(subs) and "share" not in subs and "feedback" not in subs
    for spec in formed:
        options = {o["name"]: o for o in subs[spec.form_name].get("options", [])}
        assert set(options) == {o.name for o in spec.options}, spec.name
        for option in spec.options:
            shown = options[option.name]
            assert shown["description"] == option.description
            assert shown["type"] == _discord_type(option)
            assert bool(shown.get("autocomplete")) == (option.suggest is not None)
            if isinstance(option, Number):
                assert (shown["min_value"], shown["max_value"]) == (option.low, option.high)
            if isinstance(option, Word) and option.choices:
                assert [c["value"] for c in shown["choices"]] == list(option.values())


@pytest.mark.parametrize(
    ("text", "name", "typed"),
    [
        ("search --page 2 diffusion models", "search", {"query": "diffusion models", "page": 2}),
        ("trending 3", "trending", {"count": 3}),
        ("subscribe agents --alert 50", "subscribe", {"topic": "agents", "alert": 50}),
        ("schedule 9:00 Europe/Berlin", "schedule", {"time": "9:00", "timezone": "Europe/Berlin"}),
        (
            "schedule weekly Monday 17:00",
            "schedule weekly",
            {"day": "mon", "time": "17:00", "timezone": None},
        ),
        ("schedule daily OFF", "schedule daily", {"mode": "off"}),
        ("set Papers 3", "set", {"setting": "papers", "value": "3"}),
        ("paper 2605.05242", "paper", {"ref": "2605.05242"}),
    ],
)
def test_text_and_typed_options_read_the_same(text: str, name: str, typed: dict) -> None:
    from_text = parse_command(text).parse()
    from_form = read_typed(Invocation(REGISTRY[name], typed))
    assert from_text.spec.name == name
    assert {k: v for k, v in from_text.values.items() if v is not None} == {
        k: v for k, v in from_form.values.items() if v is not None
    }


def test_a_typed_invocation_runs_the_handler_with_no_text(demo_bot: PapersBot) -> None:
    reply = demo_bot.handle(
        Request(text="(not read)"),
        Invocation(REGISTRY["search"], {"query": "language models", "page": 2}),
    )
    assert reply.kind == ReplyKind.SEARCH and reply.cards[0].rank == 6
    refused = demo_bot.handle(
        Request(text="", can_manage=False), Invocation(REGISTRY["thread"], {"mode": "on"})
    )
    assert "permission" in refused.text and "(`thread`)" in refused.text
    preview = Invocation(REGISTRY["subscribe"], {"topic": "agents", "preview": True})
    assert demo_bot.handle(Request(text="", can_manage=False), preview).footer == (
        "Nothing was subscribed."
    )
    too_long = Invocation(REGISTRY["import"], {"snippet": "x" * 5000})
    assert "the limit is 2,000" in demo_bot.handle(Request(text=""), too_long).text


def test_visibility_is_known_before_running() -> None:
    def public(name: str, can_manage: bool = True, **values: Any) -> bool:
        return REGISTRY.answers_publicly(Invocation(REGISTRY[name], values), can_manage)

    assert public("share") and public("schedule") and public("schedule weekly")
    assert not public("schedule", can_manage=False)
    assert not public("search") and not public("subscribe", topic="x", preview=True)


async def test_search_text_is_parsed_once(demo_bot: PapersBot, monkeypatch) -> None:
    """The command line is split once, its options read once, the query parsed once."""
    calls: dict[str, int] = {"command": 0, "options": 0, "query": 0}

    def counting(name: str, real: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return real(*args, **kwargs)

        return wrapper

    async def no_lookup(ref: str) -> None:
        return None

    from bot import answers

    monkeypatch.setattr(app_module, "parse_command", counting("command", parse_command))
    monkeypatch.setattr(commands, "parse_options", counting("options", commands.parse_options))
    monkeypatch.setattr(answers, "parse_query", counting("query", answers.parse_query))
    demo_bot.lookup = no_lookup
    reply = await demo_bot.handle_async(Request(text="search --page 2 language models"))
    assert reply.kind == ReplyKind.SEARCH
    assert calls == {"command": 1, "options": 1, "query": 1}


def test_every_text_option_kind_is_declared_once() -> None:
    """A command has at most one free-text option, and it comes after its words."""
    for spec in SPECS:
        kinds = [o for o in spec.options if isinstance(o, Text)]
        assert len(kinds) <= 1, spec.name
        if kinds:
            words = [o for o in spec.options if isinstance(o, Word)]
            assert not words or spec.options.index(kinds[0]) > spec.options.index(words[-1])


def test_ping_answers_privately_and_is_listed(demo_bot: PapersBot) -> None:
    reply = ask(demo_bot, "ping")
    assert reply.text == "pong: 177 papers in the corpus, last ingest never."
    assert reply.ephemeral and reply.kind == ReplyKind.INFO
    assert "`/papers ping`:" in ask(demo_bot, "help").text
    assert REGISTRY["ping"].form is not None
