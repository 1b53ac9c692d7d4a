"""Shared fixtures: a bot over a temporary data folder, the demo corpus, a fixed clock."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import PapersBot
from bot.cli import demo_papers, import_papers
from bot.config import Config
from bot.search import SearchIndex
from bot.store import Store
from papers_bot.plugins import load_config
from tests import postgres_server
from tests.fakes.upstream import FakeUpstream

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "upstream"
REPO = Path(__file__).resolve().parents[1]


class FakeClock:
    """A clock tests move by hand: ``clock.now = datetime(...)``."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 6, 12, 12, 0, tzinfo=UTC))


@pytest.fixture
def config() -> Config:
    return load_config(None, env={})


@pytest.fixture
def make_bot(tmp_path: Path, config: Config, clock: FakeClock) -> Callable[..., PapersBot]:
    """Build a bot over a fresh data folder; ``demo=True`` loads the demo corpus and
    ``state_url`` puts its state in that database instead of the folder's SQLite file."""

    def make(
        demo: bool = True, data_dir: Path | None = None, state_url: str | None = None
    ) -> PapersBot:
        folder = data_dir or tmp_path / "data"
        store = Store(folder, state_url=state_url)
        index = SearchIndex(folder / "index")
        bot = PapersBot(config, store, index, clock=clock)
        if demo and store.paper_count() == 0:
            import_papers(bot, demo_papers())
        return bot

    return make


@pytest.fixture
def demo_bot(make_bot: Callable[..., PapersBot]) -> PapersBot:
    return make_bot()


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    """A local server replaying the recorded Hugging Face and arXiv responses."""
    with FakeUpstream() as server:
        yield server


# ---- PostgreSQL: a real server for the session (tests/postgres_server.py) -------------------


@pytest.fixture(scope="session")
def postgres() -> Iterator[postgres_server.PostgresServer]:
    """A PostgreSQL server started for this test session, or a skip saying why there is none."""
    server, why = postgres_server.start_first()
    if server is None:
        if os.environ.get("CI"):  # .ci/run installed the wheel: a missing server is a bug
            pytest.fail(f"no PostgreSQL server could be started: {why}")
        pytest.skip(why)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest) -> str | None:
    """The state database a test runs against: ``None`` (the SQLite file in the data
    folder, the default) or a new empty database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return None
    server: postgres_server.PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()
