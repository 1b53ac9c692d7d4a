"""One day's fan-out: 10,000 channels with 3 topics each over a 50,000-paper corpus.

Measures, in one run:

* digest planning: the scheduler computing every due channel's digest (``Scheduler.plan``),
  beside the peer, the naive way (each channel's topics searched afresh, no sharing between
  channels), timed on a sample and scaled to all channels;
* end-to-end posting: the scheduler posting every digest through the real Slack adapter to a
  local fake Slack Web API with no rate limit (in its own process, so it has its own core);
* peak resident memory of this process;
* with ``--history-days N``: every channel first gets N days of delivery history (``--per-day``
  records a day, 2 by default: 1.2 million records at 10,000 channels x 60 days), then the
  fan-out is also measured for bytes written to the state database per delivery recorded
  (the write-ahead log's growth, with automatic checkpoints off during the fan-out: a
  checkpoint later copies at most those pages once more) and for the ack time of
  ``/papers search`` commands sent to the Slack app over its HTTP socket, from another
  thread, every 20 ms while the posts go out (the real path: signature check, parse,
  search, render, JSON).

Run: ``python bench/fanout.py [--channels 10000] [--papers 50000] [--history-days 60]``. It
prints a table with the targets beside the figures and writes
``bench/results/fanout-<channels>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import http.client
import json
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.corpus import END_DAY, load_vocabulary, make_papers  # noqa: E402
from bot.app import PapersBot  # noqa: E402
from bot.config import Secrets  # noqa: E402
from bot.digest import DigestBuilder  # noqa: E402
from bot.models import Channel, Delivery  # noqa: E402
from bot.search import SearchIndex  # noqa: E402
from bot.state_db import deliveries as deliveries_table  # noqa: E402
from bot.store import Store  # noqa: E402
from papers_bot.plugins import load_config  # noqa: E402

TOKEN = "xoxb-bench"
SECRET = "bench"
SEARCHES = ["diffusion models", "reinforcement learning agents", "graph neural", "vision language"]
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
    # BM25 only (encoder "none"): embedding 50,000 papers would take half an hour, and the
    # fan-out measures planning, posting and the state, not the index's build.
    index = SearchIndex(workdir / "index", encoder="none")
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


def add_history(bot: PapersBot, now: datetime, days: int, per_day: int, seed: int) -> int:
    """``days`` days of sent deliveries before ``now`` for every channel, ``per_day`` a day,
    of papers in the corpus; written straight as rows (one transaction per 100,000)."""
    rng = random.Random(seed)
    ids = [p.id for p in bot.store.papers()]
    rows: list[dict[str, object]] = []
    total = 0
    state = bot.store.state
    for channel in bot.store.channels():
        for back in range(1, days + 1):
            at = (now - timedelta(days=back)).replace(microsecond=0).isoformat()
            for pid in rng.sample(ids, per_day):
                key = f"{channel.key}|{pid}"
                rows.append(
                    {
                        "key": key,
                        "channel": channel.key,
                        "paper_id": pid,
                        "at": at,
                        "status": "sent",
                        "message_id": "1.1",
                        "day": at[:10],
                        "kind": "digest",
                    }
                )
        if len(rows) >= 100_000:
            total += _insert(state, rows)
            rows = []
    return total + _insert(state, rows)


def _insert(state: object, rows: list[dict[str, object]]) -> int:
    from bot.state_db import upsert

    with state.transaction() as conn:  # type: ignore[attr-defined]
        upsert(conn, deliveries_table, rows)
    return len(rows)


class WalMeter:
    """Bytes appended to the state database's write-ahead log: automatic checkpoints are
    turned off on the writer's connections, and the log emptied before measuring."""

    def __init__(self, bot: PapersBot) -> None:
        from sqlalchemy import event

        self.state = bot.store.state
        self.wal = Path(f"{self.state.path}-wal")
        event.listen(
            self.state._writer,
            "connect",
            lambda dbapi, _r: dbapi.execute("PRAGMA wal_autocheckpoint=0"),
        )

    def start(self) -> None:
        self.state.checkpoint()
        self.base = self.wal.stat().st_size if self.wal.exists() else 0

    def written(self) -> int:
        return (self.wal.stat().st_size if self.wal.exists() else 0) - self.base


class SearchProbe(threading.Thread):
    """Sends ``/papers search`` to the Slack app's HTTP endpoint, one at a time, every
    ``interval`` seconds until stopped; records each ack's round trip in ms."""

    def __init__(self, port: int, response_url: str, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.port, self.response_url, self.interval = port, response_url, interval
        self.acks: list[float] = []
        self.failures = 0
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            text = f"search {SEARCHES[n % len(SEARCHES)]}"
            n += 1
            body = urlencode(
                {
                    "team_id": "TBENCH",
                    "channel_id": "CPROBE",
                    "channel_name": "probe",
                    "user_id": "UPROBE",
                    "user_name": "probe",
                    "command": "/papers",
                    "text": text,
                    "response_url": self.response_url,
                    "trigger_id": "1.2.3",
                }
            )
            stamp = str(int(time.time()))
            base = f"v0:{stamp}:{body}".encode()
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": "v0="
                + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest(),
            }
            started = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request("POST", "/slack/events", body, headers)
                status = conn.getresponse().status
                conn.close()
            except OSError:
                status = 0
            if status == 200:
                self.acks.append((time.perf_counter() - started) * 1000)
            else:
                self.failures += 1
            self.stop.wait(self.interval)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


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


async def post_all(
    bot: PapersBot, now: datetime, meter: WalMeter | None = None
) -> dict[str, object]:
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
        config.secrets = Secrets(slack_bot_token=TOKEN, slack_signing_secret=SECRET)
        adapter = SlackAdapter(bot, config)
        await adapter.start()
        probe = SearchProbe(config.slack.port, f"http://127.0.0.1:{port}/api/respond")
        try:
            bot.clock = lambda: now
            sched = Scheduler(bot, {"slack": adapter})  # as `papers-bot run` builds it
            before = bot.store.state.count(Delivery)
            if meter is not None:
                meter.start()
            probe.start()
            started = time.perf_counter()
            await sched.run_once()
            elapsed = time.perf_counter() - started
            probe.stop.set()
            await asyncio.to_thread(probe.join, 30)
            written = meter.written() if meter is not None else 0
            recorded = bot.store.state.count(Delivery) - before
        finally:
            probe.stop.set()
            await adapter.stop()
        # One message per channel (a digest of at most 5 cards, or "no new papers today").
        day = now.date().isoformat()
        messages = sum(
            1 for c in bot.store.channels() if c.last_post_date == day and c.last_post_at
        )
        return {
            "messages": messages,
            "seconds": elapsed,
            "deliveries": recorded,
            "wal_bytes": written,
            "acks": probe.acks,
            "ack_failures": probe.failures,
        }
    finally:
        server.terminate()
        server.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=10_000)
    parser.add_argument("--papers", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--naive-sample", type=int, default=300)
    parser.add_argument("--history-days", type=int, default=0)
    parser.add_argument("--per-day", type=int, default=2)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="papers-bot-fanout-") as tmp:
        t0 = time.perf_counter()
        bot, _ = setup(Path(tmp), args.papers, args.channels, args.seed)
        now = datetime.combine(END_DAY, datetime.min.time(), UTC) + timedelta(hours=9, minutes=1)
        bot.clock = lambda: now
        history = (
            add_history(bot, now, args.history_days, args.per_day, args.seed)
            if args.history_days
            else 0
        )
        setup_s = time.perf_counter() - t0

        from bot.scheduler import Scheduler

        sched = Scheduler(bot, {"slack": object()})  # planning needs no adapter calls
        started = time.perf_counter()
        plan = sched.plan(now)
        plan_s = time.perf_counter() - started
        cards = sum(len(d.cards) for _, d in plan)
        naive_s = naive_plan_seconds(bot, now, args.naive_sample)

        meter = WalMeter(bot)
        posted = asyncio.run(post_all(bot, now, meter))
        messages, post_s = int(posted["messages"]), float(posted["seconds"])  # type: ignore[arg-type]
        recorded = int(posted["deliveries"])  # type: ignore[call-overload]
        acks: list[float] = posted["acks"]  # type: ignore[assignment]
        rate = messages / post_s if post_s else 0.0
        per_delivery = int(posted["wal_bytes"]) / recorded if recorded else 0.0  # type: ignore[call-overload]
        result = {
            "channels": args.channels,
            "papers": args.papers,
            "topics_per_channel": 3,
            "history_days": args.history_days,
            "history_records": history,
            "setup_seconds": round(setup_s, 2),
            "plan_seconds": round(plan_s, 3),
            "plan_naive_seconds_extrapolated": round(naive_s, 2),
            "plan_speedup_vs_naive": round(naive_s / plan_s, 1) if plan_s else None,
            "channels_planned": len(plan),
            "cards_planned": cards,
            "messages_posted": messages,
            "post_seconds": round(post_s, 2),
            "messages_per_second": round(rate, 1),
            "deliveries_recorded": recorded,
            "wal_bytes": posted["wal_bytes"],
            "bytes_per_delivery": round(per_delivery),
            "search_acks": len(acks),
            "search_ack_failures": posted["ack_failures"],
            "search_ack_p50_ms": round(percentile(acks, 0.50), 1),
            "search_ack_p99_ms": round(percentile(acks, 0.99), 1),
            "search_ack_max_ms": round(max(acks), 1) if acks else None,
            "search_ack_mean_ms": round(statistics.fmean(acks), 1) if acks else None,
            "peak_rss_mb": round(peak_mb(), 1),
        }

    print(
        f"\nFan-out: {args.channels:,} channels x 3 topics over {args.papers:,} papers, "
        f"{args.history_days} days of history ({history:,} delivery records; seed {args.seed})\n"
    )
    rows = [
        (
            "digest planning, all channels",
            f"{plan_s:.2f} s",
            f"{naive_s:.1f} s (search per topic)",
            "< 2 s",
        ),
        ("fan-out time (plan + post, one tick)", f"{post_s:.1f} s", "-", "-"),
        ("posting throughput (Slack adapter)", f"{rate:,.0f} msg/s", "-", ">= 500 msg/s"),
        ("messages posted", f"{messages:,}", "-", f"{args.channels:,}"),
        (
            "bytes written per delivery (WAL)",
            f"{per_delivery:,.0f} B",
            f"{recorded:,} deliveries",
            "<= 4,096 B",
        ),
        (
            "search ack during fan-out, p50",
            f"{result['search_ack_p50_ms']} ms",
            f"{len(acks)} searches",
            "-",
        ),
        (
            "search ack during fan-out, p99",
            f"{result['search_ack_p99_ms']} ms",
            f"max {result['search_ack_max_ms']} ms",
            "<= 100 ms",
        ),
        ("peak memory", f"{result['peak_rss_mb']:.0f} MB", "-", "-"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'ours':>14}  {'peer / detail':>28}  target")
    for name, ours, peer, target in rows:
        print(f"{name:<{width}}  {ours:>14}  {peer:>28}  {target}")
    print(f"\nplanning speed-up over the naive peer: {result['plan_speedup_vs_naive']}x")
    if posted["ack_failures"]:
        print(f"searches not acked with 200: {posted['ack_failures']}")
    out = ROOT / "bench" / "results" / f"fanout-{args.channels}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
