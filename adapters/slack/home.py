"""The App Home tab: one person's own papers, published with ``views.publish``.

A direct conversation with the bot is that person's personal channel (its record has
the DM's id): the Home tab shows its schedule, its topics and the person's reading list,
with buttons that open the forms (:mod:`adapters.slack.forms`) or run a command in that
DM through the core, as if typed in the Messages tab. :func:`gather` reads the neutral
data (a worker thread: it touches the store); :func:`home_view` only lays it out, and
escapes everything people or upstream wrote.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from adapters.slack.render import MAX_SECTION_TEXT, clip, escape, fit, plain, safe_url, section
from adapters.slack.settings import PLATFORM_NAME as PLATFORM
from bot.handlers.common import WEEKDAY_NAMES
from bot.models import Channel, Paper, Topic, channel_key, user_key
from bot.store import Store

ACTION_FORM = "papers_home_form"  # opens a form; the value names it: subscribe, schedule
ACTION_RUN = "papers_home_run"  # runs the command in its value in the person's DM
FORM_SUBSCRIBE = "subscribe"
FORM_SCHEDULE = "schedule"
SAVED_SHOWN = 25  # papers listed on the tab (a home view holds at most 100 blocks)
MAX_VIEW_BLOCKS = 100
MAX_NOTICE = 500

Block = dict[str, Any]


@dataclass(slots=True)
class HomeData:
    """What the Home tab shows, read from the store."""

    channel: Channel | None  # the DM's record; None until a setting was made there
    topics: list[Topic] = field(default_factory=list)
    saved: list[tuple[str, Paper | None]] = field(default_factory=list)  # (id, paper)
    saved_total: int = 0
    notice: str | None = None  # what the last button or form did, shown on top


def gather(store: Store, team_id: str, user_id: str, dm_channel: str) -> HomeData:
    """The person's personal channel (their DM with the bot) and reading list."""
    key = channel_key(PLATFORM, team_id, dm_channel)
    data = HomeData(store.get_channel(key), store.topics(key))
    saved = store.saved_papers(user_key(PLATFORM, team_id, user_id))  # newest first
    data.saved_total = len(saved)
    data.saved = [(s.paper_id, store.get_paper(s.paper_id)) for s in saved[:SAVED_SHOWN]]
    return data


def metadata(dm_channel: str) -> str:
    """The view's ``private_metadata``: the DM its buttons and forms act on."""
    return json.dumps({"channel": dm_channel})


def read_metadata(view: dict[str, Any] | None) -> dict[str, str]:
    """A view's ``private_metadata`` as we wrote it (empty if it is not ours)."""
    try:
        found = json.loads((view or {}).get("private_metadata") or "{}")
    except ValueError:
        return {}
    return {k: v for k, v in found.items() if isinstance(v, str)} if isinstance(found, dict) else {}


def _button(label: str, action_id: str, value: str, *, primary: bool = False) -> Block:
    button: Block = {
        "type": "button",
        "text": plain(label, 75),
        "action_id": action_id,
        "value": value[:2000],
    }
    if primary:
        button["style"] = "primary"
    return button


def schedule_lines(channel: Channel | None) -> list[str]:
    """The personal digest's schedule, as the tab says it (mrkdwn, escaped)."""
    if channel is None:
        return [
            "You have no personal digest yet. Subscribe to a topic or pick a time, and "
            "your papers arrive here, in the *Messages* tab."
        ]
    zone = escape(channel.timezone)
    daily = f"Daily digest at *{channel.post_time}* {zone}" if channel.daily else "Daily digest off"
    lines = [daily + "."]
    if channel.weekly_day is not None and 0 <= channel.weekly_day < len(WEEKDAY_NAMES):
        day = WEEKDAY_NAMES[channel.weekly_day]
        lines.append(f"Weekly digest every *{day}* at *{channel.weekly_time}* {zone}.")
    if channel.paused:
        why = fit(channel.pause_reason or "paused", 300)
        lines.append(f"⏸ Paused ({why}).")
    return lines


def home_view(data: HomeData, dm_channel: str) -> dict[str, Any]:
    """The Home tab for ``data``: schedule, topics, reading list, and their buttons."""
    blocks: list[Block] = [{"type": "header", "text": plain("Your papers", 150)}]
    if data.notice:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": fit(data.notice, MAX_NOTICE)}],
            }
        )
    blocks.append(section("\n".join(schedule_lines(data.channel))))
    buttons = [
        _button("Subscribe…", f"{ACTION_FORM}_{FORM_SUBSCRIBE}", FORM_SUBSCRIBE, primary=True),
        _button("Schedule…", f"{ACTION_FORM}_{FORM_SCHEDULE}", FORM_SCHEDULE),
    ]
    if data.channel is not None and data.channel.paused:
        buttons.append(_button("Resume", f"{ACTION_RUN}_resume", "resume"))
    blocks.append({"type": "actions", "elements": buttons})

    blocks += [{"type": "divider"}, section("*Your topics*")]
    if not data.topics:
        blocks.append(section("None yet: without topics your digest carries the top papers."))
    for n, topic in enumerate(data.topics):
        blocks.append(
            section(
                f"{topic.id}. {fit(topic.query, 1000)}",
                _button("Unsubscribe", f"{ACTION_RUN}_topic_{n}", f"unsubscribe {topic.id}"),
            )
        )

    blocks += [{"type": "divider"}]
    if not data.saved:
        blocks.append(
            section("*Saved papers*\nNothing saved yet: press *Save* on any paper to keep it here.")
        )
    else:
        blocks.append(section(f"*Saved papers* ({data.saved_total})"))
        for n, (paper_id, paper) in enumerate(data.saved):
            blocks.append(
                section(
                    saved_line(paper_id, paper),
                    _button("Unsave", f"{ACTION_RUN}_unsave_{n}", f"unsave {paper_id}"),
                )
            )
        more = data.saved_total - len(data.saved)
        if more > 0:
            blocks.append(
                {
                    "type": "context",
                    "elements": [
                        {
                            "type": "mrkdwn",
                            "text": f"and {more} more: `/papers saved` lists them all.",
                        }
                    ],
                }
            )
    return {
        "type": "home",
        "callback_id": "papers_home",
        "private_metadata": metadata(dm_channel),
        "blocks": blocks[:MAX_VIEW_BLOCKS],
    }


def saved_line(paper_id: str, paper: Paper | None) -> str:
    """A saved paper as one linked line (its id alone when the corpus lost it)."""
    if paper is None:
        return f"`{fit(paper_id, 100)}`"
    title = fit(paper.title, 300)
    url = safe_url(paper.open_url)
    linked = f"<{url}|{title}>" if url else title
    return clip(f"{linked} · `{fit(paper.id, 100)}`", MAX_SECTION_TEXT)
