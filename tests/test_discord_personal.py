"""Issue 15 on Discord, end to end: the real discord.py client against the fake Discord.

A DM with the bot is a personal channel (subscribe and schedule there, the scheduled digest
arrives in that DM); through the app's user install in a server the bot is not in, settings
go to the user's DM (opened over REST) and say so; a server the bot joins gets one welcome,
and a server becoming available again (an outage, a resumed or a new session) is no join;
``post_direct`` sends a person a DM with the delivery errors ``post`` raises.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import discord
import pytest

from adapters.base import DeliveryError, PermanentDeliveryError
from adapters.discord import DiscordAdapter
from adapters.discord.personal import CANNOT_POST_HERE, MOVED_TO_DM
from adapters.discord.welcome import welcome_key
from bot.app import PapersBot
from bot.models import Channel
from bot.replies import Reply
from bot.scheduler import Scheduler
from tests import test_discord
from tests.fakes.discord_fake import (
    CHANNEL_ID,
    DM_CHANNEL_ID,
    GUILD_ID,
    MEMBER_PERMISSIONS,
    SEND_MESSAGES,
    USER_ID,
    VIEW_CHANNEL,
    FakeDiscord,
    Recorded,
    v2_cards,
    v2_text,
)
from tests.test_discord import check_message, is_callback
from tests.test_discord_features import channel_posts

T = datetime.fromisoformat
ALICE = (USER_ID, "alice")
BOB = (900000000000000301, "bob")
DM_KEY = f"discord:@me:{DM_CHANNEL_ID}"
GUILD_KEY = f"discord:{GUILD_ID}:{CHANNEL_ID}"

# The fake Discord and the connected adapter, shared with tests/test_discord.py.
fake = test_discord.fake
adapter = test_discord.adapter


async def answer(fake: FakeDiscord, interaction: dict[str, Any]) -> dict[str, Any]:
    """Dispatch ``interaction``; the message its callback answered with, checked."""
    sent = await fake.dispatch_interaction(interaction)
    callback = await fake.wait_for(is_callback(interaction))
    assert callback.at - sent < 3.0
    assert callback.body["type"] == 4
    data = callback.body["data"]
    check_message(data)
    return data


def dm_opens(fake: FakeDiscord) -> list[Recorded]:
    return fake.find("POST", "/users/@me/channels")


# ---- the DM with the bot is a personal channel ----------------------------------------


async def test_subscribe_and_schedule_in_a_dm_then_the_digest_arrives_there(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot, clock: Any
) -> None:
    clock.now = T("2026-06-12T08:00:00+00:00")
    # A DM carries no member permissions at all: no permission rule applies there.
    data = await answer(fake, fake.dm_interaction("subscribe", {"topic": "language models"}))
    assert "Subscribed" in v2_text(data) and "permission" not in v2_text(data)
    data = await answer(fake, fake.dm_interaction("schedule", {"time": "09:00", "timezone": "UTC"}))  # fmt: skip
    assert "09:00" in v2_text(data)
    channel = demo_bot.store.get_channel(DM_KEY)
    assert channel is not None and (channel.workspace, channel.post_time) == ("@me", "09:00")
    assert [t.query for t in demo_bot.store.topics(DM_KEY)] == ["language models"]
    assert demo_bot.store.get_channel(GUILD_KEY) is None  # nothing leaked into the server
    data = await answer(fake, fake.dm_interaction("topics"))
    assert "language models" in v2_text(data)

    clock.now = T("2026-06-12T09:00:00+00:00")
    await Scheduler(demo_bot, {"discord": adapter}).run_once()
    posts = channel_posts(fake, DM_CHANNEL_ID)
    assert posts and "Trending papers, 2026-06-12" in v2_text(posts[0].body)
    for post in posts:
        check_message(post.body)
    assert channel_posts(fake, CHANNEL_ID) == []
    assert dm_opens(fake) == []  # the DM's id came with the interaction: nothing to open

    # 👍 on a card of the personal digest: feedback on the DM's own digests.
    up = next(b for card in v2_cards(posts[0].body) for b in card.buttons if b["label"] == "👍")
    press = fake.dm_component_interaction(
        up["custom_id"], fake.message(posts[0].body, DM_CHANNEL_ID)
    )
    data = await answer(fake, press)
    assert "👍 noted" in v2_text(data)
    assert [f.channel for f in demo_bot.store.feedback()] == [DM_KEY]

    # Save, pressed on the personal digest and typed in the DM: one reading list.
    first = v2_cards(posts[0].body)[0]
    save = next(b for b in first.buttons if b["label"] == "Save")
    press = fake.dm_component_interaction(
        save["custom_id"], fake.message(posts[0].body, DM_CHANNEL_ID)
    )
    assert "Saved" in v2_text(await answer(fake, press))
    data = await answer(fake, fake.dm_interaction("save", {"id": "2606.13392"}))
    assert "Saved" in v2_text(data) or "already" in v2_text(data)
    saved = demo_bot.store.saved_papers(f"discord:*:{USER_ID}")
    assert "2606.13392" in [s.paper_id for s in saved] and len(saved) >= 1
    listed = await answer(fake, fake.dm_interaction("saved"))
    cards = v2_cards(listed)
    assert len(cards) == len(saved)
    assert any("2606.13392" in b["custom_id"] for card in cards for b in card.buttons)


async def test_a_dm_of_a_server_installed_app_is_personal_too(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot
) -> None:
    """authorizing_integration_owners {"0": "0"}: the bot DMed through a server install."""
    data = await answer(fake, fake.dm_interaction("schedule", {"time": "07:30"}, install="guild"))
    assert "permission" not in v2_text(data)
    channel = demo_bot.store.get_channel(DM_KEY)
    assert channel is not None and channel.post_time == "07:30"


async def test_requests_per_place(fake: FakeDiscord, adapter: DiscordAdapter) -> None:
    """Which channel each kind of interaction acts on, who may change it, and whose it is."""
    state = adapter.client._connection

    def request(data: dict[str, Any]):
        return adapter.request_for(discord.Interaction(data=data, state=state), "status")  # type: ignore[arg-type]

    member = request(fake.command_interaction("status", permissions=MEMBER_PERMISSIONS))
    assert member.channel == GUILD_KEY and not member.can_manage and member.cannot_post is None
    dm = request(fake.dm_interaction("status", user=BOB))
    bob_dm = fake.dms[BOB[0]]
    assert dm.channel == f"discord:@me:{bob_dm}" and dm.can_manage
    # One reading list per person: Discord user ids are global.
    assert dm.user_scope == member.user_scope == "*"
    assert dm.person == f"discord:*:{BOB[0]}"
    assert member.person == f"discord:*:{USER_ID}"
    # A group DM (user install): the bot cannot post there; once Bob's DM is known (it is,
    # from his DM above) his commands act on it.
    group = fake.dm_interaction("status", user=BOB)
    group["context"] = 2
    group["channel"] = {"id": "555", "type": 3, "recipients": [], "name": "g", "icon": None}
    group["channel_id"] = "555"
    assert request(group).channel == f"discord:@me:{bob_dm}"
    # A server where the bot is but cannot send: the settings commands will say how to fix it.
    mute = fake.command_interaction("status", app_permissions=MEMBER_PERMISSIONS & ~SEND_MESSAGES)
    assert request(mute).cannot_post == CANNOT_POST_HERE


async def test_settings_where_the_bot_cannot_post_are_refused_with_how_to_fix(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot
) -> None:
    no_send = MEMBER_PERMISSIONS & ~SEND_MESSAGES
    interaction = fake.command_interaction(
        "subscribe", {"topic": "diffusion"}, app_permissions=no_send
    )
    data = await answer(fake, interaction)
    assert "Send Messages" in v2_text(data) and data["flags"] & 64
    assert demo_bot.store.topics(GUILD_KEY) == []
    # No form to paste settings into either: the same answer at once (type 4, not a modal).
    data = await answer(fake, fake.command_interaction("import", app_permissions=no_send))
    assert "Send Messages" in v2_text(data)
    # Reading still works there.
    data = await answer(fake, fake.command_interaction("topics", app_permissions=no_send))
    assert "Send Messages" not in v2_text(data)


async def test_thread_mode_in_a_dm_posts_in_a_row(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot
) -> None:
    """A DM has no threads: a thread-mode post there goes into the DM itself."""
    dm = Channel("discord", "@me", str(DM_CHANNEL_ID))
    ids = await adapter.post(dm, Reply(text="headline", ephemeral=False))
    await adapter.post(dm, Reply(text="a paper", ephemeral=False), thread=ids[0])
    assert [v2_text(p.body) for p in channel_posts(fake, DM_CHANNEL_ID)] == ["headline", "a paper"]
    assert fake.threads == {} and not fake.find("POST", f"/channels/{DM_CHANNEL_ID}/messages/")


# ---- user install: /papers anywhere, settings go to the user's DM ----------------------


async def test_user_install_in_a_server_without_the_bot_changes_the_users_dm(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot, clock: Any
) -> None:
    clock.now = T("2026-06-12T08:00:00+00:00")
    # Alice is a plain member there (no Manage Channels): her own settings need none.
    interaction = fake.command_interaction(
        "subscribe", {"topic": "diffusion"}, install="user", permissions=MEMBER_PERMISSIONS
    )
    data = await answer(fake, interaction)
    text = v2_text(data)
    assert text.startswith(MOVED_TO_DM) and "Subscribed" in text
    assert data["flags"] & 64  # her personal change is not shown to that server
    (opened,) = dm_opens(fake)
    assert opened.body == {"recipient_id": USER_ID}
    assert [t.query for t in demo_bot.store.topics(DM_KEY)] == ["diffusion"]
    assert demo_bot.store.get_channel(GUILD_KEY) is None

    # Reading commands answer in place, about the same personal channel, without a note.
    data = await answer(fake, fake.command_interaction("topics", install="user"))
    assert "diffusion" in v2_text(data) and MOVED_TO_DM not in v2_text(data)
    data = await answer(fake, fake.command_interaction("search", {"query": "diffusion"}, install="user"))  # fmt: skip
    assert "Results 1–" in v2_text(data) and MOVED_TO_DM not in v2_text(data)
    assert len(dm_opens(fake)) == 1  # opened once, then remembered

    # Her digest arrives in her DM, not in the server's channel.
    clock.now = T("2026-06-12T09:00:00+00:00")
    await Scheduler(demo_bot, {"discord": adapter}).run_once()
    assert channel_posts(fake, DM_CHANNEL_ID) and channel_posts(fake, CHANNEL_ID) == []


async def test_a_slow_user_install_settings_change_is_deferred_privately(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot
) -> None:
    """Past the ack deadline the "thinking" message already has the answer's visibility:
    a settings change made through a user install is the asker's alone, even deferred."""
    adapter.ack_deadline = 0.0
    interaction = fake.command_interaction(
        "subscribe", {"topic": "diffusion"}, install="user", permissions=MEMBER_PERMISSIONS
    )
    await fake.dispatch_interaction(interaction)
    deferred = await fake.wait_for(is_callback(interaction))
    assert deferred.body["type"] == 5 and deferred.body["data"]["flags"] & 64
    token = interaction["token"]
    follow = await fake.wait_for(lambda r: r.path.startswith("/webhooks/") and token in r.path)
    assert v2_text(follow.body).startswith(MOVED_TO_DM)
    assert [t.query for t in demo_bot.store.topics(DM_KEY)] == ["diffusion"]


async def test_a_dm_that_cannot_be_opened_refuses_settings_but_not_reading(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot
) -> None:
    fake.channel_errors[USER_ID] = (403, 50007, "Cannot send messages to this user")
    interaction = fake.command_interaction("subscribe", {"topic": "diffusion"}, install="user")
    data = await answer(fake, interaction)
    assert "Could not open a DM" in v2_text(data) and data["flags"] & 64
    assert demo_bot.store.topics(DM_KEY) == [] and demo_bot.store.topics(GUILD_KEY) == []
    interaction = fake.command_interaction("search", {"query": "diffusion"}, install="user")
    assert "Results 1–" in v2_text(await answer(fake, interaction))


# ---- post_direct ------------------------------------------------------------------------


async def test_post_direct_opens_the_dm_once_and_maps_errors(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    text = "Paused after 5 failures <@&42> **x**: run `/papers resume`."
    await adapter.post_direct(str(GUILD_ID), str(BOB[0]), text)
    await adapter.post_direct("@me", str(BOB[0]), text)
    (opened,) = dm_opens(fake)
    assert opened.body == {"recipient_id": BOB[0]}
    bob_dm = fake.dms[BOB[0]]
    posts = channel_posts(fake, bob_dm)
    assert len(posts) == 2
    for post in posts:
        check_message(post.body)
        shown = v2_text(post.body)
        assert "<@&42>" not in shown and "`/papers resume`" in shown

    carol = 900000000000000302
    fake.channel_errors[carol] = (403, 50007, "Cannot send messages to this user")
    with pytest.raises(PermanentDeliveryError, match="DM"):
        await adapter.post_direct(str(GUILD_ID), str(carol), text)
    fake.channel_errors[bob_dm] = (400, 50035, "Invalid Form Body")  # (5xx: retried first)
    with pytest.raises(DeliveryError) as caught:
        await adapter.post_direct(str(GUILD_ID), str(BOB[0]), text)
    assert not isinstance(caught.value, PermanentDeliveryError)
    with pytest.raises(PermanentDeliveryError):
        await adapter.post_direct(str(GUILD_ID), "not-a-user", text)


# ---- the welcome ------------------------------------------------------------------------

G2, G3 = GUILD_ID + 2, GUILD_ID + 3


async def settle(fake: FakeDiscord, adapter: DiscordAdapter) -> None:
    """Let the client handle what the fake sent (and any welcome it started) finish."""
    await asyncio.wait_for(fake.identified.wait(), 5)
    probe = fake.command_interaction("ping")
    await fake.dispatch_interaction(probe)
    await fake.wait_for(is_callback(probe))
    await asyncio.sleep(0.2)


async def test_welcome_once_per_joined_server_never_on_availability(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot
) -> None:
    # G2: its system channel denies Send Messages, the first channel View Channel, the
    # next refuses the post anyway (403): the welcome lands in the one after.
    sys_id, first, refusing, fine = G2 + 10, G2 + 11, G2 + 12, G2 + 13
    fake.channel_errors[refusing] = (403, 50013, "Missing Permissions")
    await fake.join_guild(
        G2,
        [
            fake.channel(
                sys_id, guild_id=G2, name="general", position=3, deny_everyone=SEND_MESSAGES
            ),
            fake.channel(first, guild_id=G2, name="rules", position=0, deny_everyone=VIEW_CHANNEL),
            fake.channel(refusing, guild_id=G2, name="locked", position=1),
            fake.channel(fine, guild_id=G2, name="papers", position=2),
        ],
        system_channel_id=sys_id,
    )
    welcome = await fake.wait_for(lambda r: r.path == f"/channels/{fine}/messages")
    await settle(fake, adapter)
    check_message(welcome.body)
    assert "/papers subscribe" in v2_text(welcome.body) and "/papers help" in v2_text(welcome.body)
    assert channel_posts(fake, sys_id) == channel_posts(fake, first) == []
    assert demo_bot.store.get_meta(welcome_key(G2))["channel"] == str(fine)

    # G3: a system channel the bot can write to takes it.
    sys3 = G3 + 20
    await fake.join_guild(
        G3,
        [
            fake.channel(G3 + 21, guild_id=G3, position=0),
            fake.channel(sys3, guild_id=G3, position=5),
        ],
        system_channel_id=sys3,
    )
    await fake.wait_for(lambda r: r.path == f"/channels/{sys3}/messages")
    assert channel_posts(fake, G3 + 21) == []

    # Servers becoming available again are no joins: an outage, a resumed session, a new
    # session (READY, then a GUILD_CREATE for every server). The server the bot was in
    # from the start is never welcomed, and the joined ones not twice.
    await fake.outage(GUILD_ID)
    await fake.outage(G2)
    await settle(fake, adapter)
    await fake.reconnect(resume=True)
    await settle(fake, adapter)

    # discord.py waits 5 s before identifying again (Discord's identify limit); not here.
    async def identify_now(shard_id: int | None, *, initial: bool = False) -> None:
        return None

    adapter.client.before_identify_hook = identify_now  # type: ignore[method-assign]
    await fake.reconnect(resume=False)
    await settle(fake, adapter)
    ops = [f["op"] for f in fake.gateway_frames]
    assert (ops.count(2), ops.count(6)) == (2, 1)  # it resumed once, then identified again
    # Removed and invited again: a join, but the server had its welcome.
    await fake.dispatch("GUILD_DELETE", {"id": str(G2)})
    await fake.join_guild(G2, [fake.channel(fine, guild_id=G2, name="papers")])
    await settle(fake, adapter)
    assert channel_posts(fake, CHANNEL_ID) == []
    assert len(channel_posts(fake, fine)) == 1 and len(channel_posts(fake, sys3)) == 1
    assert demo_bot.store.get_meta(welcome_key(GUILD_ID)) is None
