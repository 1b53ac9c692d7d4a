"""The /papers parser and handlers, through PapersBot.handle as every adapter calls it."""

from __future__ import annotations

import pytest

from bot.commands import CommandError, parse_command
from bot.query import parse_query
from bot.replies import ReplyKind, Request


def ask(bot, text: str, **kwargs) -> object:
    return bot.handle(Request(text=text, **kwargs))


@pytest.mark.parametrize(
    ("text", "name", "args"),
    [
        ("", "help", ""),
        ("/papers", "help", ""),
        ("/papers search  diffusion models ", "search", "diffusion models"),
        ("SEARCH x", "search", "x"),
        ("papers trending 3", "trending", "3"),
        ("find quantization", "search", "quantization"),
        ('subscribe "speech recognition"', "subscribe", '"speech recognition"'),
    ],
)
def test_parse_command(text: str, name: str, args: str) -> None:
    command = parse_command(text)
    assert (command.name, command.args) == (name, args)


@pytest.mark.parametrize(
    "text",
    ["frobnicate", "@everyone", "<!channel> hi", "x" * 5000, "\x00\x1b[31mred"],
)
def test_parse_rejects_unknown_and_oversized(text: str) -> None:
    with pytest.raises(CommandError) as err:
        parse_command(text)
    assert len(str(err.value)) < 200


def test_unknown_command_reply_is_short_and_helpful(demo_bot) -> None:
    reply = ask(demo_bot, "bogus stuff")
    assert reply.kind == ReplyKind.ERROR
    assert "Unknown command `bogus`" in reply.text and "help" in reply.text
    assert "Traceback" not in reply.text


def test_help_lists_every_visible_command(demo_bot) -> None:
    text = ask(demo_bot, "help").text
    for name in [
        "search",
        "trending",
        "paper",
        "subscribe",
        "unsubscribe",
        "topics",
        "schedule",
        "pause",
        "resume",
        "digest",
        "status",
    ]:
        assert f"/papers {name}" in text
    # Commands buttons run are listed too, saying which button runs them (issue 16).
    assert "`/papers share <paper id>` (a button): post a paper's card to the channel" in text
    assert "`/papers feedback up|down <paper id>` (a button): tune this channel's" in text
    assert "schedule <HH:MM>" in ask(demo_bot, "help schedule").text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("search", "Search for what?"),
        ("search    ", "Search for what?"),
        ("search " + "a" * 10_000, "limit"),
        ('search "unclosed phrase', "quotation mark"),
        ("search since:yesterday", "since: needs a date"),
        ("search --page zero x", "--page needs a number"),
        ("trending lots", "not a number"),
        ("trending 500", "between 1 and 25"),
        ("paper", "Which paper?"),
        ("paper not-an-id", "not an arXiv id"),
        ("schedule", "Give a time"),
        ("schedule 25:00", "not a time like 09:00"),
        ("schedule 9:75", "not a time like 09:00"),
        ("schedule 13pm", "is not a time like 09:00"),
        ("schedule 09:00 Mars/Olympus", "not an IANA time zone"),
        ("schedule 09:00 EST", "not an IANA time zone"),
        ("subscribe", "Subscribe to what?"),
        ("subscribe agents --alert lots", "--alert needs a number"),
        ("subscribe agents --alert 0", "--alert must be between 1 and 100,000"),
        ("subscribe agents --alert 0 --preview", "--alert must be between 1 and 100,000"),
        ("unsubscribe", "Unsubscribe from which topic?"),
        ("unsubscribe 99", "no topic"),
    ],
)
def test_bad_input_gets_usage_not_traceback(demo_bot, text: str, expected: str) -> None:
    reply = ask(demo_bot, text)
    assert reply.kind == ReplyKind.ERROR
    assert expected in reply.text
    assert "Traceback" not in reply.text and len(reply.text) < 400


def test_search_pages_with_buttons(demo_bot) -> None:
    first = ask(demo_bot, "search language models")
    assert first.kind == ReplyKind.SEARCH and len(first.cards) == 5
    assert [c.rank for c in first.cards] == [1, 2, 3, 4, 5]
    (next_button,) = first.buttons
    assert next_button.command == "search --page 2 language models"
    second = ask(demo_bot, next_button.command)
    assert next(c.rank for c in second.cards) == 6
    assert {c.paper.id for c in second.cards}.isdisjoint({c.paper.id for c in first.cards})
    assert any(b.command.startswith("search --page 1 ") for b in second.buttons)
    assert all(any(b.command == f"share {c.paper.id}" for b in c.buttons) for c in first.cards)


def test_search_past_last_page(demo_bot) -> None:
    reply = ask(demo_bot, "search --page 99 speech recognition")
    # Issue 14: words rank rather than filter, so more than the one page of papers with
    # both words (was: "only 1 pages"); the count is the search's own.
    pages = demo_bot.index.search(parse_query("speech recognition"), per_page=5).pages
    assert 1 < pages < 99
    assert reply.kind == ReplyKind.ERROR and f"only {pages} pages" in reply.text


def test_paper_by_id_and_url(demo_bot) -> None:
    for ref in [
        "2605.05242",
        "arXiv:2605.05242v2",
        "https://arxiv.org/abs/2605.05242v1",
        "https://huggingface.co/papers/2605.05242",
    ]:
        reply = ask(demo_bot, f"paper {ref}")
        assert reply.kind == ReplyKind.PAPER, ref
        assert reply.cards[0].paper.id == "2605.05242"
    missing = ask(demo_bot, "paper 2701.00001")
    assert missing.kind == ReplyKind.ERROR and "not in the local corpus" in missing.text


def test_share_is_public(demo_bot) -> None:
    reply = ask(demo_bot, "share 2605.05242", user_name="ada")
    assert reply.ephemeral is False and "ada" in reply.text
    assert reply.cards[0].paper.id == "2605.05242"


def test_trending_is_latest_day_by_upvotes(demo_bot) -> None:
    reply = ask(demo_bot, "trending 3")
    assert reply.title == "Trending papers, 2026-06-12"
    votes = [c.paper.upvotes for c in reply.cards]
    assert votes == sorted(votes, reverse=True) and votes[0] == 118


def test_subscribe_topics_unsubscribe(demo_bot) -> None:
    assert "Subscribed" in ask(demo_bot, 'subscribe "speech recognition"', user_name="ada").text
    assert "already follows" in ask(demo_bot, "subscribe “speech recognition”").text
    ask(demo_bot, "subscribe agents")
    topics = ask(demo_bot, "topics").text
    assert '1. "speech recognition"  (added by ada)' in topics and "2. agents" in topics
    assert "Unsubscribed" in ask(demo_bot, "unsubscribe 1").text
    assert "speech" not in ask(demo_bot, "topics").text
    assert "Removed the one topic" in ask(demo_bot, "unsubscribe all").text
    assert "no topics" in ask(demo_bot, "topics").text


def test_topics_are_per_channel(demo_bot) -> None:
    ask(demo_bot, "subscribe agents", channel_id="A")
    assert "no topics" in ask(demo_bot, "topics", channel_id="B").text


def test_schedule_pause_resume_status(demo_bot) -> None:
    reply = ask(demo_bot, "schedule 08:30 Asia/Kolkata")
    assert "08:30 Asia/Kolkata" in reply.text and reply.ephemeral is False
    status = ask(demo_bot, "status").text
    assert "Corpus: 177 papers." in status
    assert "Daily post: 08:30 Asia/Kolkata, active" in status
    assert "Next post: 2026-06-13 08:30 Asia/Kolkata" in status  # clock: 2026-06-12 17:30 IST
    assert "paused" in ask(demo_bot, "pause", user_name="bob").text
    assert "active" not in (paused := ask(demo_bot, "status").text) and "paused by bob" in paused
    ask(demo_bot, "resume")
    assert ", active" in ask(demo_bot, "status").text


def test_managing_needs_permission(demo_bot) -> None:
    for text in ["subscribe agents", "unsubscribe all", "schedule 09:00", "pause", "resume"]:
        reply = ask(demo_bot, text, can_manage=False)
        assert reply.kind == ReplyKind.ERROR and "permission" in reply.text, text
    assert demo_bot.store.channels() == []
    assert ask(demo_bot, "search agents", can_manage=False).kind == ReplyKind.SEARCH


def test_hostile_text_is_carried_not_executed(demo_bot) -> None:
    reply = ask(demo_bot, "subscribe <!channel> @everyone **bold**")
    assert reply.kind == ReplyKind.INFO
    (topic,) = demo_bot.store.topics("console:local:demo")
    assert topic.query == "<!channel> @everyone **bold**"  # stored as written; adapters escape


def test_internal_error_is_one_line(demo_bot, caplog) -> None:
    demo_bot.store.close()  # the state file is gone from memory; force a failure below
    demo_bot.store.state_storage.path.write_text("{broken")
    reply = ask(demo_bot, "topics")
    assert reply.kind == ReplyKind.ERROR
    assert "damaged" in reply.text and "Traceback" not in reply.text


def test_friendly_times_and_did_you_mean(demo_bot) -> None:
    assert "Daily post at 09:00 UTC" in ask(demo_bot, "schedule 9").text
    assert "Daily post at 17:30 UTC" in ask(demo_bot, "schedule 5:30pm").text
    assert "Did you mean `/papers subscribe`?" in ask(demo_bot, "subscrbe agents").text
    assert "Did you mean `/papers search`?" in ask(demo_bot, "serach x").text
    assert ask(demo_bot, "unsubscribe all").text == "This channel has no topics to remove."
    ask(demo_bot, "subscribe “agents”")
    assert "Unsubscribed from “agents”" in ask(demo_bot, "unsubscribe “agents”").text


def test_help_marks_setting_commands_and_lists_shortcuts(demo_bot) -> None:
    text = ask(demo_bot, "help").text
    assert "`/papers pause` ⚙:" in text and "`/papers search" in text
    assert "`find` = `search`" in text and "*papers-bot*" not in text
    assert "people who may change" in ask(demo_bot, "help schedule").text


def test_set_channel_settings(demo_bot) -> None:
    assert "up to 8 papers" in ask(demo_bot, "set papers 8").text
    assert "50+ upvotes" in ask(demo_bot, "set min-upvotes 50").text
    assert "No posts on Saturdays" in ask(demo_bot, "set weekends skip").text
    channel = demo_bot.store.get_channel("console:local:demo")
    assert (channel.max_papers, channel.min_upvotes, channel.skip_weekends) == (8, 50, True)
    assert "from 1 to 25" in ask(demo_bot, "set papers 99").text
    assert "no setting" in ask(demo_bot, "set colour red").text
    assert "permission" in ask(demo_bot, "set papers 3", can_manage=False).text
    assert demo_bot.store.get_channel("console:local:demo").max_papers == 8


@pytest.mark.parametrize("text", ["schedule weekly offx", "schedule weekly off 09:00"])
def test_weekly_off_is_only_off_as_written(demo_bot, text: str) -> None:
    """A stop word is matched whole: `offx` is a typo, not `off`, and nothing follows `off`."""
    reply = ask(demo_bot, text)
    assert reply.kind is ReplyKind.ERROR
    assert "Weekly digest off" not in reply.text


def test_weekday_names_may_be_written_out(demo_bot) -> None:
    assert "Weekly digest" in ask(demo_bot, "schedule weekly Monday 10:00").text
    assert demo_bot.store.channels()[0].weekly_day == 0
