"""Slack in many workspaces (issue 17): bolt's OAuth install flow against a fake
``oauth.v2.access``, each workspace's token kept in the state database and used for its
posts, and ``app_uninstalled`` / ``tokens_revoked`` removing a workspace's channels and
tokens. Everything over real sockets: a browser's GETs, Slack's signed POSTs, the fake Web
API checking which bearer token each call carries."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import aiohttp
import pytest

from adapters.base import PermanentDeliveryError
from adapters.slack import SlackAdapter, SlackConfigError
from adapters.slack.installs import Installations
from adapters.slack.settings import BOT_SCOPES
from bot.app import PapersBot
from bot.config import Config, ConfigError, Secrets
from bot.models import Channel, Delivery, Saved
from bot.replies import Reply
from tests import test_slack
from tests.fakes.slack_api import FakeSlack
from tests.test_slack import SECRET, command_body, send, send_event

TEAMS = {"TA": "xoxb-team-a", "TB": "xoxb-team-b"}
slack_config = test_slack.slack_config  # HTTP mode on a free port, at this module's fake


@pytest.fixture
def demo_bot(make_bot: Callable[..., PapersBot], state_url: str | None) -> PapersBot:
    """The demo bot with its state on SQLite and, in a second run, on the session's real
    PostgreSQL server: slack_sdk's installation tables live in whichever it is."""
    return make_bot(state_url=state_url)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        yield server


@pytest.fixture
def oauth_config(slack_config: Config, fake: FakeSlack) -> Config:
    """test_slack's HTTP-mode config (pointed at this module's fake), installed by OAuth:
    the app's id and secret instead of a bot token."""
    slack_config.slack.oauth = True
    slack_config.secrets = Secrets(
        slack_client_id=fake.client_id,
        slack_client_secret=fake.client_secret,
        slack_signing_secret=SECRET,
    )
    return slack_config


@pytest.fixture
async def oauth_adapter(demo_bot: PapersBot, oauth_config: Config) -> AsyncIterator[SlackAdapter]:
    slack = SlackAdapter(demo_bot, oauth_config)
    await slack.start()
    yield slack
    await slack.stop()


def url(adapter: SlackAdapter, path: str) -> str:
    return f"http://127.0.0.1:{adapter.port}{path}"


async def install(adapter: SlackAdapter, fake: FakeSlack, team: str) -> tuple[int, str, str]:
    """A person installs the app in ``team``: the install page, Slack's "Allow" (which we
    play: Slack would redirect the browser with a code), then the redirect back to us.
    Returns the redirect's status and page, and its URL (to replay)."""
    fake.oauth_codes[f"code-{team}"] = (team, TEAMS[team])
    async with aiohttp.ClientSession() as browser:
        async with browser.get(url(adapter, "/slack/install")) as page:
            assert page.status == 200
            html = await page.text()
            cookie = page.headers.get("Set-Cookie", "")
        link = unescape(re.search(r'href="(https://slack\.com/oauth/v2/authorize[^"]+)"', html)[1])
        asked = parse_qs(urlparse(link).query)
        assert asked["client_id"] == [fake.client_id]
        assert asked["scope"] == [",".join(BOT_SCOPES)]
        state = asked["state"][0]
        assert f"slack-app-oauth-state={state}" in cookie  # bolt binds the state to the browser
        query = urlencode({"code": f"code-{team}", "state": state})
        headers = {"Cookie": f"slack-app-oauth-state={state}"}
        back = url(adapter, f"/slack/oauth_redirect?{query}")
        async with browser.get(back, headers=headers) as r:
            return r.status, await r.text(), back


async def command(adapter: SlackAdapter, fake: FakeSlack, team: str, text: str) -> dict[str, Any]:
    """A signed ``/papers`` from ``team``'s channel C1; the answer posted to response_url."""
    key = f"{team}-{len(fake.responses)}"
    body = command_body(fake, text, key=key, team=team)
    status, _, _ = await send(adapter, body)
    assert status == 200
    await fake.wait_for(lambda: bool(fake.responses_to(key)))
    return fake.responses_to(key)[0].payload


async def test_two_workspaces_install_and_each_is_served_with_its_own_token(
    oauth_adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot
) -> None:
    for team in TEAMS:
        status, page, _ = await install(oauth_adapter, fake, team)
        assert status == 200, page[:300]
    # The tokens are in the state database: another worker on it finds them.
    other_worker = Installations(demo_bot.store.state, fake.client_id)
    assert await other_worker.bot_token("TA") == TEAMS["TA"]
    assert await other_worker.bot_token("TB") == TEAMS["TB"]
    assert await other_worker.bot_token("TC") is None

    # A slash command from each workspace is authorized by its installation and runs.
    for team in TEAMS:
        answer = await command(oauth_adapter, fake, team, "schedule 08:30 UTC")
        assert "Daily post at 08:30 UTC" in answer["text"], answer
    assert {c.workspace for c in demo_bot.store.channels()} == {"TA", "TB"}

    # Posts to each workspace go out with that workspace's token.
    for team in TEAMS:
        await oauth_adapter.post(Channel("slack", team, "C1"), Reply(text=f"hello {team}"))
    tokens = {p.text: p.token for p in fake.posts}
    assert tokens == {"hello TA": TEAMS["TA"], "hello TB": TEAMS["TB"]}


async def test_a_forged_or_replayed_state_installs_nothing(
    oauth_adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot
) -> None:
    fake.oauth_codes["code-TA"] = ("TA", TEAMS["TA"])
    query = urlencode({"code": "code-TA", "state": "made-up"})
    headers = {"Cookie": "slack-app-oauth-state=made-up"}
    async with (
        aiohttp.ClientSession() as browser,
        browser.get(url(oauth_adapter, f"/slack/oauth_redirect?{query}"), headers=headers) as r,
    ):
        assert r.status == 401  # bolt's answer to a state it did not issue
    assert not any(method == "oauth.v2.access" for method, _ in fake.calls)
    assert await Installations(demo_bot.store.state, fake.client_id).bot_token("TA") is None

    # A real state works once; replaying the same redirect is refused (the state store
    # consumed it), and Slack is not asked for a token again.
    status, _, back = await install(oauth_adapter, fake, "TA")
    assert status == 200
    fake.oauth_codes["code-TA"] = ("TA", "xoxb-replayed")
    state = parse_qs(urlparse(back).query)["state"][0]
    async with (
        aiohttp.ClientSession() as browser,
        browser.get(back, headers={"Cookie": f"slack-app-oauth-state={state}"}) as r,
    ):
        assert r.status == 401
    assert sum(method == "oauth.v2.access" for method, _ in fake.calls) == 1
    assert await Installations(demo_bot.store.state, fake.client_id).bot_token("TA") == TEAMS["TA"]


async def test_uninstalling_removes_the_workspace_s_token_and_channels(
    oauth_adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot
) -> None:
    for team in TEAMS:
        await install(oauth_adapter, fake, team)
        await command(oauth_adapter, fake, team, "subscribe diffusion")
    store = demo_bot.store
    store.record_deliveries([Delivery("slack:TA:C1", "2606.00001", "2026-06-12T09:00:00+00:00")])
    store.state.put([Saved("slack:TA:U1", "2606.00001", "2026-06-12T09:00:00+00:00")])
    store.set_meta("welcomed:slack:TA:C1", {"at": "2026-06-12T09:00:00+00:00"})
    store.set_meta("welcomed:slack:TB:C1", {"at": "2026-06-12T09:00:00+00:00"})

    assert await send_event(oauth_adapter, "TA", {"type": "app_uninstalled"}) == 200
    await fake.wait_for(lambda: not any(c.workspace == "TA" for c in store.channels()))
    assert [c.workspace for c in store.channels()] == ["TB"]
    assert [t.channel for t in store.topics()] == ["slack:TB:C1"]
    assert store.deliveries("slack:TA:C1") == []
    assert store.state.rows(Saved) == []
    assert store.get_meta("welcomed:slack:TA:C1") is None  # installed again: welcomed again
    assert store.get_meta("welcomed:slack:TB:C1") is not None
    assert await Installations(store.state, fake.client_id).bot_token("TA") is None
    with pytest.raises(PermanentDeliveryError, match="app_not_installed"):
        await oauth_adapter.post(Channel("slack", "TA", "C1"), Reply(text="still there?"))
    assert not fake.posts_to("C1")
    # Uninstalling took the bot out of its channels: installed again at once, it does not
    # go by what it knew of C1 before (it asks Slack, which says it is not in C1).
    fake.channels["C1"] = {"is_member": False}
    await install(oauth_adapter, fake, "TA")
    answer = await command(oauth_adapter, fake, "TA", "subscribe diffusion")
    assert "not in this channel" in json.dumps(answer) and "Subscribed" not in json.dumps(answer)
    fake.channels.pop("C1")

    # A revoked bot token does the same for the other workspace; a user token alone nothing.
    revoked_user = {"type": "tokens_revoked", "tokens": {"oauth": ["U1"]}}
    assert await send_event(oauth_adapter, "TB", revoked_user) == 200
    await oauth_adapter.commands.drain()
    assert [c.workspace for c in store.channels()] == ["TB"]  # a user token alone: nothing
    assert await Installations(store.state, fake.client_id).bot_token("TB") == TEAMS["TB"]
    revoked_bot = {"type": "tokens_revoked", "tokens": {"bot": ["UBOT"]}}
    assert await send_event(oauth_adapter, "TB", revoked_bot) == 200
    await fake.wait_for(lambda: not store.channels())
    assert await Installations(store.state, fake.client_id).bot_token("TB") is None


def test_oauth_needs_http_mode_and_the_app_credentials(demo_bot: PapersBot, config: Config) -> None:
    config.slack.enabled = True
    config.slack.oauth = True
    config.slack.mode = "socket"
    with pytest.raises(ConfigError, match='oauth needs mode = "http"'):
        config.slack.check("slack")
    config.slack.mode = "http"
    config.secrets = Secrets(slack_signing_secret=SECRET)
    with pytest.raises(SlackConfigError, match="SLACK_CLIENT_ID and SLACK_CLIENT_SECRET"):
        SlackAdapter(demo_bot, config)


async def test_a_workspace_of_an_enterprise_grid_org_is_posted_to_and_forgotten(
    oauth_adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot
) -> None:
    """A Grid workspace's installation carries its org's id, which channel keys do not:
    its token is still found by the workspace, and uninstalling removes it."""
    fake.enterprise_of["TA"] = "E1"
    status, _, _ = await install(oauth_adapter, fake, "TA")
    assert status == 200
    await oauth_adapter.post(Channel("slack", "TA", "C1"), Reply(text="hello grid"))
    assert [p.token for p in fake.posts] == [TEAMS["TA"]]
    uninstalled = {"type": "app_uninstalled"}
    assert await send_event(oauth_adapter, "TA", uninstalled, enterprise_id="E1") == 200
    await oauth_adapter.commands.drain()
    for _ in range(50):  # the listener forgets in the background after its ack
        if await Installations(demo_bot.store.state, fake.client_id).bot_token("TA") is None:
            break
        await asyncio.sleep(0.05)
    assert await Installations(demo_bot.store.state, fake.client_id).bot_token("TA") is None
