"""Save, and a reading list (issue 15): ``/papers save``, ``unsave``, ``saved`` and the Save
button on every card, through the terminal and Slack (signed requests into bolt, answers to
the fake Web API); Discord's are in tests/test_saved_discord.py.

The exports are read back by real parsers: BibTeX by bibtexparser, RIS by rispy (what a
reference manager would do with the file), CSV by :mod:`csv`.
"""

# The fixtures ``fake``, ``slack_config`` and ``adapter`` come from test_slack.py and
# test_discord.py; pytest injects them by parameter name, which ruff reads as redefinitions.

from __future__ import annotations

import csv
import io
from typing import Any

import bibtexparser
import rispy
from bibtexparser.middlewares import LatexDecodingMiddleware, SeparateCoAuthors

from adapters.console import ConsoleAdapter
from adapters.slack import SlackAdapter
from bot.app import PapersBot
from bot.citations import bibtex, bibtex_key
from bot.handlers.personal import EMPTY_LIST
from bot.models import Paper
from bot.registry import REGISTRY
from bot.replies import Reply, ReplyKind
from tests import test_slack
from tests.fakes.slack_api import FakeSlack, block_kit_problems
from tests.test_features import ask
from tests.test_slack import TEAM, all_text, command_body, send
from tests.test_slack_features import button, posted_digest, public_action_body

fake = test_slack.fake
slack_config = test_slack.slack_config
adapter = test_slack.adapter

SPARSE = "2606.13392"  # MiniMax Sparse Attention
EVO = "2606.13681"  # EvoArena
HOSTILE = Paper(
    id="2606.00001",
    title="Break} @misc{evil, title={x}} 100% $\\alpha$ & #1 _x_ \\end{document} {{\nER  - ",
    abstract="=cmd|' /C calc'!A0\nTY  - JOUR",
    authors=["Ada {Love}lace", "Bob and Alice", "Zoë Müller"],
    published="2026-06-01",
    categories=["cs.LG"],
    doi="10.1/x_y",
    journal_ref="J. {Odd} 5 (2026)",
)
NO_ARXIV = Paper(id="openreview-xyz", title="A paper without an arXiv id", authors=["Cy Dee"])


def parse_bibtex(text: str) -> bibtexparser.Library:
    library = bibtexparser.parse_string(text, append_middleware=[SeparateCoAuthors()])
    assert library.failed_blocks == []
    return library


def fields(entry: Any) -> dict[str, Any]:
    """An entry's fields; the title without the braces that keep its capitals as written."""
    out = {f.key: f.value for f in entry.fields}
    if isinstance(out.get("title"), str) and out["title"].startswith("{"):
        out["title"] = out["title"].removeprefix("{").removesuffix("}")
    return out


def first_arxiv_papers(bot: PapersBot, n: int) -> list[Paper]:
    """``n`` demo papers with arXiv ids, in a fixed order."""
    papers = sorted((p for p in bot.store.papers() if p.has_arxiv_id), key=lambda p: p.id)
    return papers[:n]


# ---- the core, through the terminal ------------------------------------------------------


def test_save_unsave_and_saved_in_the_terminal(demo_bot: PapersBot) -> None:
    out = io.StringIO()
    console = ConsoleAdapter(demo_bot, out=out)
    script = "\n".join(
        [
            "saved",
            f"save {SPARSE}",
            f"save https://arxiv.org/abs/{SPARSE}v2",
            f"save {EVO}",
            "save 2701.00001",
            "save not-an-id",
            "saved",
            f"unsave {SPARSE}",
            f"unsave {SPARSE}",
            "saved --export pdf",
            "saved --bibtex",
        ]
    )
    console.run_lines(io.StringIO(script + "\n"), interactive=False)
    answers = out.getvalue().split("papers> ")[1:]
    assert EMPTY_LIST in answers[0]
    assert (
        "Saved “MiniMax Sparse Attention” (2606.13392) to your reading list (1 paper)"
        in (answers[1])
    )
    assert "“MiniMax Sparse Attention” (2606.13392) is already on your reading list." in answers[2]
    assert "(2 papers)" in answers[3]
    assert "Paper 2701.00001 is not in the local corpus (yet)." in answers[4]
    assert "`not-an-id` is not an arXiv id or link." in answers[5]
    listed = answers[6]
    assert "== Your reading list ==" in listed and "Papers 1–2 of 2" in listed
    assert listed.index("EvoArena") < listed.index("MiniMax")  # newest first
    assert f"[Remove] /papers unsave {EVO}" in listed  # on the list, Remove replaces Save
    assert "Removed 2606.13392 from your reading list (1 paper left)." in answers[7]
    assert "2606.13392 is not on your reading list." in answers[8]
    assert "Export as `ris` or `csv`." in answers[9]
    # The terminal prints a reply's file whole, between two marker lines.
    printed = answers[10].split("--- reading-list.bib ---\n", 1)[1]
    printed = printed.split("\n--- end of reading-list.bib ---", 1)[0]
    (entry,) = parse_bibtex(printed).entries
    assert fields(entry)["eprint"] == EVO and fields(entry)["title"].startswith("EvoArena")
    assert [s.paper_id for s in demo_bot.store.saved_papers("console:local:you")] == [EVO]


def test_every_card_has_save_and_the_reading_list_follows_the_person(
    demo_bot: PapersBot,
) -> None:
    search = ask(demo_bot, "search sparse attention")
    assert search.cards and all(c.buttons[0].label == "Save" for c in search.cards)
    assert search.cards[0].buttons[0].command == f"save {search.cards[0].paper.id}"
    for text in (f"paper {SPARSE}", f"similar {SPARSE}", "trending 3", "digest", f"share {EVO}"):
        reply = ask(demo_bot, text)
        assert reply.cards and all(c.buttons[0].label == "Save" for c in reply.cards), text
    # One list per person: saved in one channel, listed in another; not someone else's.
    assert "Saved" in ask(demo_bot, f"save {SPARSE}", channel_id="a", user_id="u1").text
    mine = ask(demo_bot, "saved", channel_id="b", user_id="u1")
    assert [c.paper.id for c in mine.cards] == [SPARSE]
    assert ask(demo_bot, "saved", channel_id="a", user_id="u2").text == EMPTY_LIST
    (item,) = demo_bot.store.saved_papers("console:local:u1")
    assert item.channel == "console:local:a"
    # Discord's user ids are global: one list across servers and DMs.
    guild = {"platform": "discord", "workspace": "G1", "user_id": "42", "user_scope": "*"}
    assert "Saved" in ask(demo_bot, f"save {EVO}", **guild).text
    dm = dict(guild, workspace="dm")
    assert "already" in ask(demo_bot, f"save {EVO}", **dm).text


def test_personal_commands_need_no_permission_and_answer_privately(demo_bot: PapersBot) -> None:
    for name in ("save", "unsave", "saved"):
        assert not REGISTRY[name].manages and not REGISTRY[name].public
    reply = ask(demo_bot, f"save {SPARSE}", can_manage=False, cannot_post="Invite me first.")
    assert reply.kind is not ReplyKind.ERROR and reply.ephemeral
    assert "Saved" in reply.text
    help_text = ask(demo_bot, "help").text
    assert "`/papers save <arXiv id or URL>`: put a paper on your reading list" in help_text
    assert "`/papers saved [--page N] [--bibtex] [--export [ris|csv]]`" in help_text


def test_saved_pages_newest_first(demo_bot: PapersBot) -> None:
    papers = first_arxiv_papers(demo_bot, 7)
    for paper in papers:
        ask(demo_bot, f"save {paper.id}")
    first = ask(demo_bot, "saved")
    newest = [p.id for p in reversed(papers)]
    assert [c.paper.id for c in first.cards] == newest[:5]
    assert [c.rank for c in first.cards] == [1, 2, 3, 4, 5]
    assert first.footer == "Page 1 of 2"
    (nxt,) = first.buttons
    assert nxt.command == "saved --page 2" and nxt.role.value == "page"
    second = ask(demo_bot, nxt.command)
    assert [c.paper.id for c in second.cards] == newest[5:]
    assert [b.label for b in second.buttons] == ["◀ Previous"]
    beyond = ask(demo_bot, "saved --page 3")
    assert beyond.kind is ReplyKind.ERROR and "only 2 pages" in beyond.text


# ---- the exports, read back by real parsers ------------------------------------------------


def test_bibtex_parses_and_gives_back_titles_authors_and_eprints(demo_bot: PapersBot) -> None:
    demo_bot.add_papers([HOSTILE, NO_ARXIV])
    papers = first_arxiv_papers(demo_bot, 4)
    for paper in [*papers, HOSTILE, NO_ARXIV]:
        assert "Saved" in ask(demo_bot, f"save {paper.id}").text
    reply = ask(demo_bot, "saved --bibtex")
    assert reply.attachment is not None
    assert reply.attachment.filename == "reading-list.bib"
    assert "BibTeX for 5 papers" in reply.text
    assert "Left out, having no arXiv id: “A paper without an arXiv id”." in reply.text
    library = parse_bibtex(reply.attachment.text)
    entries = {fields(e)["eprint"]: e for e in library.entries}
    assert set(entries) == {p.id for p in papers} | {HOSTILE.id}  # one entry each, no more
    for paper in papers:
        got = fields(entries[paper.id])
        assert got["title"] == paper.title
        assert got["author"] == [" ".join(a.split()) for a in paper.authors]
        assert got["archivePrefix"] == "arXiv"
        assert got["url"] == f"https://arxiv.org/abs/{paper.id}"
    keys = [e.key for e in library.entries]
    assert len(set(keys)) == len(keys)
    # The hostile title stays inside its own field: the next entry starts where it should.
    hostile = entries[HOSTILE.id]
    assert hostile.entry_type == "article" and hostile.key == bibtex_key(HOSTILE)
    got = fields(hostile)
    assert got["primaryClass"] == "cs.LG" and got["year"] == "2026"
    assert got["author"][1] == "Bob {and} Alice"  # an "and" in a name does not split it
    decoded = bibtexparser.parse_string(
        reply.attachment.text, append_middleware=[LatexDecodingMiddleware()]
    )
    title = next(fields(e)["title"] for e in decoded.entries if e.key == hostile.key)
    assert "@misc" in title and "100% $\\alpha$ & #1 _x_ \\end" in title
    assert fields(next(e for e in decoded.entries if e.key == hostile.key))["doi"] == "10.1/x_y"
    # Keys are stable: a later export (with another paper gone) keeps every key.
    ask(demo_bot, f"unsave {papers[0].id}")
    again = parse_bibtex(ask(demo_bot, "saved --bibtex").attachment.text)  # type: ignore[union-attr]
    assert {e.key for e in again.entries} == set(keys) - {bibtex_key(papers[0])}


def test_bibtex_of_papers_without_arxiv_ids_says_so() -> None:
    text, left_out = bibtex([NO_ARXIV])
    assert text == "" and left_out == [NO_ARXIV]


def test_ris_and_csv_exports_parse(demo_bot: PapersBot) -> None:
    demo_bot.add_papers([HOSTILE, NO_ARXIV])
    papers = first_arxiv_papers(demo_bot, 3)
    for paper in [*papers, HOSTILE, NO_ARXIV]:
        ask(demo_bot, f"save {paper.id}")
    reply = ask(demo_bot, "saved --export")
    assert reply.attachment is not None and reply.attachment.filename == "reading-list.ris"
    assert "Your reading list as RIS (Zotero: File ▸ Import): 5 papers." in reply.text
    records = rispy.loads(reply.attachment.text)
    assert len(records) == 5  # the hostile title's "ER  - " did not end a record
    by_title = {r["title"]: r for r in records}
    for paper in papers:
        record = by_title[" ".join(paper.title.split())]
        assert record["authors"] == [" ".join(a.split()) for a in paper.authors]
        assert record["accession_number"] == f"arXiv:{paper.id}"
        assert record["urls"] == [f"https://arxiv.org/abs/{paper.id}"]
    hostile = next(r for r in records if r.get("doi") == "10.1/x_y")
    assert hostile["type_of_reference"] == "JOUR" and hostile["journal_name"] == "J. {Odd} 5 (2026)"
    assert hostile["title"].endswith("{{ ER -")
    assert by_title["A paper without an arXiv id"]["type_of_reference"] == "GEN"

    table = ask(demo_bot, "saved --export csv")
    assert table.attachment is not None and table.attachment.mime == "text/csv"
    rows = list(csv.DictReader(io.StringIO(table.attachment.text)))
    assert [r["arxiv_id"] for r in rows][-3:] == [p.id for p in reversed(papers)]
    assert {r["title"] for r in rows} >= {p.title for p in papers}
    hostile_row = next(r for r in rows if r["arxiv_id"] == HOSTILE.id)
    assert hostile_row["authors"] == "Ada {Love}lace; Bob and Alice; Zoë Müller"
    assert "\n" not in hostile_row["title"]
    # Papers that left the corpus are named or counted as left out, never a silent gap.
    saved_ids = [x.paper_id for x in demo_bot.store.saved_papers("console:local:local-user")]
    demo_bot.store.put_papers([], remove_ids=[pid for pid in saved_ids if pid != NO_ARXIV.id])
    gone = len(saved_ids) - 1
    listed = ask(demo_bot, "saved")
    assert "No longer in the corpus: " in listed.text
    assert (
        f"{gone} saved papers no longer in the corpus left out"
        in ask(demo_bot, "saved --export csv").text
    )
    cited = ask(demo_bot, "saved --bibtex")
    assert cited.attachment is None  # the one left has no arXiv id: nothing to cite
    assert "None of your saved papers has an arXiv id to cite." in cited.text
    assert f"{gone} saved papers no longer in the corpus left out" in cited.text
    demo_bot.store.put_papers([], remove_ids=[NO_ARXIV.id])
    assert (
        "None of your saved papers is in the corpus any more."
        in ask(demo_bot, "saved --export").text
    )


# ---- Slack: signed requests into bolt, answers to the fake Web API --------------------------


async def slack_command(adapter: SlackAdapter, fake: FakeSlack, text: str, key: str) -> None:
    status, answer, _ = await send(adapter, command_body(fake, text, user="U1", key=key))
    assert status == 200, answer
    await fake.wait_for(lambda: bool(fake.responses_to(key)))


async def test_slack_save_command_and_the_save_button_on_a_posted_digest(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot
) -> None:
    slack = adapter
    await slack_command(slack, fake, f"save {SPARSE}", "s1")
    (answer,) = fake.responses_to("s1")
    assert answer.payload["response_type"] == "ephemeral"
    assert "Saved “MiniMax Sparse Attention”" in all_text(answer.payload["blocks"])

    digest = await posted_digest(slack, fake, demo_bot)
    save = button(digest.blocks, "Save", f"save {EVO}")
    for key in ("p1", "p2"):
        status, _, seconds = await send(
            slack, public_action_body(fake, save, digest, user="U5", key=key)
        )
        assert status == 200 and seconds < 3.0
        await fake.wait_for(lambda key=key: bool(fake.responses_to(key)))
    first, second = fake.responses_to("p1")[0].payload, fake.responses_to("p2")[0].payload
    for payload in (first, second):  # the presser alone hears back; the digest stays
        assert payload["response_type"] == "ephemeral" and payload["replace_original"] is False
        assert block_kit_problems(payload["blocks"]) == []
    assert "Saved “EvoArena" in all_text(first["blocks"])
    assert "is already on your reading list" in all_text(second["blocks"])
    assert len(fake.posts) == 1  # nothing new in the channel
    assert [s.paper_id for s in demo_bot.store.saved_papers(f"slack:{TEAM}:U5")] == [EVO]
    assert [s.paper_id for s in demo_bot.store.saved_papers(f"slack:{TEAM}:U1")] == [SPARSE]


def code_blocks(payloads: list[dict[str, Any]]) -> str:
    """The text of every ``` block in ``payloads``, unescaped, as a user would copy it."""
    out = []
    for payload in payloads:
        for block in payload["blocks"]:
            text = (block.get("text") or {}).get("text", "")
            if block["type"] == "section" and text.startswith("```"):
                out.append(text[3:-3])
    joined = "\n".join(out)
    return joined.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


async def test_slack_bibtex_and_ris_come_as_code_blocks_that_parse(
    adapter: SlackAdapter, fake: FakeSlack, demo_bot: PapersBot
) -> None:
    slack = adapter
    demo_bot.add_papers([HOSTILE])
    papers = first_arxiv_papers(demo_bot, 3)
    for n, paper in enumerate([*papers, HOSTILE]):
        await slack_command(slack, fake, f"save {paper.id}", f"s{n}")
    await slack_command(slack, fake, "saved --bibtex", "bib")
    await fake.wait_for(lambda: len(fake.responses_to("bib")) >= 2)
    payloads = [r.payload for r in fake.responses_to("bib")]
    assert all(p["response_type"] == "ephemeral" for p in payloads)
    assert all(block_kit_problems(p["blocks"]) == [] for p in payloads)
    assert "BibTeX for 4 papers" in all_text(payloads[0]["blocks"])
    assert "`reading-list.bib`" in all_text(payloads[1]["blocks"])
    library = parse_bibtex(code_blocks(payloads[1:]))
    assert {fields(e)["eprint"] for e in library.entries} == {p.id for p in [*papers, HOSTILE]}
    for paper in papers:
        entry = next(e for e in library.entries if fields(e)["eprint"] == paper.id)
        assert fields(entry)["title"] == paper.title

    await slack_command(slack, fake, "saved --export", "ris")
    await fake.wait_for(lambda: len(fake.responses_to("ris")) >= 2)
    records = rispy.loads(code_blocks([r.payload for r in fake.responses_to("ris")][1:]))
    assert sorted(r["accession_number"] for r in records) == sorted(
        f"arXiv:{p.id}" for p in [*papers, HOSTILE]
    )


def test_slack_file_too_long_for_replies_is_cut_and_says_so() -> None:
    from adapters.slack.render import FILE_MESSAGES, render
    from bot.replies import Attachment

    text = "\n".join(f"line {n} " + "x" * 80 for n in range(2000))
    messages = render(Reply(text="Here.", attachment=Attachment("big.ris", "text/plain", text)))
    assert len(messages) == 1 + FILE_MESSAGES
    for message in messages:
        assert block_kit_problems(message["blocks"]) == []
    assert "more lines of `big.ris` do not fit in Slack replies" in all_text(messages[-1]["blocks"])
    fenced = render(Reply(attachment=Attachment("x.bib", "text/plain", "a ``` b & <c>")))
    assert fenced[-1]["blocks"][1]["text"]["text"] == "```a ``\u200b` b &amp; &lt;c&gt;```"
