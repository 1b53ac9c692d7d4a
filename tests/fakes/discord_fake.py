"""A local fake of Discord's REST API and gateway, good enough for the real discord.py.

Start it in a test (``await fake.start()``), point discord.py at ``fake.api_base_url`` and
``fake.gateway_url`` (``[discord] api_base_url`` / ``gateway_url``), and the real client
logs in, connects, receives READY and a GUILD_CREATE with one text channel, and answers
interactions the test dispatches with :meth:`FakeDiscord.dispatch_interaction`. Every REST
request is recorded in :attr:`FakeDiscord.requests` so tests assert on what reached
"Discord". Responses use ``Content-Type: application/json`` exactly, as discord.py expects.

Failures can be injected per channel (``fake.channel_errors[channel_id] = (403, 50013,
"Missing Permissions")``).

Threads: ``POST /channels/{channel_id}/messages/{message_id}/threads`` starts a thread on a
message; like Discord, the thread channel's id is the message's id, a second start on the
same message fails with code 160004, and messages go to the thread with the usual
``POST /channels/{thread_id}/messages``. Started threads are kept in :attr:`FakeDiscord.threads`.

Direct messages: ``POST /users/@me/channels`` opens (or finds) the DM channel with a user, one
id per user as on Discord (kept in :attr:`FakeDiscord.dms`); :meth:`FakeDiscord.dm_interaction`
is ``/papers`` typed in the DM with the bot (no ``guild_id``, the user in ``user``), and
``install="user"`` on :meth:`FakeDiscord.command_interaction` is ``/papers`` used through a user
install in a server the bot is not in (``authorizing_integration_owners`` without a guild).

Guilds: the bot is in :attr:`FakeDiscord.guilds` (one at the start); :meth:`FakeDiscord.join_guild`
adds one after READY as Discord does when the bot is invited (GUILD_CREATE without
``unavailable``); :meth:`FakeDiscord.outage` makes a guild unavailable and available again
(GUILD_DELETE ``unavailable``, then GUILD_CREATE ``unavailable: false``);
:meth:`FakeDiscord.reconnect` asks the client to reconnect and resume (op 7) or, with
``resume=False``, invalidates the session (op 9) so it identifies again and gets READY and a
GUILD_CREATE per guild once more.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

APP_ID = 900000000000000001
BOT_USER_ID = 900000000000000002
GUILD_ID = 900000000000000100
CHANNEL_ID = 900000000000000200
USER_ID = 900000000000000300
DM_CHANNEL_ID = 900000000000000400  # the first DM channel the fake opens (alice's, usually)
SEND_MESSAGES = 1 << 11
VIEW_CHANNEL = 1 << 10
MANAGE_CHANNELS = 1 << 4
# View channel, send messages, embed links, read history: a plain member without Manage Channels.
MEMBER_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 16)
EPHEMERAL_FLAG = 1 << 6
COMPONENTS_V2_FLAG = 1 << 15

# Component types (https://discord.com/developers/docs/components/reference).
ACTION_ROW, BUTTON, SECTION, TEXT_DISPLAY, THUMBNAIL, SEPARATOR, CONTAINER = 1, 2, 9, 10, 11, 14, 17
STRING_SELECT, FILE = 3, 13
_TOP_LEVEL_V2 = {ACTION_ROW, SECTION, TEXT_DISPLAY, SEPARATOR, CONTAINER, FILE}


def _walk(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every component, nested ones (a container's, a row's, a section's accessory) too."""
    out: list[dict[str, Any]] = []
    for c in components:
        out.append(c)
        out.extend(_walk(c.get("components") or []))
        if isinstance(c.get("accessory"), dict):
            out.append(c["accessory"])
    return out


def walk_components(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Every component of a message payload, nested ones included."""
    return _walk(payload.get("components") or [])


def v2_problems(payload: dict[str, Any]) -> list[str]:
    """What Discord would refuse in a message payload, as it documents Components V2.

    Without the IS_COMPONENTS_V2 flag only action rows of buttons are checked; with it:
    no content, no embeds, known component types in their places, 40 components at most
    (nested counted), 4000 characters over all text displays, custom ids of 100
    characters at most, 5 buttons a row.
    """
    problems: list[str] = []
    components = payload.get("components") or []
    everything = _walk(components)
    for c in everything:
        if c.get("type") == ACTION_ROW and len(c.get("components") or []) > 5:
            problems.append("more than 5 buttons in a row")
        inner_types = [i.get("type") for i in c.get("components") or []]
        if c.get("type") == ACTION_ROW and STRING_SELECT in inner_types and len(inner_types) > 1:
            problems.append("a select must be alone in its row")
        if c.get("type") == STRING_SELECT:
            options = c.get("options") or []
            values = [o.get("value", "") for o in options]
            if not 1 <= len(options) <= 25 or len(values) != len(set(values)):
                problems.append("a select needs 1 to 25 options with distinct values")
            if any(len(v) > 100 for v in values) or len(c.get("custom_id", "")) > 100:
                problems.append("a select's custom_id or option value over 100 characters")
        if c.get("type") == FILE and not str((c.get("file") or {}).get("url", "")).startswith(
            "attachment://"
        ):
            problems.append("a file component must point to an attachment:// upload")
        if c.get("type") == BUTTON and "url" not in c and len(c.get("custom_id", "")) > 100:
            problems.append("custom_id over 100 characters")
        if c.get("type") == BUTTON and len(c.get("label", "")) > 80:
            problems.append("button label over 80 characters")
    if not (payload.get("flags") or 0) & COMPONENTS_V2_FLAG:
        if any(c.get("type") != ACTION_ROW for c in components):
            problems.append("V2 components without the IS_COMPONENTS_V2 flag")
        return problems
    if payload.get("content"):
        problems.append("content with the IS_COMPONENTS_V2 flag")
    if payload.get("embeds"):
        problems.append("embeds with the IS_COMPONENTS_V2 flag")
    if not components:
        problems.append("a V2 message without components")
    for c in components:
        if c.get("type") not in _TOP_LEVEL_V2:
            problems.append(f"component type {c.get('type')} at the top level")
        if c.get("type") == CONTAINER:
            for inner in c.get("components") or []:
                if inner.get("type") not in {ACTION_ROW, SECTION, TEXT_DISPLAY, SEPARATOR, FILE}:
                    problems.append(f"component type {inner.get('type')} in a container")
    for c in everything:
        if c.get("type") == SECTION:
            texts = c.get("components") or []
            if not 1 <= len(texts) <= 3 or any(t.get("type") != TEXT_DISPLAY for t in texts):
                problems.append("a section needs 1 to 3 text displays")
            if (c.get("accessory") or {}).get("type") not in (BUTTON, THUMBNAIL):
                problems.append("a section's accessory must be a button or a thumbnail")
        if c.get("type") == THUMBNAIL and not (c.get("media") or {}).get("url"):
            problems.append("a thumbnail without a media url")
    ids = [
        c["custom_id"]
        for c in everything
        if c.get("type") in (BUTTON, STRING_SELECT) and "custom_id" in c
    ]
    if len(ids) != len(set(ids)):
        problems.append("custom ids repeat within the message")
    if len(everything) > 40:
        problems.append(f"{len(everything)} components (at most 40)")
    if sum(len(c.get("content", "")) for c in everything if c.get("type") == TEXT_DISPLAY) > 4000:
        problems.append("over 4000 characters of text")
    return problems


def v2_texts(payload: dict[str, Any]) -> list[str]:
    """The top-level text displays of a V2 message (its text on top, its footer)."""
    return [c["content"] for c in payload.get("components") or [] if c["type"] == TEXT_DISPLAY]


def v2_text(payload: dict[str, Any]) -> str:
    """What a message says outside its cards: its content, or its top-level texts."""
    return payload.get("content") or "\n".join(v2_texts(payload))


@dataclass
class Card:
    """One container of a V2 message as the user sees it."""

    text: str  # the container's text display(s)
    thumbnail: str | None
    buttons: list[dict[str, Any]]
    menu: dict[str, Any] | None = None  # its "⋯" select, if any

    @property
    def menu_options(self) -> dict[str, str]:
        """The "⋯" menu's entries: label -> value (the custom id a choice runs)."""
        return {o["label"]: o["value"] for o in (self.menu or {}).get("options") or []}

    @property
    def title(self) -> str:
        """The first line without its heading and link: ``### [1. Title](url)`` -> ``1. Title``."""
        first = self.text.split("\n", 1)[0].removeprefix("### ")
        if first.startswith("[") and "](" in first:
            first = first[1 : first.rindex("](")]
        return first

    @property
    def url(self) -> str | None:
        """Where the title links to, if it does."""
        first = self.text.split("\n", 1)[0]
        return first[first.rindex("](") + 2 : -1] if first.endswith(")") and "](" in first else None

    @property
    def description(self) -> str:
        return self.text.split("\n", 1)[1] if "\n" in self.text else ""


def v2_cards(payload: dict[str, Any]) -> list[Card]:
    """A V2 message's containers, one per paper card."""
    cards = []
    for c in payload.get("components") or []:
        if c["type"] != CONTAINER:
            continue
        texts, thumbnail, buttons, menu = [], None, [], None
        for inner in _walk(c.get("components") or []):
            if inner["type"] == TEXT_DISPLAY:
                texts.append(inner["content"])
            elif inner["type"] == THUMBNAIL:
                thumbnail = inner["media"]["url"]
            elif inner["type"] == BUTTON:
                buttons.append(inner)
            elif inner["type"] == STRING_SELECT:
                menu = inner
        cards.append(Card("\n".join(texts), thumbnail, buttons, menu))
    return cards


def v2_buttons(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Every button of a message, in order (cards' first, then the bottom row)."""
    return [c for c in _walk(payload.get("components") or []) if c.get("type") == BUTTON]


@dataclass
class Recorded:
    """One REST request as it reached the fake."""

    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    body: Any
    at: float = field(default_factory=time.monotonic)
    # Files uploaded with a multipart request: form field name -> (filename, content type, bytes).
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)

    def message_payload(self) -> dict[str, Any] | None:
        """The message a request creates or edits, whatever route carried it."""
        if not isinstance(self.body, dict):
            return None
        if self.path.endswith("/callback"):
            data = self.body.get("data")
            return data if isinstance(data, dict) and self.body.get("type") in (4, 7) else None
        if self.path.startswith(("/channels/", "/webhooks/")) and self.method in ("POST", "PATCH"):
            return self.body
        return None


def shard_owns(shard: list[int], guild_id: int) -> bool:
    """Whether gateway shard ``[id, count]`` receives ``guild_id``'s events (Discord's rule)."""
    return (guild_id >> 22) % shard[1] == shard[0]


def _missing_uploads(message: dict[str, Any], files: dict[str, tuple[str, str, bytes]]) -> str:
    """The first ``attachment://`` name a file component uses that no upload carries."""
    uploaded = {name for name, _, _ in files.values()}
    for c in _walk(message.get("components") or []):
        url = str((c.get("file") or {}).get("url", "")) if c.get("type") == FILE else ""
        if url.startswith("attachment://") and url.removeprefix("attachment://") not in uploaded:
            return url
    return ""


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(data).encode(), headers={"Content-Type": "application/json"}
    )


def _user(user_id: int, name: str, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "flags": 0,
    }


class FakeDiscord:
    """Discord REST + gateway on 127.0.0.1; one guild with one text channel."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.gateway_frames: list[dict[str, Any]] = []  # what the client sent on the gateway
        self.channel_errors: dict[int, tuple[int, int, str]] = {}
        self.threads: dict[int, dict[str, Any]] = {}  # thread id (= message id) -> channel
        self.dms: dict[int, int] = {}  # user id -> their DM channel with the bot
        self._dm_ids = itertools.count(DM_CHANNEL_ID)
        self.guilds: dict[int, dict[str, Any]] = {GUILD_ID: self.guild()}  # the bot is in these
        self.identified = asyncio.Event()
        self._ids = itertools.count(910000000000000000)
        self._seq = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._shard_of: dict[web.WebSocketResponse, list[int]] = {}  # [shard id, count]
        self._runner: web.AppRunner | None = None
        self._request_event = asyncio.Event()
        self.port = 0

    # ---- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def api_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def next_id(self) -> int:
        return next(self._ids)

    # ---- assertions helpers ---------------------------------------------------------

    def find(self, method: str, path_start: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_start)]

    def message_payloads(self) -> list[dict[str, Any]]:
        return [p for r in self.requests if (p := r.message_payload()) is not None]

    async def wait_for(
        self, predicate: Callable[[Recorded], bool], timeout: float = 5.0
    ) -> Recorded:
        """The first recorded request matching ``predicate``, waiting for it if need be."""
        deadline = time.monotonic() + timeout
        while True:
            for r in self.requests:
                if predicate(r):
                    return r
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching request reached the fake Discord")
            self._request_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._request_event.wait(), left)

    # ---- gateway --------------------------------------------------------------------

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send an event to the shard that owns its guild (DMs: shard 0), as Discord does:
        ``(guild_id >> 22) % shard_count`` (one connection without shards owns them all)."""
        frame = {"op": 0, "t": event, "s": next(self._seq), "d": data}
        guild = data.get("guild_id") or (data.get("id") if event.startswith("GUILD_") else None)
        for ws in self._sockets:
            shard = self._shard_of.get(ws, [0, 1])
            if shard_owns(shard, int(guild)) if guild else shard[0] == 0:
                await ws.send_str(json.dumps(frame))

    async def join_guild(
        self,
        guild_id: int,
        channels: list[dict[str, Any]],
        *,
        system_channel_id: int | None = None,
    ) -> dict[str, Any]:
        """The bot is invited to a new guild: GUILD_CREATE without ``unavailable``, as
        Discord sends for a join (an outage's return says ``unavailable: false``)."""
        guild = self.guild(guild_id, channels=channels, system_channel_id=system_channel_id)
        self.guilds[guild_id] = guild
        data = dict(guild)
        del data["unavailable"]
        await self.dispatch("GUILD_CREATE", data)
        return guild

    async def outage(self, guild_id: int) -> None:
        """A guild goes unavailable (an outage) and comes back: not a join."""
        await self.dispatch("GUILD_DELETE", {"id": str(guild_id), "unavailable": True})
        await self.dispatch("GUILD_CREATE", self.guilds[guild_id])

    async def reconnect(self, *, resume: bool = True) -> None:
        """Ask the connected client to reconnect: op 7 (it resumes) or, without ``resume``,
        op 9 with ``d: false`` (the session is gone: it identifies again, gets READY)."""
        self.identified.clear()
        frame = {"op": 7, "d": None} if resume else {"op": 9, "d": False}
        for ws in list(self._sockets):
            await ws.send_str(json.dumps(frame))

    async def dispatch_interaction(self, data: dict[str, Any]) -> float:
        """Send INTERACTION_CREATE; returns the monotonic time it was sent."""
        sent = time.monotonic()
        await self.dispatch("INTERACTION_CREATE", data)
        return sent

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                self.gateway_frames.append(frame)
                op = frame.get("op")
                if op == 1:
                    await ws.send_str(json.dumps({"op": 11}))
                elif op == 2:
                    await self._ready(ws, frame["d"])
                elif op == 6:  # RESUME: pretend it worked
                    await ws.send_str(
                        json.dumps({"op": 0, "t": "RESUMED", "s": next(self._seq), "d": {}})
                    )
                    self.identified.set()
        finally:
            self._sockets.remove(ws)
            self._shard_of.pop(ws, None)
        return ws

    async def _ready(self, ws: web.WebSocketResponse, identify: dict[str, Any]) -> None:
        shard = identify.get("shard") or [0, 1]
        self._shard_of[ws] = shard
        owned = [g for g in self.guilds if shard_owns(shard, g)]
        ready = {
            "v": 10,
            "user": _user(BOT_USER_ID, "papers-bot", bot=True),
            "guilds": [{"id": str(g), "unavailable": True} for g in owned],
            "session_id": "fake-session",
            "resume_gateway_url": self.gateway_url,
            "shard": shard,
            "application": {"id": str(APP_ID), "flags": 0},
        }
        await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": next(self._seq), "d": ready}))
        for guild_id in owned:
            guild = self.guilds[guild_id]
            frame = {"op": 0, "t": "GUILD_CREATE", "s": next(self._seq), "d": guild}
            await ws.send_str(json.dumps(frame))
        self.identified.set()

    def guild(
        self,
        guild_id: int = GUILD_ID,
        *,
        channels: list[dict[str, Any]] | None = None,
        system_channel_id: int | None = None,
    ) -> dict[str, Any]:
        """A guild as GUILD_CREATE carries it, the bot's own member included (Discord sends
        it without the members intent), so its permissions in each channel are known."""
        return {
            "id": str(guild_id),
            "name": "Fake Guild",
            "icon": None,
            "owner_id": str(USER_ID),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [
                {
                    "id": str(guild_id),
                    "name": "@everyone",
                    "permissions": str(MEMBER_PERMISSIONS),
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                }
            ],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "system_channel_id": str(system_channel_id) if system_channel_id else None,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "member_count": 2,
            "large": False,
            "unavailable": False,
            "members": [
                {
                    "user": _user(BOT_USER_ID, "papers-bot", bot=True),
                    "roles": [],
                    "joined_at": datetime.now(UTC).isoformat(),
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                }
            ],
            "voice_states": [],
            "presences": [],
            "threads": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "channels": channels if channels is not None else [self.channel()],
        }

    def channel(
        self,
        channel_id: int = CHANNEL_ID,
        *,
        guild_id: int = GUILD_ID,
        name: str = "papers",
        position: int = 0,
        deny_everyone: int = 0,
    ) -> dict[str, Any]:
        """A text channel; ``deny_everyone`` permission bits are denied to @everyone there
        (the bot's only role), e.g. ``SEND_MESSAGES`` for a read-only channel."""
        overwrites = (
            [{"id": str(guild_id), "type": 0, "allow": "0", "deny": str(deny_everyone)}]
            if deny_everyone
            else []
        )
        return {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(guild_id),
            "name": name,
            "position": position,
            "permission_overwrites": overwrites,
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
        }

    def dm_channel(self, user: tuple[int, str] = (USER_ID, "alice")) -> dict[str, Any]:
        """The DM channel between the bot and ``user`` (opened on first use, one id per user)."""
        channel_id = self.dms.setdefault(user[0], next(self._dm_ids))
        return {
            "id": str(channel_id),
            "type": 1,
            "last_message_id": None,
            "recipients": [_user(*user)],
        }

    def thread(self, thread_id: int, parent_id: int, name: str) -> dict[str, Any]:
        """A public thread channel (type 11) under ``parent_id``."""
        return {
            "id": str(thread_id),
            "type": 11,
            "guild_id": str(GUILD_ID),
            "parent_id": str(parent_id),
            "owner_id": str(BOT_USER_ID),
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": datetime.now(UTC).isoformat(),
                "locked": False,
            },
        }

    # ---- interactions ---------------------------------------------------------------

    def _interaction_base(
        self,
        kind: int,
        permissions: int,
        channel_id: int,
        user: tuple[int, str] = (USER_ID, "alice"),
        install: str = "guild",
        app_permissions: int | None = None,
    ) -> dict[str, Any]:
        """An interaction in a guild channel. ``install``: how the app is there, ``"guild"``
        (the bot is in the server), ``"user"`` (only the user's own install: the bot is not
        in the server and cannot post there) or ``"both"``."""
        owners = {}
        if install in ("guild", "both"):
            owners["0"] = str(GUILD_ID)
        if install in ("user", "both"):
            owners["1"] = str(user[0])
        if app_permissions is None:
            # The bot's permissions in the channel; where it is not in the server, none.
            app_permissions = MEMBER_PERMISSIONS if "0" in owners else 0
        return {
            "id": str(self.next_id()),
            "application_id": str(APP_ID),
            "type": kind,
            "token": f"tok-{self.next_id()}",
            "version": 1,
            "guild_id": str(GUILD_ID),
            "channel_id": str(channel_id),
            "channel": self.channel(channel_id),
            "member": {
                "user": _user(*user),
                "roles": [],
                "permissions": str(permissions),
                "joined_at": "2026-01-01T00:00:00+00:00",
                "nick": None,
                "deaf": False,
                "mute": False,
                "flags": 0,
            },
            "app_permissions": str(app_permissions),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": owners,
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }

    def command_interaction(
        self,
        subcommand: str,
        options: dict[str, Any] | None = None,
        *,
        permissions: int = MEMBER_PERMISSIONS | MANAGE_CHANNELS,
        channel_id: int = CHANNEL_ID,
        focused: str | None = None,
        user: tuple[int, str] = (USER_ID, "alice"),
        install: str = "guild",
        app_permissions: int | None = None,
    ) -> dict[str, Any]:
        """``/papers <subcommand> <options>`` as an APPLICATION_COMMAND interaction.

        With ``focused`` (an option name) it is an APPLICATION_COMMAND_AUTOCOMPLETE
        interaction for that option instead. ``install`` and ``app_permissions`` (the bot's
        permissions in the channel): see :meth:`_interaction_base`.
        """
        kind = 4 if focused else 2
        data = self._interaction_base(kind, permissions, channel_id, user, install, app_permissions)
        data["data"] = self._command_data(subcommand, options, focused)
        data["data"]["guild_id"] = str(GUILD_ID)
        return data

    def dm_interaction(
        self,
        subcommand: str,
        options: dict[str, Any] | None = None,
        *,
        user: tuple[int, str] = (USER_ID, "alice"),
        install: str = "user",
        focused: str | None = None,
    ) -> dict[str, Any]:
        """``/papers <subcommand>`` typed in ``user``'s DM with the bot (context BOT_DM).

        As on Discord: no ``guild_id``, no ``member`` but ``user``, no member permissions;
        ``authorizing_integration_owners`` names the user for a user install and ``"0"``
        for a guild install (a DM with the bot of a server's app).
        """
        owners = {"1": str(user[0])} if install == "user" else {"0": "0"}
        return {
            "id": str(self.next_id()),
            "application_id": str(APP_ID),
            "type": 4 if focused else 2,
            "token": f"tok-{self.next_id()}",
            "version": 1,
            "channel_id": str(self.dm_channel(user)["id"]),
            "channel": self.dm_channel(user),
            "user": _user(*user),
            "app_permissions": str(MEMBER_PERMISSIONS),
            "locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": owners,
            "context": 1,
            "attachment_size_limit": 10 * 1024 * 1024,
            "data": self._command_data(subcommand, options, focused),
        }

    def dm_component_interaction(
        self,
        custom_id: str,
        message: dict[str, Any],
        *,
        user: tuple[int, str] = (USER_ID, "alice"),
    ) -> dict[str, Any]:
        """A button press on ``message`` in ``user``'s DM with the bot (a personal digest)."""
        data = self.dm_interaction("x", user=user)
        data.update(type=3, message=message, data={"custom_id": custom_id, "component_type": 2})
        return data

    @staticmethod
    def _command_data(
        subcommand: str, options: dict[str, Any] | None, focused: str | None
    ) -> dict[str, Any]:
        kinds = {bool: 5, int: 4, str: 3}
        sub_options = [
            {"name": name, "type": kinds[type(value)], "value": value}
            | ({"focused": True} if name == focused else {})
            for name, value in (options or {}).items()
        ]
        return {
            "id": str(APP_ID + 1),
            "name": "papers",
            "type": 1,
            "options": [{"name": subcommand, "type": 1, "options": sub_options}],
        }

    def component_interaction(
        self,
        custom_id: str,
        message: dict[str, Any],
        *,
        permissions: int = MEMBER_PERMISSIONS | MANAGE_CHANNELS,
        channel_id: int = CHANNEL_ID,
        user: tuple[int, str] = (USER_ID, "alice"),
    ) -> dict[str, Any]:
        """A button press on ``message`` (a message object as the fake returned it) by
        ``user`` (id, name)."""
        data = self._interaction_base(3, permissions, channel_id, user)
        data["message"] = message
        data["data"] = {"custom_id": custom_id, "component_type": 2}
        return data

    def select_interaction(
        self,
        custom_id: str,
        value: str,
        message: dict[str, Any],
        *,
        permissions: int = MEMBER_PERMISSIONS | MANAGE_CHANNELS,
        channel_id: int = CHANNEL_ID,
        user: tuple[int, str] = (USER_ID, "alice"),
    ) -> dict[str, Any]:
        """A choice of ``value`` in the string select ``custom_id`` (a card's "⋯" menu)."""
        data = self.component_interaction(
            custom_id, message, permissions=permissions, channel_id=channel_id, user=user
        )
        data["data"] = {"custom_id": custom_id, "component_type": 3, "values": [value]}
        return data

    def modal_submit_interaction(
        self,
        modal: dict[str, Any],
        values: dict[str, str],
        *,
        permissions: int = MEMBER_PERMISSIONS | MANAGE_CHANNELS,
        channel_id: int = CHANNEL_ID,
        user: tuple[int, str] = (USER_ID, "alice"),
    ) -> dict[str, Any]:
        """The submit of a modal the bot opened (``modal``: the callback's ``data``), with
        ``values`` by text input custom id; same user as the one who opened it."""
        data = self._interaction_base(5, permissions, channel_id, user)
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": cid, "value": value}]}
            for cid, value in values.items()
        ]
        data["data"] = {"custom_id": modal["custom_id"], "components": rows}
        return data

    # ---- REST -----------------------------------------------------------------------

    def message(
        self, payload: dict[str, Any], channel_id: int, *, flags: int = 0
    ) -> dict[str, Any]:
        """A message object for a sent payload, as Discord would return it."""
        in_dm = channel_id in self.dms.values()
        return {
            "id": str(self.next_id()),
            "channel_id": str(channel_id),
            **({} if in_dm else {"guild_id": str(GUILD_ID)}),
            "author": _user(BOT_USER_ID, "papers-bot", bot=True),
            "content": payload.get("content") or "",
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": payload.get("embeds") or [],
            "components": payload.get("components") or [],
            "pinned": False,
            "type": 0,
            "flags": payload.get("flags", 0) | flags,
        }

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body: Any = None
        files: dict[str, tuple[str, str, bytes]] = {}
        if request.content_type.startswith("multipart/"):
            # Uploads (discord.py sends files as multipart/form-data): the JSON rides in
            # the ``payload_json`` field, each file in a ``files[n]`` field.
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                data = await part.read()  # type: ignore[union-attr]
                if part.name == "payload_json":
                    body = json.loads(data)
                else:
                    kind = part.headers.get("Content-Type", "")
                    files[str(part.name)] = (str(part.filename), kind, bytes(data))
        elif request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
        recorded = Recorded(request.method, path, dict(request.query), body, files=files)
        self.requests.append(recorded)
        self._request_event.set()
        message = recorded.message_payload()
        if message is not None and (problems := v2_problems(message)):
            return self._error(400, 50035, "Invalid Form Body: " + "; ".join(problems))
        if message is not None and (missing := _missing_uploads(message, files)):
            return self._error(400, 50035, "Invalid Form Body: no upload named " + missing)
        return self._answer(request.method, path.rstrip("/").split("/")[1:], body or {})

    def _answer(self, method: str, parts: list[str], body: dict[str, Any]) -> web.Response:
        match method, parts:
            case "GET", ["users", "@me"]:
                return _json(_user(BOT_USER_ID, "papers-bot", bot=True))
            case "POST", ["users", "@me", "channels"]:
                # Open (or find) the DM with a user: the same channel every time.
                recipient = int(body["recipient_id"])
                if (err := self.channel_errors.get(recipient)) is not None:
                    return self._error(*err)  # keyed by user id here: a user who cannot be DMed
                return _json(self.dm_channel((recipient, f"user{recipient}")))
            case "GET", ["oauth2", "applications", "@me"]:
                return _json(self._application())
            case "GET", ["gateway", "bot"]:
                limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
                return _json({"url": self.gateway_url, "shards": 1, "session_start_limit": limit})
            case "GET", ["gateway"]:
                return _json({"url": self.gateway_url})
            case "PUT", ["applications", _, "commands"] | [
                "applications",
                _,
                "guilds",
                _,
                "commands",
            ]:
                return _json([self._command(c, parts) for c in body or []])
            case "POST", ["interactions", interaction_id, _, "callback"]:
                return _json(self._callback(interaction_id, body))
            case (("POST" | "PATCH"), ["webhooks", _, _, *_]):
                return _json(self.message(body, CHANNEL_ID))
            case "DELETE", ["webhooks", _, _, "messages", _]:
                # Delete an interaction's response (@original) or a follow-up.
                return web.Response(status=204)
            case "GET", ["channels", channel_id]:
                if (err := self.channel_errors.get(int(channel_id))) is not None:
                    return self._error(*err)
                for user_id, dm_id in self.dms.items():
                    if dm_id == int(channel_id):
                        return _json(self.dm_channel((user_id, f"user{user_id}")))
                return _json(self.channel(int(channel_id)))
            case "POST", ["channels", channel_id, "messages", message_id, "threads"]:
                if (err := self.channel_errors.get(int(channel_id))) is not None:
                    return self._error(*err)
                if int(message_id) in self.threads:
                    return self._error(400, 160004, "A thread has already been created")
                thread = self.thread(int(message_id), int(channel_id), str(body.get("name")))
                self.threads[int(message_id)] = thread
                return _json(thread)
            case "POST", ["channels", channel_id, "messages"]:
                if (err := self.channel_errors.get(int(channel_id))) is not None:
                    return self._error(*err)
                return _json(self.message(body, int(channel_id)))
        return self._error(404, 0, f"fake Discord has no route {method} /{'/'.join(parts)}")

    @staticmethod
    def _error(status: int, code: int, message: str) -> web.Response:
        return _json({"code": code, "message": message}, status=status)

    def _application(self) -> dict[str, Any]:
        return {
            "id": str(APP_ID),
            "name": "papers-bot",
            "icon": None,
            "description": "",
            "rpc_origins": [],
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": _user(USER_ID, "alice"),
            "summary": "",
            "verify_key": "00",
            "team": None,
            "flags": 0,
            "interactions_endpoint_url": None,
        }

    def _command(self, command: dict[str, Any], parts: list[str]) -> dict[str, Any]:
        out = dict(command)
        out.update(id=str(self.next_id()), application_id=str(APP_ID), version="1")
        out.setdefault("type", 1)
        if "guilds" in parts:
            out["guild_id"] = parts[3]
        return out

    def _callback(self, interaction_id: str, body: dict[str, Any]) -> dict[str, Any]:
        kind = body.get("type")
        data = body.get("data") or {}
        ephemeral = bool(data.get("flags", 0) & EPHEMERAL_FLAG)
        message = self.message(data, CHANNEL_ID) if kind in (4, 7) else None
        out: dict[str, Any] = {
            "interaction": {
                "id": interaction_id,
                "type": 2,
                "response_message_id": message["id"] if message else None,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": ephemeral,
            },
            "resource": {"type": kind},
        }
        if message is not None:
            out["resource"]["message"] = message
        return out
