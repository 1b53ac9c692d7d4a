"""Issue 7 in Slack, end to end: topic preview, why-this-matched, similar papers, feedback
buttons, the weekly digest, thread mode and settings export/import.

Users act through signed HTTP requests (slash commands, block actions) to the real
:class:`SlackAdapter`; the scheduler posts through the same adapter; every message lands
in :class:`tests.fakes.slack_api.FakeSlack` and is checked against Block Kit's limits.
"""

# The fixtures ``fake``, ``slack_config`` and ``adapter`` are imported from test_slack.py;
# pytest injects them by parameter name, which ruff reads as redefinitions.
# ruff: noqa: F811

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

from adapters.slack import SlackAdapter
from bot.app import PapersBot
from bot.config import Config
from bot.models import Channel, Paper
from bot.replies import PaperCard, Reply, ReplyKind
from bot.scheduler import Scheduler
from tests.fakes.slack_api import FakeSlack, Post, block_kit_problems
from tests.test_slack import (  # noqa: F401  (fixtures)
    TEAM,
    action_body,
    adapter,
    all_text,
    buttons,
    command_body,
    fake,
    send,
    slack_config,
)

T = datetime.fromisoformat


def at(clock: Any, when: str) -> None:
    clock.now = T(when)


def slack_escape(text: str) -> str:
    """What Slack does to ``&``, ``<`` and ``>`` in slash command text before sending it."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def retarget(body: str, channel: str) -> str:
    """A slash command body from ``command_body`` as if typed in ``channel``."""
    fields = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
    fields["channel_id"] = channel
    return urlencode(fields)


def public_action_body(
    fake: FakeSlack, element: dict[str, Any], post: Post, user: str, key: str
) -> str:
    """A block action on a button of a public channel message (not an ephemeral one)."""
    payload = json.loads(parse_qs(action_body(fake, element, user=user, key=key))["payload"][0])
    payload["container"] = {
        "type": "message",
        "message_ts": post.ts,
        "channel_id": post.channel,
        "is_ephemeral": False,
    }
    payload["message"] = {"ts": post.ts, "text": post.text, "blocks": post.blocks}
    payload["channel"] = {"id": post.channel, "name": "papers"}
    return urlencode({"payload": json.dumps(payload)})


def choose_body(
    fake: FakeSlack, blocks: list[dict[str, Any]], value: str, post: Post, user: str, key: str
) -> str:
    """A block action choosing the "⋯" overflow option whose value is ``value``, on a
    public channel message (Slack sends the overflow's action id and the option chosen)."""
    menu, option = next(
        (e, o)
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["type"] == "overflow"
        for o in e["options"]
        if o["value"] == value
    )
    shaped = {"action_id": menu["action_id"], "text": option["text"]}
    payload = json.loads(parse_qs(public_action_body(fake, shaped, post, user, key))["payload"][0])
    payload["actions"] = [
        {
            "type": "overflow",
            "action_id": menu["action_id"],
            "block_id": "b1",
            "selected_option": option,
            "action_ts": "1.0",
        }
    ]
    return urlencode({"payload": json.dumps(payload)})


async def command(
    adapter: SlackAdapter,
    fake: FakeSlack,
    text: str,
    key: str,
    *,
    user: str = "U1",
    channel: str = "C1",
) -> dict[str, Any]:
    """Run a signed ``/papers`` command; its first answer via ``response_url``."""
    body = retarget(command_body(fake, slack_escape(text), user=user, key=key), channel)
    status, answer, _ = await send(adapter, body)
    assert status == 200, answer
    await fake.wait_for(lambda: bool(fake.responses_to(key)))
    payload = fake.responses_to(key)[0].payload
    assert block_kit_problems(payload["blocks"]) == [], text
    return payload


async def press(adapter: SlackAdapter, fake: FakeSlack, body: str, key: str) -> dict[str, Any]:
    status, answer, seconds = await send(adapter, body)
    assert status == 200 and seconds < 3.0, answer
    await fake.wait_for(lambda: bool(fake.responses_to(key)))
    payload = fake.responses_to(key)[0].payload
    assert block_kit_problems(payload["blocks"]) == []
    return payload


def button(blocks: list[dict[str, Any]], label: str, value: str | None = None) -> dict[str, Any]:
    return next(
        b
        for b in buttons(blocks)
        if b["text"]["text"] == label and (value is None or b.get("value") == value)
    )


def card_ids(post: Post) -> list[str]:
    """Paper ids of a posted digest's cards, in order (from their Similar buttons)."""
    return [
        b["value"].split()[1] for b in buttons(post.blocks) if b.get("value", "").startswith("sim")
    ]


def sections(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")


def assert_valid(posts: list[Post]) -> None:
    assert posts
    for post in posts:
        assert block_kit_problems(post.blocks) == [], post.blocks


# ---- topic preview ----------------------------------------------------------------------


async def test_preview_then_subscribe_button_respects_permissions(
    demo_bot: PapersBot, slack_config: Config, fake: FakeSlack
) -> None:
    slack_config.slack.manage_users = ["UBOSS"]
    slack = SlackAdapter(demo_bot, slack_config)
    await slack.start()
    try:
        preview = await command(slack, fake, "preview agents", "pv", user="U1")
        assert preview["response_type"] == "ephemeral"
        text = all_text(preview["blocks"])
        assert "Preview of “agents”, 2026-06-06 to 2026-06-12" in text
        assert "2026-06-11: 1 of 5 papers match, 1 would be posted" in text
        assert "2026-06-12: 4 of 8 papers match, 4 would be posted" in text
        assert "Top 3 of 5 matching papers:" in text and "Nothing was subscribed." in text
        assert text.count("topic: agents · matched: agents") == 3
        assert demo_bot.store.topics() == []
        same = await command(slack, fake, "subscribe agents --preview", "pv2", user="U1")
        assert "Preview of “agents”" in all_text(same["blocks"])

        subscribe = button(preview["blocks"], "Subscribe")
        assert subscribe["value"] == "subscribe agents"
        refused = await press(slack, fake, action_body(fake, subscribe, user="U1", key="s1"), "s1")
        assert "permission" in all_text(refused["blocks"])
        assert refused["replace_original"] is False  # the preview stays
        assert demo_bot.store.topics() == []
        done = await press(slack, fake, action_body(fake, subscribe, user="UBOSS", key="s2"), "s2")
        assert done["response_type"] == "in_channel" and done["replace_original"] is False
        assert "Subscribed to “agents”" in all_text(done["blocks"])
        assert [t.query for t in demo_bot.store.topics(f"slack:{TEAM}:C1")] == ["agents"]
    finally:
        await slack.stop()


# ---- why this matched -------------------------------------------------------------------


async def test_digest_cards_bold_matched_terms(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot, clock: Any
) -> None:
    at(clock, "2026-06-12T08:00:00+00:00")
    await command(adapter, fake, "schedule 09:00 UTC", "c1")
    await command(adapter, fake, "subscribe agents", "c2")
    at(clock, "2026-06-12T09:00:00+00:00")
    await Scheduler(demo_bot, {"slack": adapter}).run_once()
    posts = fake.posts_to("C1")
    assert_valid(posts)
    text = "\n".join(sections(p.blocks) for p in posts)
    assert "LLM *agents* by modeling" in text  # EvoArena's summary, "agents" in bold
    assert "topic: agents · matched: agents" in all_text(posts[0].blocks)


async def test_hostile_matched_terms_cannot_inject_markup(
    adapter: SlackAdapter, fake: FakeSlack
) -> None:
    paper = Paper(
        id="2605.00001",
        title="Robots <!channel>",
        abstract="Robots & amp grids <!here> use a*b and _x_ with R&D robot arms.",
        upvotes=1,
    )
    terms = ("<!here>", "amp", "a*b", "_x_", "`c`", "robot", "R&D")
    card = PaperCard(paper, rank=1, topic="*bold* <@U1>", matched_terms=terms)
    reply = Reply(kind=ReplyKind.DIGEST, title="Digest", cards=[card], ephemeral=False)
    await adapter.post(Channel("slack", TEAM, "CH"), reply)
    (post,) = fake.posts_to("CH")
    assert_valid([post])
    summary = post.blocks[1]["text"]["text"].splitlines()[-1]
    assert summary == (
        "*Robots* &amp; *amp* grids &lt;!here&gt; use a*b and _x_ with R&amp;D *robot* arms."
    )
    context = post.blocks[2]["elements"][0]["text"]
    assert "<" not in context and "*" not in context and "_x_" not in context
    assert "topic: ∗bold∗ &lt;@U1&gt;" in context
    assert "matched: &lt;!here&gt;, amp, a∗b, ˍxˍ, ˋcˋ, robot, R&amp;D" in context


# ---- similar ----------------------------------------------------------------------------


async def posted_digest(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot, channel_id: str = "C1"
) -> Post:
    """A channel digest as posted to Slack (the bot's own public message)."""
    channel = Channel("slack", TEAM, channel_id)
    reply = demo_bot.digest_reply(demo_bot.digest_for(channel))
    await adapter.post(channel, reply)
    (post,) = fake.posts_to(channel_id)
    assert_valid([post])
    return post


async def test_similar_on_a_digest_answers_ephemerally_and_keeps_the_digest(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot
) -> None:
    digest = await posted_digest(adapter, fake, demo_bot)
    labels = [b["text"]["text"] for b in buttons(digest.blocks) if "value" in b]
    # Save and the 👍/👎 pair are buttons; Similar leads the card's "⋯" menu.
    assert labels[:4] == ["Save", "👍", "👎", "Similar"] and "Share in channel" not in labels
    body = choose_body(fake, digest.blocks, "similar 2606.13392", digest, user="U5", key="sim")
    answer = await press(adapter, fake, body, "sim")
    assert answer["response_type"] == "ephemeral"
    assert answer["replace_original"] is False
    assert "delete_original" not in answer
    text = all_text(answer["blocks"])
    assert "Similar papers" in text and "MiniMax Sparse Attention" in text
    assert "similar 2606.13392" not in [b.get("value") for b in buttons(answer["blocks"])]
    assert len(fake.responses_to("sim")) == 1
    assert [c for c, _ in fake.calls if c.startswith("chat.") and c != "chat.postMessage"] == []
    assert len(fake.posts) == 1  # nothing new in the channel


# ---- feedback ---------------------------------------------------------------------------


async def test_feedback_buttons_change_the_next_digest_order(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot, clock: Any
) -> None:
    at(clock, "2026-06-12T08:00:00+00:00")
    await command(adapter, fake, "schedule 09:00 UTC", "c1")
    digest = await posted_digest(adapter, fake, demo_bot)
    assert card_ids(digest)[:2] == ["2606.13681", "2606.13392"]  # by upvotes: 118, 103
    up = button(digest.blocks, "👍", "feedback up 2606.13392")
    down = button(digest.blocks, "👎", "feedback down 2606.13681")
    liked = await press(adapter, fake, public_action_body(fake, up, digest, "U1", "f1"), "f1")
    disliked = await press(adapter, fake, public_action_body(fake, down, digest, "U2", "f2"), "f2")
    for answer in (liked, disliked):
        assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert "👍 noted" in all_text(liked["blocks"])
    assert "1 👍, 1 👎" in all_text(disliked["blocks"])

    at(clock, "2026-06-12T09:00:00+00:00")
    await Scheduler(demo_bot, {"slack": adapter}).run_once()
    _first, nxt = fake.posts_to("C1")
    assert_valid([nxt])
    order = card_ids(nxt)
    assert order[0] == "2606.13392" and order.index("2606.13681") > 0


# ---- weekly digest ----------------------------------------------------------------------


async def test_weekly_digest_posts_at_the_weekly_slot(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot, clock: Any
) -> None:
    at(clock, "2026-06-08T12:00:00+00:00")
    weekly = await command(adapter, fake, "schedule weekly fri 17:00 Europe/Berlin", "w1")
    assert weekly["response_type"] == "in_channel"
    assert "every Friday at 17:00 Europe/Berlin" in all_text(weekly["blocks"])
    await command(adapter, fake, "schedule daily off", "w2")
    sched = Scheduler(demo_bot, {"slack": adapter})
    at(clock, "2026-06-12T14:59:00+00:00")
    await sched.run_once()
    assert fake.posts == []
    at(clock, "2026-06-12T15:00:00+00:00")  # Friday 17:00 in Berlin
    await sched.run_once()
    posts = fake.posts_to("C1")
    assert_valid(posts)
    header = posts[0].blocks[0]
    assert header["type"] == "header"
    assert header["text"]["text"] == "Top papers of the week, 2026-06-06 to 2026-06-12"
    assert card_ids(posts[0])[:2] == ["2606.13681", "2606.13392"]
    await sched.run_once()
    assert len(fake.posts_to("C1")) == len(posts)  # once a week


# ---- thread mode ------------------------------------------------------------------------


async def test_thread_mode_posts_each_paper_in_the_headlines_thread(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot, clock: Any
) -> None:
    at(clock, "2026-06-12T08:00:00+00:00")
    await command(adapter, fake, "schedule 09:00 UTC", "t1")
    on = await command(adapter, fake, "thread on", "t2")
    assert "one reply per paper" in all_text(on["blocks"])
    key = f"slack:{TEAM}:C1"
    # Three papers keep the test fast: Slack's pace is one message per second per channel.
    demo_bot.store.update_channel(key, lambda ch: setattr(ch, "max_papers", 3))
    at(clock, "2026-06-12T09:00:00+00:00")
    await Scheduler(demo_bot, {"slack": adapter}).run_once()
    headline, *replies = fake.posts_to("C1")
    assert_valid([headline, *replies])
    assert headline.thread_ts is None and "thread_ts" not in headline.payload
    assert headline.blocks[0]["text"]["text"] == "Trending papers, 2026-06-12"
    assert "3 papers, one per reply in this thread." in all_text(headline.blocks)
    assert len(replies) == 3 and {r.thread_ts for r in replies} == {headline.ts}
    assert all(len(card_ids(r)) == 1 and r.blocks[0]["type"] != "header" for r in replies)
    sent = demo_bot.store.deliveries(key)
    assert sorted(d.message_id for d in sent) == sorted(r.ts for r in replies)


# ---- export / import --------------------------------------------------------------------


def snippet_of(export: dict[str, Any]) -> str:
    """The TOML block of an export answer, as a user copies it from Slack (unescaped)."""
    shown = sections(export["blocks"])
    block = re.search(r"```\n(.*?)```", shown, re.DOTALL)
    assert block, shown
    return block.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


async def test_export_from_one_channel_import_multiline_into_another(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot
) -> None:
    for n, text in enumerate(
        [
            "schedule 07:30 Asia/Kolkata",
            'subscribe "speech & audio" --alert 40',
            "subscribe agents -robots",
            "schedule weekly mon 10:00",
            "thread on",
        ]
    ):
        await command(adapter, fake, text, f"x{n}")
    export = await command(adapter, fake, "export", "exp")
    assert export["response_type"] == "ephemeral"
    snippet = snippet_of(export)
    assert "\n" in snippet.strip() and 'timezone = "Asia/Kolkata"' in snippet

    imported = await command(adapter, fake, f"import {snippet}", "imp", channel="C2")
    assert "Imported 8 settings and 2 topics" in all_text(imported["blocks"])
    assert imported["response_type"] == "in_channel"
    source = demo_bot.store.get_channel(f"slack:{TEAM}:C1")
    target = demo_bot.store.get_channel(f"slack:{TEAM}:C2")
    fields = ("post_time", "timezone", "weekly_day", "thread_mode", "max_papers")
    assert [getattr(target, f) for f in fields] == [getattr(source, f) for f in fields]
    assert (target.post_time, target.timezone, target.thread_mode) == (
        "07:30",
        "Asia/Kolkata",
        True,
    )
    topics = demo_bot.store.topics(f"slack:{TEAM}:C2")
    assert [(t.query, t.alert_upvotes) for t in topics] == [
        ('"speech & audio"', 40),
        ("agents -robots", None),
    ]
    status = await command(adapter, fake, "status", "st", channel="C2")
    assert "07:30 Asia/Kolkata" in all_text(status["blocks"])
