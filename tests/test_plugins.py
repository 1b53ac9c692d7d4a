"""Platforms and sources are plug-ins: each registered one is complete, and a new one
registered in a test (a fake "echo" platform, a fake "static" source) is picked up by
the config loader, ``run`` and ``ingest`` without any edit under ``bot/``."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import ClassVar

import pytest

from adapters.base import Platform
from bot.app import PapersBot
from bot.cli import CliError
from bot.config import Config, ConfigError, SourcesSettings, check_range
from bot.ingest import ingest, make_lookup
from bot.models import Channel, Paper
from bot.replies import Reply
from bot.search import SearchIndex
from bot.sources.base import FetchRequest, Lookup, Source, SourceResult
from bot.sources.http import HttpClient
from bot.store import Store
from papers_bot import plugins
from papers_bot.cli import build_parser
from papers_bot.run import build_adapters, check_startup, serve
from tests.conftest import FakeClock
from tests.test_architecture import imported_names, modules

# ---- every registered plug-in is complete ---------------------------------------------------


@pytest.mark.parametrize("platform", plugins.PLATFORMS, ids=lambda p: p.name)
def test_every_platform_has_settings_secrets_factory_and_commands(platform: Platform) -> None:
    assert dataclasses.is_dataclass(platform.settings)
    settings = platform.settings()  # every setting has a default
    assert settings.enabled is False  # a platform runs only when its table says so
    assert isinstance(platform.secrets, tuple)
    assert all(name.isupper() and isinstance(name, str) for name in platform.secrets)
    assert set(platform.required_secrets(settings)) <= set(platform.secrets)
    assert callable(platform.build) and callable(platform.commands)


def test_platform_and_source_names_are_unique_and_known_to_the_config() -> None:
    names = [p.name for p in plugins.PLATFORMS]
    assert len(names) == len(set(names)) and not set(names) & {"bot", "sources", "scheduler"}
    config = plugins.load_config(None, env={})
    assert list(config.platforms) == names
    assert list(config.sources.each) == [s.name for s in plugins.SOURCES]


@pytest.mark.parametrize("source", plugins.SOURCES, ids=lambda s: s.name)
def test_every_source_implements_the_protocol(source: type[Source]) -> None:
    assert dataclasses.is_dataclass(source)
    instance = source()
    assert isinstance(instance, Source)
    assert isinstance(source.name, str) and instance.enabled is True
    assert inspect.iscoroutinefunction(source.fetch)
    instance.check(f"sources.{source.name}")  # the defaults pass their own checks
    lookup = instance.make_lookup(SourcesSettings())
    assert lookup is None or callable(lookup)


def test_the_platform_commands_come_from_the_registry() -> None:
    parser = build_parser()
    for argv in (["demo"], ["digest", "--channel", "demo"], ["discord-sync"], ["run"]):
        assert callable(parser.parse_args(argv).func), argv
    ingest_args = parser.parse_args(["ingest", "--source", "arxiv"])
    assert ingest_args.source == "arxiv"


def test_the_core_imports_neither_the_adapters_nor_the_composition_root() -> None:
    offenders = [
        f"{name} imports {dep}"
        for name, path in modules().items()
        if name.startswith("bot")
        for dep in imported_names(path, name)
        if dep.split(".")[0] in ("adapters", "papers_bot")
    ]
    assert offenders == []


# ---- a platform registered in a test: "echo" ------------------------------------------------


@dataclass(slots=True)
class EchoSettings:
    enabled: bool = False
    prefix: str = "echo"

    def check(self, where: str) -> None:
        if not self.prefix:
            raise ConfigError(f"{where}.prefix: must not be empty")


class EchoAdapter:
    """Records what it is asked to do."""

    platform = "echo"

    def __init__(self, bot: PapersBot, config: Config) -> None:
        self.prefix = config.echo.prefix
        self.token = config.secrets.get("ECHO_TOKEN")
        self.started = asyncio.Event()
        self.stopped = False

    async def start(self) -> None:
        self.started.set()

    async def stop(self) -> None:
        self.stopped = True

    async def post(self, channel: Channel, reply: Reply, *, thread: str | None = None) -> list[str]:
        return [f"{self.prefix}-1"]


def echo_build(bot: PapersBot, config: Config) -> EchoAdapter:
    return EchoAdapter(bot, config)


ECHO = Platform(name="echo", settings=EchoSettings, build=echo_build, secrets=("ECHO_TOKEN",))
WITH_ECHO = (*plugins.PLATFORMS, ECHO)
NO_SOURCES = "[sources.huggingface]\nenabled = false\n[sources.arxiv]\nenabled = false\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_an_unregistered_platform_table_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^echo: unknown setting$"):
        plugins.load_config(write(tmp_path, "[echo]\nenabled = true\n"), env={})


def test_a_registered_platform_owns_its_table_and_its_secret(tmp_path: Path) -> None:
    path = write(tmp_path, "[echo]\nenabled = true\nprefix = 'ho'\n")
    config = plugins.load_config(path, env={"ECHO_TOKEN": "t0ps3cret"}, platforms=WITH_ECHO)
    assert config.echo == EchoSettings(enabled=True, prefix="ho")
    assert config.secrets.get("ECHO_TOKEN") == "t0ps3cret"
    assert "t0ps3cret" not in repr(config)
    with pytest.raises(ConfigError, match=r"^echo\.nope: unknown setting$"):
        plugins.load_config(write(tmp_path, "[echo]\nnope = 1\n"), env={}, platforms=WITH_ECHO)
    with pytest.raises(ConfigError, match=r"^echo\.prefix: must not be empty$"):
        plugins.load_config(write(tmp_path, "[echo]\nprefix = ''\n"), env={}, platforms=WITH_ECHO)


def test_run_refuses_a_registered_platform_without_its_secret(tmp_path: Path) -> None:
    config = plugins.load_config(
        write(tmp_path, "[echo]\nenabled = true\n"), env={}, platforms=WITH_ECHO
    )
    with pytest.raises(CliError, match=r"^echo\.enabled is true but ECHO_TOKEN is not set"):
        check_startup(config, WITH_ECHO)


def bot_over(config: Config, folder: Path, clock: FakeClock) -> PapersBot:
    return PapersBot(config, Store(folder), SearchIndex(folder / "index"), clock=clock)


async def test_run_builds_starts_and_stops_a_registered_platform(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = write(tmp_path, "[echo]\nenabled = true\n" + NO_SOURCES)
    config = plugins.load_config(path, env={"ECHO_TOKEN": "x"}, platforms=WITH_ECHO)
    check_startup(config, WITH_ECHO)
    bot = bot_over(config, tmp_path / "data", clock)
    built = build_adapters(bot, config, WITH_ECHO)
    assert list(built) == ["echo"] and isinstance(built["echo"], EchoAdapter)

    adapters: list[EchoAdapter] = []

    def remembered(bot: PapersBot, config: Config) -> EchoAdapter:
        adapters.append(EchoAdapter(bot, config))
        return adapters[-1]

    echo = dataclasses.replace(ECHO, build=remembered)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(bot, config, stop, platforms=(*plugins.PLATFORMS, echo)))
    await asyncio.wait_for(_first(adapters), 5)
    await asyncio.wait_for(adapters[0].started.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 20)
    assert adapters[0].token == "x" and adapters[0].stopped


async def _first(items: list[object]) -> None:
    while not items:
        await asyncio.sleep(0.01)


# ---- a source registered in a test: "static" ------------------------------------------------


@dataclass(slots=True)
class StaticSource:
    """Two fixed papers on any day; looks up any id it was given."""

    name: ClassVar[str] = "static"
    enabled: bool = True
    count: int = 2

    def check(self, where: str) -> None:
        check_range(f"{where}.count", self.count, 0, 10)

    async def fetch(self, http: HttpClient, request: FetchRequest) -> SourceResult:
        result = SourceResult(self.name, answered=True)
        result.papers = [
            Paper(id=f"2606.0000{n}", title=f"Static paper {n}", abstract="Always here.")
            for n in range(1, self.count + 1)
        ]
        result.full_days.append(request.today.isoformat())
        return result

    def make_lookup(self, settings: SourcesSettings) -> Lookup | None:
        async def lookup(paper_id: str) -> Paper | None:
            return Paper(id=paper_id, title="Looked up", abstract="By the static source.")

        return lookup


WITH_STATIC = (StaticSource,)


def test_a_registered_source_owns_its_table(tmp_path: Path) -> None:
    config = plugins.load_config(
        write(tmp_path, "[sources.static]\ncount = 1\n"), env={}, sources=WITH_STATIC
    )
    assert config.sources.static == StaticSource(count=1)
    with pytest.raises(ConfigError, match=r"^sources\.static\.count: must be between 0 and 10"):
        plugins.load_config(
            write(tmp_path, "[sources.static]\ncount = 11\n"), env={}, sources=WITH_STATIC
        )
    with pytest.raises(ConfigError, match=r"^sources\.static: unknown setting$"):
        plugins.load_config(write(tmp_path, "[sources.static]\ncount = 1\n"), env={})


async def test_ingest_and_lookup_use_a_registered_source(tmp_path: Path, clock: FakeClock) -> None:
    config = plugins.load_config(None, env={}, sources=WITH_STATIC)
    bot = bot_over(config, tmp_path / "data", clock)
    report = await ingest(bot, config, day=date(2026, 6, 12))
    assert report.summary.startswith("static: fetched 2, new 2")
    assert {p.id for p in bot.store.papers()} == {"2606.00001", "2606.00002"}
    lookup = make_lookup(config)
    assert lookup is not None
    found = await lookup("2606.09999")
    assert found is not None and found.title == "Looked up"
