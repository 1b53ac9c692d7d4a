"""Cards people scan at a glance (issue 16), on every platform, and the words around them.

A card leads with its linked title and ▲ upvotes, names its date only when it is not the
post's day, says a short summary (the channel's ``summary`` setting), shows the paper's
thumbnail, and carries at most three buttons: Slack's other links go in a "⋯" overflow
menu. A paper without an arXiv id links to an arXiv title search, never to nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import discord
import pytest
from slack_sdk.models.blocks import Block

import adapters.console as console
import adapters.discord.render as discord_render
import adapters.slack.render as slack_render
from adapters.console_platform import demo_banner
from bot import layout
from bot.answers import card
from bot.app import PapersBot
from bot.config import Config
from bot.ingest import make_lookup
from bot.merge import merge_paper
from bot.models import Paper
from bot.replies import PaperCard, Reply, ReplyKind, Request
from bot.sources.huggingface import parse_daily_papers, parse_item
from tests.fakes.slack_api import block_kit_problems
from tests.fakes.upstream import Canned, FakeUpstream, point_sources_at

FIXTURES = Path(__file__).parent / "fixtures" / "upstream"
THUMB = "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2606.00001.png"


def paper(n: int = 1, **fields: Any) -> Paper:
    base: dict[str, Any] = {
        "id": f"2606.{n:05d}",
        "title": f"Paper number {n}",
        "abstract": "First sentence about diffusion. " + "More words about it. " * 60,
        "authors": ["Ada", "Bob", "Cy", "Di"],
        "upvotes": 1234,
        "github_repo": "https://github.com/x/y",
        "project_page": "https://example.org/p",
        "daily_date": "2026-06-12",
        "thumbnail": THUMB,
    }
    base.update(fields)
    return Paper(**base)


def ask(bot: PapersBot, text: str, **kw: Any) -> Reply:
    return bot.handle(Request(text, **kw))


# ---- the layout --------------------------------------------------------------------------


def test_layout_order_upvotes_date_summary_and_thumbnail() -> None:
    shown = layout.card_layout(PaperCard(paper(), rank=1, day="2026-06-12"))
    assert shown.upvotes == "▲ 1,234"
    assert shown.date is None and shown.author_line == "Ada, Bob, Cy +1"  # the post's day
    assert all("upvotes" not in f and "2026" not in f for f in shown.facts)
    assert shown.thumbnail == THUMB
    assert shown.summary.startswith("First sentence about diffusion.")
    assert len(shown.summary) <= layout.SUMMARY_LIMITS["short"] and shown.summary.endswith("…")

    other_day = layout.card_layout(PaperCard(paper(), day="2026-06-13"))
    assert other_day.author_line == "Ada, Bob, Cy +1 · 2026-06-12"
    long = layout.card_layout(PaperCard(paper(), summary="long")).summary
    assert layout.SUMMARY_LIMITS["short"] < len(long) <= layout.SUMMARY_LIMITS["long"]
    assert layout.card_layout(PaperCard(paper(), summary="off")).summary == ""
    ai = layout.card_layout(PaperCard(paper(ai_summary="It works.")))
    assert ai.summary == "It works."  # the AI summary first


def test_paper_without_an_arxiv_id_links_to_an_arxiv_title_search() -> None:
    lone = paper(id="t-590562b44694", title="Home-made Diffusion & <Co>", thumbnail=None)
    lone.github_repo = lone.project_page = None
    url = lone.open_url
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "arxiv.org", "/search/")
    assert parse_qs(parts.query) == {
        "query": ["Home-made Diffusion & <Co>"],
        "searchtype": ["title"],
    }
    shown = layout.card_layout(PaperCard(lone, rank=1))
    assert shown.url == url
    [message] = slack_render.render(Reply(cards=[PaperCard(lone, rank=1)]))
    linked = f"*1. <{slack_render.escape(url)}|Home-made Diffusion &amp; &lt;Co&gt;>*"
    assert message["blocks"][0]["text"]["text"].startswith(linked)
    [payload] = discord_render.render(Reply(cards=[PaperCard(lone)]), discord_render.CommandIds())
    assert payload.panels[0].url == url
    assert url in console.render(Reply(cards=[PaperCard(lone)]))
    # A paper with an id keeps its own page.
    assert paper().open_url == "https://huggingface.co/papers/2606.00001"


# ---- each platform: a thumbnail and at most three buttons -------------------------------


def test_slack_card_has_a_thumbnail_three_buttons_and_an_overflow_of_links() -> None:
    for public in (True, False):
        made = card(paper(), public=public, rank=1, day="2026-06-12")
        [message] = slack_render.render(Reply(cards=[made], ephemeral=not public))
        blocks = message["blocks"]
        assert block_kit_problems(blocks) == []
        for block in blocks:  # slack_sdk's own models accept every block
            Block.parse(block).validate_json()  # type: ignore[union-attr]
        section = blocks[0]
        assert section["accessory"] == {
            "type": "image",
            "image_url": THUMB,
            "alt_text": "Paper number 1",
        }
        assert section["text"]["text"].startswith(
            "*1. <https://huggingface.co/papers/2606.00001|Paper number 1>*  ▲ 1,234"
        )
        [actions] = [b for b in blocks if b["type"] == "actions"]
        shown = [e for e in actions["elements"] if e["type"] == "button"]
        [menu] = [e for e in actions["elements"] if e["type"] == "overflow"]
        assert len(shown) <= layout.VISIBLE_BUTTONS
        labels = [b["text"]["text"] for b in shown]
        assert labels == (
            ["Save", "👍", "👎"] if public else ["Save", "Share in channel", "Similar"]
        )
        options = {o["text"]["text"]: o.get("url") for o in menu["options"]}
        links = {
            "arXiv": "https://arxiv.org/abs/2606.00001",
            "PDF": "https://arxiv.org/pdf/2606.00001",
            "Hugging Face": "https://huggingface.co/papers/2606.00001",
            "Code": "https://github.com/x/y",
            "Project page": "https://example.org/p",
        }
        if public:  # the fourth button leads the menu; Slack's menu holds five options
            similar, *rest = menu["options"]
            assert similar == {"text": similar["text"], "value": "similar 2606.00001"}
            assert options == {"Similar": None, **dict(list(links.items())[:4])}
        else:
            rest = menu["options"]
            assert options == links
        assert all(o["value"].startswith(slack_render.LINK_VALUE) for o in rest)


def test_slack_thumbnail_that_is_not_a_plain_url_is_left_out() -> None:
    for bad in ("javascript:alert(1)", "https://x/<!channel>", "https://x/" + "a" * 3000):
        [message] = slack_render.render(Reply(cards=[PaperCard(paper(thumbnail=bad))]))
        assert "accessory" not in message["blocks"][0]
        assert block_kit_problems(message["blocks"]) == []


def test_discord_card_has_a_thumbnail_and_at_most_three_buttons_on_its_own_row() -> None:
    ids = discord_render.CommandIds()
    cards = [card(paper(n), public=True, rank=n, day="2026-06-12") for n in (1, 2)]
    reply = Reply(kind=ReplyKind.DIGEST, cards=cards, ephemeral=False)
    [message] = discord_render.render(reply, ids)
    for embed in message.panels:
        assert embed.thumbnail == THUMB
        assert (embed.description or "").startswith("**▲ 1,234** · Ada, Bob, Cy +1\n")
        own = embed.buttons  # in the card's own container, beside it
        assert len(own) <= layout.VISIBLE_BUTTONS
        assert [b.label for b in own] == ["Save", "👍", "👎"]
        assert [b.label for b in embed.more] == ["Similar"]  # in its "⋯" menu
    assert not message.buttons
    view = discord_render.build_view(message)
    containers = [c for c in view.children if isinstance(c, discord.ui.Container)]
    assert len(containers) == 2
    for container in containers:
        section, row, menu = container.children
        assert isinstance(section, discord.ui.Section)
        assert isinstance(section.accessory, discord.ui.Thumbnail)
        assert section.accessory.media.url == THUMB
        assert isinstance(row, discord.ui.ActionRow) and len(row.children) == 3
        assert isinstance(menu, discord.ui.ActionRow)
        [select] = menu.children
        assert isinstance(select, discord.ui.Select)
        assert [o.label for o in select.options] == ["Similar"]


def test_console_card_leads_with_title_and_upvotes() -> None:
    text = console.render(Reply(cards=[card(paper(), rank=1, day="2026-06-11")]))
    first, second = text.splitlines()[:2]
    assert first == "1. Paper number 1  ▲ 1,234"
    assert second.strip().startswith("Ada, Bob, Cy +1 · 2026-06-12")


# ---- ingest: the thumbnail is parsed, checked and kept -----------------------------------


def test_hugging_face_thumbnail_is_parsed_checked_and_merged() -> None:
    data = json.loads((FIXTURES / "hf_daily_papers_by_date_sample.json").read_text())
    parsed = parse_daily_papers(data)
    thumbs = [p.thumbnail for p in parsed.papers if p.thumbnail]
    assert thumbs and all(t.startswith("https://cdn-thumbnails.huggingface.co/") for t in thumbs)
    item = dict(data[0], thumbnail="javascript:alert(1)")
    assert parse_item(item).thumbnail is None  # validated like every other URL
    old = Paper.from_doc({"id": "2606.00001", "title": "Old record"})  # no thumbnail key
    assert old.thumbnail is None
    assert merge_paper(old, paper()).thumbnail == THUMB


# ---- the summary setting and the words ------------------------------------------------------


def test_set_summary_changes_what_digests_show(demo_bot: PapersBot) -> None:
    assert "short summary" in ask(demo_bot, "set summary short").text
    assert "Cards: short summaries" in ask(demo_bot, "status").text
    short = ask(demo_bot, "digest").cards[0]
    assert ask(demo_bot, "set summary off").kind is not ReplyKind.ERROR
    assert demo_bot.store.get_channel("console:local:demo").summary == "off"
    off = ask(demo_bot, "digest").cards[0]
    assert (short.summary, off.summary) == ("short", "off")
    assert layout.card_layout(off).summary == ""
    bad = ask(demo_bot, "set summary medium")
    assert bad.kind is ReplyKind.ERROR and "`short`, `long` or `off`" in bad.text


def test_messages_issue_16(demo_bot: PapersBot) -> None:
    berlin = ask(demo_bot, "schedule 09:00 Berlin").text
    assert "Did you mean `Europe/Berlin`?" in berlin
    assert "`Europe/Berlin`" in ask(demo_bot, "schedule 09:00 CET").text
    assert "`America/Los_Angeles`" in ask(demo_bot, "schedule 09:00 PST").text
    similar = ask(demo_bot, "similar")
    assert similar.kind is ReplyKind.ERROR and "Usage: /papers similar <arXiv id" in similar.text
    weekends = ask(demo_bot, "set weekends maybe")
    assert "`weekends` takes `skip` or `post`" in weekends.text
    bogus = ask(demo_bot, "import bogus")
    assert bogus.kind is ReplyKind.ERROR and "`[channel]`" in bogus.text
    assert "Expected" not in bogus.text  # not the TOML parser's words
    ask(demo_bot, "subscribe agents")
    assert "Removed the one topic." in ask(demo_bot, "unsubscribe all").text
    ask(demo_bot, "schedule daily off")
    ask(demo_bot, "pause", user_name="ana")
    status = ask(demo_bot, "status").text
    assert "Daily post: off. Posts paused by ana." in status
    assert "(active)" not in status and "(paused by" not in status


def test_the_demo_names_the_recorded_day_it_replays() -> None:
    banner = demo_banner("2026-06-12", "2026-11-27")
    assert banner.startswith("Demo: the trending papers of 2026-06-12, recorded")
    assert demo_banner("2026-06-12", "2026-06-12").startswith(
        "Demo: the trending papers of 2026-06-12."
    )


# ---- paper <id> when arXiv cannot be asked ----------------------------------------------


@pytest.fixture
def arxiv_bot(
    make_bot: Callable[..., PapersBot], config: Config, upstream: FakeUpstream
) -> PapersBot:
    """A bot whose real arXiv lookup asks the local fake upstream."""
    point_sources_at(config, upstream.url, retries=0)
    config.sources.arxiv.timeout = 0.5
    bot = make_bot(demo=False)
    bot.lookup = make_lookup(config)
    return bot


@pytest.mark.parametrize(
    ("canned", "why"),
    [(Canned(status=500), "(HTTP 500)"), (Canned(body=b"<feed/>", delay=3.0), "(timeout)")],
)
async def test_paper_says_when_arxiv_could_not_be_asked(
    arxiv_bot: PapersBot, upstream: FakeUpstream, canned: Canned, why: str
) -> None:
    upstream.route("/api/query", canned)
    for command in ("paper 2605.05242", "similar arXiv:2605.05242v2"):
        reply = await arxiv_bot.handle_async(Request(command))
        assert reply.kind == ReplyKind.ERROR
        assert reply.text == (
            "Paper 2605.05242 is not in the local corpus, and arXiv could not be asked "
            f"just now {why}; try again later."
        )
    assert len(upstream.hits("/api/query")) == 2
    assert arxiv_bot.store.get_paper("2605.05242") is None


async def test_paper_says_when_arxiv_has_no_such_paper(
    arxiv_bot: PapersBot, upstream: FakeUpstream
) -> None:
    reply = await arxiv_bot.handle_async(Request("paper 2601.00001"))
    assert reply.kind == ReplyKind.ERROR
    assert "arXiv has no paper 2601.00001" in reply.text and "could not be asked" not in reply.text
    assert upstream.hits("/api/query")[0].query["id_list"] == "2601.00001"
    found = await arxiv_bot.handle_async(Request("paper 2606.13677"))  # one it knows
    assert [c.paper.id for c in found.cards] == ["2606.13677"]


def test_user_text_is_quoted_one_way(demo_bot: PapersBot) -> None:
    """Queries, topics and titles shown in a reply's prose sit in “curly” quotes (one
    phrase's own straight quotes are not doubled); text to type sits in `code`."""
    for command in (
        "search diffusion",
        'preview "language model"',
        "similar 2605.05242",
        'subscribe "language model"',
        'unsubscribe "language model"',
    ):
        reply = ask(demo_bot, command, can_manage=True)
        shown = f"{reply.title or ''} {reply.text}"
        assert "“" in shown and "”" in shown, command
        assert '"' not in shown, (command, shown)
