"""The modal forms: subscribe to a topic, and pick when the digest comes.

Opened from the App Home tab (``views.open``), they only collect values: on
``view_submission`` the adapter runs the same ``subscribe`` / ``schedule`` command through
the core as a typed command would run (so validation and wording are shared), and a
refusal comes back as a one-line error under the field (``response_action: errors``).

The subscribe form counts what the topic typed so far would match (the input dispatches
an action as the person types; the adapter answers with ``views.update`` and a line from
:func:`bot.preview.describe_count`). The schedule form has a time picker and a zone
select: Slack allows 100 options in a select, so the zones are a curated list in groups
(the zones people name most, and the one already set), not all ~600.
"""

from __future__ import annotations

from typing import Any

from adapters.slack.home import metadata
from adapters.slack.render import fit, plain
from bot.handlers.settings import COMMON_ZONES, ZONE_ABBREVIATIONS, timezones

CALLBACK_SUBSCRIBE = "papers_form_subscribe"
CALLBACK_SCHEDULE = "papers_form_schedule"
TOPIC_BLOCK = "topic"
TOPIC_ACTION = "papers_form_topic"  # also the action the input dispatches while typing
COUNT_BLOCK = "count"
TIME_BLOCK = "time"
TIME_ACTION = "papers_form_time"
ZONE_BLOCK = "zone"
ZONE_ACTION = "papers_form_zone"
MAX_TOPIC = 500  # the topic option's own limit (bot.handlers.common.TOPIC)
MAX_OPTIONS = 100  # Slack: options in one select, across its groups
MAX_ERROR = 300

# Zones offered in the schedule form, by region (the abbreviations' usual zones are added).
ZONE_REGIONS: dict[str, tuple[str, ...]] = {
    "Americas": (
        "Pacific/Honolulu",
        "America/Anchorage",
        "America/Los_Angeles",
        "America/Vancouver",
        "America/Phoenix",
        "America/Denver",
        "America/Chicago",
        "America/Mexico_City",
        "America/New_York",
        "America/Toronto",
        "America/Bogota",
        "America/Lima",
        "America/Halifax",
        "America/Santiago",
        "America/Sao_Paulo",
        "America/Argentina/Buenos_Aires",
    ),
    "Europe and Africa": (
        "Europe/London",
        "Europe/Dublin",
        "Europe/Lisbon",
        "Europe/Paris",
        "Europe/Berlin",
        "Europe/Amsterdam",
        "Europe/Madrid",
        "Europe/Rome",
        "Europe/Zurich",
        "Europe/Vienna",
        "Europe/Prague",
        "Europe/Warsaw",
        "Europe/Stockholm",
        "Europe/Helsinki",
        "Europe/Athens",
        "Europe/Istanbul",
        "Europe/Kyiv",
        "Europe/Moscow",
        "Africa/Lagos",
        "Africa/Cairo",
        "Africa/Nairobi",
        "Africa/Johannesburg",
    ),
    "Asia and Pacific": (
        "Asia/Dubai",
        "Asia/Tehran",
        "Asia/Karachi",
        "Asia/Kolkata",
        "Asia/Dhaka",
        "Asia/Bangkok",
        "Asia/Jakarta",
        "Asia/Singapore",
        "Asia/Shanghai",
        "Asia/Hong_Kong",
        "Asia/Taipei",
        "Asia/Seoul",
        "Asia/Tokyo",
        "Australia/Perth",
        "Australia/Adelaide",
        "Australia/Brisbane",
        "Australia/Sydney",
        "Pacific/Auckland",
    ),
}

Block = dict[str, Any]


def _modal(title: str, submit: str, callback_id: str, channel: str, blocks: list[Block]) -> Block:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, 24),
        "submit": plain(submit, 24),
        "close": plain("Cancel", 24),
        "private_metadata": metadata(channel),
        "blocks": blocks,
    }


def subscribe_view(channel: str, topic: str = "", count_line: str | None = None) -> Block:
    """The subscribe form for the DM ``channel``, with the live count when known."""
    element: Block = {
        "type": "plain_text_input",
        "action_id": TOPIC_ACTION,
        "max_length": MAX_TOPIC,
        "placeholder": plain('e.g. "speech recognition" or diffusion -video', 150),
        "dispatch_action_config": {"trigger_actions_on": ["on_character_entered"]},
    }
    if topic:
        element["initial_value"] = topic[:MAX_TOPIC]
    count = count_line or "Type a topic to see how many recent papers it matches."
    return _modal(
        "Subscribe to a topic",
        "Subscribe",
        CALLBACK_SUBSCRIBE,
        channel,
        [
            {
                "type": "input",
                "block_id": TOPIC_BLOCK,
                "dispatch_action": True,
                "label": plain("Topic", 2000),
                "hint": plain('Words, "a phrase", -exclusions or cat:cs.CL, as in search.', 2000),
                "element": element,
            },
            {
                "type": "context",
                "block_id": COUNT_BLOCK,
                "elements": [{"type": "mrkdwn", "text": fit(count, 2000)}],
            },
        ],
    )


def zone_groups(current: str | None) -> list[Block]:
    """The zone select's option groups: the zone set now first, then by region."""
    known = set(timezones())
    regions: dict[str, list[str]] = {"Common": []}
    for zone in [*COMMON_ZONES, *(z for zones in ZONE_ABBREVIATIONS.values() for z in zones)]:
        if zone not in regions["Common"]:
            regions["Common"].append(zone)
    taken = set(regions["Common"])
    for region, zones in ZONE_REGIONS.items():
        regions[region] = [z for z in zones if z not in taken]
        taken.update(zones)
    if current and current not in taken:
        regions = {"Now": [current], **regions}
    groups, room = [], MAX_OPTIONS
    for label, zones in regions.items():
        zones = [z for z in zones if z in known or z == current][:room]
        if not zones:
            continue
        room -= len(zones)
        groups.append(
            {
                "label": plain(label, 75),
                "options": [{"text": plain(z.replace("_", " "), 75), "value": z} for z in zones],
            }
        )
    return groups


def schedule_view(channel: str, post_time: str, zone: str) -> Block:
    """The schedule form for the DM ``channel``, filled with its current time and zone."""
    chosen = {"text": plain(zone.replace("_", " "), 75), "value": zone}
    return _modal(
        "Daily digest time",
        "Save",
        CALLBACK_SCHEDULE,
        channel,
        [
            {
                "type": "input",
                "block_id": TIME_BLOCK,
                "label": plain("Time", 2000),
                "element": {
                    "type": "timepicker",
                    "action_id": TIME_ACTION,
                    "initial_time": post_time,
                },
            },
            {
                "type": "input",
                "block_id": ZONE_BLOCK,
                "label": plain("Time zone", 2000),
                "element": {
                    "type": "static_select",
                    "action_id": ZONE_ACTION,
                    "option_groups": zone_groups(zone),
                    "initial_option": chosen,
                },
            },
        ],
    )


def _values(view: Block) -> dict[str, Any]:
    return ((view.get("state") or {}).get("values")) or {}


def submitted_topic(view: Block) -> str:
    """The topic typed into the subscribe form."""
    return str((_values(view).get(TOPIC_BLOCK, {}).get(TOPIC_ACTION) or {}).get("value") or "")


def submitted_schedule(view: Block) -> tuple[str, str]:
    """The time and the zone chosen in the schedule form (empty when missing)."""
    values = _values(view)
    time = (values.get(TIME_BLOCK, {}).get(TIME_ACTION) or {}).get("selected_time") or ""
    option = (values.get(ZONE_BLOCK, {}).get(ZONE_ACTION) or {}).get("selected_option") or {}
    return str(time), str(option.get("value") or "")


def first_line(text: str) -> str:
    """The first line of ``text`` that is not blank (a core reply without its usage)."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def error_line(text: str) -> str:
    """A core refusal as one line under a field (the usage line is left out)."""
    line = first_line(text) or "That did not work."
    return line if len(line) <= MAX_ERROR else line[: MAX_ERROR - 1] + "…"
