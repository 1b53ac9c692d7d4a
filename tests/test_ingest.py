"""Ingest end to end against the fake upstream: what reaches the corpus, the one atomic
write, "no announcements" days, the arXiv lookup, and the ``ingest`` command itself."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import date
from pathlib import Path

import orjson
import pytest

from bot.config import Config
from bot.ingest import IngestError, ingest, make_lookup
from bot.query import parse_query
from bot.replies import Request
from tests.conftest import REPO
from tests.corpus_files import snapshot, stored_papers
from tests.fakes.upstream import EMPTY_RSS, HF_BY_DATE, Canned, FakeUpstream, point_sources_at

MAY8 = date(2026, 5, 8)
BY_DATE = {"2605.05242": 86, "2605.06548": 68, "2605.06130": 67}


@pytest.fixture
def cfg(config: Config, upstream: FakeUpstream) -> Config:
    return point_sources_at(config, upstream.url, retries=1)


@pytest.fixture
def bot(make_bot, cfg):
    return make_bot(demo=False)


def corpus_upvotes(bot) -> dict[str, int | None]:
    return {p.id: p.upvotes for p in bot.store.papers()}


async def test_a_daily_list_goes_in_once(bot, cfg, upstream):
    report = await ingest(bot, cfg, sources=("huggingface",), day=MAY8)
    assert corpus_upvotes(bot) == BY_DATE
    assert (report.fetched, report.new, report.updated, report.skipped) == (3, 3, 0, 0)
    # The search index follows the corpus.
    hits = bot.index.search(parse_query("agentic"), per_page=10).hits
    assert {h.paper_id for h in hits} <= set(BY_DATE) and hits
    assert bot.index.doc_count == 3
    last = bot.store.get_meta("last_ingest")
    assert last["at"] == report.at and "new 3" in last["summary"]

    before = snapshot(bot.store.corpus_path)
    again = await ingest(bot, cfg, sources=("huggingface",), day=MAY8)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 3)
    assert snapshot(bot.store.corpus_path) == before


async def test_refetch_updates_counters_fills_gaps_and_blanks_nothing(bot, cfg, upstream):
    items = orjson.loads(HF_BY_DATE.read_bytes())
    first = orjson.loads(HF_BY_DATE.read_bytes())
    del first[0]["paper"]["ai_summary"]  # not known yet on the first fetch
    upstream.route("/api/daily_papers", Canned(body=orjson.dumps(first)), date="2026-05-08")
    await ingest(bot, cfg, sources=("huggingface",), day=MAY8)
    assert bot.store.get_paper("2605.05242").ai_summary is None
    summary_2 = bot.store.get_paper("2605.06548").ai_summary
    assert summary_2

    items[0]["paper"]["upvotes"] = 120
    items[0]["numComments"] = 9
    del items[1]["paper"]["ai_summary"]  # a later answer lacking a field must not blank it
    items[1]["summary"] = ""
    upstream.route("/api/daily_papers", Canned(body=orjson.dumps(items)), date="2026-05-08")
    report = await ingest(bot, cfg, sources=("huggingface",), day=MAY8)

    one, two = bot.store.get_paper("2605.05242"), bot.store.get_paper("2605.06548")
    assert (one.upvotes, one.comments) == (120, 9)
    assert one.ai_summary  # filled in
    assert two.ai_summary == summary_2 and two.abstract  # kept
    assert (report.new, report.updated) == (0, 1)
    assert bot.store.paper_count() == 3


async def test_both_sources_in_one_write(bot, cfg, upstream):
    writes = bot.store.corpus_storage.writes
    report = await ingest(bot, cfg, day=None)
    ids = {p.id for p in bot.store.papers()}
    assert {"2609.26811", "2609.26820"} <= ids  # arXiv "new" items
    assert "2606.13681" in ids  # the Hugging Face trending list
    assert "2009.13987" not in ids  # an arXiv "replace" is not news
    assert bot.store.corpus_storage.writes == writes + 1
    assert set(report.answered) == {"huggingface", "arxiv"}
    paper = bot.store.get_paper("2609.26820")
    assert paper.sources == ["arxiv"]
    assert paper.authors == ["Naser Mansour", "Sidahmed Benabderrahmane", "Ameer Rahwan"]
    trending = upstream.hits("/api/daily_papers")[0].query
    assert trending["sort"] == "trending" and trending["p"] == "0"


async def test_garbage_everywhere_leaves_the_corpus_untouched(make_bot, cfg, upstream):
    bot = make_bot(demo=True)
    before = snapshot(bot.store.corpus_path)
    upstream.route("/api/daily_papers", Canned.html())
    upstream.route("/rss/", Canned(body=b"<rss><channel><item>cut off"))
    with pytest.raises(IngestError, match="nothing could be fetched") as err:
        await ingest(bot, cfg)
    assert "\n" not in str(err.value)
    assert snapshot(bot.store.corpus_path) == before
    assert bot.store.get_meta("last_ingest") is None


async def test_one_source_down_the_other_still_goes_in(bot, cfg, upstream):
    upstream.route("/rss/", Canned(status=503, body=b"down"))
    report = await ingest(bot, cfg, day=MAY8)
    assert corpus_upvotes(bot) == BY_DATE
    assert report.answered == ["huggingface"]
    assert report.failed_requests == 1
    assert "failed requests 1" in bot.store.get_meta("last_ingest")["summary"]


async def test_a_cancelled_ingest_writes_nothing(make_bot, cfg, upstream):
    bot = make_bot(demo=True)
    before = snapshot(bot.store.corpus_path)
    slow = Canned.file(HF_BY_DATE.parent / "arxiv_rss_multi_category_sample.rss.xml")
    slow.delay = 1.5
    upstream.route("/rss/", slow)
    task = asyncio.create_task(ingest(bot, cfg, day=MAY8))
    while not upstream.hits("/rss/"):
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)  # Hugging Face has answered by now; arXiv has not
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert snapshot(bot.store.corpus_path) == before


async def test_no_news_is_news(bot, cfg, upstream):
    upstream.route("/api/daily_papers", Canned(body=b"[]"), date="2026-05-09")
    upstream.route("/rss/", Canned(body=EMPTY_RSS))
    report = await ingest(bot, cfg, day=date(2026, 5, 9))
    assert report.new == 0 and set(report.answered) == {"huggingface", "arxiv"}
    today = bot.clock().date().isoformat()
    marks = bot.store.get_meta("no_announcements")
    assert marks == {"huggingface": "2026-05-09", "arxiv": today}
    status = bot.handle(Request(text="status")).text
    assert "No announcements from huggingface for 2026-05-09" in status

    await ingest(bot, cfg, sources=("huggingface",), day=MAY8)
    assert bot.store.get_meta("no_announcements") == {"arxiv": today}


async def test_backfill_asks_for_each_day(bot, cfg, upstream):
    await ingest(bot, cfg, sources=("huggingface",), day=MAY8, backfill=2)
    asked = [h.query["date"] for h in upstream.hits("/api/daily_papers")]
    assert asked == ["2026-05-08", "2026-05-07", "2026-05-06"]


async def test_paper_lookup_fetches_from_the_arxiv_api(bot, cfg, upstream):
    bot.lookup = make_lookup(cfg)
    reply = await bot.handle_async(Request(text="paper arXiv:2606.13677v1"))
    assert bot.store.get_paper("2606.13677") is not None
    assert "2606.13677" in reply.text or any(c.paper.id == "2606.13677" for c in reply.cards)
    assert upstream.hits("/api/query")[0].query["id_list"] == "2606.13677"


# ---- the command, as a user runs it -------------------------------------------------------


def run_cli(config_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "papers_bot", "--config", str(config_file), "ingest", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )


def test_ingest_command_by_date_twice_then_garbage(tmp_path, upstream):
    data = tmp_path / "data"
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        f'[bot]\ndata_dir = "{data}"\n'
        "[sources]\nretries = 1\nretry_backoff = 0.01\n"
        f'[sources.huggingface]\nbase_url = "{upstream.url}"\ntimeout = 5.0\n'
        f'[sources.arxiv]\nbase_url = "{upstream.url}"\napi_base_url = "{upstream.url}"\n'
        "min_interval = 0.0\n"
    )
    args = ("--source", "huggingface", "--date", "2026-05-08")

    first = run_cli(config_file, *args)
    assert first.returncode == 0, first.stderr
    assert "fetched 3, new 3, updated 0, skipped as invalid 0, failed requests 0" in first.stdout
    corpus = data / "corpus"
    docs = stored_papers(corpus)
    assert {pid: doc["upvotes"] for pid, doc in docs.items()} == BY_DATE
    before = snapshot(corpus)

    second = run_cli(config_file, *args)
    assert second.returncode == 0, second.stderr
    assert "new 0, updated 0" in second.stdout
    assert snapshot(corpus) == before

    upstream.route(
        "/api/daily_papers",
        Canned(body=b"\x00garbage{{", content_type="text/plain"),
        date="2026-05-08",
    )
    third = run_cli(config_file, *args)
    assert third.returncode != 0
    lines = third.stderr.strip().splitlines()
    assert len(lines) == 1 and "nothing could be fetched" in lines[0], third.stderr
    assert snapshot(corpus) == before
