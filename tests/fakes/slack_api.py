"""A fake Slack Web API and ``response_url`` endpoint: a real aiohttp server on 127.0.0.1.

Point ``[slack] api_base_url`` (or an ``AsyncWebClient``'s ``base_url``) at
:attr:`FakeSlack.base_url` and give slash commands a :meth:`FakeSlack.response_url`. The
fake records every ``chat.postMessage`` and every ``response_url`` post, checks each message
against Block Kit's limits as Slack would (answering ``invalid_blocks``), and can be told to
rate-limit a channel (429 with ``Retry-After``) or fail it with an error code. It is meant
to be reused, e.g. by a 1,000-channel end-to-end test::

    fake = FakeSlack()
    await fake.start()
    ...
    fake.posts          # every accepted chat.postMessage, in order
    fake.posts_to("C1") # those for one channel
    await fake.stop()

Views and membership: ``views.publish`` / ``views.open`` / ``views.update`` are recorded
in :attr:`FakeSlack.views` after a check against Slack's view limits
(:func:`view_problems`); ``conversations.info`` answers from :attr:`FakeSlack.channels`
(a channel not listed is a public one the bot is in) and ``chat.postMessage`` refuses
``not_in_channel`` where the bot is not a member; ``conversations.open`` names the bot's
DM with a user (:meth:`FakeSlack.dm_of`).

It also speaks Socket Mode: ``apps.connections.open`` hands out a websocket on the fake
that greets with ``hello``; :meth:`FakeSlack.socket_send` pushes an envelope (a slash
command, a block action) and :attr:`FakeSlack.socket_acks` records what the app answered.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from aiohttp import WSMsgType, web

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_URL = 3000
MAX_ACTIONS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_CUMULATIVE_TEXT = 12000  # Slack's undocumented msg_blocks_too_long threshold (about)


def block_kit_problems(blocks: Any) -> list[str]:
    """Why Slack would reject ``blocks`` (empty list: it would accept them).

    Written from Slack's Block Kit reference, independently of the adapter's renderer, so
    a test that uses it checks the renderer instead of repeating it.
    """
    problems: list[str] = []
    if not isinstance(blocks, list) or not blocks:
        return ["blocks must be a non-empty list"]
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks (max {MAX_BLOCKS})")
    total = 0
    action_ids: set[str] = set()

    def text_object(obj: Any, limit: int, where: str, kinds: tuple[str, ...]) -> None:
        nonlocal total
        if not isinstance(obj, dict) or obj.get("type") not in kinds:
            problems.append(f"{where}: bad text object {obj!r:.80}")
            return
        text = obj.get("text")
        if not isinstance(text, str) or not text:
            problems.append(f"{where}: empty text")
            return
        total += len(text)
        if len(text) > limit:
            problems.append(f"{where}: {len(text)} characters (max {limit})")

    for n, block in enumerate(blocks):
        where = f"block {n}"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "header":
            text_object(block.get("text"), MAX_HEADER_TEXT, where, ("plain_text",))
        elif kind == "section":
            text_object(block.get("text"), MAX_SECTION_TEXT, where, ("plain_text", "mrkdwn"))
            accessory = block.get("accessory")
            if accessory is not None:
                url = accessory.get("image_url", "") if isinstance(accessory, dict) else ""
                alt = accessory.get("alt_text", "") if isinstance(accessory, dict) else ""
                if accessory.get("type") != "image":
                    problems.append(f"{where}: unexpected accessory {accessory!r:.80}")
                elif not url.startswith(("http://", "https://")) or len(url) > MAX_URL:
                    problems.append(f"{where}: bad image_url")
                elif not isinstance(alt, str) or not 1 <= len(alt) <= 2000:
                    problems.append(f"{where}: image alt_text must be 1-2000 characters")
                total += len(url) + len(alt)
        elif kind == "divider":
            pass
        elif kind == "context":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= MAX_CONTEXT_ELEMENTS:
                problems.append(f"{where}: {len(elements)} context elements")
            for element in elements:
                text_object(element, MAX_SECTION_TEXT, where, ("plain_text", "mrkdwn"))
        elif kind == "actions":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= MAX_ACTIONS:
                problems.append(f"{where}: {len(elements)} action elements")
            for element in elements:
                if element.get("type") == "overflow":
                    action_id = element.get("action_id", "")
                    if not action_id or len(action_id) > 255 or action_id in action_ids:
                        problems.append(f"{where}: bad or duplicate action_id {action_id!r}")
                    action_ids.add(action_id)
                    options = element.get("options") or []
                    if not 1 <= len(options) <= 5:
                        problems.append(f"{where}: overflow of {len(options)} options (1-5)")
                    for option in options:
                        text_object(option.get("text"), 75, where, ("plain_text",))
                        value, url = option.get("value", ""), option.get("url", "")
                        total += len(value) + len(url)
                        if not value or len(value) > 150:
                            problems.append(f"{where}: option value of {len(value)} characters")
                        if len(url) > MAX_URL or (
                            url and not url.startswith(("http://", "https://"))
                        ):
                            problems.append(f"{where}: bad option url")
                    continue
                if element.get("type") != "button":
                    problems.append(f"{where}: unexpected element {element.get('type')}")
                    continue
                text_object(element.get("text"), MAX_BUTTON_TEXT, where, ("plain_text",))
                action_id = element.get("action_id", "")
                if not action_id or len(action_id) > 255 or action_id in action_ids:
                    problems.append(f"{where}: bad or duplicate action_id {action_id!r}")
                action_ids.add(action_id)
                value = element.get("value", "")
                url = element.get("url", "")
                total += len(value) + len(url)
                if len(value) > MAX_BUTTON_VALUE:
                    problems.append(f"{where}: button value of {len(value)} characters")
                if len(url) > MAX_URL or (url and not url.startswith(("http://", "https://"))):
                    problems.append(f"{where}: bad button url")
        else:
            problems.append(f"{where}: unknown block type {kind!r}")
    if total > MAX_CUMULATIVE_TEXT:
        problems.append(f"blocks hold {total} characters in all (msg_blocks_too_long)")
    return problems


MAX_VIEW_BLOCKS = 100
MAX_TITLE = 24  # a modal's title, submit and close labels
MAX_METADATA = 3000
MAX_SELECT_OPTIONS = 100
INPUT_ELEMENTS = ("plain_text_input", "timepicker", "static_select", "number_input")


def view_problems(view: Any) -> list[str]:
    """Why Slack would reject ``view`` in views.publish / open / update (empty: fine).

    Modals and Home tabs allow more than messages: up to 100 blocks, input blocks,
    buttons as section accessories. Written from Slack's view and block references.
    """
    if not isinstance(view, dict):
        return ["view must be an object"]
    problems: list[str] = []
    kind = view.get("type")
    if kind not in ("home", "modal"):
        problems.append(f"view type {kind!r}")
    blocks = view.get("blocks")
    if not isinstance(blocks, list) or not blocks:
        return [*problems, "blocks must be a non-empty list"]
    if len(blocks) > MAX_VIEW_BLOCKS:
        problems.append(f"{len(blocks)} blocks (max {MAX_VIEW_BLOCKS})")
    if len(view.get("private_metadata") or "") > MAX_METADATA:
        problems.append("private_metadata over 3000 characters")
    if len(view.get("callback_id") or "") > 255:
        problems.append("callback_id over 255 characters")
    if kind == "modal":
        for key in ("title", "submit", "close"):
            obj = view.get(key)
            if key == "title" or obj is not None:
                text = obj.get("text", "") if isinstance(obj, dict) else ""
                if not isinstance(obj, dict) or obj.get("type") != "plain_text" or not text:
                    problems.append(f"modal {key}: bad text object")
                elif len(text) > MAX_TITLE:
                    problems.append(f"modal {key}: {len(text)} characters (max {MAX_TITLE})")
        if any(b.get("type") == "input" for b in blocks) and view.get("submit") is None:
            problems.append("a modal with inputs needs a submit button")
    elif any(b.get("type") == "input" for b in blocks):
        problems.append("input blocks are for modals")
    ids: set[str] = set()
    plain_blocks: list[Any] = []
    for n, block in enumerate(blocks):
        where = f"block {n}"
        block_id = block.get("block_id") if isinstance(block, dict) else None
        if block_id is not None:
            if block_id in ids or not 1 <= len(block_id) <= 255:
                problems.append(f"{where}: bad or duplicate block_id {block_id!r}")
            ids.add(block_id)
        if block.get("type") == "input":
            label = block.get("label") or {}
            if label.get("type") != "plain_text" or not 1 <= len(label.get("text", "")) <= 2000:
                problems.append(f"{where}: bad input label")
            problems += [f"{where}: {p}" for p in _element_problems(block.get("element"))]
            continue
        if block.get("type") == "section" and isinstance(block.get("accessory"), dict):
            accessory = block["accessory"]
            if accessory.get("type") == "button":
                problems += [f"{where}: {p}" for p in _element_problems(accessory)]
                block = {k: v for k, v in block.items() if k != "accessory"}
        plain_blocks.append(block)
    if plain_blocks:
        problems += [p for p in block_kit_problems(plain_blocks) if not p.startswith("blocks hold")]
    return problems


def _element_problems(element: Any) -> list[str]:
    if not isinstance(element, dict):
        return ["missing element"]
    kind = element.get("type")
    action_id = element.get("action_id", "")
    problems = [] if 1 <= len(action_id) <= 255 else [f"bad action_id {action_id!r}"]
    if kind == "button":
        text = (element.get("text") or {}).get("text", "")
        if not 1 <= len(text) <= MAX_BUTTON_TEXT or len(element.get("value", "")) > 2000:
            problems.append("bad button")
    elif kind == "plain_text_input":
        initial = element.get("initial_value")
        if initial is not None and (not initial or len(initial) > element.get("max_length", 3000)):
            problems.append("bad initial_value")
    elif kind == "timepicker":
        initial = element.get("initial_time", "00:00")
        if not (len(initial) == 5 and initial[2] == ":" and initial.replace(":", "").isdigit()):
            problems.append(f"bad initial_time {initial!r}")
    elif kind == "static_select":
        groups = element.get("option_groups")
        options = (
            [o for g in groups for o in g.get("options", [])] if groups else element.get("options")
        )
        if not options or len(options) > MAX_SELECT_OPTIONS:
            problems.append(f"a select of {len(options or [])} options (1-{MAX_SELECT_OPTIONS})")
        for option in options or []:
            text, value = (option.get("text") or {}).get("text", ""), option.get("value", "")
            if not 1 <= len(text) <= 75 or not 1 <= len(value) <= 150:
                problems.append(f"bad option {option!r:.80}")
        initial = element.get("initial_option")
        if initial is not None and initial not in (options or []):
            problems.append("initial_option is not one of the options")
    elif kind not in INPUT_ELEMENTS:
        problems.append(f"unexpected element {kind!r}")
    return problems


@dataclass
class View:
    """One view Slack accepted: published to a Home tab, opened or updated as a modal."""

    method: str  # views.publish, views.open or views.update
    view: dict[str, Any]
    id: str
    user: str | None = None  # views.publish: whose Home tab
    trigger_id: str | None = None
    token: str = ""  # the bearer token it was called with


@dataclass
class Post:
    """One accepted ``chat.postMessage`` call."""

    channel: str
    text: str
    blocks: list[dict[str, Any]]
    ts: str
    at: float  # time.monotonic() when it arrived
    payload: dict[str, Any] = field(default_factory=dict)
    thread_ts: str | None = None  # the parent message's ts for a reply in a thread
    token: str = ""  # the bearer token it was posted with


@dataclass
class ResponsePost:
    """One post to a ``response_url`` (what ``respond()`` sends)."""

    key: str
    payload: dict[str, Any]
    at: float


class FakeSlack:
    """A local Slack Web API. Configure behaviour through the public attributes."""

    def __init__(self, token: str | None = None, team_id: str = "T0TEST") -> None:
        self.token = token  # when set, other tokens get ``invalid_auth``
        self.team_id = team_id
        self.posts: list[Post] = []
        self.responses: list[ResponsePost] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []  # every Web API call, in order
        self.rejected: list[tuple[str, dict[str, Any]]] = []  # (error, payload) answered not ok
        # channel -> error code answered to every chat.postMessage for it
        self.channel_errors: dict[str, str] = {}
        # channel -> number of 429s still to answer before accepting
        self.ratelimits: dict[str, int] = {}
        self.retry_after = 1
        self.users: dict[str, dict[str, Any]] = {}  # users.info answers by user id
        # conversations.info answers by channel id: {"is_member": False} for a channel the
        # bot is not in, {"private": True, "is_member": False} for one it cannot see
        # (channel_not_found), {"is_archived": True}; a channel not listed: the bot is in.
        self.channels: dict[str, dict[str, Any]] = {}
        self.conversation_errors: dict[str, str] = {}  # channel -> error for conversations.info
        self.dms: dict[str, str] = {}  # user -> the bot's DM with them (default "D" + user)
        self.foreign_dms: set[str] = set()  # DMs between people: the bot cannot post there
        self.views: list[View] = []  # every accepted views.publish / open / update
        self._view_ids = itertools.count(1)
        self._hashes: dict[str, str] = {}  # view id -> its current hash
        # conversations.open: user id -> error code answered to every call for them, and
        # a queue of error codes answered (one per call) before opening works
        self.dm_errors: dict[str, str] = {}
        self.dm_failures: list[str] = []
        self.fail_users_info = False
        self.app_token = "xapp-fake"  # apps.connections.open wants this one
        # Many workspaces (OAuth installs): bot token -> team id. When any is set, a call is
        # answered as its token's workspace and unknown tokens get ``invalid_auth``.
        self.workspaces: dict[str, str] = {}
        # oauth.v2.access: code -> (team id, the bot token installing it there issues).
        self.oauth_codes: dict[str, tuple[str, str]] = {}
        self.enterprise_of: dict[str, str] = {}  # team id -> its Enterprise Grid org's id
        self.client_id = "1111.2222"
        self.client_secret = "fake-client-secret"
        self.socket_acks: list[dict[str, Any]] = []  # what the app sent over Socket Mode
        self._sockets: list[web.WebSocketResponse] = []
        self.changed = asyncio.Event()
        self.base_url = ""
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._ts = itertools.count(1)

    # ---- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.add_routes(
            [
                web.post("/api/{method}", self._api),
                web.get("/api/{method}", self._api),
                web.post("/response/{key}", self._response),
                web.get("/socket", self._socket),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{self.port}/api/"

    async def stop(self) -> None:
        for ws in self._sockets:
            await ws.close()
        self._sockets.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def response_url(self, key: str = "r1") -> str:
        """A ``response_url`` to put in a slash command or block action."""
        return f"http://127.0.0.1:{self.port}/response/{key}"

    # ---- queries --------------------------------------------------------------------

    def posts_to(self, channel: str) -> list[Post]:
        return [p for p in self.posts if p.channel == channel]

    def responses_to(self, key: str) -> list[ResponsePost]:
        return [r for r in self.responses if r.key == key]

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``condition()`` holds (checked after each recorded call)."""
        deadline = time.monotonic() + timeout
        while not condition():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the fake Slack never saw what the test waited for")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(left, 0.05))

    # ---- handlers -------------------------------------------------------------------

    def _notify(self) -> None:
        self.changed.set()

    @staticmethod
    async def _payload(request: web.Request) -> dict[str, Any]:
        data: dict[str, Any] = {k: v for k, v in request.query.items()}
        body = await request.text()
        if body:
            if request.content_type == "application/json":
                data.update(json.loads(body))
            else:
                data.update({k: v[0] for k, v in parse_qs(body).items()})
        for key in ("blocks", "attachments"):
            if isinstance(data.get(key), str):
                data[key] = json.loads(data[key])
        return data

    @staticmethod
    def _answer(payload: dict[str, Any], status: int = 200, **headers: str) -> web.Response:
        return web.json_response(payload, status=status, headers=headers)

    def _error(self, error: str, payload: dict[str, Any]) -> web.Response:
        self.rejected.append((error, payload))
        self._notify()
        return self._answer({"ok": False, "error": error})

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        payload = await self._payload(request)
        self.calls.append((method, payload))
        auth = request.headers.get("Authorization", "")
        if method == "apps.connections.open":
            if auth != f"Bearer {self.app_token}":
                return self._error("invalid_auth", payload)
            return self._answer({"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"})
        if method == "oauth.v2.access":
            return self._oauth_access(auth, payload)
        team_id = self.team_id
        if self.workspaces:
            team = self.workspaces.get(auth.removeprefix("Bearer "))
            if team is None:
                return self._error("invalid_auth", payload)
            team_id = team
        elif self.token is not None and auth != f"Bearer {self.token}":
            return self._error("invalid_auth", payload)
        if method == "auth.test":
            return self._answer(
                {
                    "ok": True,
                    "url": "https://fake.slack.com/",
                    "team": "Fake team",
                    "user": "papers",
                    "team_id": team_id,
                    "user_id": "UBOT",
                    "bot_id": "BBOT",
                }
            )
        if method == "chat.postMessage":
            return self._post_message(payload, auth.removeprefix("Bearer "))
        if method == "conversations.info":
            return self._conversation_info(payload)
        if method == "conversations.open":
            return self._open_dm(payload)
        if method in ("views.publish", "views.open", "views.update"):
            return self._view(method, payload, auth.removeprefix("Bearer "))
        if method == "users.info":
            if self.fail_users_info:
                return self._error("internal_error", payload)
            user = self.users.get(payload.get("user", ""))
            if user is None:
                return self._error("user_not_found", payload)
            return self._answer({"ok": True, "user": user})
        return self._error("unknown_method", payload)

    def dm_of(self, user: str) -> str:
        """The bot's direct conversation with ``user`` (what conversations.open answers)."""
        return self.dms.get(user, f"D{user}")

    def is_member(self, channel: str) -> bool:
        """Whether the bot may post in ``channel``: its own DMs, channels it is in."""
        if channel.startswith("D"):
            return channel not in self.foreign_dms
        return bool(self.channels.get(channel, {}).get("is_member", True))

    def views_for(self, method: str) -> list[View]:
        return [v for v in self.views if v.method == method]

    def _conversation_info(self, payload: dict[str, Any]) -> web.Response:
        channel = str(payload.get("channel", ""))
        if channel in self.conversation_errors:
            return self._error(self.conversation_errors[channel], payload)
        info = self.channels.get(channel, {})
        if info.get("private") and not info.get("is_member"):
            return self._error("channel_not_found", payload)
        answer = {
            "id": channel,
            "is_channel": not info.get("private", False),
            "is_private": bool(info.get("private", False)),
            "is_archived": bool(info.get("is_archived", False)),
            "is_member": bool(info.get("is_member", True)),
        }
        return self._answer({"ok": True, "channel": answer})

    def _view(self, method: str, payload: dict[str, Any], token: str = "") -> web.Response:
        view = payload.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if method == "views.publish" and not payload.get("user_id"):
            return self._error("user_not_found", payload)
        if method == "views.open" and not payload.get("trigger_id"):
            return self._error("invalid_trigger_id", payload)
        if method == "views.publish" and (view or {}).get("type") != "home":
            return self._error("invalid_arguments", payload)
        if method == "views.update":
            view_id = str(payload.get("view_id", ""))
            if view_id not in self._hashes:
                return self._error("not_found", payload)
            if payload.get("hash") and payload["hash"] != self._hashes[view_id]:
                return self._error("hash_conflict", payload)
        else:
            view_id = f"V{next(self._view_ids):05d}"
        if view_problems(view):
            return self._error("invalid_arguments", payload)
        self._hashes[view_id] = f"{time.time():.0f}.{next(self._ts)}"
        self.views.append(
            View(
                method,
                view,
                view_id,
                user=payload.get("user_id"),
                trigger_id=payload.get("trigger_id"),
                token=token,
            )
        )
        self._notify()
        answer = {**view, "id": view_id, "hash": self._hashes[view_id], "state": {"values": {}}}
        return self._answer({"ok": True, "view": answer})

    def _oauth_access(self, auth: str, payload: dict[str, Any]) -> web.Response:
        """Exchange an install's code for a bot token, as Slack does after "Allow".

        The app's id and secret come as HTTP Basic credentials (slack_sdk's way).
        """
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if auth != f"Basic {expected}":
            return self._error("invalid_client_id", payload)
        found = self.oauth_codes.pop(payload.get("code", ""), None)
        if found is None:
            return self._error("invalid_code", payload)
        team_id, token = found
        self.workspaces[token] = team_id
        self._notify()
        return self._answer(
            {
                "ok": True,
                "app_id": "A1",
                "authed_user": {"id": "UINSTALLER"},
                "scope": "commands,chat:write,users:read",
                "token_type": "bot",
                "access_token": token,
                "bot_user_id": "UBOT",
                "team": {"id": team_id, "name": f"Team {team_id}"},
                "enterprise": (
                    {"id": self.enterprise_of[team_id], "name": "Grid org"}
                    if team_id in self.enterprise_of
                    else None
                ),
                "is_enterprise_install": False,
            }
        )

    def _open_dm(self, payload: dict[str, Any]) -> web.Response:
        """``conversations.open`` with ``users``: the app's DM with that person
        (:meth:`dm_of`, ``D<user>`` unless :attr:`dms` says otherwise; its messages land in
        :attr:`posts` like any channel's)."""
        user = str(payload.get("users", ""))
        if not user or "," in user:
            return self._error("users_list_not_supplied", payload)
        if user in self.dm_errors:
            return self._error(self.dm_errors[user], payload)
        if self.dm_failures:
            return self._error(self.dm_failures.pop(0), payload)
        return self._answer({"ok": True, "channel": {"id": self.dm_of(user)}})

    def dms_to(self, user: str) -> list[Post]:
        """The direct messages the app sent ``user`` (opened with conversations.open)."""
        return self.posts_to(self.dm_of(user))

    def _post_message(self, payload: dict[str, Any], token: str = "") -> web.Response:
        channel = payload.get("channel", "")
        if not channel:
            return self._error("channel_not_found", payload)
        if channel not in self.channel_errors and not self.is_member(channel):
            hidden = channel.startswith("D") or self.channels.get(channel, {}).get("private")
            return self._error("channel_not_found" if hidden else "not_in_channel", payload)
        if self.ratelimits.get(channel, 0) > 0:
            self.ratelimits[channel] -= 1
            self.rejected.append(("ratelimited", payload))
            self._notify()
            return self._answer(
                {"ok": False, "error": "ratelimited"},
                status=429,
                **{"Retry-After": str(self.retry_after)},
            )
        if channel in self.channel_errors:
            return self._error(self.channel_errors[channel], payload)
        if "blocks" in payload:
            if block_kit_problems(payload["blocks"]):
                return self._error("invalid_blocks", payload)
        elif not payload.get("text"):
            return self._error("no_text", payload)
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        self.posts.append(
            Post(
                channel=channel,
                text=payload.get("text", ""),
                blocks=payload.get("blocks", []),
                ts=ts,
                at=time.monotonic(),
                payload=payload,
                thread_ts=payload.get("thread_ts") or None,
                token=token,
            )
        )
        self._notify()
        return self._answer({"ok": True, "channel": channel, "ts": ts, "message": {"ts": ts}})

    @property
    def socket_connected(self) -> bool:
        return any(not ws.closed for ws in self._sockets)

    async def socket_send(self, envelope: dict[str, Any]) -> None:
        """Push a Socket Mode envelope to the most recent connection."""
        live = [ws for ws in self._sockets if not ws.closed]
        if not live:
            raise RuntimeError("no Socket Mode connection")
        await live[-1].send_json(envelope)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json(
            {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}}
        )
        self._notify()
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                self.socket_acks.append(json.loads(message.data))
                self._notify()
        return ws

    async def _response(self, request: web.Request) -> web.Response:
        payload = await self._payload(request)
        self.responses.append(
            ResponsePost(key=request.match_info["key"], payload=payload, at=time.monotonic())
        )
        self._notify()
        if "blocks" in payload and block_kit_problems(payload["blocks"]):
            return web.Response(status=400, text="invalid_blocks")
        return web.Response(text="ok")
