"""Pictures of a digest and a search reply as Slack and Discord show them, in docs/:
cards-slack.png, cards-discord.png (the demo day's digest) and search-slack.png,
search-discord.png (the first page of ``/papers search diffusion`` over the demo corpus).

Why: a user deciding whether to install the bot wants to see its cards, and a picture drawn
by hand drifts from what the renderers send. This script takes the real renderer output for
the demo corpus's recorded day and for a search of that corpus (the Block Kit JSON of
:mod:`adapters.slack.render`, the Components V2 layout :mod:`adapters.discord.render` sends through discord.py), turns that
JSON into a plain HTML approximation of each client's look, and screenshots it with headless
Chromium (Debian's ``chromium`` package). It is an approximation: fonts, spacing and colours
are close to the clients', images are grey boxes (nothing is fetched), and only the block
and component types our renderers use are drawn.

Run from the repository root: ``python scripts/render_card_pictures.py [--out docs]``.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import adapters.discord.render as discord_render  # noqa: E402
import adapters.slack.render as slack_render  # noqa: E402
import bot.app  # noqa: E402, F401  (registers the commands the cards' buttons run)
from bot.answers import digest_reply  # noqa: E402
from bot.app import PapersBot  # noqa: E402
from bot.cli import demo_papers, import_papers  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.digest import Digest, rank_key  # noqa: E402
from bot.models import Paper  # noqa: E402
from bot.replies import PaperCard, Reply  # noqa: E402
from bot.search import SearchIndex  # noqa: E402
from bot.store import Store  # noqa: E402

DEMO_CORPUS = ROOT / "bot" / "data" / "demo_corpus.json"
DEMO_DAY = "2026-06-12"  # the recorded day the demo replays
CARDS_SHOWN = 3
SEARCH_QUERY = "diffusion"  # the search reply drawn: its first page
WIDTH = 760


def demo_digest(cards: int = CARDS_SHOWN) -> Reply:
    """The demo day's digest post, as the scheduler would post it (top ``cards`` papers)."""
    records = json.loads(DEMO_CORPUS.read_text(encoding="utf-8"))
    papers = [Paper(**r) for r in records if (r.get("daily_date") or "").startswith(DEMO_DAY)]
    papers.sort(key=rank_key)
    ranked = [PaperCard(p, rank=n) for n, p in enumerate(papers[:cards], start=1)]
    return digest_reply(Digest(channel="demo", day=DEMO_DAY, cards=ranked))


def demo_search(query: str = SEARCH_QUERY) -> Reply:
    """The first page of ``/papers search query`` as the bot answers it over the demo corpus
    (a throwaway data folder, the default config)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp))
        papers_bot = PapersBot(load_config(None, env={}), store, SearchIndex(Path(tmp) / "index"))
        import_papers(papers_bot, demo_papers())
        return papers_bot.search(query)


# ---- Slack -------------------------------------------------------------------------------

_SLACK_LINK_RE = re.compile(r"<(https?://[^|>]+)\|([^>]*)>")


def _slack_text(text: str) -> str:
    """Slack-escaped text (``&lt;`` ``&gt;`` ``&amp;``) as HTML-escaped text."""
    plain = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return html.escape(plain, quote=False)


def slack_mrkdwn(text: str) -> str:
    """Slack mrkdwn (as our renderer writes it) to HTML: links, *bold*, _italic_, lines."""
    parts = _SLACK_LINK_RE.split(text)
    out = ""
    for n in range(0, len(parts), 3):
        out += _slack_text(parts[n])
        if n + 2 < len(parts):
            url, label = html.escape(parts[n + 1]), _slack_text(parts[n + 2])
            out += f'<a href="{url}">{label}</a>'
    out = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<b>\1</b>", out)
    out = re.sub(r"(?<![\w_])_(?!\s)(.+?)(?<!\s)_(?![\w_])", r"<i>\1</i>", out)
    return out.replace("\n", "<br>")


def _slack_element(element: dict[str, Any]) -> str:
    kind = element.get("type")
    if kind == "button":
        label = html.escape(element["text"]["text"])
        style = " primary" if element.get("style") == "primary" else ""
        return f'<span class="sbtn{style}">{label}</span>'
    if kind == "overflow":
        return '<span class="sbtn more">⋯</span>'
    if kind == "image":
        return '<span class="img">image</span>'
    if kind in ("mrkdwn", "plain_text"):
        return f"<span>{slack_mrkdwn(element.get('text', ''))}</span>"
    return ""


def slack_block(block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind == "header":
        return f'<div class="sheader">{html.escape(block["text"]["text"])}</div>'
    if kind == "section":
        text = slack_mrkdwn(block.get("text", {}).get("text", ""))
        accessory = block.get("accessory")
        side = f'<div class="acc">{_slack_element(accessory)}</div>' if accessory else ""
        return f'<div class="ssection"><div class="stext">{text}</div>{side}</div>'
    if kind == "context":
        parts = " ".join(_slack_element(e) for e in block.get("elements", []))
        return f'<div class="scontext">{parts}</div>'
    if kind == "actions":
        parts = "".join(_slack_element(e) for e in block.get("elements", []))
        return f'<div class="sactions">{parts}</div>'
    if kind == "divider":
        return "<hr>"
    return ""


SLACK_CSS = """
body{margin:0;background:#fff;font:15px/1.46 Lato,'Helvetica Neue',Arial,sans-serif;color:#1d1c1d}
.msg{display:flex;gap:8px;padding:12px 20px}
.avatar{width:36px;height:36px;border-radius:6px;background:#4a154b;color:#fff;
 font-weight:700;display:flex;align-items:center;justify-content:center;flex:none}
.name{font-weight:900}.app{font-size:10px;background:#ddd;border-radius:2px;padding:1px 3px;
 margin-left:4px;color:#555;vertical-align:2px}.time{color:#616061;font-size:12px;margin-left:6px}
.sheader{font-size:18px;font-weight:900;margin:4px 0 6px}
.ssection{display:flex;gap:12px;margin:6px 0}.stext{flex:1}
a{color:#1264a3;text-decoration:none}
.scontext{color:#616061;font-size:13px;margin:2px 0 6px}
.sactions{display:flex;gap:8px;margin:4px 0 14px}
.sbtn{border:1px solid #bbb;border-radius:4px;padding:3px 12px;font-weight:700;font-size:13px}
.sbtn.primary{background:#007a5a;color:#fff;border-color:#007a5a}.sbtn.more{padding:3px 9px}
.img{display:inline-flex;width:88px;height:88px;border-radius:6px;background:#ccc;
 color:#666;align-items:center;justify-content:center;font-size:12px}
hr{border:0;border-top:1px solid #ddd}
"""


def chat_page(css: str, time: str, messages: list[str]) -> str:
    """A page of messages from the bot, each its rendered content, as both apps show them."""
    body = "".join(
        '<div class="msg"><div class="avatar">P</div><div style="flex:1">'
        '<div><span class="name">papers-bot</span><span class="app">APP</span>'
        f'<span class="time">{time}</span></div>{content}</div></div>'
        for content in messages
    )
    return (
        f"<html><head><meta charset='utf-8'><style>{css}</style></head><body>{body}</body></html>"
    )


def slack_html(messages: list[dict[str, Any]]) -> str:
    return chat_page(
        SLACK_CSS,
        "9:00 AM",
        ["".join(slack_block(b) for b in m.get("blocks", [])) for m in messages],
    )


# ---- Discord -----------------------------------------------------------------------------

_DISCORD_LINK_RE = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")


def discord_markdown(text: str) -> str:
    """Discord Markdown (as our renderer writes it) to HTML: links, **bold**, -# small, escapes."""
    out = html.escape(text, quote=False)
    out = _DISCORD_LINK_RE.sub(r'<a href="\2">\1</a>', out)
    out = re.sub(r"(?<!\\)\*\*(.+?)(?<!\\)\*\*", r"<b>\1</b>", out)
    out = re.sub(r"^-# (.*)$", r'<small class="sub">\1</small>', out, flags=re.MULTILINE)
    out = re.sub(r"^### (.*)$", r'<span class="h3">\1</span>', out, flags=re.MULTILINE)
    out = re.sub(r"\\([\\*_~|`\[\]#>-])", r"\1", out)  # shown literally, as Discord shows it
    return out.replace("\u200b", "").replace("\n", "<br>")


def discord_component(item: dict[str, Any]) -> str:
    """One Components V2 component (and what it holds) as HTML."""
    kind = item.get("type")
    inner = "".join(discord_component(c) for c in item.get("components", []))
    if kind == 10:  # text display
        return f'<div class="text">{discord_markdown(item.get("content", ""))}</div>'
    if kind == 17:  # container: a card
        colour = f"#{item.get('accent_color') or 0x5865F2:06x}"
        return f'<div class="embed" style="border-left-color:{colour}"><div class="ebody">{inner}</div></div>'
    if kind == 9:  # section: text with a thumbnail beside it
        thumb = '<span class="img">image</span>' if item.get("accessory") else ""
        return f'<div class="section"><div style="flex:1">{inner}</div>{thumb}</div>'
    if kind == 1:  # action row
        buttons = []
        for button in item.get("components", []):
            if button.get("type") == 3:  # a string select: its placeholder and an arrow
                label = html.escape(button.get("placeholder", ""))
                buttons.append(f'<span class="dselect">{label}<span>⌄</span></span>')
                continue
            style = {1: "dbtn primary", 5: "dbtn link"}.get(button.get("style", 2), "dbtn")
            buttons.append(f'<span class="{style}">{html.escape(button.get("label", ""))}</span>')
        return f'<div class="drow">{"".join(buttons)}</div>'
    return inner


DISCORD_CSS = """
body{margin:0;background:#313338;color:#dbdee1;font:15px/1.375 'gg sans','Noto Sans',
 'Helvetica Neue',Arial,sans-serif}
.msg{display:flex;gap:16px;padding:10px 16px}
.avatar{width:40px;height:40px;border-radius:50%;background:#5865f2;color:#fff;font-weight:700;
 display:flex;align-items:center;justify-content:center;flex:none}
.name{color:#f2f3f5;font-weight:600}.app{font-size:10px;background:#5865f2;color:#fff;
 border-radius:3px;padding:1px 4px;margin-left:4px;vertical-align:2px}
.time{color:#949ba4;font-size:12px;margin-left:6px}
a{color:#00a8fc;text-decoration:none}
.embed{display:flex;gap:16px;background:#2b2d31;border-left:4px solid;border-radius:4px;
 padding:8px 16px 12px 12px;margin:6px 0;max-width:520px}
.ebody{flex:1}.etitle{font-weight:600;margin:4px 0}.etitle a{color:#00a8fc}
.edesc{font-size:14px}.efoot{font-size:12px;color:#b5bac1;margin-top:8px}
.sub{color:#949ba4;font-size:13px}
.drow{display:flex;gap:8px;margin:6px 0}
.dselect{display:flex;justify-content:space-between;width:100%;background:#1e1f22;
 border:1px solid #1e1f22;border-radius:4px;padding:8px 10px;color:#949ba4;font-size:14px}
.dbtn{background:#4e5058;color:#fff;border-radius:3px;padding:2px 16px;font-size:14px;
 line-height:28px;font-weight:500}
.dbtn.primary{background:#5865f2}
.section{display:flex;gap:16px}.text{font-size:14px;margin:2px 0}
.h3{font-size:16px;font-weight:600;color:#f2f3f5}
.img{display:inline-flex;width:80px;height:80px;border-radius:4px;background:#4e5058;
 color:#aaa;align-items:center;justify-content:center;font-size:12px;flex:none;margin-top:8px}
"""


def discord_payloads(reply: Reply) -> list[dict[str, Any]]:
    """The JSON discord.py sends for each message of ``reply``: a Components V2 layout
    (flags and components; no content, no embeds)."""
    out = []
    for message in discord_render.render(reply, discord_render.CommandIds()):
        view = discord_render.build_view(message)
        out.append({"flags": 1 << 15, "components": view.to_components()})
    return out


def discord_html(payloads: list[dict[str, Any]]) -> str:
    return chat_page(
        DISCORD_CSS,
        "Today at 09:00",
        ["".join(discord_component(c) for c in p.get("components", [])) for p in payloads],
    )


# ---- screenshots -------------------------------------------------------------------------


def screenshot(page: str, out: Path, height: int) -> None:
    """``page`` (HTML) as a PNG of ``WIDTH`` × ``height`` pixels, by headless Chromium."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium not found: apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "page.html"
        source.write_text(page, encoding="utf-8")
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={tmp}/profile",
                f"--screenshot={out}",
                f"--window-size={WIDTH},{height}",
                source.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--html", action="store_true", help="also keep the HTML pages")
    args = parser.parse_args()
    digest, search = demo_digest(), demo_search()
    pages = {  # file name: (page, height in pixels)
        "cards-slack": (slack_html(slack_render.render(digest)), 660),
        "cards-discord": (discord_html(discord_payloads(digest)), 730),
        "search-slack": (slack_html(slack_render.render(search)), 900),
        "search-discord": (discord_html(discord_payloads(search)), 1060),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (page, height) in pages.items():
        if args.html:
            (args.out / f"{name}.html").write_text(page, encoding="utf-8")
        target = args.out / f"{name}.png"
        screenshot(page, target, height)
        print(f"{target} ({target.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
