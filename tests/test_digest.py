"""A channel's post: the latest trending day, ranked, topics, cap, min upvotes, no repeats."""

from __future__ import annotations

from bot.models import Channel, Delivery, Paper
from bot.replies import Request


def channel(channel_id: str = "demo", **kwargs) -> Channel:
    return Channel(platform="console", workspace="local", channel_id=channel_id, **kwargs)


def test_latest_day_ranked_by_upvotes_and_capped(demo_bot) -> None:
    digest = demo_bot.digest_for(channel(max_papers=5))
    assert digest.day == "2026-06-12"
    votes = [c.paper.upvotes for c in digest.cards]
    assert votes == [118, 103, 74, 25, 10]
    assert [c.rank for c in digest.cards] == [1, 2, 3, 4, 5]


def test_day_is_never_in_the_future(demo_bot, clock) -> None:
    from datetime import UTC, datetime

    clock.now = datetime(2026, 5, 20, 12, tzinfo=UTC)
    assert demo_bot.digest_for(channel()).day == "2026-05-08"
    clock.now = datetime(2026, 1, 1, tzinfo=UTC)
    digest = demo_bot.digest_for(channel())
    assert digest.cards == [] and "no trending papers" in digest.reason


def test_recency_breaks_upvote_ties(make_bot) -> None:
    bot = make_bot(demo=False)
    from bot.cli import import_papers

    import_papers(
        bot,
        [
            Paper(
                id="2606.00001",
                title="Older",
                upvotes=5,
                published="2026-06-01",
                daily_date="2026-06-12",
            ),
            Paper(
                id="2606.00002",
                title="Newer",
                upvotes=5,
                published="2026-06-10",
                daily_date="2026-06-12",
            ),
            Paper(
                id="2606.00003",
                title="Popular",
                upvotes=9,
                published="2026-05-01",
                daily_date="2026-06-12",
            ),
        ],
    )
    assert [c.paper.title for c in bot.digest_for(channel()).cards] == ["Popular", "Newer", "Older"]


def test_never_repeats_a_delivered_paper(demo_bot) -> None:
    ch = channel(max_papers=3)
    first = demo_bot.digest_for(ch)
    demo_bot.store.record_deliveries(
        Delivery(ch.key, c.paper.id, "2026-06-12T09:00:00+00:00") for c in first.cards
    )
    second = demo_bot.digest_for(ch)
    assert {c.paper.id for c in first.cards}.isdisjoint({c.paper.id for c in second.cards})
    assert len(second.cards) == 3
    demo_bot.store.record_deliveries(Delivery(ch.key, c.paper.id, "x") for c in second.cards)
    demo_bot.store.record_deliveries(
        Delivery(ch.key, c.paper.id, "x") for c in demo_bot.digest_for(ch).cards
    )
    empty = demo_bot.digest_for(ch)
    assert empty.cards == [] and "already posted" in empty.reason
    # Another channel is not affected.
    assert len(demo_bot.digest_for(Channel("console", "local", "other", max_papers=3)).cards) == 3


def test_pending_deliveries_also_count(demo_bot) -> None:
    ch = channel(max_papers=1)
    top = demo_bot.digest_for(ch).cards[0].paper.id
    demo_bot.store.record_deliveries([Delivery(ch.key, top, "x", status="pending")])
    assert demo_bot.digest_for(ch).cards[0].paper.id != top


def test_topics_filter_and_name_the_match(demo_bot) -> None:
    demo_bot.handle(Request("subscribe agents"))
    demo_bot.handle(Request('subscribe "sparse attention"'))
    ch = demo_bot.store.get_channel("console:local:demo")
    digest = demo_bot.digest_for(ch)
    assert digest.cards
    by_topic = {c.paper.title: c.topic for c in digest.cards}
    assert by_topic["MiniMax Sparse Attention"] == '"sparse attention"'
    for card in digest.cards:
        text = (card.paper.title + card.paper.abstract + " ".join(card.paper.ai_keywords)).lower()
        assert card.topic in ("agents", '"sparse attention"')
        assert ("agent" in text) or ("sparse" in text and "attention" in text)
    all_day = demo_bot.digest_for(channel(channel_id="no-topics", max_papers=25))
    assert len(digest.cards) < len(all_day.cards)


def test_topic_matching_nothing_says_so(demo_bot) -> None:
    demo_bot.handle(Request("subscribe zeolite catalysis"))
    digest = demo_bot.digest_for(demo_bot.store.get_channel("console:local:demo"))
    assert digest.cards == [] and "matched this channel's topics" in digest.reason


def test_min_upvotes(demo_bot) -> None:
    digest = demo_bot.digest_for(channel(min_upvotes=50, max_papers=10))
    assert [c.paper.upvotes for c in digest.cards] == [118, 103, 74]


def test_digest_reply_is_public_and_preview_is_not(demo_bot) -> None:
    reply = demo_bot.digest_reply(demo_bot.digest_for(channel()))
    assert reply.ephemeral is False and reply.title == "Trending papers, 2026-06-12"
    late = demo_bot.digest_reply(demo_bot.digest_for(channel()), late=True)
    assert "late" in late.title
    preview = demo_bot.handle(Request("digest"))
    assert preview.ephemeral is True and "nothing was marked" in preview.footer
    assert demo_bot.store.deliveries() == []
