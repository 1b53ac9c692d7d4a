"""One day's fan-out: 10,000 channels with 3 topics each over a 50,000-paper corpus.

Measures, in one run:

* digest planning: the scheduler computing every due channel's digest (``Scheduler.plan``),
  beside the peer, the naive way (each channel's topics searched afresh, no sharing between
  channels), timed on a sample and scaled to all channels;
* end-to-end posting: the scheduler posting every digest through the real Slack adapter to a
  local fake Slack Web API with no rate limit (in its own process, so it has its own core);
* peak resident memory of this process.

Run: ``python bench/fanout.py [--channels 10000] [--papers 50000] [--seed 7]``. It prints a
table and writes ``bench/results/fanout-<channels>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.corpus import END_DAY, load_vocabulary, make_papers  # noqa: E402
from bot.app import PapersBot  # noqa: E402
from bot.config import Secrets  # noqa: E402
from bot.digest import DigestBuilder  # noqa: E402
from bot.models import Channel  # noqa: E402
from bot.search import SearchIndex  # noqa: E402
from bot.store import Store  # noqa: E402
from papers_bot.plugins import load_config  # noqa: E402

TOKEN = "xoxb-bench"
FAKE_SERVER = r"""
import sys, itertools
from aiohttp import web
counter = itertools.count(1)
async def api(request):
    await request.read()
    return web.json_response({"ok": True, "channel": "C", "ts": f"{next(counter)}.000100"})
app = web.Application(client_max_size=4 * 1024 * 1024)
app.add_routes([web.post("/api/{method}", api)])
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def topic_pool(seed: int, size: int) -> list[str]:
    """Topics people would follow: one or two keyword phrases from the corpus vocabulary."""
    vocab = load_vocabulary()
    rng = random.Random(seed)
    words = [k for k in vocab.keywords if 3 <= len(k) <= 30]
    pool = set()
    while len(pool) < size:
        pool.add(
            rng.choice(words) if rng.random() < 0.7 else f"{rng.choice(words)} {rng.choice(words)}"
        )
    return sorted(pool)


def setup(workdir: Path, n_papers: int, n_channels: int, seed: int) -> tuple[PapersBot, float]:
    store = Store(workdir)
    papers = make_papers(n_papers, seed)
    for start in range(0, len(papers), 10_000):
        store.put_papers(papers[start : start + 10_000])
    index = SearchIndex(workdir / "index")
    index.rebuild(store.papers(), store.corpus_revision)
    config = load_config(None, env={})
    bot = PapersBot(config, store, index)
    rng = random.Random(seed)
    pool = topic_pool(seed, 400)
    channels = [
        Channel(
            "slack",
            "TBENCH",
            f"C{n:05d}",
            post_time="09:00",
            not_before="2000-01-01T00:00:00+00:00",
        )
        for n in range(n_channels)
    ]
    store.save_channels(channels)
    store.add_topics((ch.key, q, "U1") for ch in channels for q in rng.sample(pool, 3))
    started = time.perf_counter()
    return bot, time.perf_counter() - started


def naive_plan_seconds(bot: PapersBot, now: datetime, sample: int) -> float:
    """The peer: each channel's topics searched afresh (no result shared between channels),
    as a bot that runs one search per subscription would; the day's papers are still
    grouped once. Timed on ``sample`` channels and scaled to all of them."""
    channels = bot.store.channels()[:sample]
    today = now.date().isoformat()
    builder = DigestBuilder(bot.store, bot.index)
    builder.latest_day(today)
    started = time.perf_counter()
    for channel in channels:
        builder._topic_cache.clear()
        builder._terms_cache.clear()
        builder.build(channel, today)
    per_channel = (time.perf_counter() - started) / len(channels)
    return per_channel * len(bot.store.channels())


async def post_all(bot: PapersBot, now: datetime) -> tuple[int, float]:
    from adapters.slack import SlackAdapter
    from bot.scheduler import Scheduler

    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", FAKE_SERVER, str(port)])
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        config = bot.config
        config.slack.enabled, config.slack.mode = True, "http"
        config.slack.port = free_port()
        config.slack.api_base_url = f"http://127.0.0.1:{port}/api/"
        config.secrets = Secrets(slack_bot_token=TOKEN, slack_signing_secret="bench")
        adapter = SlackAdapter(bot, config)
        await adapter.start()
        try:
            bot.clock = lambda: now
            sched = Scheduler(bot, {"slack": adapter}, max_concurrent_posts=200)
            started = time.perf_counter()
            await sched.run_once()
            elapsed = time.perf_counter() - started
        finally:
            await adapter.stop()
        # One message per channel (a digest of at most 5 cards, or "no new papers today").
        day = now.date().isoformat()
        messages = sum(
            1 for c in bot.store.channels() if c.last_post_date == day and c.last_post_at
        )
        return messages, elapsed
    finally:
        server.terminate()
        server.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=10_000)
    parser.add_argument("--papers", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--naive-sample", type=int, default=300)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="papers-bot-fanout-") as tmp:
        t0 = time.perf_counter()
        bot, _ = setup(Path(tmp), args.papers, args.channels, args.seed)
        setup_s = time.perf_counter() - t0
        now = datetime.combine(END_DAY, datetime.min.time(), UTC) + timedelta(hours=9, minutes=1)
        bot.clock = lambda: now

        from bot.scheduler import Scheduler

        sched = Scheduler(bot, {"slack": object()})  # planning needs no adapter calls
        started = time.perf_counter()
        plan = sched.plan(now)
        plan_s = time.perf_counter() - started
        cards = sum(len(d.cards) for _, d in plan)
        naive_s = naive_plan_seconds(bot, now, args.naive_sample)

        messages, post_s = asyncio.run(post_all(bot, now))
        rate = messages / post_s if post_s else 0.0
        result = {
            "channels": args.channels,
            "papers": args.papers,
            "topics_per_channel": 3,
            "setup_seconds": round(setup_s, 2),
            "plan_seconds": round(plan_s, 3),
            "plan_naive_seconds_extrapolated": round(naive_s, 2),
            "plan_speedup_vs_naive": round(naive_s / plan_s, 1) if plan_s else None,
            "channels_planned": len(plan),
            "cards_planned": cards,
            "messages_posted": messages,
            "post_seconds": round(post_s, 2),
            "messages_per_second": round(rate, 1),
            "peak_rss_mb": round(peak_mb(), 1),
        }

    print(
        f"\nFan-out: {args.channels:,} channels x 3 topics over {args.papers:,} papers (seed {args.seed})\n"
    )
    rows = [
        (
            "digest planning, all channels",
            f"{plan_s:.2f} s",
            f"{naive_s:.1f} s (search per topic)",
            "< 2 s",
        ),
        ("posting throughput (Slack adapter)", f"{rate:,.0f} msg/s", "-", ">= 500 msg/s"),
        ("messages posted", f"{messages:,}", "-", f"{args.channels:,}"),
        ("peak memory", f"{result['peak_rss_mb']:.0f} MB", "-", "-"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'ours':>14}  {'peer':>28}  target")
    for name, ours, peer, target in rows:
        print(f"{name:<{width}}  {ours:>14}  {peer:>28}  {target}")
    print(f"\nplanning speed-up over the naive peer: {result['plan_speedup_vs_naive']}x")
    out = ROOT / "bench" / "results" / f"fanout-{args.channels}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
