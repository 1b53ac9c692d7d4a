"""Messages per second with 1, 2 and 3 ``papers-bot run`` workers on one PostgreSQL database.

For each worker count: a fresh database on a PostgreSQL server this script starts (the
binaries the tests use: tests/postgres_server.py), a fresh data folder (the demo corpus)
that the workers share as their volume, ``--channels`` Slack channels all due at 09:00,
and a fake Slack Web API in its own process (it accepts every ``chat.postMessage`` at once
and counts them). The workers are real ``python -m papers_bot run`` processes whose clocks
start at 08:59:50, so they are up before the posts fall due. The rate is the messages over
the time from the first message to the last: what the fleet sustains once it posts
(planning the digests included, start-up not).

Run: ``python bench/workers.py [--channels 2000] [--workers 1 2 3]``; it prints a table
and writes ``bench/results/workers-<channels>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import PapersBot  # noqa: E402
from bot.cli import demo_papers, import_papers  # noqa: E402
from bot.models import Channel  # noqa: E402
from bot.search import SearchIndex  # noqa: E402
from bot.store import Store  # noqa: E402
from papers_bot.plugins import load_config  # noqa: E402
from tests.postgres_server import free_port, start_first  # noqa: E402

TEAM = "TBENCH"
FAKE_SERVER = r"""
import itertools, sys, time
from aiohttp import web
counter = itertools.count(1)
seen = {"count": 0, "first": None, "last": None, "channels": set()}
async def api(request):
    form = await request.post() if request.content_type != "application/json" else await request.json()
    if request.match_info["method"] == "chat.postMessage":
        now = time.time()
        seen["count"] += 1
        seen["first"] = seen["first"] or now
        seen["last"] = now
        seen["channels"].add(form.get("channel"))
    if request.match_info["method"] == "auth.test":
        return web.json_response({"ok": True, "team_id": "TBENCH", "user_id": "UB", "bot_id": "BB"})
    return web.json_response({"ok": True, "channel": "C", "ts": f"{next(counter)}.000100"})
async def stats(request):
    return web.json_response({**seen, "channels": len(seen["channels"])})
app = web.Application(client_max_size=4 * 1024 * 1024)
app.add_routes([web.post("/api/{method}", api), web.get("/stats", stats)])
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""
SETTINGS = """
[scheduler]
tick_seconds = 1
[sources.huggingface]
enabled = false
[sources.arxiv]
enabled = false
[slack]
enabled = true
mode = "http"
host = "127.0.0.1"
port = {port}
api_base_url = "http://127.0.0.1:{api}/api/"
"""


def wait_port(port: int) -> None:
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def stats(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5) as answer:
        return json.loads(answer.read())


def prepare(folder: Path, url: str, channels: int) -> None:
    store = Store(folder, state_url=url)
    bot = PapersBot(load_config(None, env={}), store, SearchIndex(None))
    import_papers(bot, demo_papers())
    store.save_channels(
        Channel(
            "slack",
            TEAM,
            f"C{n:05d}",
            post_time="09:00",
            not_before="2026-12-01T00:00:00+00:00",
            max_papers=3 + n % 3,
        )
        for n in range(channels)
    )
    store.close()


def measure(server, workers: int, channels: int, work: Path) -> dict[str, float]:
    url = server.new_database("bench")
    data = work / f"data-{workers}"
    prepare(data, url, channels)
    api = free_port()
    fake = subprocess.Popen([sys.executable, "-c", FAKE_SERVER, str(api)])
    procs: list[subprocess.Popen[bytes]] = []
    try:
        wait_port(api)
        for n in range(workers):
            config = work / f"w{workers}-{n}.toml"
            config.write_text(SETTINGS.format(port=free_port(), api=api))
            env = os.environ | {
                "PAPERS_BOT_STATE_URL": url,
                "PAPERS_BOT_WORKER": f"w{n}",
                "PAPERS_BOT_FAKE_START": "2026-12-01T08:59:50Z",
                "SLACK_BOT_TOKEN": "xoxb-bench",
                "SLACK_SIGNING_SECRET": "bench",
            }
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "papers_bot",
                        "--config",
                        str(config),
                        "--db",
                        data,
                        "run",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        deadline = time.monotonic() + 300
        while (seen := stats(api))["channels"] < channels:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"{workers} workers: only {seen['channels']} channels posted")
            time.sleep(0.2)
        took = seen["last"] - seen["first"]
        return {
            "workers": workers,
            "messages": seen["count"],
            "seconds": round(took, 2),
            "msg_per_s": round((seen["count"] - 1) / took, 1) if took > 0 else 0.0,
        }
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        fake.terminate()
        fake.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    server, why = start_first()  # tries every PostgreSQL source the tests know
    if server is None:
        sys.exit(f"bench/workers.py: no PostgreSQL server started: {why}")
    print(f"PostgreSQL from {why}", file=sys.stderr)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as work:
            for n in args.workers:
                rows.append(measure(server, n, args.channels, Path(work)))
    finally:
        server.stop()
    print(f"\n{args.channels} Slack channels due at once; {os.cpu_count()} cores; PostgreSQL")
    print(f"{'workers':>8} {'messages':>9} {'seconds':>8} {'msg/s':>8}")
    for row in rows:
        print(
            f"{row['workers']:>8} {row['messages']:>9} {row['seconds']:>8.2f} "
            f"{row['msg_per_s']:>8.1f}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"workers-{args.channels}.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
