"""Issue 11, upstream faults: whatever Hugging Face, arXiv or something pretending to be
them sends, an ingest ends in time, in bounded memory, with data from where it asked,
and nothing malformed reaches the corpus.

Everything runs over real sockets against the fake upstream (tests/fakes/upstream.py),
which misbehaves on demand: a body drip-fed a byte at a time, a huge or gzip-bomb body, a
redirect to another server, a 429 asking for a long wait. Limits are tiny (a 1 s deadline,
a 64 KiB cap) so each test takes a second or two.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest

from bot.config import Config
from bot.ingest import IngestError, ingest
from bot.models import Paper
from bot.sources.arxiv_source import lookup_arxiv
from bot.sources.http import HttpClient, RequestFailed, Throttle
from tests.conftest import REPO
from tests.corpus_files import snapshot, stored_papers
from tests.fakes.upstream import (
    ARXIV_ATOM,
    ARXIV_RSS,
    HF_BY_DATE,
    HF_LATEST,
    Canned,
    FakeUpstream,
    point_sources_at,
)

MAY8 = date(2026, 5, 8)
BY_DATE = {"2605.05242", "2605.06548", "2605.06130"}
KIB64 = 64 * 1024
T = TypeVar("T")


@pytest.fixture
def cfg(config: Config, upstream: FakeUpstream) -> Config:
    return point_sources_at(config, upstream.url, retries=1)


@pytest.fixture
def bot(make_bot, cfg):
    return make_bot(demo=False)


async def within(seconds: float, aw: Awaitable[T]) -> T:
    """``aw``, or a test failure (not a hang) when the code under test does not stop."""
    try:
        return await asyncio.wait_for(aw, seconds)
    except TimeoutError:
        pytest.fail(f"still running after {seconds} s")


def hf_items() -> list[dict[str, Any]]:
    return orjson.loads(HF_BY_DATE.read_bytes())


def serve_items(upstream: FakeUpstream, items: list[dict[str, Any]]) -> None:
    upstream.route("/api/daily_papers", Canned(body=orjson.dumps(items)), date="2026-05-08")


def assert_corpus_is_valid(papers: list[Paper]) -> None:
    """Every date in the corpus is a real ``YYYY-MM-DD`` day (what the scheduler parses)."""
    for paper in papers:
        for value in (paper.daily_date, paper.published):
            if value is not None:
                assert len(value) == 10 and date.fromisoformat(value), (paper.id, value)
        assert isinstance(paper.title, str) and isinstance(paper.abstract, str)
        assert all(isinstance(a, str) for a in paper.authors)
        assert all(isinstance(k, str) for k in paper.ai_keywords)


def padded(body: bytes, size: int) -> bytes:
    """A valid JSON array of ``size`` bytes: the body with whitespace after its ``[``."""
    assert body.startswith(b"[")
    return b"[" + b" " * (size - len(body)) + body[1:]


# ---- one bad upstream item must not reach the corpus ------------------------------------


def run_cli(config_file: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "papers_bot", "--config", str(config_file), "ingest", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
    )


def write_config(tmp_path: Path, upstream: FakeUpstream, extra: str = "") -> tuple[Path, Path]:
    data = tmp_path / "data"
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        f'[bot]\ndata_dir = "{data}"\n'
        f"[sources]\nretries = 1\nretry_backoff = 0.01\n{extra}"
        f'[sources.huggingface]\nbase_url = "{upstream.url}"\ntimeout = 5.0\n'
        f'[sources.arxiv]\nbase_url = "{upstream.url}"\napi_base_url = "{upstream.url}"\n'
        "min_interval = 0.0\n"
    )
    return config_file, data


def test_an_item_with_a_bad_daily_date_is_skipped_by_the_ingest_command(tmp_path, upstream):
    items = hf_items()
    items[1]["paper"]["submittedOnDailyAt"] = "2026-06-1ZT00:00:00Z"
    serve_items(upstream, items)
    config_file, data = write_config(tmp_path, upstream)

    done = run_cli(config_file, "--source", "huggingface", "--date", "2026-05-08")

    assert done.returncode == 0, done.stderr
    assert "fetched 2, new 2, updated 0, skipped as invalid 1" in done.stdout
    assert "submittedOnDailyAt '2026-06-1ZT00:00:00Z' is not an ISO date" in done.stdout
    docs = stored_papers(data / "corpus")
    assert set(docs) == BY_DATE - {"2605.06548"}
    assert_corpus_is_valid([Paper.from_doc(doc) for doc in docs.values()])


BAD_ITEMS = {
    "far-future daily day": ("paper", "submittedOnDailyAt", "2999-01-01T00:00:00.000Z"),
    "impossible published day": ("paper", "publishedAt", "2026-02-30T00:00:00.000Z"),
    "compact date": ("item", "publishedAt", "20260502"),
    "date as a number": ("paper", "submittedOnDailyAt", 20260508),
    "summary not a string": ("item", "summary", ["an", "abstract"]),
    "title not a string": ("item", "title", 42),
    "title too long": ("item", "title", "x" * 5000),
    "title with a NUL": ("item", "title", "Attention\x00 is all"),
    "authors not a list": ("paper", "authors", "Jane Doe, John Roe"),
    "author name not a string": ("paper", "authors", [{"name": ["Jane"]}]),
    "keywords not a list": ("paper", "ai_keywords", {"agentic": 1}),
    "keyword not a string": ("paper", "ai_keywords", ["agentic", 7]),
    "ai_summary not a string": ("paper", "ai_summary", {"text": "hi"}),
}


@pytest.mark.parametrize("where,key,value", BAD_ITEMS.values(), ids=list(BAD_ITEMS))
async def test_a_malformed_field_skips_its_item_and_the_rest_goes_in(
    bot, cfg, upstream, where, key, value
):
    items = hf_items()
    (items[1] if where == "item" else items[1]["paper"])[key] = value
    serve_items(upstream, items)

    report = await ingest(bot, cfg, sources=("huggingface",), day=MAY8)

    assert report.skipped == 1 and report.new == 2
    assert {p.id for p in bot.store.papers()} == BY_DATE - {"2605.06548"}
    problems = report.sources["huggingface"].problems
    assert len(problems) == 1 and "2605.06548" in problems[0] and key in problems[0]
    assert_corpus_is_valid(bot.store.papers())


async def test_a_bad_counter_or_link_is_left_unknown_and_the_paper_kept(bot, cfg, upstream):
    items = hf_items()
    items[0]["paper"]["upvotes"] = 10**15  # out of range
    items[0]["paper"]["githubRepo"] = "javascript:alert(1)"
    items[0]["numComments"] = -3
    items[1]["paper"]["projectPage"] = "https://exa mple.org/ x"
    serve_items(upstream, items)
    report = await ingest(bot, cfg, sources=("huggingface",), day=MAY8)
    assert report.skipped == 0 and report.new == 3
    first, second = bot.store.get_paper("2605.05242"), bot.store.get_paper("2605.06548")
    assert (first.upvotes, first.comments, first.github_repo, first.github_stars) == (
        None,
        None,
        None,
        None,
    )
    assert second.project_page is None and second.upvotes == 68


async def test_arxiv_entries_with_bad_dates_are_skipped(bot, cfg, upstream):
    rss = ARXIV_RSS.read_bytes()
    first_date = rss.index(b"<pubDate>", rss.index(b"<item"))
    end = rss.index(b"</pubDate>", first_date)
    rss = rss[:first_date] + b"<pubDate>someday soon" + rss[end:]
    upstream.route("/rss/", Canned(body=rss, content_type="application/rss+xml"))
    report = await ingest(bot, cfg, sources=("arxiv",))
    assert report.skipped == 1 and "pubDate 'someday soon'" in report.sources["arxiv"].problems[0]
    assert_corpus_is_valid(bot.store.papers())

    atom = ARXIV_ATOM.read_bytes().replace(b"<published>2026-", b"<published>2026-13-45T", 1)
    upstream.route("/api/query", Canned(body=atom, content_type="application/atom+xml"))
    async with HttpClient(cfg.sources) as http:
        paper = await lookup_arxiv(http, cfg.sources.arxiv, Throttle(0), "2606.13677")
    assert paper is None  # an entry with an impossible date is not taken


async def test_a_stored_bad_date_is_replaced_by_the_next_valid_one(bot, cfg, upstream):
    # Written by a version that did not check dates: it sorts after every real day.
    bot.store.put_papers([Paper(id="2605.05242", title="Beyond", daily_date="2026-06-1Z")])
    await ingest(bot, cfg, sources=("huggingface",), day=MAY8)
    assert bot.store.get_paper("2605.05242").daily_date == "2026-05-08"


# ---- deadlines ----------------------------------------------------------------------------


def drip(path_body: Path, every: float = 0.05) -> Canned:
    canned = Canned.file(path_body)
    canned.drip = every
    return canned


async def test_a_drip_fed_answer_is_cut_at_the_request_deadline(make_bot, cfg, upstream):
    bot = make_bot(demo=True)
    before = snapshot(bot.store.corpus_path)
    cfg.sources.request_deadline = 1.0
    cfg.sources.retries = 3  # the deadline covers the retries too: no second attempt
    upstream.route("/api/daily_papers", drip(HF_BY_DATE), date="2026-05-08")
    started = time.monotonic()
    with pytest.raises(IngestError) as err:
        await within(8, ingest(bot, cfg, sources=("huggingface",), day=MAY8))
    assert time.monotonic() - started < 2.0
    message = str(err.value)
    assert "no complete answer within 1 s (sources.request_deadline)" in message
    assert "\n" not in message
    assert len(upstream.hits("/api/daily_papers")) == 1
    assert snapshot(bot.store.corpus_path) == before


async def test_a_backoff_longer_than_the_deadline_fails_at_once(cfg, upstream):
    cfg.sources.request_deadline = 1.0
    cfg.sources.retries = 4
    cfg.sources.retry_backoff = 5.0
    upstream.route("/api/daily_papers", Canned(status=503, body=b"busy"))
    started = time.monotonic()
    async with HttpClient(cfg.sources) as http:
        with pytest.raises(RequestFailed, match=r"HTTP 503.*no time left to retry within 1 s"):
            await within(8, http.get(f"{upstream.url}/api/daily_papers", timeout=5.0))
    assert time.monotonic() - started < 0.8
    assert len(upstream.hits("/api/daily_papers")) == 1


async def test_the_ingest_deadline_bounds_the_whole_run_and_keeps_what_came_in(bot, cfg, upstream):
    # Each answer is quick enough for the request deadline; eleven of them are not
    # quick enough for the ingest deadline.
    cfg.sources.ingest_deadline = 1.0
    slow_day, slow_other = Canned.file(HF_BY_DATE), Canned.file(HF_LATEST)
    slow_day.delay = slow_other.delay = 0.3
    upstream.route("/api/daily_papers", slow_other)
    upstream.route("/api/daily_papers", slow_day, date="2026-05-08")
    started = time.monotonic()
    report = await within(8, ingest(bot, cfg, sources=("huggingface",), day=MAY8, backfill=10))
    assert time.monotonic() - started < 2.0
    assert {p.id for p in bot.store.papers()} >= BY_DATE  # what came in before is merged
    result = report.sources["huggingface"]
    assert result.failed_requests >= 1
    assert any("sources.ingest_deadline" in why for why in result.problems)


async def test_a_deadline_during_the_throttle_wait_releases_the_throttle(cfg, upstream):
    cfg.sources.request_deadline = 0.2
    throttle = Throttle(0.6)
    async with HttpClient(cfg.sources) as http:
        assert await lookup_arxiv(http, cfg.sources.arxiv, throttle, "2606.13677")
        with pytest.raises(RequestFailed, match=r"within 0\.2 s"):
            await within(5, lookup_arxiv(http, cfg.sources.arxiv, throttle, "2606.13677"))
        await asyncio.sleep(0.6)
        assert await within(5, lookup_arxiv(http, cfg.sources.arxiv, throttle, "2606.13677"))


def test_ingest_command_exits_non_zero_in_time_when_every_source_drips(tmp_path, upstream):
    upstream.route("/api/daily_papers", drip(HF_BY_DATE))
    upstream.route("/rss/", drip(ARXIV_RSS))
    config_file, data = write_config(tmp_path, upstream, "request_deadline = 1.0\n")
    started = time.monotonic()
    done = run_cli(config_file, timeout=20)
    assert time.monotonic() - started < 10
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "nothing could be fetched" in lines[0] and "sources.request_deadline" in lines[0]
    assert not (data / "corpus.json").exists()
    assert "2605.05242" not in stored_papers(data / "corpus")


# ---- 429 with a long Retry-After ------------------------------------------------------------


@pytest.mark.parametrize(
    "retry_after,request_deadline,ingest_deadline,names",
    [
        ("30", 1.0, 600.0, "sources.request_deadline"),
        ("100", 60.0, 600.0, "sources.request_deadline"),  # the default request deadline
        ("30", 60.0, 1.0, "sources.ingest_deadline"),
    ],
)
async def test_a_long_retry_after_fails_at_once_instead_of_outliving_the_deadline(
    bot, cfg, upstream, retry_after, request_deadline, ingest_deadline, names
):
    cfg.sources.request_deadline = request_deadline
    cfg.sources.ingest_deadline = ingest_deadline
    upstream.route(
        "/api/daily_papers",
        Canned(status=429, body=b"slow down", headers={"Retry-After": retry_after}),
        Canned.file(HF_BY_DATE),
        date="2026-05-08",
    )
    started = time.monotonic()
    with pytest.raises(IngestError) as err:
        await within(5, ingest(bot, cfg, sources=("huggingface",), day=MAY8))
    assert time.monotonic() - started < 1.0
    assert f"HTTP 429, asked to wait {retry_after} s" in str(err.value)
    assert names in str(err.value)
    assert bot.store.paper_count() == 0


# ---- body size cap --------------------------------------------------------------------------


BODIES = {
    # A 1 MiB answer that says so: refused before it is read.
    "declared": (Canned(body=padded(HF_BY_DATE.read_bytes(), 1 << 20)), "Content-Length"),
    # The same without a Content-Length: refused while streaming.
    "chunked": (Canned(body=padded(HF_BY_DATE.read_bytes(), 1 << 20), chunked=True), ""),
    # A few KiB of gzip that inflate to 8 MiB of valid JSON.
    "gzip bomb": (
        Canned.gzipped(padded(HF_BY_DATE.read_bytes(), 8 << 20)),
        "after decompression",
    ),
}


@pytest.mark.parametrize("canned,detail", BODIES.values(), ids=list(BODIES))
async def test_a_body_over_the_cap_is_refused_and_the_corpus_untouched(
    make_bot, cfg, upstream, canned, detail
):
    bot = make_bot(demo=True)
    before = snapshot(bot.store.corpus_path)
    cfg.sources.max_body_bytes = KIB64
    upstream.route("/api/daily_papers", canned, date="2026-05-08")
    with pytest.raises(IngestError) as err:
        await within(8, ingest(bot, cfg, sources=("huggingface",), day=MAY8))
    message = str(err.value)
    assert "body larger than 64 KiB (sources.max_body_bytes)" in message and detail in message
    assert len(upstream.hits("/api/daily_papers")) == 1  # not retried: it would be as big
    assert snapshot(bot.store.corpus_path) == before


async def test_a_body_under_the_cap_still_goes_in_compressed_or_not(bot, cfg, upstream):
    cfg.sources.max_body_bytes = KIB64
    upstream.route("/api/daily_papers", Canned.gzipped(HF_BY_DATE.read_bytes()), date="2026-05-08")
    report = await ingest(bot, cfg, sources=("huggingface",), day=MAY8)
    assert report.new == 3


async def test_stacked_encodings_are_refused(cfg, upstream):
    inner = Canned.gzipped(HF_BY_DATE.read_bytes())
    twice = Canned.gzipped(inner.body)
    twice.headers = {"Content-Encoding": "gzip, gzip"}
    upstream.route("/api/daily_papers", twice)
    async with HttpClient(cfg.sources) as http:
        with pytest.raises(RequestFailed, match="stacked Content-Encoding gzip, gzip"):
            await http.get(f"{upstream.url}/api/daily_papers", timeout=2.0)


# ---- redirects ------------------------------------------------------------------------------


async def test_a_redirect_to_another_server_is_not_followed(make_bot, cfg, upstream):
    bot = make_bot(demo=True)
    before = snapshot(bot.store.corpus_path)
    with FakeUpstream() as elsewhere:
        target = f"{elsewhere.url}/api/daily_papers?date=2026-05-08"
        upstream.route("/api/daily_papers", Canned.redirect(target), date="2026-05-08")
        with pytest.raises(IngestError) as err:
            await ingest(bot, cfg, sources=("huggingface",), day=MAY8)
        assert elsewhere.hits("/") == []
    message = str(err.value)
    assert f"redirected to {target}" in message and "not followed" in message
    assert snapshot(bot.store.corpus_path) == before


async def test_a_redirect_to_another_scheme_on_the_same_host_is_not_followed(cfg, upstream):
    https = upstream.url.replace("http://", "https://") + "/api/daily_papers"
    upstream.route("/api/daily_papers", Canned.redirect(https, status=301))
    async with HttpClient(cfg.sources) as http:
        with pytest.raises(RequestFailed, match=f"redirected to {https}"):
            await http.get(f"{upstream.url}/api/daily_papers", timeout=2.0)


async def test_a_redirect_within_the_same_origin_is_followed(bot, cfg, upstream):
    upstream.route(
        "/api/daily_papers",
        Canned.redirect("/api/v2/daily_papers?date=2026-05-08", status=308),
        date="2026-05-08",
    )
    upstream.route("/api/v2/daily_papers", Canned.file(HF_BY_DATE))
    report = await ingest(bot, cfg, sources=("huggingface",), day=MAY8)
    assert report.new == 3 and {p.id for p in bot.store.papers()} == BY_DATE
    assert [h.path for h in upstream.hits("/api/")] == ["/api/daily_papers", "/api/v2/daily_papers"]
