"""Fetching from the fake upstream on a real socket: retries, Retry-After, timeouts,
politeness and bad bodies. Nothing of ours is mocked; the server misbehaves instead."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest

from bot.config import Config
from bot.sources.arxiv_source import fetch_arxiv_listing, lookup_arxiv
from bot.sources.http import HttpClient, RequestFailed, Throttle, retry_after_seconds
from bot.sources.huggingface_source import fetch_huggingface
from tests.fakes.upstream import (
    EMPTY_RSS,
    HF_BY_DATE,
    HF_LATEST,
    Canned,
    FakeUpstream,
    point_sources_at,
)

SEEN = "2026-05-11T00:00:00+00:00"


@pytest.fixture
def cfg(config: Config, upstream: FakeUpstream) -> Config:
    return point_sources_at(config, upstream.url, retries=2)


async def hf_day(cfg: Config, day: str = "2026-05-08"):
    async with HttpClient(cfg.sources) as http:
        return await fetch_huggingface(
            http,
            cfg.sources.huggingface,
            days=[date.fromisoformat(day)],
            trending=False,
            seen_at=SEEN,
        )


async def test_daily_list_by_date_sends_date_and_user_agent(cfg, upstream):
    result = await hf_day(cfg)
    assert result.answered and result.full_days == ["2026-05-08"]
    assert [(p.id, p.upvotes) for p in result.papers] == [
        ("2605.05242", 86),
        ("2605.06548", 68),
        ("2605.06130", 67),
    ]
    (seen,) = upstream.hits("/api/daily_papers")
    assert seen.query["date"] == "2026-05-08"
    assert int(seen.query["limit"]) <= 100
    assert seen.headers["User-Agent"] == cfg.sources.user_agent
    assert "papers-bot" in seen.headers["User-Agent"]


async def test_trending_follows_pages_until_a_short_one(cfg, upstream):
    items = orjson.loads(HF_LATEST.read_bytes())
    cfg.sources.huggingface.page_size = 3
    for n in range(3):
        body = orjson.dumps(items[n * 3 : n * 3 + 3])
        upstream.route("/api/daily_papers", Canned(body=body), sort="trending", p=str(n))
    async with HttpClient(cfg.sources) as http:
        result = await fetch_huggingface(
            http, cfg.sources.huggingface, days=[], trending=True, seen_at=SEEN
        )
    assert [p.id for p in result.papers] == [i["paper"]["id"] for i in items]
    assert [h.query["p"] for h in upstream.hits("/api/daily_papers")] == ["0", "1", "2"]
    assert {h.query["limit"] for h in upstream.hits("/api/daily_papers")} == {"3"}


async def test_page_size_is_capped_at_100(cfg, upstream):
    cfg.sources.huggingface.page_size = 500
    await hf_day(cfg)
    assert upstream.hits("/api/daily_papers")[0].query["limit"] == "100"


async def test_429_waits_as_long_as_retry_after_says(cfg, upstream):
    upstream.route(
        "/api/daily_papers",
        Canned(status=429, body=b"slow down", headers={"Retry-After": "1"}),
        Canned.file(HF_BY_DATE),
        date="2026-05-08",
    )
    result = await hf_day(cfg)
    assert len(result.papers) == 3 and result.failed_requests == 0
    first, second = upstream.hits("/api/daily_papers")
    assert second.at - first.at >= 0.95


async def test_500_then_200_is_retried(cfg, upstream):
    upstream.route(
        "/api/daily_papers",
        Canned(status=500, body=b"boom"),
        Canned(status=503, body=b"boom"),
        Canned.file(HF_BY_DATE),
        date="2026-05-08",
    )
    result = await hf_day(cfg)
    assert len(result.papers) == 3
    assert len(upstream.hits("/api/daily_papers")) == 3


async def test_persistent_5xx_counts_one_failed_request(cfg, upstream):
    upstream.route("/api/daily_papers", Canned(status=502, body=b"bad"), date="2026-05-08")
    result = await hf_day(cfg)
    assert not result.answered and result.papers == []
    assert result.failed_requests == 1
    assert len(upstream.hits("/api/daily_papers")) == cfg.sources.retries + 1
    assert "HTTP 502" in result.problems[0]


async def test_404_is_not_retried(cfg, upstream):
    upstream.route("/api/daily_papers", Canned(status=404, body=b"no"), date="2026-05-08")
    result = await hf_day(cfg)
    assert result.failed_requests == 1
    assert len(upstream.hits("/api/daily_papers")) == 1


async def test_an_answer_slower_than_the_timeout_is_retried(cfg, upstream):
    cfg.sources.huggingface.timeout = 0.3
    slow = Canned.file(HF_BY_DATE)
    slow.delay = 1.0
    upstream.route("/api/daily_papers", slow, Canned.file(HF_BY_DATE), date="2026-05-08")
    started = time.monotonic()
    result = await hf_day(cfg)
    assert len(result.papers) == 3
    assert len(upstream.hits("/api/daily_papers")) == 2
    assert time.monotonic() - started < 1.0  # gave up on the slow one, did not wait it out


async def test_a_body_cut_short_is_retried_then_counted(cfg, upstream):
    cut = Canned.file(HF_BY_DATE)
    cut.cut = 500
    upstream.route("/api/daily_papers", cut, date="2026-05-08")
    result = await hf_day(cfg)
    assert result.failed_requests == 1 and not result.answered
    assert "RemoteProtocolError" in result.problems[0]


async def test_truncated_json_and_html_pages_are_skipped_and_counted(cfg, upstream):
    body = HF_BY_DATE.read_bytes()
    upstream.route("/api/daily_papers", Canned(body=body[:700]), date="2026-05-08")
    upstream.route("/api/daily_papers", Canned.html(), date="2026-05-07")
    async with HttpClient(cfg.sources) as http:
        result = await fetch_huggingface(
            http,
            cfg.sources.huggingface,
            days=[date(2026, 5, 8), date(2026, 5, 7)],
            trending=False,
            seen_at=SEEN,
        )
    assert result.skipped == 2 and result.papers == [] and not result.answered
    assert "not JSON" in result.problems[0] and "text/html" in result.problems[1]


async def test_bad_items_are_skipped_the_rest_goes_in(cfg, upstream):
    items = orjson.loads(HF_BY_DATE.read_bytes())
    items[1]["paper"] = "not an object"
    items[2]["paper"]["upvotes"] = "lots"  # wrong type: the field stays unknown
    upstream.route("/api/daily_papers", Canned(body=orjson.dumps(items)), date="2026-05-08")
    result = await hf_day(cfg)
    assert [p.id for p in result.papers] == ["2605.05242", "2605.06130"]
    assert result.papers[1].upvotes is None
    assert result.skipped == 1 and result.answered


async def test_an_object_instead_of_a_list_is_a_bad_page(cfg, upstream):
    upstream.route("/api/daily_papers", Canned(body=b'{"error": "x"}'), date="2026-05-08")
    result = await hf_day(cfg)
    assert result.skipped == 1 and not result.answered
    assert "JSON array" in result.problems[0]


async def test_weekend_empty_list_is_an_answer_with_no_announcements(cfg, upstream):
    upstream.route("/api/daily_papers", Canned(body=b"[]"), date="2026-05-09")
    result = await hf_day(cfg, "2026-05-09")
    assert result.answered and result.papers == []
    assert result.empty_days == ["2026-05-09"] and result.skipped == 0


async def test_arxiv_listing_keeps_new_and_optionally_cross(cfg, upstream):
    async with HttpClient(cfg.sources) as http:
        throttle = Throttle(0)
        plain = await fetch_arxiv_listing(
            http, cfg.sources.arxiv, throttle, day=date(2026, 9, 24), seen_at=SEEN
        )
        cfg.sources.arxiv.include_cross_lists = True
        cross = await fetch_arxiv_listing(
            http, cfg.sources.arxiv, throttle, day=date(2026, 9, 24), seen_at=SEEN
        )
    assert [p.id for p in plain.papers] == ["2609.26811", "2609.26820"]
    assert [p.id for p in cross.papers] == ["2609.26811", "2609.26820", "2205.06398"]
    assert all(len(p.authors) >= 1 and "," not in p.authors[0] for p in plain.papers)
    assert upstream.hits("/rss/")[0].path == "/rss/cs.CL+cs.LG"
    assert plain.full_days == ["2026-09-24"]


async def test_arxiv_html_page_and_empty_weekend_feed(cfg, upstream):
    upstream.route("/rss/", Canned.html())
    async with HttpClient(cfg.sources) as http:
        bad = await fetch_arxiv_listing(
            http, cfg.sources.arxiv, Throttle(0), day=date(2026, 9, 26), seen_at=SEEN
        )
        upstream.route("/rss/", Canned(body=EMPTY_RSS, content_type="application/rss+xml"))
        empty = await fetch_arxiv_listing(
            http, cfg.sources.arxiv, Throttle(0), day=date(2026, 9, 26), seen_at=SEEN
        )
    assert not bad.answered and bad.skipped == 1 and "expected an RSS feed" in bad.problems[0]
    assert empty.answered and empty.papers == [] and empty.empty_days == ["2026-09-26"]


async def test_arxiv_requests_are_spaced_by_min_interval(cfg, upstream):
    cfg.sources.arxiv.min_interval = 0.4
    throttle = Throttle(cfg.sources.arxiv.min_interval)
    async with HttpClient(cfg.sources) as http:
        await fetch_arxiv_listing(http, cfg.sources.arxiv, throttle, day=date.today(), seen_at=SEEN)
        await lookup_arxiv(http, cfg.sources.arxiv, throttle, "2606.13677")
    first, second = upstream.hits("/")
    assert second.at - first.at >= 0.38


async def test_throttle_also_spaces_retries(cfg, upstream):
    cfg.sources.arxiv.min_interval = 0.3
    upstream.route("/rss/", Canned(status=500), Canned(status=500), Canned(status=200))
    throttle = Throttle(cfg.sources.arxiv.min_interval)
    async with HttpClient(cfg.sources) as http:
        await fetch_arxiv_listing(http, cfg.sources.arxiv, throttle, day=date.today(), seen_at=SEEN)
    times = [h.at for h in upstream.hits("/rss/")]
    assert len(times) == 3
    assert all(b - a >= 0.28 for a, b in itertools.pairwise(times))


async def test_lookup_by_id_strips_the_version_and_knows_unknown_ids(cfg, upstream):
    async with HttpClient(cfg.sources) as http:
        paper = await lookup_arxiv(http, cfg.sources.arxiv, Throttle(0), "2606.13677")
        missing = await lookup_arxiv(http, cfg.sources.arxiv, Throttle(0), "2601.00001")
    assert paper is not None and paper.id == "2606.13677" and paper.authors
    assert missing is None
    assert upstream.hits("/api/query")[0].query["id_list"] == "2606.13677"


async def test_lookup_raises_when_arxiv_cannot_be_asked(cfg, upstream):
    upstream.route("/api/query", Canned(status=503))
    async with HttpClient(cfg.sources) as http:
        with pytest.raises(RequestFailed, match="503"):
            await lookup_arxiv(http, cfg.sources.arxiv, Throttle(0), "2606.13677")


def test_retry_after_accepts_seconds_and_http_dates():
    now = datetime(2026, 5, 8, 12, 0, tzinfo=UTC)
    later = (now + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(later, now) == pytest.approx(30.0)
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
