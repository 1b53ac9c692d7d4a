"""Issue 7's features on Discord, end to end: the real discord.py client against the fake.

Topic preview, why-this-matched, similar papers, 👍/👎 feedback, the weekly digest, thread
mode and settings export/import, each driven by INTERACTION_CREATE events (slash commands
and button presses) and scheduler runs, and asserted on what reached the fake Discord.
Every message payload is checked for ``allowed_mentions`` with an empty ``parse`` and for
Discord's embed limits (``check_message``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from adapters.discord import DiscordAdapter
from adapters.discord.render import CommandIds, escape, highlight, render
from bot.app import PapersBot
from bot.config import Config
from bot.models import Channel, Paper
from bot.scheduler import Scheduler
from tests import test_discord
from tests.fakes.discord_fake import (
    CHANNEL_ID,
    GUILD_ID,
    MEMBER_PERMISSIONS,
    FakeDiscord,
    Recorded,
    v2_buttons,
    v2_cards,
    v2_text,
)
from tests.test_discord import check_message, discord_config, is_callback, run_command
from tests.test_features import dated_corpus

T = datetime.fromisoformat
OTHER_CHANNEL_ID = CHANNEL_ID + 1
BOB = (900000000000000301, "bob")
CAROL = (900000000000000302, "carol")
KEY = f"discord:{GUILD_ID}:{CHANNEL_ID}"

# The fake Discord and the connected adapter, shared with tests/test_discord.py.
fake = test_discord.fake
adapter = test_discord.adapter


def buttons(payload: dict[str, Any]) -> dict[str, str]:
    """Button label -> custom id of a sent message, as a user would name them: a card's
    buttons sit in that card, so they are named by its rank ("Similar #1"); the entries of
    a card's "⋯" menu too (choosing one runs the custom id it carries: :func:`choose`)."""
    out: dict[str, str] = {}
    for n, card in enumerate(v2_cards(payload), start=1):
        rank = card.title.split(". ", 1)[0] if re.match(r"\d+\. ", card.title) else str(n)
        out.update((f"{c['label']} #{rank}", c["custom_id"]) for c in card.buttons)
        out.update((f"{label} #{rank}", value) for label, value in card.menu_options.items())
    in_cards = {c["custom_id"] for card in v2_cards(payload) for c in card.buttons}
    out.update(
        (c["label"], c["custom_id"]) for c in v2_buttons(payload) if c["custom_id"] not in in_cards
    )
    return out


def channel_posts(fake: FakeDiscord, channel_id: int = CHANNEL_ID) -> list[Recorded]:
    """Messages posted to one channel (or thread), in order."""
    return [
        r for r in fake.find("POST", "/channels/") if r.path == f"/channels/{channel_id}/messages"
    ]


def posted_ids(posts: list[Recorded]) -> list[str]:
    """Paper ids in the order a digest showed them (from each card's Similar button)."""
    return [
        custom_id.removeprefix("papers:similar ")
        for post in posts
        for label, custom_id in buttons(post.body).items()
        if label.startswith("Similar")
    ]


async def command(fake: FakeDiscord, sub: str, options: dict[str, Any] | None = None, **kw: Any):
    """Run ``/papers <sub>``; the callback's message data, checked."""
    callback, latency = await run_command(fake, sub, options, **kw)
    assert latency < 3.0
    data = callback.body["data"]
    check_message(data)
    return data


async def press(fake: FakeDiscord, custom_id: str, message: dict[str, Any], **kw: Any) -> Recorded:
    interaction = fake.component_interaction(custom_id, message, **kw)
    await fake.dispatch_interaction(interaction)
    answer = await fake.wait_for(is_callback(interaction))
    if answer.body["type"] in (4, 7):
        check_message(answer.body["data"])
    return answer


async def choose(
    fake: FakeDiscord, payload: dict[str, Any], rank: int, label: str, **kw: Any
) -> Recorded:
    """Choose ``label`` in the "⋯" menu of card ``rank`` of a posted ``payload``."""
    card = v2_cards(payload)[rank - 1]
    assert card.menu is not None, f"card {rank} has no menu"
    message = fake.message(payload, CHANNEL_ID)
    interaction = fake.select_interaction(
        card.menu["custom_id"], card.menu_options[label], message, **kw
    )
    await fake.dispatch_interaction(interaction)
    answer = await fake.wait_for(is_callback(interaction))
    if answer.body["type"] in (4, 7):
        check_message(answer.body["data"])
    return answer


def assert_all_payloads_safe(fake: FakeDiscord) -> None:
    payloads = fake.message_payloads()
    assert payloads
    for payload in payloads:
        check_message(payload)


# ---- topic preview ------------------------------------------------------------------


async def test_preview_shows_days_and_top_three_and_subscribe_button(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot
) -> None:
    dated_corpus(demo_bot)
    data = await command(fake, "preview", {"topic": "graph networks"})
    assert data["flags"] & 64
    content = v2_text(data)
    assert "Preview of “graph networks”, 2026-06-06 to 2026-06-12" in content
    assert "2026-06-08: 2 of 3 papers match, 2 would be posted" in content
    assert "No trending list on 2026-06-07" in content  # no row of zeros (issue 16)
    assert len(v2_cards(data)) == 3
    assert all("Topic: graph networks (matched: graph, networks)" in e.description
               for e in v2_cards(data))  # fmt: skip
    subscribe = buttons(data)["Subscribe"]
    assert demo_bot.store.topics(KEY) == []
    # The Subscribe button runs subscribe for the presser: refused without Manage Channels.
    message = fake.message(data, CHANNEL_ID, flags=64)
    answer = await press(fake, subscribe, message, permissions=MEMBER_PERMISSIONS, user=BOB)
    assert answer.body["type"] == 4 and "permission" in v2_text(answer.body["data"])
    assert demo_bot.store.topics(KEY) == []
    answer = await press(fake, subscribe, message)
    assert answer.body["type"] == 4  # a new message: the preview stays as it was
    assert [t.query for t in demo_bot.store.topics(KEY)] == ["graph networks"]
    # subscribe preview:true previews without subscribing, alert: becomes --alert.
    data = await command(fake, "subscribe", {"topic": "agents", "preview": True})
    assert v2_text(data).startswith("**Preview of “agents”")
    await command(fake, "subscribe", {"topic": "agents", "alert": 40})
    assert [(t.query, t.alert_upvotes) for t in demo_bot.store.topics(KEY)] == [
        ("graph networks", None),
        ("agents", 40),
    ]
    assert_all_payloads_safe(fake)


# ---- why this matched ---------------------------------------------------------------


def test_highlight_bolds_escaped_terms_on_word_boundaries() -> None:
    text = escape("Zebrafish-based models; zebrafishes and __fin__ @everyone *x*")
    out = highlight(text, ("zebrafish", "__fin__", "*x*", "@everyone"))
    assert out.startswith("**Zebrafish**-based")
    assert "zebrafishes" in out and "**zebrafishes" not in out  # word boundary
    assert "**\\_\\_fin\\_\\_**" in out and "__fin__" not in out
    assert "**\\*x\\***" in out
    assert "@everyone" not in out
    assert highlight(text, ()) == text


async def test_digest_bolds_matched_words_and_escapes_hostile_terms(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot, clock: Any
) -> None:
    demo_bot.add_papers(
        [
            Paper(
                id="2606.88888",
                title="Zebrafish fins at scale",
                abstract="We grow zebrafish fins; the __fin__ <@&42> model is Zebrafish-based.",
                upvotes=500,
                daily_date="2026-06-12",
            )
        ]
    )
    await command(fake, "subscribe", {"topic": "__fin__ <@&42> zebrafish"})
    channel = demo_bot.store.get_channel(KEY)
    assert channel is not None
    await adapter.post(channel, demo_bot.digest_reply(demo_bot.digest_for(channel)))
    (post,) = channel_posts(fake)
    check_message(post.body)
    description = v2_cards(post.body)[0].description
    assert "**zebrafish** fins" in description and "**Zebrafish**-based" in description
    assert "**\\_\\_fin\\_\\_**" in description  # bold, but the term itself shown literally
    assert "__fin__" not in description.replace("\\_", "")
    assert "<@&42>" not in description and "<\u200b@&42>" in description
    assert "Topic: \\_\\_fin\\_\\_ <\u200b@&42> zebrafish (matched: " in description


# ---- similar ------------------------------------------------------------------------


async def test_similar_on_a_digest_answers_ephemerally_and_leaves_the_post(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot
) -> None:
    channel = Channel("discord", str(GUILD_ID), str(CHANNEL_ID))
    await adapter.post(channel, demo_bot.digest_reply(demo_bot.digest_for(channel)))
    first = channel_posts(fake)[0].body
    labels = list(buttons(first))
    # Save and the 👍/👎 pair are shown; Similar is in the card's "⋯" menu.
    assert labels[:4] == ["Save #1", "👍 #1", "👎 #1", "Similar #1"]
    assert not any(label.startswith("Share") for label in labels)  # public already
    for post in channel_posts(fake):  # each card's buttons in its own row, five cards at most
        cards = v2_cards(post.body)
        assert 1 <= len(cards) <= 5 and all(1 <= len(c.buttons) <= 3 for c in cards)
        assert len(v2_buttons(post.body)) == sum(len(c.buttons) for c in cards)
        assert all(list(c.menu_options) == ["Similar"] for c in cards)
    answer = await choose(fake, first, 1, "Similar", user=BOB)
    assert answer.body["type"] == 4  # a new message, not UPDATE_MESSAGE (7)
    data = answer.body["data"]
    assert data["flags"] & 64
    assert "Similar papers" in v2_text(data) and len(v2_cards(data)) == 5
    assert "Share in channel #1" in buttons(data)
    # The public message was never edited.
    assert not [r for r in fake.requests if r.method == "PATCH"]
    assert not [r for r in fake.requests if r.path.endswith("/callback") and r.body["type"] == 7]


# ---- feedback -----------------------------------------------------------------------


async def test_feedback_buttons_change_the_next_digest_order(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot, clock: Any
) -> None:
    clock.now = T("2026-06-12T08:00:00+00:00")
    await command(fake, "schedule", {"time": "09:00", "timezone": "UTC"})
    channel = demo_bot.store.get_channel(KEY)
    assert channel is not None
    await adapter.post(channel, demo_bot.digest_reply(demo_bot.digest_for(channel)))
    before = posted_ids(channel_posts(fake))
    assert before[:2] == ["2606.13681", "2606.13392"]
    first = channel_posts(fake)[0].body
    ids = buttons(first)
    message = fake.message(first, CHANNEL_ID)
    up = await press(fake, ids["👍 #2"], message, user=BOB, permissions=MEMBER_PERMISSIONS)
    assert ids["👍 #2"] == "papers:feedback up 2606.13392"
    assert up.body["type"] == 4 and up.body["data"]["flags"] & 64
    assert "👍 noted" in v2_text(up.body["data"])
    down = await press(fake, ids["👎 #1"], message, user=CAROL, permissions=MEMBER_PERMISSIONS)
    assert "1 👍, 1 👎" in v2_text(down.body["data"])
    assert not [r for r in fake.requests if r.method == "PATCH"]

    already = len(channel_posts(fake))
    clock.now = T("2026-06-12T09:00:00+00:00")
    await Scheduler(demo_bot, {"discord": adapter}).run_once()
    posts = channel_posts(fake)[already:]
    assert posts and "Trending papers, 2026-06-12" in v2_text(posts[0].body)
    for post in posts:
        check_message(post.body)
    after = posted_ids(posts)
    assert after[0] == "2606.13392" and after.index("2606.13681") > 0
    assert sorted(after) == sorted(before) and after != before


# ---- weekly digest ------------------------------------------------------------------


async def test_weekly_command_then_scheduler_posts_top_papers_of_the_week(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot, clock: Any
) -> None:
    dated_corpus(demo_bot)
    clock.now = T("2026-06-08T12:00:00+00:00")
    refused = await command(
        fake, "weekly", {"day": "fri", "time": "17:00"}, permissions=MEMBER_PERMISSIONS
    )
    assert "permission" in v2_text(refused)
    data = await command(
        fake, "weekly", {"day": "fri", "time": "17:00", "timezone": "Europe/Berlin"}
    )
    assert "every Friday at 17:00 Europe/Berlin" in v2_text(data)
    data = await command(fake, "daily", {"mode": "off"})
    assert "Daily post off" in v2_text(data)
    sched = Scheduler(demo_bot, {"discord": adapter})
    clock.now = T("2026-06-12T14:59:00+00:00")
    await sched.run_once()
    assert channel_posts(fake) == []
    clock.now = T("2026-06-12T15:00:00+00:00")  # Friday 17:00 in Berlin
    await sched.run_once()
    posts = channel_posts(fake)
    assert v2_text(posts[0].body).startswith("**Top papers of the week, 2026-06-06 to 2026-06-12**")
    assert posted_ids(posts)[:2] == ["2606.13681", "2606.13392"]
    for post in posts:
        check_message(post.body)
    # weekly day:off turns it off again.
    data = await command(fake, "weekly", {"day": "off"})
    assert "Weekly digest off" in v2_text(data)
    assert demo_bot.store.get_channel(KEY).weekly_day is None
    # Without a time it is 09:00 in the channel's zone.
    data = await command(fake, "weekly", {"day": "mon"})
    assert "every Monday at 09:00 Europe/Berlin" in v2_text(data)


# ---- thread mode --------------------------------------------------------------------


async def test_thread_mode_posts_headline_then_one_message_per_paper_in_its_thread(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot, clock: Any
) -> None:
    clock.now = T("2026-06-12T08:00:00+00:00")
    await command(fake, "schedule", {"time": "09:00", "timezone": "UTC"})
    data = await command(fake, "thread", {"mode": "on"})
    assert "one reply per paper" in v2_text(data)
    clock.now = T("2026-06-12T09:00:00+00:00")
    await Scheduler(demo_bot, {"discord": adapter}).run_once()

    (headline,) = channel_posts(fake)
    assert v2_text(headline.body) == (
        "**Trending papers, 2026-06-12**\n5 papers, one per reply in this thread."
    )
    (start,) = fake.find("POST", f"/channels/{CHANNEL_ID}/messages/")
    assert start.path.endswith("/threads") and start.body["name"] == "Trending papers, 2026-06-12"
    (thread_id,) = fake.threads
    assert start.path == f"/channels/{CHANNEL_ID}/messages/{thread_id}/threads"
    in_thread = channel_posts(fake, thread_id)
    assert len(in_thread) == 5
    for post in in_thread:
        check_message(post.body)
        assert len(v2_cards(post.body)) == 1 and not v2_text(post.body)
    assert len(posted_ids(in_thread)) == 5
    sent = demo_bot.store.deliveries(KEY)
    assert len({d.message_id for d in sent}) == 5
    # A restart forgets the thread: Discord's "already created" (160004) leads back to it.
    adapter._threads.clear()
    channel = demo_bot.store.get_channel(KEY)
    await adapter.post(
        channel, demo_bot.digest_reply(demo_bot.digest_for(channel)), thread=str(thread_id)
    )
    assert len(channel_posts(fake, thread_id)) > 5 and len(fake.threads) == 1


# ---- export / import ----------------------------------------------------------------


async def test_export_in_one_channel_import_one_line_in_another(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot
) -> None:
    await command(fake, "schedule", {"time": "07:30", "timezone": "Asia/Kolkata"})
    await command(fake, "subscribe", {"topic": "speech recognition", "alert": 40})
    await command(fake, "subscribe", {"topic": "agents"})
    await command(fake, "weekly", {"day": "mon", "time": "10:00"})
    await command(fake, "thread", {"mode": "on"})
    data = await command(fake, "export")
    assert "```" in v2_text(data) and 'timezone = "Asia/Kolkata"' in v2_text(data)
    one = v2_text(data).rsplit("`/papers import ", 1)[1].rstrip("`")
    assert "\n" not in one

    refused = await command(
        fake,
        "import",
        {"snippet": one},
        channel_id=OTHER_CHANNEL_ID,
        permissions=MEMBER_PERMISSIONS,
    )
    assert "permission" in v2_text(refused)
    data = await command(fake, "import", {"snippet": one}, channel_id=OTHER_CHANNEL_ID)
    assert "Imported 8 settings and 2 topics" in v2_text(data)
    assert not data.get("flags", 0) & 64  # the channel sees its settings changed
    other = demo_bot.store.get_channel(f"discord:{GUILD_ID}:{OTHER_CHANNEL_ID}")
    assert other is not None
    assert (other.post_time, other.timezone, other.weekly_day, other.thread_mode) == (
        "07:30",
        "Asia/Kolkata",
        0,
        True,
    )
    assert [(t.query, t.alert_upvotes) for t in demo_bot.store.topics(other.key)] == [
        ("speech recognition", 40),
        ("agents", None),
    ]
    assert_all_payloads_safe(fake)


# ---- commands and rendering ---------------------------------------------------------


async def test_sync_registers_the_new_subcommands(
    fake: FakeDiscord, demo_bot: PapersBot, config: Config
) -> None:
    bot_adapter = DiscordAdapter(demo_bot, discord_config(config, fake, guild_ids=[GUILD_ID]))
    await bot_adapter.login()
    try:
        await bot_adapter.sync_commands([GUILD_ID])
    finally:
        await bot_adapter.stop()
    (put,) = fake.find("PUT", "/applications/")
    subs = {o["name"]: o for o in put.body[0]["options"]}
    options = {name: {o["name"]: o for o in sub.get("options", [])} for name, sub in subs.items()}
    # notify: issue 15's alert mention, a string option Discord fills with <@&role id>
    assert set(options["subscribe"]) == {"topic", "alert", "notify", "preview"}
    assert options["subscribe"]["notify"]["type"] == 3
    assert [c["value"] for c in options["thread"]["mode"]["choices"]] == ["on", "off"]
    assert [c["value"] for c in options["daily"]["mode"]["choices"]] == ["on", "off"]
    days = [c["value"] for c in options["weekly"]["day"]["choices"]]
    assert days == ["mon", "tue", "wed", "thu", "fri", "sat", "sun", "off"]
    assert options["weekly"]["timezone"].get("autocomplete")
    assert set(options["preview"]) == {"topic"} and set(options["similar"]) == {"id"}
    assert set(options["import"]) == {"snippet"} and options["export"] == {}


def test_public_digest_of_many_cards_keeps_buttons_with_their_cards(
    demo_bot: PapersBot,
) -> None:
    papers = sorted(demo_bot.store.papers(), key=lambda p: p.id)[:12]
    from bot.replies import ButtonRole, Reply, ReplyKind

    reply = Reply(
        kind=ReplyKind.DIGEST,
        title="Trending papers",
        cards=[demo_bot.card(p, public=True, rank=n) for n, p in enumerate(papers, start=1)],
        ephemeral=False,
    )
    messages = render(reply, CommandIds())
    # Four cards a message: each card's "⋯" menu (a row and a select) counts against
    # Discord's 40 components (five cards a message before it).
    assert [len(m.panels) for m in messages] == [4, 4, 4]
    for m in messages:
        assert [p.title.split(". ")[0] for p in m.panels] == [str(c.rank) for c in m.cards]
        for panel, card in zip(m.panels, m.cards, strict=True):  # each card's own buttons
            own = [b.label for b in card.buttons if b.role is not ButtonRole.SHARE]
            assert [b.label for b in panel.buttons] == own[:3]
            assert [b.label for b in panel.more] == own[3:]
        assert not m.buttons  # no grid of numbered buttons under the cards


async def test_import_without_snippet_opens_a_form_for_the_multi_line_snippet(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot
) -> None:
    snippet = '[channel]\npost_time = "06:45"\n\n[[topics]]\nquery = "graph networks"\n'
    refused = await command(fake, "import", permissions=MEMBER_PERMISSIONS)
    assert "permission" in v2_text(refused)
    callback, latency = await run_command(fake, "import")
    assert callback.body["type"] == 9 and latency < 3.0  # MODAL
    modal = callback.body["data"]
    (row,) = modal["components"]
    (box,) = row["components"] if row["type"] == 1 else [row["component"]]
    assert box["type"] == 4 and box["style"] == 2  # a paragraph text input
    submit = fake.modal_submit_interaction(modal, {box["custom_id"]: snippet})
    await fake.dispatch_interaction(submit)
    answer = await fake.wait_for(is_callback(submit))
    check_message(answer.body["data"])
    assert "Imported 1 setting and 1 topic." in v2_text(answer.body["data"])
    assert demo_bot.store.get_channel(KEY).post_time == "06:45"
    assert [t.query for t in demo_bot.store.topics(KEY)] == ["graph networks"]


async def test_set_from_discord(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot
) -> None:
    data = await command(fake, "set", {"setting": "papers", "value": "3"})
    assert "up to 3 papers" in v2_text(data)
    assert demo_bot.store.get_channel(KEY).max_papers == 3
    refused = await command(
        fake, "set", {"setting": "papers", "value": "9"}, permissions=MEMBER_PERMISSIONS
    )
    assert "permission" in v2_text(refused)
