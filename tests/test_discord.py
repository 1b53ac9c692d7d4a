"""The Discord adapter against a local fake Discord, with the real discord.py client.

The fake (tests/fakes/discord_fake.py) serves REST and the gateway on 127.0.0.1; the bot
logs in, connects, and answers interactions the tests dispatch. Assertions are on what
reached the fake: callbacks, follow-ups and channel posts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import discord
import pytest

from adapters.base import DeliveryError, PermanentDeliveryError
from adapters.discord import DiscordAdapter
from adapters.discord.render import (
    CUSTOM_ID_LIMIT,
    CommandIds,
    MessagePayload,
    build_view,
    escape,
    render,
)
from bot.app import PapersBot
from bot.config import Config, Secrets
from bot.models import Channel, Paper
from bot.replies import Reply, ReplyKind
from tests.fakes.discord_fake import (
    CHANNEL_ID,
    GUILD_ID,
    MEMBER_PERMISSIONS,
    FakeDiscord,
    Recorded,
    v2_buttons,
    v2_cards,
    v2_problems,
    v2_text,
)

HOSTILE_TITLE = "@everyone **bold** <@123> diffusion zebrafish"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    yield server
    await server.stop()


def discord_config(config: Config, fake: FakeDiscord, **settings: Any) -> Config:
    config.discord = replace(
        config.discord,
        enabled=True,
        api_base_url=fake.api_base_url,
        gateway_url=fake.gateway_url,
        **settings,
    )
    config.secrets = Secrets(discord_token="fake-token-secret")
    return config


@pytest.fixture
async def adapter(
    fake: FakeDiscord, demo_bot: PapersBot, config: Config
) -> AsyncIterator[DiscordAdapter]:
    demo_bot.add_papers(
        [
            Paper(
                id="2606.99999",
                title=HOSTILE_TITLE,
                abstract="We study zebrafish diffusion. " * 400,  # far over any embed limit
                authors=[f"Author {n}" for n in range(12)],
                upvotes=7,
                comments=2,
                github_repo="https://github.com/example/zebra",
                github_stars=1234,
            )
        ]
    )
    bot_adapter = DiscordAdapter(
        demo_bot, discord_config(config, fake), ready_timeout=10, guild_ready_timeout=0.05
    )
    await bot_adapter.start()
    yield bot_adapter
    await bot_adapter.stop()


def is_callback(interaction: dict[str, Any]) -> Any:
    return lambda r: r.path.startswith(f"/interactions/{interaction['id']}/")


def check_message(payload: dict[str, Any]) -> None:
    """Every message the bot sends: no mentions possible, within Discord's limits."""
    assert payload["allowed_mentions"]["parse"] == []
    assert not payload["allowed_mentions"].get("users")
    assert not payload["allowed_mentions"].get("roles")
    # Components V2: flag set, no content or embeds, <= 40 components, <= 4000 characters
    # of text, custom ids <= 100, <= 5 buttons a row (the fake refuses the same).
    assert v2_problems(payload) == []
    assert len(payload.get("content") or "") <= 2000
    for c in v2_buttons(payload):
        assert len(c["custom_id"]) <= 100


async def run_command(
    fake: FakeDiscord, subcommand: str, options: dict[str, Any] | None = None, **kw: Any
) -> tuple[Recorded, float]:
    interaction = fake.command_interaction(subcommand, options, **kw)
    sent = await fake.dispatch_interaction(interaction)
    callback = await fake.wait_for(is_callback(interaction), timeout=5)
    return callback, callback.at - sent


async def test_search_answers_through_callback_with_ranked_embeds(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    callback, latency = await run_command(fake, "search", {"query": "diffusion"})
    assert latency < 3.0, f"answered after {latency:.2f}s"
    assert callback.body["type"] == 4  # CHANNEL_MESSAGE_WITH_SOURCE: answered, not deferred
    data = callback.body["data"]
    check_message(data)
    assert data["flags"] & 64  # ephemeral
    titles = [c.title for c in v2_cards(data)]
    assert titles and titles[0].startswith("1. ") and titles[1].startswith("2. ")
    assert "Results 1–" in v2_text(data)
    first = v2_cards(data)[0]
    assert (first.url or "").startswith("https://")
    assert "arXiv" in first.description
    labels = [c["label"] for c in v2_buttons(data)]
    assert "Next ▶" in labels
    assert "Share in channel" in [b["label"] for b in first.buttons]  # beside card 1
    # Every request the bot sent so far carried no mentions either.
    for payload in fake.message_payloads():
        check_message(payload)
    # Ready and all: the token never appears in what discord.py sent anywhere but auth.
    assert adapter.last_ack_seconds is not None and adapter.last_ack_seconds < 3.0


async def test_hostile_title_is_escaped_and_long_abstract_cut(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    callback, _ = await run_command(fake, "search", {"query": "zebrafish"})
    data = callback.body["data"]
    check_message(data)
    embed = v2_cards(data)[0]
    title = embed.title
    assert "\\*\\*bold\\*\\*" in title
    assert "@everyone" not in title and "@\u200beveryone" in title
    assert "<@123>" not in title
    assert embed.description.count("zebrafish") < 50  # abstract cut
    assert "…" in embed.description
    assert "Author 0, Author 1, Author 2 +9" in embed.description
    assert "1,234 GitHub stars" in embed.description
    assert "[Code](https://github.com/example/zebra)" in embed.description


async def test_next_button_pages_results_in_place(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    callback, _ = await run_command(fake, "search", {"query": "diffusion"})
    data = callback.body["data"]
    buttons = {c["label"]: c for c in v2_buttons(data)}
    custom_id = buttons["Next ▶"]["custom_id"]
    assert custom_id.startswith("papers:search --page 2")
    message = fake.message(data, CHANNEL_ID, flags=64)
    press = fake.component_interaction(custom_id, message)
    sent = await fake.dispatch_interaction(press)
    answer = await fake.wait_for(is_callback(press))
    assert answer.at - sent < 3.0
    assert answer.body["type"] == 7  # UPDATE_MESSAGE: the same ephemeral message, page 2
    page2 = answer.body["data"]
    check_message(page2)
    assert v2_cards(page2)[0].title.startswith(f"{len(v2_cards(data)) + 1}. ")
    labels = [c["label"] for c in v2_buttons(page2)]
    assert "◀ Previous" in labels


async def test_share_button_posts_publicly(fake: FakeDiscord, adapter: DiscordAdapter) -> None:
    callback, _ = await run_command(fake, "search", {"query": "diffusion"})
    data = callback.body["data"]
    share = next(c for c in v2_cards(data)[0].buttons if c["label"] == "Share in channel")
    press = fake.component_interaction(share["custom_id"], fake.message(data, CHANNEL_ID, flags=64))
    await fake.dispatch_interaction(press)
    answer = await fake.wait_for(is_callback(press))
    assert answer.body["type"] == 4
    public = answer.body["data"]
    check_message(public)
    assert not public.get("flags", 0) & 64
    assert "Shared by alice" in v2_text(public)
    assert v2_cards(public)[0].title == v2_cards(data)[0].title.removeprefix("1. ")


async def test_subscribe_without_manage_channels_is_refused_ephemerally(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot
) -> None:
    callback, _ = await run_command(
        fake, "subscribe", {"topic": "speech recognition"}, permissions=MEMBER_PERMISSIONS
    )
    data = callback.body["data"]
    check_message(data)
    assert data["flags"] & 64
    assert "permission" in v2_text(data)
    key = f"discord:{GUILD_ID}:{CHANNEL_ID}"
    assert demo_bot.store.topics(key) == []
    # With Manage Channels the same command works, and unsubscribe autocompletes it.
    callback, _ = await run_command(fake, "subscribe", {"topic": "speech recognition"})
    assert "permission" not in v2_text(callback.body["data"])
    assert [t.query for t in demo_bot.store.topics(key)] == ["speech recognition"]


async def test_digest_post_reaches_channel_messages_split_within_limits(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot
) -> None:
    channel = Channel("discord", str(GUILD_ID), str(CHANNEL_ID))
    digest = demo_bot.digest_reply(demo_bot.digest_for(channel))
    assert digest.cards
    ids = await adapter.post(channel, digest)
    posts = fake.find("POST", f"/channels/{CHANNEL_ID}/messages")
    assert len(posts) == len(ids) >= 1
    for post in posts:
        check_message(post.body)
    assert "Trending papers" in v2_text(posts[0].body)

    # A long digest (30 papers) is split over several messages, each within the limits.
    papers = sorted(demo_bot.store.papers(), key=lambda p: p.id)[:30]
    big = Reply(
        kind=ReplyKind.DIGEST,
        title="Trending papers",
        cards=[demo_bot.card(p, rank=n) for n, p in enumerate(papers, start=1)],
        ephemeral=False,
    )
    before = len(fake.find("POST", f"/channels/{CHANNEL_ID}/messages"))
    ids = await adapter.post(channel, big)
    posts = fake.find("POST", f"/channels/{CHANNEL_ID}/messages")[before:]
    assert len(ids) == len(posts) >= 3
    assert sum(len(v2_cards(p.body)) for p in posts) == 30
    for post in posts:
        check_message(post.body)


async def test_post_errors_map_to_delivery_errors(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    reply = Reply(text="hello @everyone", ephemeral=False)
    forbidden = Channel("discord", str(GUILD_ID), "111")
    fake.channel_errors[111] = (403, 50013, "Missing Permissions")
    with pytest.raises(PermanentDeliveryError, match="403"):
        await adapter.post(forbidden, reply)
    gone = Channel("discord", str(GUILD_ID), "222")
    fake.channel_errors[222] = (404, 10003, "Unknown Channel")
    with pytest.raises(PermanentDeliveryError, match="not found"):
        await adapter.post(gone, reply)
    flaky = Channel("discord", str(GUILD_ID), "333")
    fake.channel_errors[333] = (400, 50035, "Invalid Form Body")
    with pytest.raises(DeliveryError) as caught:
        await adapter.post(flaky, reply)
    assert not isinstance(caught.value, PermanentDeliveryError)
    ok = await adapter.post(Channel("discord", str(GUILD_ID), str(CHANNEL_ID)), reply)
    assert len(ok) == 1
    body = fake.find("POST", f"/channels/{CHANNEL_ID}/messages")[-1].body
    check_message(body)
    assert "@everyone" not in v2_text(body)


def test_render_limits_and_long_button_commands() -> None:
    ids = CommandIds()
    paper = Paper(id="2606.00001", title="x" * 400, abstract="word " * 3000, authors=["A"])
    from bot.replies import Button, PaperCard

    reply = Reply(
        kind=ReplyKind.SEARCH,
        text="t" * 2500,
        cards=[PaperCard(paper, rank=n) for n in range(1, 31)],
        buttons=[Button("Next ▶", "search --page 2 " + "long query " * 20)],
        footer="f" * 3000,
    )
    messages = render(reply, ids)
    assert all(isinstance(m, MessagePayload) for m in messages)
    assert sum(len(m.panels) for m in messages) == 30
    for m in messages:
        assert m.components() <= 40 and m.text_length() <= 4000
        assert build_view(m).content_length() <= 4000  # discord.py's own count agrees
        for e in m.panels:
            assert len(e.title or "") <= 256 and len(e.description or "") <= 4000
    assert messages[-1].footer and len(messages[-1].footer) <= 2048
    (button,) = messages[-1].buttons
    assert len(button.custom_id) <= CUSTOM_ID_LIMIT
    assert ids.decode(button.custom_id) == "search --page 2 " + "long query " * 20
    assert ids.decode("papers:#unknown") is None
    assert ids.decode("other:thing") is None


def test_escape_defuses_mentions_and_markdown() -> None:
    out = escape("@here <@&12> <#5> __u__ # Heading")
    assert "@here" not in out and "<@&" not in out and "<#5" not in out
    assert "\\_\\_u\\_\\_" in out
    # discord.py's own escaper skips everything between a "[" and the last ")".
    out = escape("[x](https://evil.example) ||spoiler|| (v2) **b**")
    assert "\\|\\|spoiler\\|\\|" in out and "\\*\\*b\\*\\*" in out and "\\[x\\]" in out


def test_user_text_quoted_in_core_replies_cannot_format() -> None:
    reply = Reply(
        text="Subscribed to “[free nitro](https://evil.example) ||x||”. Try `/papers topics`."
    )
    (message,) = render(reply, CommandIds())
    assert "\\[free nitro\\]" in message.content and "\\|\\|x\\|\\|" in message.content
    assert "`/papers topics`" in message.content  # the core's own code span is kept


async def test_sharded_client_uses_gateway_bot(
    fake: FakeDiscord, demo_bot: PapersBot, config: Config
) -> None:
    sharded = DiscordAdapter(
        demo_bot,
        discord_config(config, fake, sharded=True),
        ready_timeout=10,
        guild_ready_timeout=0.05,
    )
    assert isinstance(sharded.client, discord.AutoShardedClient)
    await sharded.start()
    try:
        assert fake.find("GET", "/gateway/bot")
        callback, latency = await run_command(fake, "trending", {"count": 3})
        assert latency < 3.0
        assert len(v2_cards(callback.body["data"])) == 3
    finally:
        await sharded.stop()


async def test_sync_puts_the_papers_group_to_guilds(
    fake: FakeDiscord, demo_bot: PapersBot, config: Config
) -> None:
    bot_adapter = DiscordAdapter(demo_bot, discord_config(config, fake, guild_ids=[GUILD_ID]))
    await bot_adapter.login()
    try:
        where = await bot_adapter.sync_commands([GUILD_ID])
    finally:
        await bot_adapter.stop()
    assert where == [f"guild {GUILD_ID}"]
    (put,) = fake.find("PUT", "/applications/")
    assert put.path.endswith(f"/guilds/{GUILD_ID}/commands")
    (papers,) = put.body
    assert papers["name"] == "papers"
    subs = {o["name"]: o for o in papers["options"]}
    assert set(subs) >= {
        "search", "trending", "paper", "subscribe", "unsubscribe", "schedule",
        "help", "topics", "pause", "resume", "digest", "status",
        "preview", "similar", "set", "thread", "export", "import", "weekly", "daily",
    }  # fmt: skip
    assert {o["name"] for o in subs["schedule"]["options"]} == {"time", "timezone"}
    assert any(o.get("autocomplete") for o in subs["schedule"]["options"])
    assert any(o.get("autocomplete") for o in subs["unsubscribe"]["options"])
    assert [o["name"] for o in subs["paper"]["options"]] == ["id"]
    # The token went in the Authorization header only, never in a body.
    assert all("fake-token-secret" not in str(r.body) for r in fake.requests)


def test_cli_registers_discord_sync() -> None:
    from papers_bot.cli import build_parser

    args = build_parser().parse_args(["discord-sync", "--guild", "5", "--guild", "6"])
    assert args.guild == [5, 6] and callable(args.func)


async def test_interaction_latency_is_measured(fake: FakeDiscord, adapter: DiscordAdapter) -> None:
    started = time.monotonic()
    callback, latency = await run_command(fake, "status")
    assert latency < 3.0 and callback.at - started < 3.0
    check_message(callback.body["data"])


async def test_slow_answer_is_deferred_then_followed_up(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot
) -> None:
    """A paper missing from the corpus is fetched first (slow): defer, then follow up."""

    async def slow_lookup(ref: str) -> Paper:
        await asyncio.sleep(0.4)
        return Paper(id=ref, title="A <@&42> slow paper", abstract="Fetched late.")

    demo_bot.lookup = slow_lookup
    adapter.ack_deadline = 0.1
    interaction = fake.command_interaction("paper", {"id": "2607.00001"})
    sent = await fake.dispatch_interaction(interaction)
    deferred = await fake.wait_for(is_callback(interaction))
    assert deferred.at - sent < 3.0
    assert deferred.body["type"] == 5 and deferred.body["data"]["flags"] & 64
    token = interaction["token"]
    follow = await fake.wait_for(lambda r: r.path.startswith("/webhooks/") and token in r.path)
    check_message(follow.body)
    assert "slow paper" in v2_cards(follow.body)[0].title
    assert "<@&42>" not in v2_cards(follow.body)[0].title


async def test_autocomplete_topics_and_timezones(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    await run_command(fake, "subscribe", {"topic": "speech recognition"})
    callback, _ = await run_command(fake, "unsubscribe", {"topic": "spe"}, focused="topic")
    assert callback.body["type"] == 8
    choices = callback.body["data"]["choices"]
    assert choices[0] == {"name": "1. speech recognition", "value": "1"}
    callback, _ = await run_command(
        fake, "schedule", {"time": "09:00", "timezone": "berl"}, focused="timezone"
    )
    names = [c["value"] for c in callback.body["data"]["choices"]]
    assert names[0] == "Europe/Berlin" and len(names) <= 25
