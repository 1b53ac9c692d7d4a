"""The Slack adapter end to end: signed HTTP requests in, Block Kit out to a fake Slack.

The bot runs in HTTP mode on a free local port; requests are signed exactly as Slack signs
them, and ``api_base_url`` and ``response_url`` point at :class:`tests.fakes.slack_api.FakeSlack`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import random
import socket
import string
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlencode

import aiohttp
import pytest

from adapters.base import DeliveryError, PermanentDeliveryError
from adapters.slack import SlackAdapter, SlackConfigError
from adapters.slack.render import render
from bot.app import PapersBot
from bot.config import Config, Secrets
from bot.models import Channel, Paper
from bot.replies import Button, PaperCard, Reply, ReplyKind
from tests.conftest import REPO
from tests.fakes.slack_api import FakeSlack, block_kit_problems

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test-token-not-real"
TEAM = "T0TEST"
FORM = "application/x-www-form-urlencoded"  # commands and interactions
JSON = "application/json"  # Events API callbacks
HOSTILE = "<!channel> <@U123> <https://evil|click> & <!here>"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(token=BOT_TOKEN, team_id=TEAM) as server:
        yield server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def slack_config(config: Config, fake: FakeSlack) -> Config:
    config.slack.enabled = True
    config.slack.mode = "http"
    config.slack.host = "127.0.0.1"
    config.slack.port = free_port()
    config.slack.api_base_url = fake.base_url
    config.secrets = Secrets(slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET)
    return config


@pytest.fixture
async def adapter(demo_bot: PapersBot, slack_config: Config) -> AsyncIterator[SlackAdapter]:
    slack = SlackAdapter(demo_bot, slack_config)
    await slack.start()
    yield slack
    await slack.stop()


def sign(body: str, timestamp: int, secret: str = SECRET) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


async def send(
    adapter: SlackAdapter,
    body: str,
    *,
    secret: str | None = SECRET,
    age: int = 0,
    signature: str | None = None,
    content_type: str = FORM,
) -> tuple[int, str, float]:
    """POST ``body`` to /slack/events as Slack would (commands and interactions as a form,
    events as JSON); (status, text, seconds taken)."""
    timestamp = int(time.time()) - age
    headers = {"Content-Type": content_type}
    if secret is not None:
        headers["X-Slack-Request-Timestamp"] = str(timestamp)
        headers["X-Slack-Signature"] = signature or sign(body, timestamp, secret)
    url = f"http://127.0.0.1:{adapter.port}/slack/events"
    started = time.perf_counter()
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as r,
    ):
        text = await r.text()
    return r.status, text, time.perf_counter() - started


def event(
    team: str,
    body: dict[str, Any],
    event_id: str | None = None,
    *,
    enterprise_id: str | None = None,
) -> str:
    """The Events API callback around ``body`` from ``team``, as Slack sends it; a fresh
    event id unless one is given (Slack redelivering an event repeats its id). The
    ``authorizations`` entry names the org too, as Slack's does: bolt reads the team and
    org from it before the top-level fields."""
    authorization = {"team_id": team, "user_id": "UBOT", "is_bot": True}
    envelope: dict[str, Any] = {
        "token": "legacy-unused",
        "team_id": team,
        "api_app_id": "A1",
        "event": body,
        "type": "event_callback",
        "event_id": event_id or f"Ev{time.monotonic_ns()}",
        "event_time": int(time.time()),
        "authorizations": [authorization],
    }
    if enterprise_id is not None:
        envelope["enterprise_id"] = authorization["enterprise_id"] = enterprise_id
    return json.dumps(envelope)


async def send_event(
    adapter: SlackAdapter,
    team: str,
    body: dict[str, Any],
    event_id: str | None = None,
    *,
    enterprise_id: str | None = None,
) -> int:
    """POST the Events API callback around ``body`` (see :func:`event`), signed; its status."""
    envelope = event(team, body, event_id, enterprise_id=enterprise_id)
    status, _, _ = await send(adapter, envelope, content_type=JSON)
    return status


def command_body(
    fake: FakeSlack, text: str, user: str = "U1", key: str = "r1", team: str = TEAM
) -> str:
    """A ``/papers`` slash command from ``user`` in ``team``'s channel C1, as Slack posts it;
    the answer goes to the fake's response_url ``key``."""
    return urlencode(
        {
            "token": "legacy-unused",
            "team_id": team,
            "team_domain": "lab",
            "channel_id": "C1",
            "channel_name": "papers",
            "user_id": user,
            "user_name": f"name-{user}",
            "command": "/papers",
            "text": text,
            "api_app_id": "A1",
            "is_enterprise_install": "false",
            "response_url": fake.response_url(key),
            "trigger_id": "1.2.3",
        }
    )


def action_body(fake: FakeSlack, element: dict[str, Any], user: str = "U2", key: str = "a1") -> str:
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": f"name-{user}", "team_id": TEAM},
        "api_app_id": "A1",
        "token": "legacy-unused",
        "container": {"type": "message", "is_ephemeral": True},
        "trigger_id": "1.2.3",
        "team": {"id": TEAM, "domain": "lab"},
        "channel": {"id": "C1", "name": "papers"},
        "response_url": fake.response_url(key),
        "actions": [
            {
                "type": "button",
                "action_id": element["action_id"],
                "block_id": "b1",
                "text": element["text"],
                "value": element.get("value", ""),
                "action_ts": str(time.time()),
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def all_text(blocks: list[dict[str, Any]]) -> str:
    """Every string in ``blocks``, for assertions on what a user would see."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            out.append(node)

    walk(blocks)
    return "\n".join(out)


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a user can press: each actions block's buttons, and a "⋯" menu's options
    (each has a ``text``, a ``value`` and maybe a ``url``, like a button)."""
    return [
        option
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
        for option in (e["options"] if e["type"] == "overflow" else [e])
    ]


async def run_command(
    adapter: SlackAdapter, fake: FakeSlack, text: str, user: str = "U1", key: str = "r1"
) -> dict[str, Any]:
    status, body, _ = await send(adapter, command_body(fake, text, user, key))
    assert status == 200, body
    await fake.wait_for(lambda: bool(fake.responses_to(key)))
    return fake.responses_to(key)[0].payload


# ---- commands over signed HTTP -------------------------------------------------------


async def test_search_acks_fast_and_answers_ranked_results(
    adapter: SlackAdapter, fake: FakeSlack
) -> None:
    assert adapter.port == adapter.config.slack.port  # the configured port
    started = time.perf_counter()
    status, _body, seconds = await send(adapter, command_body(fake, "search diffusion"))
    assert status == 200
    assert seconds < 3.0, f"ack took {seconds:.2f}s"
    print(f"ack latency: {seconds * 1000:.0f} ms")
    await fake.wait_for(lambda: bool(fake.responses_to("r1")))
    print(f"answer via response_url after: {(time.perf_counter() - started) * 1000:.0f} ms")
    payload = fake.responses_to("r1")[0].payload
    assert payload["response_type"] == "ephemeral"
    assert block_kit_problems(payload["blocks"]) == []
    text = all_text(payload["blocks"])
    assert "*1. <https://" in text  # the first title is linked, with or without an arXiv id
    assert "Results 1–" in text
    labels = [b["text"]["text"] for b in buttons(payload["blocks"])]
    assert "Share in channel" in labels
    assert any("Next" in label for label in labels)
    assert {"arXiv", "PDF", "Hugging Face"} <= set(labels)


async def test_next_page_and_share_buttons(adapter: SlackAdapter, fake: FakeSlack) -> None:
    first = await run_command(adapter, fake, "search model")
    nxt = next(b for b in buttons(first["blocks"]) if "Next" in b["text"]["text"])
    status, _, seconds = await send(adapter, action_body(fake, nxt, key="page2"))
    assert status == 200 and seconds < 3.0
    await fake.wait_for(lambda: bool(fake.responses_to("page2")))
    page2 = fake.responses_to("page2")[0].payload
    assert page2["replace_original"] is True  # the list is updated in place
    assert page2["response_type"] == "ephemeral"
    assert "Page 2 of" in all_text(page2["blocks"])
    assert any("Previous" in b["text"]["text"] for b in buttons(page2["blocks"]))

    share = next(b for b in buttons(first["blocks"]) if b["text"]["text"] == "Share in channel")
    await send(adapter, action_body(fake, share, user="U9", key="share"))
    await fake.wait_for(lambda: bool(fake.responses_to("share")))
    shared = fake.responses_to("share")[0].payload
    assert shared["response_type"] == "in_channel"
    assert shared["replace_original"] is False  # the search list stays
    assert "Shared by name-U9" in all_text(shared["blocks"])
    assert block_kit_problems(shared["blocks"]) == []


async def test_user_errors_are_ephemeral_one_liners_with_usage(
    adapter: SlackAdapter, fake: FakeSlack
) -> None:
    unknown = await run_command(adapter, fake, "frobnicate<!channel>", key="e1")
    assert unknown["response_type"] == "ephemeral"
    text = all_text(unknown["blocks"])
    assert "Unknown command" in text and "<!channel>" not in text
    empty = await run_command(adapter, fake, "search", key="e2")
    assert "Usage: /papers search" in all_text(empty["blocks"])
    assert len(empty["blocks"]) == 1


async def test_every_subcommand_answers(adapter: SlackAdapter, fake: FakeSlack) -> None:
    commands = [
        "",
        "help search",
        "trending 3",
        "paper 0000.00000",
        "topics",
        "subscribe diffusion",
        "schedule 09:30 Europe/Berlin",
        "pause",
        "resume",
        "digest",
        "status",
        "unsubscribe all",
    ]
    for n, text in enumerate(commands):
        payload = await run_command(adapter, fake, text, key=f"c{n}")
        assert block_kit_problems(payload["blocks"]) == [], text
    status = fake.responses_to(f"c{commands.index('status')}")[0].payload
    assert "09:30 Europe/Berlin" in all_text(status["blocks"])
    subscribed = fake.responses_to(f"c{commands.index('subscribe diffusion')}")[0].payload
    assert subscribed["response_type"] == "in_channel"


@pytest.mark.parametrize(
    ("kind", "age"),
    [("unsigned", 0), ("wrong", 0), ("stale", 6 * 60)],
)
async def test_bad_signatures_get_401_and_change_nothing(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot, kind: str, age: int
) -> None:
    body = command_body(fake, "subscribe diffusion")
    if kind == "unsigned":
        status, _, _ = await send(adapter, body, secret=None)
    elif kind == "wrong":
        status, _, _ = await send(adapter, body, secret="not-the-secret")
    else:
        status, _, _ = await send(adapter, body, age=age)
    assert status == 401
    action = {"action_id": "papers_cmd_0_0", "text": {"type": "plain_text", "text": "x"}}
    action["value"] = "subscribe diffusion"
    status, _, _ = await send(adapter, action_body(fake, action), secret="bad")
    assert status == 401
    await send(adapter, command_body(fake, "status", key="after"))  # a good one, to sync on
    await fake.wait_for(lambda: bool(fake.responses_to("after")))
    assert fake.responses_to("r1") == [] and fake.responses_to("a1") == []
    assert demo_bot.store.topics(f"slack:{TEAM}:C1") == []
    assert demo_bot.store.get_channel(f"slack:{TEAM}:C1") is None


async def test_secrets_never_logged(
    adapter: SlackAdapter, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await run_command(adapter, fake, "search diffusion")
    await adapter.post(Channel("slack", TEAM, "C1"), Reply(text="hello", ephemeral=False))
    assert BOT_TOKEN not in caplog.text and SECRET not in caplog.text
    assert BOT_TOKEN not in repr(adapter.config.secrets)


def test_missing_secrets_are_named(demo_bot: PapersBot, config: Config) -> None:
    config.slack.mode = "socket"
    config.secrets = Secrets(slack_bot_token=BOT_TOKEN)
    with pytest.raises(SlackConfigError, match="SLACK_APP_TOKEN"):
        SlackAdapter(demo_bot, config)
    config.slack.mode = "http"
    with pytest.raises(SlackConfigError, match="SLACK_SIGNING_SECRET"):
        SlackAdapter(demo_bot, config)


# ---- permissions ------------------------------------------------------------------------


async def test_manage_users_restricts_settings_not_search(
    demo_bot: PapersBot, slack_config: Config, fake: FakeSlack
) -> None:
    slack_config.slack.manage_users = ["UBOSS"]
    slack = SlackAdapter(demo_bot, slack_config)
    await slack.start()
    try:
        refused = await run_command(slack, fake, "subscribe diffusion", user="U1", key="p1")
        assert "permission" in all_text(refused["blocks"])
        assert demo_bot.store.topics(f"slack:{TEAM}:C1") == []
        searched = await run_command(slack, fake, "search diffusion", user="U1", key="p2")
        assert "Results 1–" in all_text(searched["blocks"])
        allowed = await run_command(slack, fake, "subscribe diffusion", user="UBOSS", key="p3")
        assert "Subscribed" in all_text(allowed["blocks"])
    finally:
        await slack.stop()


async def test_admins_only_asks_users_info(
    demo_bot: PapersBot, slack_config: Config, fake: FakeSlack
) -> None:
    slack_config.slack.admins_only = True
    fake.users = {"UADM": {"id": "UADM", "is_admin": True}, "U1": {"id": "U1", "is_admin": False}}
    slack = SlackAdapter(demo_bot, slack_config)
    await slack.start()
    try:
        refused = await run_command(slack, fake, "pause", user="U1", key="q1")
        assert "permission" in all_text(refused["blocks"])
        allowed = await run_command(slack, fake, "schedule 08:00", user="UADM", key="q2")
        assert "Daily post at 08:00" in all_text(allowed["blocks"])
        assert [c for c, _ in fake.calls].count("users.info") == 2
        fake.fail_users_info = True  # an outage must not open settings to everyone
        failed = await run_command(slack, fake, "pause", user="U7", key="q3")
        assert "permission" in all_text(failed["blocks"])
    finally:
        await slack.stop()


# ---- rendering ----------------------------------------------------------------------------


def hostile_paper(**overrides: Any) -> Paper:
    values: dict[str, Any] = {
        "id": "2605.05242",
        "title": f"Attention {HOSTILE}",
        "abstract": f"We show {HOSTILE} that <b>things</b> work.",
        "authors": ["<@U999>", "Ada & Bob", "<!subteam^S1>", "D", "E"],
        "upvotes": 42,
        "comments": 3,
        "github_repo": "https://github.com/x/y|<!channel>",
        "github_stars": 1200,
        "project_page": "https://example.org/p?a=1&b=2",
    }
    values.update(overrides)
    return Paper(**values)


def test_hostile_text_is_escaped() -> None:
    card = PaperCard(hostile_paper(), rank=1, topic="<!everyone>", matched_terms=("<@U1>",))
    reply = Reply(
        text=f"Results for {HOSTILE}",
        kind=ReplyKind.SEARCH,
        title="Search <!channel>",
        cards=[card],
        footer=HOSTILE,
    )
    [message] = render(reply)
    assert block_kit_problems(message["blocks"]) == []
    mrkdwn = "\n".join(
        [message["text"]]
        + [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
        + [e["text"] for b in message["blocks"] if b["type"] == "context" for e in b["elements"]]
    )
    for raw in ("<!channel>", "<@U123>", "<https://evil|click>", "<!here>", "<@U999>", "<!every"):
        assert raw not in mrkdwn
    assert "&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil|click&gt; &amp; &lt;!here&gt;" in mrkdwn
    assert "Ada &amp; Bob" in mrkdwn
    assert "+2" in mrkdwn  # three authors shown, then +N
    assert "▲ 42" in mrkdwn and "💬 3 comments" in mrkdwn and "★ 1,200 GitHub stars" in mrkdwn
    urls = [e.get("url") for e in buttons(message["blocks"]) if e.get("url")]
    assert "https://github.com/x/y|<!channel>" not in urls  # not a plain URL: no Code link
    assert "https://example.org/p?a=1&b=2" in urls


def test_summary_prefers_ai_summary_and_cuts_at_a_word() -> None:
    long_abstract = " ".join(["word"] * 2000)
    [message] = render(Reply(cards=[PaperCard(hostile_paper(abstract=long_abstract))]))
    section = message["blocks"][0]["text"]["text"]
    assert section.endswith("word…")
    [message] = render(Reply(cards=[PaperCard(hostile_paper(ai_summary="Short & sweet."))]))
    assert "Short &amp; sweet." in message["blocks"][0]["text"]["text"]


def random_text(rng: random.Random, n: int) -> str:
    alphabet = string.ascii_letters + "    <>&|*_~`@!#" + "éü漢🙂"
    return "".join(rng.choice(alphabet) for _ in range(n))


def random_paper(rng: random.Random, n: int) -> Paper:
    return Paper(
        id=f"2605.{n:05d}" if rng.random() < 0.8 else f"t-{n:012d}",
        title=random_text(rng, rng.choice([5, 200, 3000, 20000])),
        abstract=random_text(rng, rng.choice([0, 500, 50000])),
        authors=[random_text(rng, rng.choice([3, 400])) for _ in range(rng.choice([0, 2, 300]))],
        upvotes=rng.choice([None, 0, 10**9]),
        comments=rng.choice([None, 5]),
        github_repo=rng.choice([None, "https://github.com/a/b", "https://x/" + "a" * 5000]),
        github_stars=rng.choice([None, 7]),
        project_page=rng.choice([None, "javascript:alert(1)", "https://p.org/?q=<x>"]),
        ai_summary=rng.choice([None, random_text(rng, 9000)]),
    )


def test_two_hundred_random_papers_stay_within_block_kit_limits() -> None:
    rng = random.Random(4)
    papers = [random_paper(rng, n) for n in range(200)]
    for start in range(0, 200, 25):
        cards = [
            PaperCard(
                p,
                rank=n,
                topic=random_text(rng, 500),
                matched_terms=tuple(random_text(rng, 50) for _ in range(30)),
                buttons=[Button("Share in channel" * 10, "share " + p.id * 500)],
            )
            for n, p in enumerate(papers[start : start + 25], start=1)
        ]
        reply = Reply(
            text=random_text(rng, 12000) + "\n" + random_text(rng, 300),
            kind=ReplyKind.DIGEST,
            title=random_text(rng, 400),
            cards=cards,
            buttons=[Button("Next ▶", "search --page 2 " + random_text(rng, 3000), primary=True)],
            footer=random_text(rng, 5000),
            ephemeral=False,
        )
        messages = render(reply)
        for message in messages:
            assert block_kit_problems(message["blocks"]) == []
            assert len(message["text"]) <= 3000
        sections = [b for m in messages for b in m["blocks"] if b["type"] == "section"]
        assert sum(1 for s in sections if s["text"]["text"].startswith("*")) >= len(cards)


# ---- posting digests ----------------------------------------------------------------------


async def test_post_digest_arrives_as_valid_block_kit(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot
) -> None:
    channel = Channel("slack", TEAM, "CDIGEST", max_papers=5)
    reply = demo_bot.digest_reply(demo_bot.digest_for(channel))
    assert reply.cards
    stamps = await adapter.post(channel, reply)
    posts = fake.posts_to("CDIGEST")
    assert stamps == [p.ts for p in posts] and len(stamps) >= 1
    for post in posts:
        assert block_kit_problems(post.blocks) == []
    assert posts[0].blocks[0]["type"] == "header"
    assert "Trending papers" in posts[0].blocks[0]["text"]["text"]


async def test_long_digest_is_split_and_paced(adapter: SlackAdapter, fake: FakeSlack) -> None:
    rng = random.Random(7)
    cards = [PaperCard(random_paper(rng, n), rank=n) for n in range(1, 26)]
    reply = Reply(kind=ReplyKind.DIGEST, title="Trending", cards=cards, ephemeral=False)
    stamps = await adapter.post(Channel("slack", TEAM, "CLONG"), reply)
    posts = fake.posts_to("CLONG")
    assert len(stamps) == len(posts) >= 2
    assert all(block_kit_problems(p.blocks) == [] for p in posts)
    gaps = [b.at - a.at for a, b in itertools.pairwise(posts)]
    assert min(gaps) >= 0.9  # about one message per second per channel


async def test_rate_limit_is_retried_after_retry_after(
    adapter: SlackAdapter, fake: FakeSlack
) -> None:
    fake.ratelimits["CBUSY"] = 1
    started = time.monotonic()
    stamps = await adapter.post(Channel("slack", TEAM, "CBUSY"), Reply(text="hi", ephemeral=False))
    assert len(stamps) == 1 and fake.posts_to("CBUSY")
    assert time.monotonic() - started >= 0.9
    assert [e for e, _ in fake.rejected] == ["ratelimited"]


@pytest.mark.parametrize(
    "code", ["channel_not_found", "not_in_channel", "is_archived", "invalid_auth"]
)
async def test_permanent_errors(adapter: SlackAdapter, fake: FakeSlack, code: str) -> None:
    fake.channel_errors["CBAD"] = code
    with pytest.raises(PermanentDeliveryError) as caught:
        await adapter.post(Channel("slack", TEAM, "CBAD"), Reply(text="x", ephemeral=False))
    assert str(caught.value) == code
    assert fake.posts == []


async def test_other_errors_are_retryable(adapter: SlackAdapter, fake: FakeSlack) -> None:
    fake.channel_errors["CBAD"] = "internal_error"
    with pytest.raises(DeliveryError) as caught:
        await adapter.post(Channel("slack", TEAM, "CBAD"), Reply(text="x", ephemeral=False))
    assert not isinstance(caught.value, PermanentDeliveryError)
    await fake.stop()  # Slack unreachable
    with pytest.raises(DeliveryError) as caught:
        await adapter.post(Channel("slack", TEAM, "COTHER"), Reply(text="x", ephemeral=False))
    assert not isinstance(caught.value, PermanentDeliveryError)


# ---- Socket Mode --------------------------------------------------------------------------


async def test_socket_mode_answers_a_command(
    demo_bot: PapersBot, config: Config, fake: FakeSlack
) -> None:
    config.slack.enabled = True
    config.slack.api_base_url = fake.base_url  # mode stays the default, "socket"
    config.secrets = Secrets(slack_bot_token=BOT_TOKEN, slack_app_token=fake.app_token)
    slack = SlackAdapter(demo_bot, config)
    await slack.start()
    try:
        await fake.wait_for(lambda: fake.socket_connected)
        command = dict(
            (k, v[0]) for k, v in parse_qs(command_body(fake, "search diffusion", key="s1")).items()
        )
        await fake.socket_send(
            {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": command,
            }
        )
        await fake.wait_for(lambda: bool(fake.socket_acks) and bool(fake.responses_to("s1")))
        assert fake.socket_acks[0]["envelope_id"] == "env-1"
        payload = fake.responses_to("s1")[0].payload
        assert "Results 1–" in all_text(payload["blocks"])
        assert block_kit_problems(payload["blocks"]) == []
    finally:
        await slack.stop()


def test_adapter_protocol_and_manifest(demo_bot: PapersBot, slack_config: Config) -> None:
    from adapters.base import Adapter

    slack = SlackAdapter(demo_bot, slack_config)
    assert isinstance(slack, Adapter) and slack.platform == "slack"
    manifest = (REPO / "adapters" / "slack" / "manifest.yaml").read_text()
    for needed in (
        "command: /papers",
        "- commands",
        "- chat:write",
        "- users:read",
        "socket_mode_enabled: true",
        "is_enabled: true",
        "should_escape: true",  # mentions arrive as ids: --notify needs them (issue 15)
        "- im:write",  # pause notices by direct message (issue 15)
    ):
        assert needed in manifest
