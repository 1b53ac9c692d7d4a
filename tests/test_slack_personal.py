"""Issue 15 in Slack, end to end: a DM with the bot as a personal channel, the App Home tab
and its forms, the welcome when the bot joins a channel, and the answer in a channel the
bot is not in.

Everything goes through signed HTTP into the real bolt app (Events API JSON for events,
``payload=`` forms for block actions and view submissions), and every Web API call lands in
:class:`tests.fakes.slack_api.FakeSlack`, which checks views and messages against Slack's
limits.
"""

# The fixtures ``fake``, ``slack_config`` and ``adapter`` are imported from test_slack.py;
# pytest injects them by parameter name, which ruff reads as redefinitions.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any
from urllib.parse import urlencode

import pytest

from adapters.slack import SlackAdapter
from adapters.slack.forms import CALLBACK_SCHEDULE, CALLBACK_SUBSCRIBE, zone_groups
from bot.app import PapersBot
from bot.config import Config
from bot.models import Channel, Paper
from bot.preview import describe_count, topic_count
from bot.scheduler import Scheduler
from tests.fakes.slack_api import FakeSlack, View, block_kit_problems, view_problems
from tests.test_slack import (  # noqa: F401  (fixtures)
    SECRET,
    TEAM,
    adapter,
    all_text,
    fake,
    send,
    send_event,
    sign,
    slack_config,
)
from tests.test_slack_features import at, command
from tests.test_slack_oauth import TEAMS, install, oauth_adapter, oauth_config  # noqa: F401
from tests.test_slack_oauth import command as oauth_command

DM = "DU1"  # the fake's DM between the bot and U1 (conversations.open answers it)
KEY = f"slack:{TEAM}:{DM}"


# ---- driving Slack -----------------------------------------------------------------------


async def interact(adapter: SlackAdapter, payload: dict[str, Any]) -> tuple[int, str]:
    """POST an interactivity payload (a block action, a view submission), signed."""
    status, text, seconds = await send(adapter, urlencode({"payload": json.dumps(payload)}))
    assert seconds < 3.0
    return status, text


def actor(user: str = "U1") -> dict[str, Any]:
    return {"id": user, "username": f"name-{user}", "name": f"name-{user}", "team_id": TEAM}


def press_in_view(view: View, element: dict[str, Any], user: str = "U1") -> dict[str, Any]:
    """A block action on a button of a Home tab or modal Slack showed."""
    return {
        "type": "block_actions",
        "user": actor(user),
        "team": {"id": TEAM, "domain": "lab"},
        "api_app_id": "A1",
        "trigger_id": f"trigger-{time.time()}",
        "container": {"type": "view", "view_id": view.id},
        "view": {**view.view, "id": view.id, "hash": "h"},
        "actions": [
            {
                "type": "button",
                "action_id": element["action_id"],
                "block_id": "b",
                "value": element.get("value", ""),
                "action_ts": str(time.time()),
            }
        ],
    }


def view_buttons(view: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for block in view["blocks"]:
        if block["type"] == "actions":
            found += [e for e in block["elements"] if e["type"] == "button"]
        accessory = block.get("accessory") or {}
        if accessory.get("type") == "button":
            found.append(accessory)
    return found


def view_button(view: dict[str, Any], label: str, nth: int = 0) -> dict[str, Any]:
    return [b for b in view_buttons(view) if b["text"]["text"] == label][nth]


async def open_home(adapter: SlackAdapter, fake: FakeSlack, user: str = "U1") -> View:
    before = len(fake.views_for("views.publish"))
    event = {"type": "app_home_opened", "user": user, "channel": fake.dm_of(user), "tab": "home"}
    assert await send_event(adapter, TEAM, event, f"Ev-home-{time.time()}") == 200
    await fake.wait_for(lambda: len(fake.views_for("views.publish")) > before)
    published = fake.views_for("views.publish")[-1]
    assert published.user == user and view_problems(published.view) == []
    return published


async def next_publish(fake: FakeSlack, before: int) -> View:
    await fake.wait_for(lambda: len(fake.views_for("views.publish")) > before)
    return fake.views_for("views.publish")[-1]


def submission(view: View, values: dict[str, Any], user: str = "U1") -> dict[str, Any]:
    return {
        "type": "view_submission",
        "user": actor(user),
        "team": {"id": TEAM, "domain": "lab"},
        "api_app_id": "A1",
        "trigger_id": "t",
        "view": {**view.view, "id": view.id, "hash": "h", "state": {"values": values}},
    }


# ---- a DM is a personal channel ----------------------------------------------------------


async def test_dm_subscribe_and_schedule_then_the_digest_arrives_in_the_dm(
    demo_bot: PapersBot, slack_config: Config, fake: FakeSlack, clock: Any
) -> None:
    # Settings are restricted to UBOSS in channels; in one's own DM no rule applies.
    slack_config.slack.manage_users = ["UBOSS"]
    slack = SlackAdapter(demo_bot, slack_config)
    await slack.start()
    try:
        at(clock, "2026-06-12T08:00:00+00:00")
        refused = await command(slack, fake, "subscribe agents", "k0", user="U1", channel="C1")
        assert "permission" in all_text(refused["blocks"])
        done = await command(slack, fake, "subscribe agents", "k1", user="U1", channel=DM)
        assert "Subscribed to “agents”" in all_text(done["blocks"])
        timed = await command(slack, fake, "schedule 09:00 UTC", "k2", user="U1", channel=DM)
        assert "Daily post at 09:00 UTC" in all_text(timed["blocks"])
        assert [t.query for t in demo_bot.store.topics(KEY)] == ["agents"]
        assert demo_bot.store.topics(f"slack:{TEAM}:C1") == []
        # The DM was checked once (conversations.open names the bot's DM), then remembered.
        assert [c for c, _ in fake.calls].count("conversations.open") == 1

        at(clock, "2026-06-12T09:00:00+00:00")
        await Scheduler(demo_bot, {"slack": slack}).run_once()
        posts = fake.posts_to(DM)
        assert posts and all(block_kit_problems(p.blocks) == [] for p in posts)
        text = all_text(posts[0].blocks)
        assert "Trending papers, 2026-06-12" in text and "topic: agents" in text
        assert demo_bot.store.get_channel(KEY).last_post_date == "2026-06-12"

        # ... and save, typed there, keeps a paper on the person's reading list.
        first = demo_bot.store.papers()[0]
        saved = await command(slack, fake, f"save {first.id}", "k3", user="U1", channel=DM)
        assert "Saved" in all_text(saved["blocks"])
        mine = demo_bot.store.saved_papers(f"slack:{TEAM}:U1")
        assert [s.paper_id for s in mine] == [first.id]
    finally:
        await slack.stop()


async def test_a_dm_between_people_is_not_a_personal_channel(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot
) -> None:
    fake.foreign_dms.add("DPEOPLE")  # U1 and U2's own DM: the bot is not in it
    answer = await command(adapter, fake, "subscribe agents", "d1", user="U1", channel="DPEOPLE")
    assert "I can't post in this conversation" in all_text(answer["blocks"])
    assert answer["response_type"] == "ephemeral"
    assert demo_bot.store.topics(f"slack:{TEAM}:DPEOPLE") == []
    search = await command(adapter, fake, "search agents", "d2", user="U1", channel="DPEOPLE")
    assert "Results 1–" in all_text(search["blocks"])  # reading works anywhere


# ---- not in the channel ------------------------------------------------------------------


async def test_subscribe_where_the_bot_is_not_says_how_to_invite_it(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot
) -> None:
    fake.channels["C2"] = {"is_member": False}
    fake.channels["G3"] = {"private": True, "is_member": False}
    out = await command(adapter, fake, "subscribe agents", "n1", channel="C2")
    text = all_text(out["blocks"])
    assert "I'm not in this channel" in text and "`/invite @papers`" in text
    assert "Subscribed" not in text and out["response_type"] == "ephemeral"
    again = await command(adapter, fake, "schedule 09:00", "n2", channel="C2")
    assert "/invite @papers" in all_text(again["blocks"])
    hidden = await command(adapter, fake, "subscribe agents", "n3", channel="G3")
    assert "I can't see this channel" in all_text(hidden["blocks"])
    assert demo_bot.store.topics() == [] and demo_bot.store.channels() == []
    # Reading needs no check; the second command in C2 used the remembered answer.
    await command(adapter, fake, "search agents", "n4", channel="C2")
    infos = [p["channel"] for c, p in fake.calls if c == "conversations.info"]
    assert infos == ["C2", "G3"]

    # The bot is invited: the join event is enough, no new conversations.info.
    fake.channels["C2"] = {"is_member": True}
    join = {"type": "member_joined_channel", "user": "UBOT", "channel": "C2", "team": TEAM}
    assert await send_event(adapter, TEAM, join, "Ev-join-C2") == 200
    await fake.wait_for(lambda: bool(fake.posts_to("C2")))  # its welcome
    ok = await command(adapter, fake, "subscribe agents", "n5", channel="C2")
    assert "Subscribed to “agents”" in all_text(ok["blocks"])
    assert [p["channel"] for c, p in fake.calls if c == "conversations.info"] == ["C2", "G3"]

    # Removed again: member_left_channel turns the answer back at once.
    left = {"type": "member_left_channel", "user": "UBOT", "channel": "C2", "team": TEAM}
    assert await send_event(adapter, TEAM, left, "Ev-left-C2") == 200
    fake.channels["C2"] = {"is_member": False}
    gone = await command(adapter, fake, "subscribe robots", "n6", channel="C2")
    assert "/invite @papers" in all_text(gone["blocks"])
    # Stopping or trimming posts still works without the bot: nobody must re-invite it
    # just to make it stop.
    stop = await command(adapter, fake, "unsubscribe agents", "n7", channel="C2")
    assert "Unsubscribed" in all_text(stop["blocks"])
    pause = await command(adapter, fake, "pause", "n8", channel="C2")
    assert "/invite" not in all_text(pause["blocks"])
    assert demo_bot.store.get_channel(f"slack:{TEAM}:C2").paused
    assert demo_bot.store.topics(f"slack:{TEAM}:C2") == []
    resume = await command(adapter, fake, "resume", "n9", channel="C2")
    assert "/invite @papers" in all_text(resume["blocks"])  # restarting posts needs the bot


async def test_a_failed_membership_check_does_not_block(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot
) -> None:
    fake.conversation_errors["C4"] = "internal_error"
    out = await command(adapter, fake, "subscribe agents", "f1", channel="C4")
    assert "Subscribed to “agents”" in all_text(out["blocks"])
    assert [t.query for t in demo_bot.store.topics(f"slack:{TEAM}:C4")] == ["agents"]


# ---- the welcome -------------------------------------------------------------------------


async def test_welcome_is_posted_once_per_channel(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot
) -> None:
    join = {"type": "member_joined_channel", "user": "UBOT", "channel": "C9", "team": TEAM}
    # Slack redelivers an event it thinks was lost: twice at once, then once more later.
    statuses = await asyncio.gather(
        send_event(adapter, TEAM, join, "Ev-9"), send_event(adapter, TEAM, join, "Ev-9")
    )
    assert statuses == [200, 200]
    await fake.wait_for(lambda: bool(fake.posts_to("C9")))
    await adapter.commands.drain()
    assert await send_event(adapter, TEAM, join, "Ev-9") == 200
    other = {"type": "member_joined_channel", "user": "U5", "channel": "C8", "team": TEAM}
    assert await send_event(adapter, TEAM, other, "Ev-8") == 200  # someone else joined C8
    await adapter.commands.drain()
    (post,) = fake.posts_to("C9")
    assert block_kit_problems(post.blocks) == []
    assert '/papers subscribe "your topic"' in post.text and "/papers help" in post.text
    assert fake.posts_to("C8") == []
    assert demo_bot.store.get_meta(f"welcomed:slack:{TEAM}:C9")


# ---- the App Home tab --------------------------------------------------------------------


async def test_home_tab_shows_schedule_topics_and_reading_list(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot
) -> None:
    empty = await open_home(adapter, fake)
    assert "You have no personal digest yet" in all_text(empty.view["blocks"])
    assert {b["text"]["text"] for b in view_buttons(empty.view)} == {"Subscribe…", "Schedule…"}

    await command(adapter, fake, "subscribe agents", "h1", channel=DM)
    await command(adapter, fake, 'subscribe "<!here> & robots"', "h2", channel=DM)
    await command(adapter, fake, "schedule 07:30 Europe/Berlin", "h3", channel=DM)
    await command(adapter, fake, "schedule weekly fri 17:00", "h4", channel=DM)
    saved = demo_bot.store.papers()[0]
    demo_bot.store.save_paper(f"slack:{TEAM}:U1", saved.id, KEY)

    shown = await open_home(adapter, fake)
    text = all_text(shown.view["blocks"])
    assert "Daily digest at *07:30* Europe/Berlin." in text
    assert "Weekly digest every *Friday* at *17:00* Europe/Berlin." in text
    assert "1. agents" in text
    assert "&lt;!here&gt; &amp; robots" in text and "<!here>" not in text
    labels = [b["text"]["text"] for b in view_buttons(shown.view)]
    assert labels.count("Unsubscribe") == 2 and "Resume" not in labels
    assert "*Saved papers* (1)" in text
    assert saved.id in text and labels.count("Unsave") == 1
    assert f"<{saved.open_url}|" in text  # the title links to the paper

    # Opening the Messages tab publishes nothing.
    before = len(fake.views_for("views.publish"))
    event = {"type": "app_home_opened", "user": "U1", "channel": DM, "tab": "messages"}
    assert await send_event(adapter, TEAM, event, "Ev-msgs") == 200
    await adapter.commands.drain()
    assert len(fake.views_for("views.publish")) == before


async def test_home_buttons_run_through_the_core_and_refresh_the_tab(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot
) -> None:
    await command(adapter, fake, "subscribe agents", "b1", channel=DM)
    await command(adapter, fake, "subscribe robots", "b2", channel=DM)
    demo_bot.store.update_channel(KEY, lambda ch: setattr(ch, "paused", True))
    home = await open_home(adapter, fake)
    assert "⏸ Paused" in all_text(home.view["blocks"])

    before = len(fake.views_for("views.publish"))
    status, _ = await interact(adapter, press_in_view(home, view_button(home.view, "Resume")))
    assert status == 200
    after = await next_publish(fake, before)
    assert "Daily posts on" in all_text(after.view["blocks"])  # what it did, on top
    assert demo_bot.store.get_channel(KEY).paused is False
    assert "Resume" not in [b["text"]["text"] for b in view_buttons(after.view)]

    before = len(fake.views_for("views.publish"))
    unsub = view_button(after.view, "Unsubscribe", nth=0)
    await interact(adapter, press_in_view(after, unsub))
    last = await next_publish(fake, before)
    assert "Unsubscribed from “agents”" in all_text(last.view["blocks"])
    assert [t.query for t in demo_bot.store.topics(KEY)] == ["robots"]

    paper = demo_bot.store.papers()[0]
    demo_bot.store.save_paper(f"slack:{TEAM}:U1", paper.id, KEY)
    listed = await open_home(adapter, fake)
    before = len(fake.views_for("views.publish"))
    await interact(adapter, press_in_view(listed, view_button(listed.view, "Unsave")))
    emptied = await next_publish(fake, before)
    assert demo_bot.store.saved_papers(f"slack:{TEAM}:U1") == []
    assert "Nothing saved yet" in all_text(emptied.view["blocks"])


# ---- the forms ---------------------------------------------------------------------------


async def test_subscribe_form_counts_as_you_type_and_subscribes(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot
) -> None:
    home = await open_home(adapter, fake)
    status, _ = await interact(adapter, press_in_view(home, view_button(home.view, "Subscribe…")))
    assert status == 200
    await fake.wait_for(lambda: bool(fake.views_for("views.open")))
    (form,) = fake.views_for("views.open")
    assert form.view["callback_id"] == CALLBACK_SUBSCRIBE and form.trigger_id
    assert view_problems(form.view) == []

    # Typing dispatches the input's action; the form is updated with the count.
    typed = {
        **press_in_view(form, {"action_id": "papers_form_topic"}),
        "view": {**form.view, "id": form.id, "hash": fake._hashes[form.id]},
    }
    typed["actions"][0] = {"type": "plain_text_input", "action_id": "papers_form_topic"}
    typed["actions"][0]["value"] = "agents"
    assert (await interact(adapter, typed))[0] == 200
    await fake.wait_for(lambda: bool(fake.views_for("views.update")))
    (updated,) = fake.views_for("views.update")
    assert updated.id == form.id and view_problems(updated.view) == []
    line = all_text(updated.view["blocks"])
    assert "Would have matched 5 papers from 2026-06-06 to 2026-06-12 (4 on 2026-06-12)." in line
    ctx = demo_bot.context
    channel = ctx.new_channel("slack", TEAM, DM)
    assert describe_count(topic_count(ctx, channel, "agents")) in line  # the core's count
    # Typing on: only the newest topic's count is shown, whatever finishes first.
    typing = ("age", "agen", "agents", "ro", "robot")
    for partial in typing:
        typed["actions"][0]["value"] = partial
        assert (await interact(adapter, typed))[0] == 200
    await adapter.commands.drain()
    # Keystrokes this close together are counted once, for the last (not one search each).
    assert len(fake.views_for("views.update")) == 2
    last = fake.views_for("views.update")[-1]
    newest = describe_count(topic_count(ctx, channel, "robot"))
    assert newest in all_text(last.view["blocks"])
    assert all(describe_count(topic_count(ctx, channel, t)) != newest for t in typing[:3])
    # ... the same five the preview counts ("Top 3 of 5 matching papers").
    preview = await command(adapter, fake, "preview agents", "pv", channel=DM)
    assert "Top 3 of 5 matching papers" in all_text(preview["blocks"])

    # A refusal is one line under the field; nothing is subscribed.
    status, body = await interact(
        adapter, submission(form, {"topic": {"papers_form_topic": {"value": "   "}}})
    )
    assert status == 200
    answer = json.loads(body)
    assert answer == {"response_action": "errors", "errors": {"topic": answer["errors"]["topic"]}}
    assert "\n" not in answer["errors"]["topic"] and "Usage" not in answer["errors"]["topic"]
    assert demo_bot.store.topics(KEY) == []

    before = len(fake.views_for("views.publish"))
    values = {"topic": {"papers_form_topic": {"value": '"sparse attention"'}}}
    status, body = await interact(adapter, submission(form, values))
    assert status == 200 and body in ("", "{}")  # the form closes
    assert [t.query for t in demo_bot.store.topics(KEY)] == ['"sparse attention"']
    home_after = await next_publish(fake, before)
    assert "Subscribed to “sparse attention” (topic" in all_text(home_after.view["blocks"])


async def test_schedule_form_sets_time_and_zone_through_the_core(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot
) -> None:
    home = await open_home(adapter, fake)
    await interact(adapter, press_in_view(home, view_button(home.view, "Schedule…")))
    await fake.wait_for(lambda: bool(fake.views_for("views.open")))
    (form,) = fake.views_for("views.open")
    assert form.view["callback_id"] == CALLBACK_SCHEDULE and view_problems(form.view) == []
    time_el = form.view["blocks"][0]["element"]
    zone_el = form.view["blocks"][1]["element"]
    assert time_el["type"] == "timepicker" and time_el["initial_time"] == "09:00"
    assert zone_el["initial_option"]["value"] == "UTC"

    def picked(hhmm: str, zone: str) -> dict[str, Any]:
        return {
            "time": {"papers_form_time": {"type": "timepicker", "selected_time": hhmm}},
            "zone": {"papers_form_zone": {"selected_option": {"value": zone}}},
        }

    status, body = await interact(adapter, submission(form, picked("07:45", "Mars/Olympus")))
    errors = json.loads(body)["errors"]
    assert list(errors) == ["zone"] and "Mars/Olympus" in errors["zone"]
    assert demo_bot.store.get_channel(KEY) is None

    before = len(fake.views_for("views.publish"))
    status, body = await interact(adapter, submission(form, picked("07:45", "Asia/Tokyo")))
    assert status == 200 and body in ("", "{}")
    channel = demo_bot.store.get_channel(KEY)
    assert (channel.post_time, channel.timezone) == ("07:45", "Asia/Tokyo")
    after = await next_publish(fake, before)
    assert "Daily post at 07:45 Asia/Tokyo" in all_text(after.view["blocks"])


@pytest.mark.parametrize("current", ["UTC", "Europe/Berlin", "America/Argentina/Salta", None])
def test_zone_select_stays_within_slack_limits(current: str | None) -> None:
    groups = zone_groups(current)
    options = [o for g in groups for o in g["options"]]
    values = [o["value"] for o in options]
    assert 20 <= len(options) <= 100 and len(set(values)) == len(values)
    assert {"UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"} <= set(values)
    if current:
        assert current in values  # the zone set now is always offered
    channel = Channel("slack", TEAM, DM, timezone=current or "UTC")
    from adapters.slack.forms import schedule_view

    assert view_problems(schedule_view(DM, channel.post_time, channel.timezone)) == []


# ---- many workspaces (OAuth installs) -----------------------------------------------------


async def test_each_workspace_is_answered_with_its_own_token(
    oauth_adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot
) -> None:
    for team in TEAMS:
        assert (await install(oauth_adapter, fake, team))[0] == 200
    join = {"type": "member_joined_channel", "user": "UBOT", "channel": "C7", "team": "TB"}
    assert await send_event(oauth_adapter, "TB", join) == 200
    await fake.wait_for(lambda: bool(fake.posts_to("C7")))
    (welcome,) = fake.posts_to("C7")
    assert welcome.token == TEAMS["TB"]
    await oauth_adapter.commands.drain()
    assert demo_bot.store.get_meta("welcomed:slack:TB:C7")

    opened = {"type": "app_home_opened", "user": "U1", "channel": "DU1", "tab": "home"}
    assert await send_event(oauth_adapter, "TA", opened) == 200
    await fake.wait_for(lambda: bool(fake.views_for("views.publish")))
    (home,) = fake.views_for("views.publish")
    assert home.token == TEAMS["TA"] and home.user == "U1"

    # The membership check asks with the workspace's token, and remembers per workspace.
    fake.channels["C1"] = {"is_member": False}
    refused = await oauth_command(oauth_adapter, fake, "TA", "subscribe agents")
    assert "/invite @papers" in all_text(refused["blocks"])
    asked = [c for c in fake.calls if c[0] == "conversations.info"]
    assert len(asked) == 1
    assert demo_bot.store.topics() == []


def yaml_list(text: str, key: str) -> list[str]:
    """The items of the YAML list under ``key:`` (no YAML parser is a dependency)."""
    found = re.search(rf"\b{key}:\n((?:\s+- .*\n)+)", text)
    assert found is not None, key
    return [line.split("- ")[1].split()[0] for line in found[1].strip().splitlines()]


def test_manifest_declares_the_home_the_events_and_only_the_scopes_used() -> None:
    from adapters.slack.settings import BOT_SCOPES
    from tests.conftest import REPO

    manifest = (REPO / "adapters" / "slack" / "manifest.yaml").read_text()
    for line in (
        "home_tab_enabled: true",
        "messages_tab_enabled: true",
        "messages_tab_read_only_enabled: false",  # /papers is typed in the Messages tab
    ):
        assert re.search(rf"^\s+{line}", manifest, re.M), line
    events = yaml_list(manifest, "bot_events")
    assert events == [
        "app_home_opened",
        "member_joined_channel",
        "member_left_channel",
        "app_uninstalled",
        "tokens_revoked",
    ]
    scopes = yaml_list(manifest, "bot")
    assert (
        scopes
        == list(BOT_SCOPES)
        == [
            "commands",
            "chat:write",
            "users:read",
            "channels:read",
            "groups:read",
            "im:write",
        ]
    )
    docs = (REPO / "docs" / "slack.md").read_text()
    for name in [*events, *scopes]:
        assert f"`{name}`" in docs, f"docs/slack.md does not say what {name} is for"


async def test_home_reading_list_is_escaped_and_capped(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot
) -> None:
    person = f"slack:{TEAM}:U1"
    hostile = Paper(id="2605.99999", title="<!channel> & <https://evil|click> robots")
    demo_bot.add_papers([hostile])
    papers = [p for p in demo_bot.store.papers() if p.id != hostile.id][:27]
    for n, paper in enumerate(papers):
        demo_bot.store.save_paper(person, paper.id, KEY, at=f"2026-06-01T00:{n:02d}:00+00:00")
    demo_bot.store.save_paper(person, hostile.id, KEY, at="2026-06-02T00:00:00+00:00")
    shown = await open_home(adapter, fake)
    text = all_text(shown.view["blocks"])
    assert "&lt;!channel&gt; &amp; &lt;https://evil|click&gt; robots" in text
    assert "<!channel>" not in text and "<https://evil" not in text
    assert "*Saved papers* (28)" in text
    assert [b["text"]["text"] for b in view_buttons(shown.view)].count("Unsave") == 25
    assert "and 3 more: `/papers saved` lists them all." in text
