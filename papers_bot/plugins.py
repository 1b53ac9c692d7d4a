"""The one registry of platforms and sources.

Adding a platform is one line in :data:`PLATFORMS` (its package describes itself with an
:class:`adapters.base.Platform`); adding a source is one line in :data:`SOURCES` (a class
that implements :class:`bot.sources.base.Source`). Everything else (the config file's
tables, the secrets read from the environment, ``run``, the command line, ``ingest``)
is derived from these two tuples. Order matters a little: it is the order adapters are
started and sources reported (``huggingface, arxiv: fetched ...``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from adapters import console_platform, discord, slack
from adapters.base import Platform
from bot.config import Config, Sections
from bot.config import load_config as load_core_config
from bot.sources.arxiv_source import ArxivSource
from bot.sources.base import Source
from bot.sources.huggingface_source import HuggingFaceSource

PLATFORMS: tuple[Platform, ...] = (
    console_platform.PLATFORM,
    slack.PLATFORM,
    discord.PLATFORM,
)

SOURCES: tuple[type[Source], ...] = (
    HuggingFaceSource,
    ArxivSource,
)


def sections(
    platforms: Sequence[Platform] = PLATFORMS, sources: Sequence[type[Source]] = SOURCES
) -> Sections:
    """The config tables and secrets of ``platforms`` and ``sources``, for the loader."""
    return Sections(
        platforms={p.name: p.settings for p in platforms},
        sources={s.name: s for s in sources},
        secrets=tuple(name for p in platforms for name in p.secrets),
    )


def load_config(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    platforms: Sequence[Platform] = PLATFORMS,
    sources: Sequence[type[Source]] = SOURCES,
) -> Config:
    """The config with every registered platform's and source's table (see bot.config)."""
    return load_core_config(path, env, sections=sections(platforms, sources))
