"""Save, and a reading list on Discord (issue 15): the real discord.py client against the
fake gateway and REST API. A Save press on a posted digest answers the presser alone; the
reading list's exports are real attachments (multipart uploads shown by a file component),
read back by bibtexparser, rispy and :mod:`csv`.
"""

from __future__ import annotations

import csv
import io
import re

import rispy

from adapters.discord import DiscordAdapter
from bot.app import PapersBot
from bot.models import Channel, Saved
from tests import test_discord
from tests.fakes.discord_fake import (
    CHANNEL_ID,
    FILE,
    GUILD_ID,
    MEMBER_PERMISSIONS,
    FakeDiscord,
    Recorded,
    v2_text,
    walk_components,
)
from tests.test_discord import check_message, is_callback, run_command
from tests.test_discord_features import BOB, buttons, channel_posts, press
from tests.test_saved import EVO, fields, first_arxiv_papers, parse_bibtex

# The fake Discord and the connected adapter, shared with tests/test_discord.py.
fake = test_discord.fake
adapter = test_discord.adapter


def saved_by(bot: PapersBot, user_id: int) -> list[str]:
    """Paper ids on the reading list of Discord user ``user_id`` (whatever its scope)."""
    rows = bot.store.state.rows(Saved)
    return [s.paper_id for s in rows if s.user.startswith("discord:") and s.user.endswith(
        f":{user_id}")]  # fmt: skip


async def test_discord_save_button_on_a_posted_digest_answers_the_presser_alone(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot
) -> None:
    channel = Channel("discord", str(GUILD_ID), str(CHANNEL_ID))
    await adapter.post(channel, demo_bot.digest_reply(demo_bot.digest_for(channel)))
    first = channel_posts(fake)[0].body
    ids = buttons(first)
    assert ids["Save #1"] == f"papers:save {EVO}"
    message = fake.message(first, CHANNEL_ID)
    answers = [
        await press(fake, ids["Save #1"], message, user=BOB, permissions=MEMBER_PERMISSIONS)
        for _ in range(2)
    ]
    for answer in answers:
        assert answer.body["type"] == 4 and answer.body["data"]["flags"] & 64
    assert "Saved “EvoArena" in v2_text(answers[0].body["data"])
    assert "already on your reading list" in v2_text(answers[1].body["data"])
    assert saved_by(demo_bot, BOB[0]) == [EVO]
    assert not [r for r in fake.requests if r.method == "PATCH"]  # the post stays as it was


def upload(callback: Recorded) -> tuple[str, str]:
    """The one file a callback uploaded (filename, text), checked against its component."""
    ((filename, _kind, data),) = callback.files.values()
    payload = callback.body["data"]
    check_message(payload)
    [component] = [c for c in walk_components(payload) if c["type"] == FILE]
    assert component["file"]["url"] == f"attachment://{filename}"
    assert [a["filename"] for a in payload["attachments"]] == [filename]
    return filename, data.decode()


async def test_discord_saved_exports_are_real_attachments(
    fake: FakeDiscord, adapter: DiscordAdapter, demo_bot: PapersBot
) -> None:
    papers = first_arxiv_papers(demo_bot, 3)
    for paper in papers:
        callback, _ = await run_command(fake, "save", {"id": paper.id})
        assert "Saved" in v2_text(callback.body["data"])
    listed, _ = await run_command(fake, "saved")
    assert "Papers 1–3 of 3" in v2_text(listed.body["data"])
    assert not listed.files

    ris, latency = await run_command(fake, "saved", {"export": True})
    assert latency < 3.0 and ris.body["type"] == 4 and ris.body["data"]["flags"] & 64
    name, text = upload(ris)
    assert name == "reading-list.ris"
    records = rispy.loads(text)
    assert [r["accession_number"] for r in records] == [f"arXiv:{p.id}" for p in reversed(papers)]

    bib, _ = await run_command(fake, "saved", {"bibtex": True})
    name, text = upload(bib)
    assert name == "reading-list.bib"
    library = parse_bibtex(text)
    assert [fields(e)["eprint"] for e in library.entries] == [p.id for p in reversed(papers)]

    table, _ = await run_command(fake, "saved", {"export": True, "format": "csv"})
    name, text = upload(table)
    assert name == "reading-list.csv"
    assert [r["arxiv_id"] for r in csv.DictReader(io.StringIO(text))] == [
        p.id for p in reversed(papers)
    ]
    interaction = fake.command_interaction("unsave", {"id": papers[0].id})
    await fake.dispatch_interaction(interaction)
    gone = await fake.wait_for(is_callback(interaction))
    assert re.search(r"Removed \S+ from your reading list \(2 papers left\)", v2_text(
        gone.body["data"]))  # fmt: skip
    assert not gone.files
