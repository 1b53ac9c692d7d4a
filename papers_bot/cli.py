"""``papers-bot``: the core commands plus those of the registered platforms and sources.

The commands themselves live with what they need: the core ones in :mod:`bot.cli`,
``ingest`` in :mod:`bot.ingest`, ``demo``/``digest`` with the terminal
(:mod:`adapters.console_platform`), ``discord-sync`` with Discord, ``run`` in
:mod:`papers_bot.run`. This module only puts the parser together.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from bot import cli, ingest
from papers_bot import plugins, run


def build_parser() -> argparse.ArgumentParser:
    def add_ingest(subparsers: cli.Subparsers) -> None:
        ingest.register(subparsers, [source.name for source in plugins.SOURCES])

    platform_commands = [platform.commands for platform in plugins.PLATFORMS]
    return cli.build_parser([add_ingest, *platform_commands, run.register])


def main(argv: Sequence[str] | None = None) -> int:
    """The ``papers-bot`` console script."""
    return cli.main(argv, parser=build_parser(), load=plugins.load_config)
