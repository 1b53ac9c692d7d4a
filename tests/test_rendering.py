"""The shared rendering layer: button roles and actions, the one split, the one card layout.

Renderers decide how a button looks and answers by its role and never read its command
line; a press runs the button's action through the registry; one function
(:func:`bot.messages.split_reply`) decides how a long reply becomes messages, for the
scheduler and every renderer alike; what a card shows comes from :mod:`bot.layout`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

import adapters.console as console
import adapters.discord.render as discord_render
import adapters.slack.render as slack_render
from adapters.discord import DiscordAdapter
from bot import layout
from bot.actions import button, invocation, typed_line
from bot.app import PapersBot
from bot.cli import printable
from bot.delivery import limits_of
from bot.messages import DEFAULT_LIMITS, RenderLimits, split_lines, split_reply
from bot.models import Paper
from bot.registry import REGISTRY
from bot.replies import Action, Button, ButtonRole, PaperCard, Reply, ReplyKind, Request
from bot.scheduler.posting import split_into_messages
from tests import test_discord
from tests.fakes.discord_fake import CHANNEL_ID, FakeDiscord, v2_cards
from tests.test_discord import is_callback, run_command

fake = test_discord.fake
adapter = test_discord.adapter


def paper(n: int = 1, **fields: Any) -> Paper:
    base: dict[str, Any] = {
        "id": f"2606.{n:05d}",
        "title": f"Paper number {n}",
        "abstract": "An abstract about diffusion. " * 5,
        "authors": ["Ada", "Bob", "Cy", "Di"],
        "upvotes": 3,
    }
    base.update(fields)
    return Paper(**base)


# ---- roles and actions ------------------------------------------------------------------


def test_core_buttons_carry_a_role_and_an_action(demo_bot: PapersBot) -> None:
    found = demo_bot.handle(Request("search language models"))
    (next_page,) = found.buttons
    assert next_page.role is ButtonRole.PAGE
    assert next_page.action == Action.of("search", query="language models", page=2)
    roles = {b.label: b.role for b in found.cards[0].buttons}
    assert roles == {
        "Save": ButtonRole.SAVE,
        "Share in channel": ButtonRole.SHARE,
        "Similar": ButtonRole.SIMILAR,
    }
    posted = demo_bot.card(found.cards[0].paper, public=True)
    assert [b.role for b in posted.buttons] == [
        ButtonRole.SAVE,
        ButtonRole.VOTE,
        ButtonRole.VOTE,
        ButtonRole.SIMILAR,
    ]
    for b in [next_page, *posted.buttons]:
        # The command line is derived from the action, by the declaration's own syntax.
        assert b.action is not None
        assert b.command == typed_line(REGISTRY[b.action.command], b.action.as_dict())


def test_an_action_runs_as_its_typed_line_does(demo_bot: PapersBot) -> None:
    made = button("Next ▶", ButtonRole.PAGE, "search", query="language models", page=2)
    assert made.command == "search --page 2 language models"
    assert made.action is not None
    by_action = demo_bot.handle(Request("ignored"), invocation(made.action))
    by_text = demo_bot.handle(Request(made.command))
    assert by_action.footer == by_text.footer == "Page 2 of " + by_text.footer.split()[-1]
    assert [c.paper.id for c in by_action.cards] == [c.paper.id for c in by_text.cards]


def test_slack_places_buttons_by_role_not_by_command_text() -> None:
    paging = Button("Onwards", "not a command at all", role=ButtonRole.PAGE)
    looks_like_paging = Button("Other", "search --page 2 x")  # role COMMAND
    [message] = slack_render.render(Reply(text="t", buttons=[paging, looks_like_paging]))
    actions = [b for b in message["blocks"] if b["type"] == "actions"][-1]["elements"]
    ids = {e["text"]["text"]: e["action_id"] for e in actions}
    assert ids["Onwards"].startswith(slack_render.ACTION_NAV + "_")
    assert ids["Other"].startswith(slack_render.ACTION_COMMAND + "_")


def test_discord_drops_share_on_public_cards_by_role() -> None:
    card = PaperCard(
        paper(),
        rank=1,
        buttons=[
            Button("Post it", "anything", role=ButtonRole.SHARE),
            Button("share-looking", "share 2606.00001", role=ButtonRole.SIMILAR),
        ],
    )
    (message,) = discord_render.render(
        Reply(cards=[card], ephemeral=False), discord_render.CommandIds()
    )
    assert [b.label for b in message.panels[0].buttons] == ["share-looking"]  # in its card
    assert not message.buttons


async def test_discord_press_runs_the_remembered_action_and_pages_by_role(
    fake: FakeDiscord, adapter: DiscordAdapter
) -> None:
    callback, _ = await run_command(fake, "search", {"query": "diffusion"})
    data = callback.body["data"]
    # A button whose command line would not even parse: only its action and role count.
    odd = Button(
        "Next",
        "#not a command",
        role=ButtonRole.PAGE,
        action=Action.of("search", query="diffusion", page=2),
    )
    custom_id = adapter.ids.encode(odd)
    press = fake.component_interaction(custom_id, fake.message(data, CHANNEL_ID, flags=64))
    await fake.dispatch_interaction(press)
    answer = await fake.wait_for(is_callback(press))
    assert answer.body["type"] == 7  # UPDATE_MESSAGE: paging edits the results in place
    page2 = v2_cards(answer.body["data"])
    assert page2[0].title.startswith(f"{len(v2_cards(data)) + 1}. ")


# ---- the one split ----------------------------------------------------------------------


def cards(n: int, **fields: Any) -> list[PaperCard]:
    return [PaperCard(paper(i, **fields), rank=i) for i in range(1, n + 1)]


def test_split_by_count_keeps_order_title_first_and_tail_last() -> None:
    reply = Reply(
        title="T",
        text="intro",
        cards=cards(12),
        footer="F",
        buttons=[Button("B", "b")],
        kind=ReplyKind.SEARCH,
    )
    parts = split_reply(reply, RenderLimits(cards=5))
    assert [len(p.cards) for p in parts] == [5, 5, 2]
    assert [c for p in parts for c in p.cards] == reply.cards
    assert parts[0].title == "T" and parts[0].text == "intro"
    assert all(p.title is None and p.text == "" for p in parts[1:])
    assert parts[-1].footer == "F" and parts[-1].buttons == reply.buttons
    assert all(p.footer is None and not p.buttons for p in parts[:-1])
    assert all(p.kind is ReplyKind.SEARCH and p.ephemeral for p in parts)


def test_split_by_budget_and_card_count() -> None:
    limits = RenderLimits(cards=10, budget=100, size=lambda piece: 30)
    assert [len(p.cards) for p in split_reply(Reply(cards=cards(7)), limits)] == [3, 3, 1]
    public = [PaperCard(p.paper, rank=p.rank, buttons=[Button("x", "y")]) for p in cards(9)]
    most = RenderLimits(cards=5)
    assert [len(p.cards) for p in split_reply(Reply(cards=public, ephemeral=False), most)] == [5, 4]


def test_a_tail_that_does_not_fit_takes_the_last_card_along() -> None:
    def size(piece: Any) -> int:
        return 40 if isinstance(piece, PaperCard) else 30 if piece else 0

    reply = Reply(cards=cards(2), footer="footer")
    parts = split_reply(reply, RenderLimits(cards=5, budget=100, size=size))
    assert [len(p.cards) for p in parts] == [1, 1]
    assert parts[-1].footer == "footer"


def test_long_text_is_split_at_line_ends() -> None:
    text = "\n".join(f"line {n:03d} " + "x" * 40 for n in range(100))
    pieces = split_lines(text, 500)
    assert all(len(p) <= 500 for p in pieces) and "\n".join(pieces) == text
    parts = split_reply(Reply(title="Help", text=text), RenderLimits(text=500))
    assert len(parts) == len(pieces) + 1 or len(parts) == len(pieces)
    assert "\n".join(p.text for p in parts) == text
    assert split_lines("a" * 1200, 500) == ["a" * 500, "a" * 500, "a" * 200]


@pytest.mark.parametrize("n", [1, 5, 12, 25])
def test_renderers_send_one_message_per_part(n: int) -> None:
    reply = Reply(
        title="Trending",
        text="Top papers",
        cards=cards(n, abstract="diffusion " * 300),
        footer="Page 1 of 3",
        buttons=[Button("Next ▶", "search --page 2 x", role=ButtonRole.PAGE)],
    )
    slack_parts = split_reply(reply, slack_render.LIMITS)
    assert len(slack_render.render(reply)) == len(slack_parts)
    discord_parts = split_reply(reply, discord_render.LIMITS)
    assert len(discord_render.render(reply, discord_render.CommandIds())) == len(discord_parts)


def test_the_scheduler_splits_with_the_adapters_limits(demo_bot: PapersBot) -> None:
    papers = sorted(demo_bot.store.papers(), key=lambda p: p.id)[:12]
    shown_cards = [demo_bot.card(p, public=True, rank=n) for n, p in enumerate(papers, 1)]
    shown = Reply(title="Trending", cards=shown_cards, kind=ReplyKind.DIGEST, ephemeral=False)
    for limits in (slack_render.LIMITS, discord_render.LIMITS, DEFAULT_LIMITS):
        groups = split_into_messages(shown_cards, shown, limits=limits)
        assert [len(g) for g in groups] == [len(p.cards) for p in split_reply(shown, limits)]
    assert split_into_messages(shown_cards, shown, threaded=True) == [[c] for c in shown_cards]
    assert limits_of(object()) is DEFAULT_LIMITS
    assert limits_of(console.ConsoleAdapter(demo_bot)) is console.LIMITS


# ---- the one card layout ----------------------------------------------------------------


def test_every_renderer_shows_the_shared_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    """A line added to the layout shows on all three platforms with no renderer edit."""
    original = layout.card_layout

    def with_extra(card: PaperCard) -> layout.CardLayout:
        return replace(original(card), extra=("Extra: keywords <b>",))

    for module in (console, slack_render, discord_render):
        monkeypatch.setattr(module, "card_layout", with_extra)
    card = PaperCard(paper(2, authors=["A", "B", "C", "D", "E"]), rank=2)
    text = console.render(Reply(cards=[card]))
    [slack] = slack_render.render(Reply(cards=[card]))
    [discord] = discord_render.render(Reply(cards=[card]), discord_render.CommandIds())
    slack_text = slack["blocks"][0]["text"]["text"]
    description = discord.panels[0].description or ""
    assert "Extra: keywords <b>" in text
    assert "Extra: keywords &lt;b&gt;" in slack_text
    assert "Extra: keywords <b>" in description
    for shown in (text, slack_text, description):
        assert "A, B, C +2" in shown  # layout.author_line
    assert text.startswith("2. Paper number 2")
    assert slack_text.startswith("*2. <https://huggingface.co/papers/2606.00002|Paper number 2>*")
    assert discord.panels[0].title == "2. Paper number 2"


def test_shared_text_helpers() -> None:
    assert layout.clean("\x1b]0;title\x07red\x9b") == "]0;titlered"
    assert printable("bell\x07 \x00ok") == layout.clean("bell\x07 \x00ok") == "bell ok"
    assert console.clean is layout.clean and console.shorten is layout.shorten
    assert layout.shorten("one two three", 9) == "one two…"
    assert layout.author_line(["a", "b"]) == "a, b"


def test_slack_renders_a_measured_card_as_if_built_afresh() -> None:
    """A post is sized by the core (piece_size builds each card once, at position 0) and
    then rendered by the adapter, which reuses those cards with their action ids for their
    real positions: the message must be exactly the one fresh cards give."""
    shown = [
        PaperCard(
            c.paper,
            rank=c.rank,
            buttons=[Button("👍", "feedback up 1"), Button("Similar", "similar 1")],
        )
        for c in cards(5)
    ]
    measured = Reply(title="Daily", cards=shown, kind=ReplyKind.DIGEST, ephemeral=False)
    for card in shown:
        slack_render.piece_size(card)  # measured at position 0, as split_reply does
    fresh = Reply(
        title="Daily",
        cards=[replace(card) for card in shown],  # new objects: nothing to reuse
        kind=ReplyKind.DIGEST,
        ephemeral=False,
    )
    assert slack_render.render(measured) == slack_render.render(fresh)
    # And the measured cards were reused, not built again: same block objects.
    again = slack_render.measured_group(shown[1], 1)
    assert again.blocks[0] is slack_render.measured_group(shown[1], 0).blocks[0]
    assert again.blocks[0] is not slack_render.measured_group(fresh.cards[1], 1).blocks[0]
    ids = [
        e["action_id"]
        for m in slack_render.render(measured)
        for b in m["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert len(ids) == len(set(ids)) > 5  # unique within the message, as Slack requires
