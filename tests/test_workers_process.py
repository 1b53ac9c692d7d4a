"""Issue 17, the main test: three ``papers-bot run`` workers on one PostgreSQL database and
one data volume, posting 2,000 Slack channels' digests, all due at 09:00, to one fake Slack
Web API; one worker is SIGKILLed mid-way. Every channel's digest arrives exactly once; only
the messages the killed worker had in flight at the kill may repeat (each then resumed by
another worker once the dead one's claims lapse)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path

from bot.app import PapersBot
from bot.cli import demo_papers, import_papers
from bot.config import Config
from bot.search import SearchIndex
from bot.store import Store
from tests.fakes.slack_api import FakeSlack
from tests.postgres_server import PostgresServer
from tests.test_faults_process import Bot, assert_clean_log
from tests.test_run_platforms import common, slack_http
from tests.test_run_slack_fanout import due_slack_channels
from tests.test_slack import SECRET, TEAM, free_port

TOKEN = "xoxb-test-token-not-real"
CHANNELS = 2000
WORKERS = 3
MAX_IN_FLIGHT = 50  # the scheduler's max_concurrent_posts: what a kill may leave in flight
DONE = "daily post for 2026-12-01 done"  # a worker's log line per channel it finished
SETTINGS = common(claim_batch=200, lease_seconds=5)


def enrolled_data(folder: Path, url: str, config: Config) -> list[str]:
    """The demo corpus on the volume and 2,000 Slack channels, posting at 09:00 UTC."""
    store = Store(folder, state_url=url)
    bot = PapersBot(config, store, SearchIndex(None))
    import_papers(bot, demo_papers())
    channels = due_slack_channels(CHANNELS, not_before="2026-12-01T00:00:00+00:00")
    store.save_channels(channels)
    store.close()
    return [c.channel_id for c in channels]


async def test_three_workers_one_killed_post_every_digest_once(
    tmp_path: Path, postgres: PostgresServer, config: Config
) -> None:
    url = postgres.new_database()
    data = tmp_path / "data"
    channel_ids = enrolled_data(data, url, config)
    async with FakeSlack(token=TOKEN, team_id=TEAM) as fake:
        workers: list[Bot] = []
        try:
            for n in range(WORKERS):
                settings = tmp_path / f"worker{n}.toml"
                settings.write_text(SETTINGS + slack_http(fake, free_port()))
                env = {
                    "PAPERS_BOT_STATE_URL": url,
                    "PAPERS_BOT_WORKER": f"w{n}",
                    "SLACK_BOT_TOKEN": TOKEN,
                    "SLACK_SIGNING_SECRET": SECRET,
                }
                workers.append(await Bot.run(settings, data, **env))
            started = time.monotonic()
            victim = workers[0]
            await victim.wait_for(DONE, count=150, timeout=40)
            await victim.kill()  # SIGKILL, mid-way through its share
            killed_at = len(fake.posts)
            await fake.wait_for(
                lambda: {p.channel for p in fake.posts} >= set(channel_ids), timeout=40
            )
            took = time.monotonic() - started
            await asyncio.sleep(1.5)  # nothing more may come
            for survivor in workers[1:]:
                status, _took = await survivor.sigterm()
                assert status == 0, survivor.stderr()[-2000:]
        finally:
            for worker in workers:
                await worker.kill()

    per_channel = Counter(p.channel for p in fake.posts)
    assert set(per_channel) == set(channel_ids)
    repeated = {c: n for c, n in per_channel.items() if n > 1}
    assert all(n == 2 for n in repeated.values()), repeated
    assert len(repeated) <= MAX_IN_FLIGHT, len(repeated)
    for channel in repeated:  # the resumed copy carries the same papers as the first
        first, again = fake.posts_to(channel)
        assert "resumed after a restart" in json.dumps(again.blocks)
        assert paper_links(first) == paper_links(again)
    assert killed_at < len(fake.posts)  # the others finished what the victim left
    done = [worker.stderr().count(DONE) for worker in workers]
    assert all(done), done  # every worker took a share
    for survivor in workers[1:]:
        assert_clean_log(survivor.stderr())
        assert "lost the claim" not in survivor.stderr()  # leases renewed in time

    store = Store(data, state_url=url)
    assert store.pending_deliveries() == []
    assert {c.last_post_date for c in store.channels()} == {"2026-12-01"}
    live = {c for c, worker in store.state.claimed().items() if not worker.startswith("w0:")}
    assert live == set()  # the survivors gave every claim back
    store.close()
    print(
        f"\n{CHANNELS} channels, {WORKERS} workers (one killed after {killed_at} posts): "
        f"{len(fake.posts)} messages in {took:.1f} s, {len(repeated)} repeated; "
        f"channels finished per worker {done}"
    )


def paper_links(post) -> list[str]:
    text = json.dumps(post.blocks)
    return sorted(
        part.split('"')[0] for part in text.split("arxiv.org/abs/")[1:] if part.split('"')[0]
    )
