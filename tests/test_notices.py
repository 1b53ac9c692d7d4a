"""Issue 15, "a bot that says what happened" and alerts, through the real stacks.

Slack: signed slash commands into the real adapter, the scheduler posting through it, the
fake Web API recording every ``conversations.open`` and ``chat.postMessage``. Discord's side is
tests/test_notices_discord.py. What is checked:

- who last changed a channel's settings is remembered (``Channel.managed_by``);
- a pause is told once, by direct message to that person, and again once when the channel
  recovers; never again on later ticks or after a restart; a notice that cannot be sent is
  retried when the failure may pass, and given up with a log line when it cannot;
- ``--notify`` is stored in a neutral form and rendered as a real mention on the alert
  only (Slack ``<!subteam^…>``, Discord ``<@&…>`` with ``allowed_mentions`` naming just
  that role); without it, nothing mentions anyone;
- an alert burst keeps to ``scheduler.max_alerts_per_hour``: the rest come as one list,
  and papers found once the hour is used up come in the next hour, none lost.
"""

# The fixtures ``fake``, ``slack_config`` and ``adapter`` are imported from test_slack.py;
# pytest injects them by parameter name, which ruff reads as redefinitions.
# ruff: noqa: F811

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from adapters.slack import SlackAdapter
from bot.app import PapersBot
from bot.cli import import_papers
from bot.models import Paper
from bot.replies import Request
from bot.scheduler import Scheduler
from tests.fakes.slack_api import FakeSlack, Post, block_kit_problems
from tests.test_slack import (  # noqa: F401  (fixtures)
    TEAM,
    adapter,
    all_text,
    command_body,
    fake,
    send,
    slack_config,
)
from tests.test_slack_features import at, command, retarget

T = datetime.fromisoformat
KEY = f"slack:{TEAM}:C1"


def dm_opens(fake: FakeSlack, user: str) -> list[dict[str, Any]]:
    return [p for m, p in fake.calls if m == "conversations.open" and p.get("users") == user]


async def raw_command(adapter: SlackAdapter, fake: FakeSlack, text: str, key: str) -> str:
    """A slash command whose text Slack sends as is (an escaped mention: ``<!subteam^…>``
    arrives with its brackets, which only user-typed ``<`` would not); its answer's text."""
    body = retarget(command_body(fake, text, user="U7", key=key), "C1")
    status, answer, _ = await send(adapter, body)
    assert status == 200, answer
    await fake.wait_for(lambda: bool(fake.responses_to(key)))
    return all_text(fake.responses_to(key)[0].payload["blocks"])


async def paused_by_failures(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot, clock: Any
) -> Scheduler:
    """C1 set up by U7, then its posts refused for good until the scheduler pauses it."""
    demo_bot.config.scheduler.max_failures = 2
    at(clock, "2026-06-12T08:00:00+00:00")
    await command(adapter, fake, "schedule 09:00 UTC", "s1", user="U7")
    fake.channel_errors["C1"] = "not_in_channel"
    sched = Scheduler(demo_bot, {"slack": adapter})
    at(clock, "2026-06-12T09:00:00+00:00")
    await sched.run_once()
    at(clock, "2026-06-12T09:05:00+00:00")  # the retry after the first failure
    await sched.run_once()
    channel = demo_bot.store.get_channel(KEY)
    assert channel.paused and "not_in_channel" in (channel.pause_reason or "")
    return sched


# ---- who set the channel up --------------------------------------------------------------


async def test_managed_by_is_who_last_changed_the_channel(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot
) -> None:
    await command(adapter, fake, "search diffusion", "m0", user="U5")
    assert demo_bot.store.get_channel(KEY) is None  # reading creates and records nothing
    await command(adapter, fake, "schedule 09:00 UTC", "m1", user="U5")
    assert demo_bot.store.get_channel(KEY).managed_by == "U5"
    await command(adapter, fake, "subscribe agents", "m2", user="U6")
    assert demo_bot.store.get_channel(KEY).managed_by == "U6"
    await command(adapter, fake, "schedule 25:99", "m3", user="U7")  # refused: a bad time
    await command(adapter, fake, "search agents", "m4", user="U8")  # not a settings change
    assert demo_bot.store.get_channel(KEY).managed_by == "U6"


def test_a_refused_or_channel_less_command_records_nobody(demo_bot: PapersBot) -> None:
    store = demo_bot.store
    demo_bot.handle(Request("pause", channel_id="lab", user_id="u1"))  # no channel: no-op
    assert store.get_channel("console:local:lab") is None
    demo_bot.handle(Request("schedule 09:00 UTC", channel_id="lab", user_id="u1"))
    refused = demo_bot.handle(Request("pause", channel_id="lab", user_id="u2", can_manage=False))
    assert "permission" in refused.text
    assert store.get_channel("console:local:lab").managed_by == "u1"


# ---- pause and recovery notices -----------------------------------------------------------


async def test_pause_is_told_once_by_dm_and_recovery_once(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot, clock: Any
) -> None:
    sched = await paused_by_failures(adapter, fake, demo_bot, clock)
    assert fake.dms_to("U7") == []  # recorded by the pausing write, sent at the next tick
    at(clock, "2026-06-12T09:06:00+00:00")
    await sched.run_once()
    (dm,) = fake.dms_to("U7")
    assert len(dm_opens(fake, "U7")) == 1
    assert "<#C1>" in dm.text and "not_in_channel" in dm.text
    assert "`/papers resume`" in dm.text and "stopped posting" in dm.text
    assert dm.payload.get("unfurl_links") in (False, "false", "0", 0)
    assert demo_bot.store.get_channel(KEY).notice == "paused"

    # Not again: more ticks, the next day, a restart (a new scheduler over the same state).
    for when in ("2026-06-12T09:30:00+00:00", "2026-06-13T09:00:00+00:00"):
        at(clock, when)
        await sched.run_once()
    at(clock, "2026-06-13T10:00:00+00:00")
    await Scheduler(demo_bot, {"slack": adapter}).run_once()
    assert len(fake.dms_to("U7")) == 1 and len(dm_opens(fake, "U7")) == 1
    assert fake.posts_to("C1") == []

    # Someone lets the bot back in and resumes: the first post that goes out is the
    # recovery, told once to whoever resumed it.
    del fake.channel_errors["C1"]
    at(clock, "2026-06-14T08:00:00+00:00")
    await command(adapter, fake, "resume", "s2", user="U8")
    sched = Scheduler(demo_bot, {"slack": adapter})
    at(clock, "2026-06-14T09:00:00+00:00")
    await sched.run_once()
    assert fake.posts_to("C1") and fake.dms_to("U8") == []
    for minute in ("01", "02", "30"):
        at(clock, f"2026-06-14T09:{minute}:00+00:00")
        await sched.run_once()
    (back,) = fake.dms_to("U8")
    assert "posting in <#C1> again" in back.text
    assert len(fake.dms_to("U7")) == 1  # the pause was not told again
    assert demo_bot.store.get_channel(KEY).notice == "recovered"


async def test_a_notice_nobody_can_receive_is_given_up_with_a_log_line(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot, clock: Any, caplog: Any
) -> None:
    fake.dm_errors["U7"] = "user_not_found"  # and the channel refuses posts too
    sched = await paused_by_failures(adapter, fake, demo_bot, clock)
    with caplog.at_level(logging.WARNING, logger="bot.scheduler.notices"):
        at(clock, "2026-06-12T09:06:00+00:00")
        await sched.run_once()
    (line,) = [r.getMessage() for r in caplog.records if r.name == "bot.scheduler.notices"]
    assert "giving up on its paused notice" in line and "user_not_found" in line
    assert "not_in_channel" in line  # the channel was tried too
    assert demo_bot.store.get_channel(KEY).notice == "paused"
    tried = len(fake.calls)
    for when in ("2026-06-12T09:30:00+00:00", "2026-06-12T12:00:00+00:00"):
        at(clock, when)
        await sched.run_once()
    assert len(dm_opens(fake, "U7")) == 1 and len(fake.calls) == tried


async def test_a_notice_that_may_get_through_later_is_retried(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot, clock: Any
) -> None:
    sched = await paused_by_failures(adapter, fake, demo_bot, clock)
    fake.dm_failures = ["internal_error"]  # Slack has a bad minute
    at(clock, "2026-06-12T09:06:00+00:00")
    await sched.run_once()
    assert fake.dms_to("U7") == [] and demo_bot.store.get_channel(KEY).notice == "pausing"
    at(clock, "2026-06-12T09:08:00+00:00")  # not hammered: 5 minutes apart at first
    await sched.run_once()
    assert len(dm_opens(fake, "U7")) == 1
    at(clock, "2026-06-12T09:11:00+00:00")
    await sched.run_once()
    assert len(fake.dms_to("U7")) == 1 and demo_bot.store.get_channel(KEY).notice == "paused"


# ---- alerts: --notify and the hourly cap ----------------------------------------------------


def diffusion_papers(first: int, count: int, day: str = "2026-06-11") -> list[Paper]:
    return [
        Paper(
            id=f"2606.8{n:04d}",
            title=f"Diffusion sampler variant {n}",
            abstract="Faster diffusion sampling.",
            upvotes=50 + n,
            daily_date=day,
        )
        for n in range(first, first + count)
    ]


def mentions_in(post: Post) -> str:
    return post.text + all_text(post.blocks)


async def test_alert_mentions_the_notify_group_on_slack_and_only_there(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot, clock: Any
) -> None:
    import_papers(demo_bot, diffusion_papers(0, 2))
    at(clock, "2026-06-12T08:00:00+00:00")
    await command(adapter, fake, "schedule 23:00 UTC", "n0", user="U7")
    refused = await raw_command(adapter, fake, "subscribe diffusion --alert 5 --notify @team", "n1")
    assert "--notify needs a user group or a person" in refused  # unescaped: no id
    refused = await raw_command(
        adapter, fake, "subscribe diffusion --alert 5 --notify <!here>", "n2"
    )
    assert "not @here, @channel or @everyone" in refused
    answer = await raw_command(
        adapter, fake, "subscribe diffusion --alert 5 --notify <!subteam^S0ML|@ml-team>", "n3"
    )
    assert "mentioning that user group" in answer and "<!subteam" not in answer
    await command(adapter, fake, "subscribe agents", "n4", user="U7")
    assert [t.notify for t in demo_bot.store.topics(KEY)] == ["group:S0ML", None]
    listed = await command(adapter, fake, "topics", "n5", user="U7")
    assert "alert at 5+ upvotes, mentioning that user group)" in all_text(listed["blocks"])

    at(clock, "2026-06-12T10:00:00+00:00")
    await Scheduler(demo_bot, {"slack": adapter}).run_once()
    (alert,) = fake.posts_to("C1")
    assert block_kit_problems(alert.blocks) == []
    assert alert.blocks[0] == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "<!subteam^S0ML>"},
    }
    assert alert.text.startswith("<!subteam^S0ML> 🔔 Topic alert")
    # No other mention anywhere: not in the cards, not in the daily post.
    assert all_text(alert.blocks).count("<!") == alert.text.count("<!") == 1
    assert "<@" not in mentions_in(alert)
    at(clock, "2026-06-12T23:00:00+00:00")
    await Scheduler(demo_bot, {"slack": adapter}).run_once()
    daily = fake.posts_to("C1")[1:]
    assert daily and all("<!" not in mentions_in(p) and "<@" not in mentions_in(p) for p in daily)


async def test_slack_markup_from_escaping_reads_as_typed(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot
) -> None:
    """With ``should_escape: true`` Slack wraps links and channels it recognises in the
    text (``<https://…|…>``, ``<#C1|name>``): they read as the user typed them."""
    await raw_command(adapter, fake, "subscribe <#C0LAB|lab-news> <https://a.org/x|a.org/x>", "e1")
    (topic,) = demo_bot.store.topics(KEY)
    assert topic.query == "#lab-news https://a.org/x"


async def test_alert_without_notify_mentions_nobody(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot, clock: Any
) -> None:
    import_papers(demo_bot, diffusion_papers(0, 2))
    at(clock, "2026-06-12T08:00:00+00:00")
    await command(adapter, fake, "schedule 23:00 UTC", "a0", user="U7")
    await command(adapter, fake, "subscribe diffusion --alert 5", "a1", user="U7")
    assert demo_bot.store.topics(KEY)[0].notify is None
    at(clock, "2026-06-12T10:00:00+00:00")
    await Scheduler(demo_bot, {"slack": adapter}).run_once()
    (alert,) = fake.posts_to("C1")
    assert "Topic alert" in alert.text
    assert "<!" not in mentions_in(alert) and "<@" not in mentions_in(alert)


async def test_an_alert_burst_keeps_to_the_hourly_cap_and_loses_nothing(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot, clock: Any
) -> None:
    demo_bot.config.scheduler.max_alerts_per_hour = 2
    import_papers(demo_bot, diffusion_papers(0, 12))  # a busy week: 12 papers over 5
    at(clock, "2026-06-12T08:00:00+00:00")
    await command(adapter, fake, "schedule 23:00 UTC", "b0", user="U7")
    await command(adapter, fake, "subscribe diffusion --alert 5", "b1", user="U7")
    sched = Scheduler(demo_bot, {"slack": adapter})
    at(clock, "2026-06-12T10:00:00+00:00")
    await sched.run_once()
    cards, folded = fake.posts_to("C1")  # 12 papers would be 3 messages of cards
    assert block_kit_problems(cards.blocks) == block_kit_problems(folded.blocks) == []
    shown = all_text(cards.blocks)
    listed = all_text(folded.blocks)
    assert "7 more paper(s) reached 5+ upvotes" in listed
    assert "at most 2 alert messages an hour" in listed
    ids = [p.id for p in diffusion_papers(0, 12)]
    assert all((pid in shown) != (pid in listed) for pid in ids), "each paper exactly once"
    sent = {d.paper_id for d in demo_bot.store.deliveries(KEY) if d.kind == "alert"}
    assert sent == set(ids)

    # More papers that same hour: the cap is used up, so they wait for the next hour...
    import_papers(demo_bot, diffusion_papers(12, 2))
    at(clock, "2026-06-12T10:20:00+00:00")
    await sched.run_once()
    assert len(fake.posts_to("C1")) == 2
    at(clock, "2026-06-12T10:59:00+00:00")
    await sched.run_once()
    assert len(fake.posts_to("C1")) == 2
    # ...and come then, also across a restart (the cap counts the delivery records).
    at(clock, "2026-06-12T11:00:00+00:00")
    await Scheduler(demo_bot, {"slack": adapter}).run_once()
    later = fake.posts_to("C1")[2:]
    assert len(later) == 1 and "2606.80012" in all_text(later[0].blocks)
    assert "2606.80013" in all_text(later[0].blocks)


def test_notify_needs_an_alert_and_a_mention_of_this_platform(demo_bot: PapersBot) -> None:
    def subscribe(text: str, platform: str = "slack") -> str:
        return demo_bot.handle(Request(text, platform=platform, channel_id="C9")).text

    assert "--notify goes with --alert" in subscribe("subscribe x --notify <!subteam^S1AB>")
    assert "needs a mention after it" in subscribe("subscribe x --alert 5 --notify")
    assert "a role or a member" in subscribe(
        "subscribe x --alert 5 --notify <!subteam^S1AB>", "discord"
    )
    assert "Slack and Discord only" in subscribe("subscribe x --alert 5 --notify @a", "console")
    assert "@everyone" in subscribe("subscribe x --alert 5 --notify @everyone", "discord")
    assert demo_bot.store.topics() == []
    ok = subscribe("subscribe x y --alert 5 --notify <@U0AB12|jane doe> --preview")
    assert "would be posted" in ok  # --preview still runs the preview
    subscribe("subscribe x y --alert 5 --notify <@U0AB12|jane doe>")
    (topic,) = demo_bot.store.topics()
    assert topic.query == "x y" and topic.notify == "user:U0AB12"


def test_a_stored_mention_renders_only_on_its_own_platform() -> None:
    """A hand-edited or other platform's ``notify`` value never becomes a mention."""
    from adapters.discord.render import MessagePayload, with_mention
    from adapters.slack.render import mention_text

    stored = ("group:S1AB", "user:U0AB12", "role:123456789012345678", "user:<!here>")
    assert mention_text(stored) == "<!subteam^S1AB> <@U0AB12>"
    payload = MessagePayload(content="alert")
    with_mention(payload, stored)
    assert payload.content == "<@&123456789012345678>\nalert"


async def test_the_terminal_shows_a_direct_notice_for_its_person(
    demo_bot: PapersBot, clock: Any
) -> None:
    """The console adapter's ``post_direct``: a pause notice reaches the terminal, marked
    for the person, through the scheduler (the channel itself is never posted to)."""
    import io

    from adapters.console import ConsoleAdapter

    out = io.StringIO()
    console = ConsoleAdapter(demo_bot, out, channel_id="lab")
    demo_bot.handle(console.request("schedule 09:00 UTC"))
    key = "console:local:lab"
    assert demo_bot.store.get_channel(key).managed_by == "you"

    def broken(ch: Any) -> None:  # as five refused posts would leave it
        ch.paused, ch.pause_reason, ch.notice = True, "paused after 5 failed posts", "pausing"

    demo_bot.store.update_channel(key, broken)
    at(clock, "2026-06-12T10:00:00+00:00")
    sched = Scheduler(demo_bot, {"console": console})
    await sched.run_once()
    await sched.run_once()
    lines = [line for line in out.getvalue().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("[to you] papers-bot has stopped posting")
    assert "<#lab>" in lines[0] and "/papers resume" in lines[0]


async def test_a_burst_too_long_even_for_the_list_leaves_the_rest_for_later(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot, clock: Any
) -> None:
    """60 papers over the threshold at once, a cap of 2: cards, then a list as long as one
    message holds; every paper the list has no room for stays undelivered and comes in a
    later hour's alert, each paper shown exactly once over the whole run."""
    demo_bot.config.scheduler.max_alerts_per_hour = 2
    papers = diffusion_papers(0, 60)
    import_papers(demo_bot, papers)
    at(clock, "2026-06-12T08:00:00+00:00")
    await command(adapter, fake, "schedule 23:00 UTC", "c0", user="U7")
    await command(adapter, fake, "subscribe diffusion --alert 5", "c1", user="U7")
    sched = Scheduler(demo_bot, {"slack": adapter})
    at(clock, "2026-06-12T10:00:00+00:00")
    await sched.run_once()
    cards, folded = fake.posts_to("C1")
    listed = all_text(folded.blocks)
    assert "more, in a later alert or the next daily post" in listed
    ids = [p.id for p in papers]
    first_hour = all_text(cards.blocks) + listed
    shown_first = {pid for pid in ids if pid in first_hour}
    sent = {d.paper_id for d in demo_bot.store.deliveries(KEY) if d.kind == "alert"}
    assert sent == shown_first and len(sent) < len(ids)  # only what was shown counts
    assert demo_bot.store.pending_deliveries(KEY) == []

    # Hour by hour the rest arrive, each paper once.
    hour = 11
    while len({d.paper_id for d in demo_bot.store.deliveries(KEY)}) < len(ids) and hour < 20:
        at(clock, f"2026-06-12T{hour}:00:00+00:00")
        await sched.run_once()
        hour += 1
    posts = [all_text(p.blocks) for p in fake.posts_to("C1")]
    assert len(posts) > 2
    assert all(sum(pid in post for post in posts) == 1 for pid in ids), "each paper once"
    assert {d.paper_id for d in demo_bot.store.deliveries(KEY)} == set(ids)
