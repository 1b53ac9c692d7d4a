"""Where a search spends its time: cProfile over the query mix, on a kept benchmark folder.

    python bench/search.py --keep /tmp/b100k --no-storage   # build once, keep the folder
    python bench/profile_search.py /tmp/b100k [--passes 3] [--top 25]

Opens the folder the way the bot does (Store, SearchIndex, PapersBot), runs one warm-up
pass of the 200 queries, then profiles ``--passes`` more through ``PapersBot.search``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import PapersBot
from bot.config import load_config
from bot.search import SearchIndex
from bot.store import Store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a folder kept with bench/search.py --keep")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    data = args.folder / "data"
    store = Store(data)
    bot = PapersBot(load_config(None, env={}), store, SearchIndex(data / "index"))
    queries = json.loads((args.folder / "queries.json").read_text())
    for q in queries:
        bot.search(q)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.passes):
        for q in queries:
            bot.search(q)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
