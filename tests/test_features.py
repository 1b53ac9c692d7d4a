"""Topic preview, why-this-matched, similar papers, feedback, weekly digest, thread mode
and settings export/import, through the core and the scheduler."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.cli import import_papers
from bot.models import Paper
from bot.replies import ReplyKind, Request
from bot.scheduler import Scheduler
from bot.settings_io import SettingsError, parse_settings
from tests.fakes.recording import RecordingAdapter

T = datetime.fromisoformat


def ask(bot, text: str, channel_id: str = "lab", **kwargs):
    return bot.handle(Request(text=text, channel_id=channel_id, **kwargs))


def dated_corpus(bot) -> None:
    """Papers on known days: 2026-06-06 .. 2026-06-12, 'graph' ones on three of them."""
    papers = []
    for n, day in enumerate(["2026-06-06", "2026-06-08", "2026-06-08", "2026-06-11", "2026-06-12"]):
        papers.append(
            Paper(
                id=f"2606.9{n:04d}",
                title=f"Graph networks part {n}",
                upvotes=10 + n,
                daily_date=day,
                abstract="Message passing on graphs.",
            )
        )
    papers.append(
        Paper(id="2606.99999", title="Unrelated optics", upvotes=99, daily_date="2026-06-08")
    )
    import_papers(bot, papers)


# ---- topic preview --------------------------------------------------------------------


def test_preview_counts_per_day_and_top_three(demo_bot) -> None:
    dated_corpus(demo_bot)
    reply = ask(demo_bot, "preview graph networks")
    assert reply.title == "Preview of “graph networks”, 2026-06-06 to 2026-06-12"
    lines = reply.text.splitlines()
    assert "2026-06-06: 1 of 1 papers match, 1 would be posted" in lines
    assert not any(line.startswith("2026-06-07") for line in lines)  # no row of zeros
    assert "No trending list on 2026-06-07, 2026-06-09, 2026-06-10." in lines
    assert "2026-06-08: 2 of 3 papers match, 2 would be posted" in lines
    assert "2026-06-12: 1 of 9 papers match, 1 would be posted" in lines
    assert [c.paper.upvotes for c in reply.cards] == [14, 13, 12]
    assert all(c.matched_terms == ("graph", "networks") for c in reply.cards)
    assert reply.buttons[0].command == "subscribe graph networks"
    assert demo_bot.store.topics() == []  # nothing subscribed


def test_subscribe_preview_flag_does_not_subscribe_and_needs_no_permission(demo_bot) -> None:
    reply = ask(demo_bot, 'subscribe "sparse attention" --preview', can_manage=False)
    assert reply.title.startswith("Preview of “sparse attention”")
    assert demo_bot.store.topics() == []


def test_preview_warns_about_nothing_and_everything(demo_bot) -> None:
    assert "matched nothing" in ask(demo_bot, "preview zeolite catalysis").text
    assert "of the whole corpus" in ask(demo_bot, "preview the").text


# ---- similar ----------------------------------------------------------------------------


def test_similar_papers(demo_bot) -> None:
    reply = ask(demo_bot, "similar 2606.13392")  # MiniMax Sparse Attention
    ids = [c.paper.id for c in reply.cards]
    assert reply.kind == ReplyKind.SEARCH and "2606.13392" not in ids and len(ids) == 5
    top = reply.cards[0].paper
    assert "attention" in (top.title + top.abstract).lower() or "sparsity" in top.title.lower()
    assert any(
        b.command == "similar 2606.13392"
        for b in ask(demo_bot, "paper 2606.13392").cards[0].buttons
    )
    assert "not in the local corpus" in ask(demo_bot, "similar 2701.00001").text


# ---- feedback ---------------------------------------------------------------------------


def test_feedback_changes_the_next_digest_order(demo_bot, clock) -> None:
    ask(demo_bot, "schedule 09:00 UTC")
    channel = demo_bot.store.get_channel("console:local:lab")
    before = [c.paper.id for c in demo_bot.digest_for(channel).cards]
    assert before[:2] == ["2606.13681", "2606.13392"]  # by upvotes: 118, then 103
    card = next(
        c
        for c in demo_bot.digest_reply(demo_bot.digest_for(channel)).cards
        if c.paper.id == "2606.13392"
    )
    assert [b.label for b in card.buttons] == ["Save", "👍", "👎", "Similar"]
    # The channel likes sparse-attention work and dislikes agent memory papers.
    ask(demo_bot, "feedback up 2606.13392", user_id="U1")
    reply = ask(demo_bot, "feedback down 2606.13681", user_id="U2")
    assert "👎 noted" in reply.text and "1 👍, 1 👎" in reply.text
    after = [c.paper.id for c in demo_bot.digest_for(channel).cards]
    assert after[0] == "2606.13392" and after.index("2606.13681") > 0
    assert "favours" in ask(demo_bot, "topics").text
    # A user's second vote replaces the first; feedback is per channel.
    assert "2 👍, 0 👎" in ask(demo_bot, "feedback up 2606.13681", user_id="U2").text
    other = demo_bot.digest_for(demo_bot.new_channel("console", "local", "other"))
    assert [c.paper.id for c in other.cards] == before


# ---- weekly digest ----------------------------------------------------------------------


async def test_weekly_digest_posts_the_weeks_top_papers(demo_bot, clock) -> None:
    dated_corpus(demo_bot)
    clock.now = T("2026-06-08T12:00:00+00:00")
    reply = ask(demo_bot, "schedule weekly fri 17:00 Europe/Berlin")
    assert "every Friday at 17:00 Europe/Berlin, as well as the daily post" in reply.text
    assert "Daily post off. The weekly digest stays on." in ask(demo_bot, "schedule daily off").text
    adapter = RecordingAdapter()
    sched = Scheduler(demo_bot, {"console": adapter})
    clock.now = T("2026-06-12T14:59:00+00:00")
    await sched.run_once()
    assert adapter.posts == []
    clock.now = T("2026-06-12T15:00:00+00:00")  # Friday 17:00 in Berlin
    await sched.run_once()
    (post,) = adapter.posts
    assert post.reply.title == "Top papers of the week, 2026-06-06 to 2026-06-12"
    assert post.paper_ids[:2] == ["2606.13681", "2606.13392"] and len(post.paper_ids) == 5
    await sched.run_once()
    clock.now = T("2026-06-13T09:00:00+00:00")
    await sched.run_once()
    assert len(adapter.posts) == 1  # once a week, and no daily post
    status = ask(demo_bot, "status").text
    assert "Weekly digest: Friday 17:00 Europe/Berlin; last 2026-06-12." in status
    assert "Daily post: off" in status


# ---- thread mode ------------------------------------------------------------------------


async def test_thread_mode_posts_headline_then_one_reply_per_paper(demo_bot, clock) -> None:
    clock.now = T("2026-06-12T08:00:00+00:00")
    ask(demo_bot, "schedule 09:00 UTC")
    assert "one reply per paper" in ask(demo_bot, "thread on").text
    adapter = RecordingAdapter()
    clock.now = T("2026-06-12T09:00:00+00:00")
    await Scheduler(demo_bot, {"console": adapter}).run_once()
    headline, *replies = adapter.posts
    assert headline.thread is None and headline.reply.title == "Trending papers, 2026-06-12"
    assert headline.reply.text == "5 papers, one per reply in this thread."
    assert len(replies) == 5 and {r.thread for r in replies} == {"m1"}
    assert all(len(r.reply.cards) == 1 and r.reply.title is None for r in replies)
    sent = demo_bot.store.deliveries("console:local:lab")
    assert len({d.message_id for d in sent}) == 5  # each paper its own message


# ---- export / import --------------------------------------------------------------------


def test_export_import_round_trip_across_platforms(demo_bot) -> None:
    ask(demo_bot, "schedule 07:30 Asia/Kolkata")
    ask(demo_bot, 'subscribe "speech recognition" --alert 40')
    ask(demo_bot, "subscribe agents")
    ask(demo_bot, "schedule weekly mon 10:00")
    ask(demo_bot, "thread on")
    text = ask(demo_bot, "export").text
    snippet = text.split("```\n")[1].split("```")[0]
    assert 'timezone = "Asia/Kolkata"' in snippet and "alert_upvotes = 40" in snippet
    one = text.rsplit("`/papers import ", 1)[1].rstrip("`")
    assert "\n" not in one
    for source, target in [(snippet, "S1"), (one, "S2")]:
        reply = demo_bot.handle(
            Request(f"import {source}", platform="slack", workspace="T1", channel_id=target)
        )
        assert "Imported 8 settings and 2 topics" in reply.text, reply.text
        channel = demo_bot.store.get_channel(f"slack:T1:{target}")
        assert (channel.post_time, channel.timezone, channel.weekly_day, channel.thread_mode) == (
            "07:30",
            "Asia/Kolkata",
            0,
            True,
        )
        topics = demo_bot.store.topics(channel.key)
        assert [(t.query, t.alert_upvotes) for t in topics] == [
            ('"speech recognition"', 40),
            ("agents", None),
        ]
    again = demo_bot.handle(
        Request(f"import {snippet}", platform="slack", workspace="T1", channel_id="S1")
    )
    assert "0 topics (2 already here" in again.text


def test_alert_mentions_travel_with_the_topic_to_the_same_platform_only(demo_bot) -> None:
    def on(platform: str, channel: str, text: str):
        return demo_bot.handle(
            Request(text, platform=platform, workspace="T1", channel_id=channel, user_id="U1")
        )

    on("slack", "C1", "subscribe diffusion --alert 20 --notify <!subteam^S0ML|@ml>")
    on("slack", "C1", "subscribe agents")
    snippet = on("slack", "C1", "export").text.split("```\n")[1].split("```")[0]
    assert 'notify = "group:S0ML"' in snippet
    reply = on("slack", "C2", f"import {snippet}")
    assert "Imported" in reply.text and "mention" not in reply.text
    kept = {t.query: t.notify for t in demo_bot.store.topics("slack:T1:C2")}
    assert kept == {"diffusion": "group:S0ML", "agents": None}
    # A Slack group means nothing on Discord: the alert stays, its mention is left out.
    reply = on("discord", "42", f"import {snippet}")
    assert "1 alert mention left out" in reply.text
    (alert, _) = demo_bot.store.topics("discord:T1:42")
    assert (alert.query, alert.alert_upvotes, alert.notify) == ("diffusion", 20, None)


def test_a_failed_import_changes_neither_settings_nor_topics(demo_bot) -> None:
    """The settings and the topics are written in one transaction: the real database
    refusing the topics' insert leaves the channel's schedule as it was."""
    import sqlite3

    ask(demo_bot, "schedule 07:30 UTC")
    with sqlite3.connect(demo_bot.store.state.path) as db:
        db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON topics "
            "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )
    reply = ask(demo_bot, 'import [channel]\npost_time = "11:00"\n[[topics]]\nquery = "agents"')
    assert reply.kind == ReplyKind.ERROR and "\n" not in reply.text.strip()
    assert demo_bot.store.get_channel("console:local:lab").post_time == "07:30"
    assert demo_bot.store.topics() == []


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("[channel]\npost_time = '25:00'", "channel: '25:00' is not a time"),
        ("[channel]\ntimezone = 'Mars/Base'", "IANA"),
        ("[channel]\ncolour = 'red'", "channel.colour: unknown setting"),
        ("[channel]\nmax_papers = 99", "between 1 and 25"),
        ("[[topics]]\nalert_upvotes = 3", "topics[0].query"),
        ("[[topics]]\nquery = 'x'\nnotify = 'group:S1AB'", "notify: goes with alert_upvotes"),
        ("[[topics]]\nquery = 'x'\nalert_upvotes = 5\nnotify = '@here'", "notify: expected a"),
        ("[[topics]]\nquery = 'x'\ncolour = 'red'", "topics[0].colour: unknown key"),
        ("<html>", "not a settings snippet"),
    ],
)
def test_import_rejects_bad_snippets(demo_bot, snippet: str, message: str) -> None:
    with pytest.raises(SettingsError, match=None) as err:
        parse_settings(snippet)
    assert message in str(err.value)
    reply = ask(demo_bot, f"import {snippet}")
    assert reply.kind == ReplyKind.ERROR and "Cannot import" in reply.text
    assert demo_bot.store.topics() == []


def test_curly_quotes_from_autocorrect_are_understood(demo_bot) -> None:
    reply = ask(demo_bot, "import [channel]\npost_time = “08:15”\n[[topics]]\nquery = “agents”")
    assert "Imported 1 setting and 1 topic" in reply.text
    assert demo_bot.store.get_channel("console:local:lab").post_time == "08:15"
    phrase = ask(demo_bot, "search “sparse attention”")
    assert phrase.cards[0].paper.title == "MiniMax Sparse Attention"


def test_feedback_is_described_in_words_not_stems(demo_bot) -> None:
    text = ask(demo_bot, "feedback up 2606.13392").text  # MiniMax Sparse Attention
    assert "favours" in text and "attention" in text and "attent," not in text


def test_topic_with_newlines_exports_and_imports(demo_bot) -> None:
    ask(demo_bot, "subscribe speech\nrecognition")
    assert [t.query for t in demo_bot.store.topics("console:local:lab")] == ["speech recognition"]
    text = ask(demo_bot, "export").text
    snippet = text.split("```\n")[1].split("```")[0]
    reply = ask(demo_bot, f"import {snippet}", channel_id="other")
    assert "and 1 topic" in reply.text
