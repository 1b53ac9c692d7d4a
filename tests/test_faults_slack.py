"""Slack faults from issue 11, over real sockets: signed HTTP into the bolt app in HTTP
mode, ``slack_sdk`` against the fake Web API (tests/fakes/slack_api.py).

* A body holding the word "payload" (a search for it, a channel named #payload-team) was
  taken by bolt for an interactivity payload and answered 404.
* Malformed unsigned or signed requests (a non-numeric timestamp, a JSON content type over
  a non-JSON body, invalid UTF-8) got a 500 and a traceback in the log.
* A paper with a 2,000-character project-page URL (and other hostile papers) broke the
  card's 3,000-character section: ``/papers search`` never answered and the digest was
  retried for ever.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from adapters.base import PermanentDeliveryError
from adapters.slack import SlackAdapter
from bot.app import PapersBot
from bot.config import Config, Secrets
from bot.models import Channel, Paper
from bot.replies import Button, PaperCard, Reply, ReplyKind
from tests.fakes.slack_api import FakeSlack, block_kit_problems
from tests.test_slack import (
    BOT_TOKEN,
    SECRET,
    TEAM,
    all_text,
    buttons,
    command_body,
    free_port,
)

LONG_URL = "https://example.org/project/" + "a" * 2000
LONG_CODE_URL = "https://github.com/lab/" + "b" * 1990


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(token=BOT_TOKEN, team_id=TEAM) as server:
        yield server


@pytest.fixture
async def adapter(demo_bot: PapersBot, config: Config, fake: FakeSlack) -> AsyncIterator[Any]:
    config.slack.enabled = True
    config.slack.mode = "http"
    config.slack.host = "127.0.0.1"
    config.slack.port = free_port()
    config.slack.api_base_url = fake.base_url
    config.secrets = Secrets(slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET)
    slack = SlackAdapter(demo_bot, config)
    await slack.start()
    yield slack
    await slack.stop()


def signature(body: bytes, timestamp: str) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()


async def post_raw(adapter: SlackAdapter, body: bytes, headers: dict[str, str]) -> int:
    """POST raw bytes with exactly ``headers`` to /slack/events; the status."""
    url = f"http://127.0.0.1:{adapter.port}/slack/events"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        await response.read()
        return response.status


async def answer(adapter: SlackAdapter, fake: FakeSlack, body: str, key: str) -> dict[str, Any]:
    """Send a signed form body and wait for the answer posted to its response_url."""
    now = str(int(time.time()))
    status = await post_raw(
        adapter,
        body.encode(),
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": now,
            "X-Slack-Signature": signature(body.encode(), now),
        },
    )
    assert status == 200
    await fake.wait_for(lambda: bool(fake.responses_to(key)))
    return fake.responses_to(key)[0].payload


# ---- (a) the word "payload" ------------------------------------------------------------


async def test_search_for_the_word_payload_is_answered(
    adapter: SlackAdapter, fake: FakeSlack
) -> None:
    reply = await answer(adapter, fake, command_body(fake, "search payload injection"), "r1")
    assert block_kit_problems(reply["blocks"]) == []
    text = all_text(reply["blocks"])
    assert "payload" in text.lower() and "Unknown command" not in text


async def test_command_from_a_channel_named_payload_team_is_answered(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot
) -> None:
    body = command_body(fake, "subscribe diffusion", key="team").replace(
        "channel_name=papers", "channel_name=payload-team"
    )
    assert "payload-team" in body
    reply = await answer(adapter, fake, body, "team")
    assert reply["response_type"] == "in_channel"
    assert "Subscribed" in all_text(reply["blocks"])
    assert [t.query for t in demo_bot.store.topics(f"slack:{TEAM}:C1")] == ["diffusion"]


async def test_button_payload_still_works_next_to_the_fix(
    adapter: SlackAdapter, fake: FakeSlack
) -> None:
    """A real interactivity payload (whose own text says "payload") still runs."""
    import json

    action = {
        "type": "block_actions",
        "user": {"id": "U2", "username": "bob", "team_id": TEAM},
        "team": {"id": TEAM},
        "channel": {"id": "C1", "name": "payload-team"},
        "container": {"type": "message", "is_ephemeral": True},
        "response_url": fake.response_url("press"),
        "actions": [{"action_id": "papers_cmd_0_0", "value": "search payload", "type": "button"}],
    }
    reply = await answer(adapter, fake, urlencode({"payload": json.dumps(action)}), "press")
    assert "payload" in all_text(reply["blocks"]).lower()


# ---- (b) malformed requests ------------------------------------------------------------

FORM = b"command=%2Fpapers&text=status&team_id=T0TEST&channel_id=C1&user_id=U1"


def malformed(case: str) -> tuple[bytes, dict[str, str], int]:
    """(body, headers, expected status) for one malformed request."""
    now = str(int(time.time()))
    form = "application/x-www-form-urlencoded"
    if case == "non-numeric timestamp, unsigned":
        return FORM, {"Content-Type": form, "X-Slack-Request-Timestamp": "abc"}, 401
    if case == "non-numeric timestamp, signed over it":
        ts = "1e9"
        headers = {"Content-Type": form, "X-Slack-Request-Timestamp": ts}
        return FORM, headers | {"X-Slack-Signature": signature(FORM, ts)}, 401
    if case == "json content type over a form body, unsigned":
        return FORM, {"Content-Type": "application/json", "X-Slack-Signature": "v0=x"}, 401
    if case == "json content type over a form body, signed":
        headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": now}
        return FORM, headers | {"X-Slack-Signature": signature(FORM, now)}, 400
    bad = b"text=caf\xe9\xff&command=%2Fpapers"
    if case == "invalid utf-8, unsigned":
        return bad, {"Content-Type": form}, 401
    if case == "invalid utf-8, signed":
        headers = {"Content-Type": form, "X-Slack-Request-Timestamp": now}
        return bad, headers | {"X-Slack-Signature": signature(bad, now)}, 400
    assert case == "payload field that is not json, signed"
    body = b"payload=%7Bnot-json"
    headers = {"Content-Type": form, "X-Slack-Request-Timestamp": now}
    return body, headers | {"X-Slack-Signature": signature(body, now)}, 400


@pytest.mark.parametrize(
    "case",
    [
        "non-numeric timestamp, unsigned",
        "non-numeric timestamp, signed over it",
        "json content type over a form body, unsigned",
        "json content type over a form body, signed",
        "invalid utf-8, unsigned",
        "invalid utf-8, signed",
        "payload field that is not json, signed",
    ],
)
async def test_malformed_requests_get_4xx_and_one_log_line(
    adapter: SlackAdapter,
    fake: FakeSlack,
    demo_bot: PapersBot,
    caplog: pytest.LogCaptureFixture,
    case: str,
) -> None:
    caplog.set_level(logging.INFO)
    body, headers, expected = malformed(case)
    caplog.clear()
    assert await post_raw(adapter, body, headers) == expected
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(records) == 1, [r.getMessage() for r in records]
    assert records[0].exc_info is None and "Traceback" not in caplog.text
    assert str(expected) in records[0].getMessage()
    assert SECRET not in caplog.text
    # Nothing ran, and the app still answers a good request.
    assert fake.responses == []
    assert demo_bot.store.get_channel(f"slack:{TEAM}:C1") is None
    await answer(adapter, fake, command_body(fake, "status", key="after"), "after")


# ---- hostile papers: cards within Block Kit's limits -----------------------------------


def hostile_papers() -> list[Paper]:
    """Papers no card may choke on; each holds the made-up word "zyxwbench"."""
    return [
        Paper(
            id="t-zyxw-long-url",  # no arXiv id: the title links to the project page
            title="Zyxwbench: a benchmark with a very long project page",
            abstract="Zyxwbench measures things. " * 50,
            authors=["Ada Lovelace", "Alan Turing"],
            project_page=LONG_URL,
            github_repo=LONG_CODE_URL,
        ),
        Paper(
            id="t-zyxw-huge",
            title="Zyxwbench " + "enormous title & more " * 1000,
            abstract="Zyxwbench " + "x&<y> " * 5000,
            authors=[f"Author Number {n} of a very large collaboration" for n in range(3000)],
            project_page=LONG_URL + "/second",
        ),
        Paper(
            id="t-zyxw-mentions",
            title="<!channel> <!here> Zyxwbench for <@U123> <https://evil.example|click>",
            abstract="<!everyone> zyxwbench",
            authors=["<!subteam^S1>", "Eve & Mallory"],
            github_repo="https://github.com/x/y|<!channel>",
        ),
    ]


def mrkdwn_texts(blocks: list[dict[str, Any]]) -> list[str]:
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    texts += [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    return texts


def check_hostile_blocks(blocks: list[dict[str, Any]]) -> None:
    assert block_kit_problems(blocks) == []
    for text in mrkdwn_texts(blocks):
        assert "a" * 500 not in text and "b" * 500 not in text  # no long URL in text
        for raw in ("<!channel>", "<!here>", "<@U123>", "<!everyone>", "<!subteam"):
            assert raw not in text
    assert not any("\ud800" <= ch <= "\udfff" for ch in all_text(blocks))


async def test_search_with_hostile_papers_answers_within_limits(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot
) -> None:
    demo_bot.add_papers(hostile_papers())
    reply = await answer(adapter, fake, command_body(fake, "search zyxwbench", key="z"), "z")
    await adapter.commands.drain()  # every message of the answer has been sent
    responses = [r.payload for r in fake.responses_to("z")]
    for response in responses:
        check_hostile_blocks(response["blocks"])
    everything = [b for r in responses for b in r["blocks"]]
    titles = [t for t in mrkdwn_texts(everything) if t.startswith("*")]
    assert len(titles) >= 3  # every hostile paper got its card
    urls = {e.get("url") for e in buttons(everything)}
    assert LONG_URL in urls  # the long project page is a button, not a link in the text
    assert "Results 1–" in all_text(reply["blocks"])


async def test_digest_of_hostile_papers_is_posted_within_limits(
    adapter: SlackAdapter, fake: FakeSlack
) -> None:
    papers = hostile_papers()
    papers.append(
        Paper(
            id="t-zyxw-surrogates",
            title="Lone \ud800 surrogate \udfff zyxwbench",
            abstract="Broken \udc80 escapes from upstream",
            authors=["Sur\ud83dgate"],
            project_page="https://example.org/" + "c" * 2950,  # fits a button, not text
        )
    )
    cards = [
        PaperCard(
            p,
            rank=n,
            topic="<!channel> " + "t" * 500,
            matched_terms=("zyxwbench",),
            buttons=[Button("👍", f"feedback up {p.id}"), Button("👎", f"feedback down {p.id}")],
        )
        for n, p in enumerate(papers, start=1)
    ]
    reply = Reply(
        kind=ReplyKind.DIGEST,
        title="Trending papers <!channel> " + "h" * 400,
        cards=cards,
        ephemeral=False,
    )
    stamps = await adapter.post(Channel("slack", TEAM, "CHOSTILE"), reply)
    posts = fake.posts_to("CHOSTILE")
    assert fake.rejected == [] and len(stamps) == len(posts) >= 1
    for post in posts:
        check_hostile_blocks(post.blocks)
    assert "\ufffd" in all_text([b for p in posts for b in p.blocks])


async def test_a_reply_that_cannot_be_rendered_fails_for_good(
    adapter: SlackAdapter, fake: FakeSlack
) -> None:
    """If rendering ever fails, the post is a permanent failure, not an AssertionError the
    scheduler would retry for ever."""
    broken = Paper(id="t-broken", title=12345)  # type: ignore[arg-type]
    reply = Reply(kind=ReplyKind.DIGEST, cards=[PaperCard(broken)], ephemeral=False)
    with pytest.raises(PermanentDeliveryError, match="could not be rendered"):
        await adapter.post(Channel("slack", TEAM, "CBROKEN"), reply)
    assert fake.posts_to("CBROKEN") == []
