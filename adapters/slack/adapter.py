"""The Slack adapter: answers ``/papers`` in a workspace and posts to its channels.

One bolt ``AsyncApp`` runs in the bot's asyncio process, in Socket Mode (default: needs
``SLACK_BOT_TOKEN`` and an ``xapp-`` ``SLACK_APP_TOKEN``, no public URL) or HTTP mode
(``SLACK_SIGNING_SECRET``; Slack posts commands and button presses to
``http://host:port/slack/events``). Digests go out with ``chat.postMessage`` through a
client that retries 429s after ``Retry-After`` and keeps to about one message per second
per channel, Slack's posting rate.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import DeliveryError, PermanentDeliveryError
from adapters.slack.app import PLATFORM, SlackCommands, build_app
from adapters.slack.http import RequestRefused, parse_request, refusal
from adapters.slack.installs import Installations
from adapters.slack.render import LIMITS, escape, render
from adapters.slack.settings import (
    APP_TOKEN,
    BOT_TOKEN,
    CLIENT_ID,
    SIGNING_SECRET,
    required_secrets,
)
from bot.app import PapersBot
from bot.config import Config
from bot.models import Channel
from bot.replies import Reply

__all__ = ["EVENTS_PATH", "PERMANENT_ERRORS", "SlackAdapter", "SlackConfigError"]

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
# Errors that mean this channel (or our token) will not take posts until someone acts:
# the scheduler records them on the channel instead of retrying.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "not_authed",
        "restricted_action",
    }
)
# conversations.open / chat.postMessage errors that mean this person cannot be sent a
# direct message until someone acts (the notice goes to the channel instead).
DIRECT_PERMANENT_ERRORS = frozenset(
    {"user_not_found", "user_disabled", "cannot_dm_bot", "missing_scope", "not_allowed"}
)
_CHANNEL_LINK = re.compile(r"&lt;#([A-Z0-9]{2,30})&gt;")
POST_INTERVAL = 1.0  # seconds between two posts to one channel
# Posts rendering or waiting on chat.postMessage at once, across all channels. Each post's
# HTTP round trip costs the event loop about a millisecond of CPU, so ~16 keep a local
# Web API busy at well over 500 msg/s, while hundreds at once made every loop iteration
# so long that a command waited behind them for a second (issue 13).
MAX_POSTS_IN_FLIGHT = 16
RATE_LIMIT_RETRIES = 2
SOCKET_CONNECT_TIMEOUT = 30.0  # seconds for the Socket Mode WebSocket to open


class SlackConfigError(ValueError):
    """The secrets the chosen mode needs are missing from the environment."""


class SlackAdapter:
    """Answers ``/papers`` in Slack and posts replies to Slack channels."""

    platform = PLATFORM
    limits = LIMITS  # how the scheduler and the renderer split a reply into messages

    def __init__(self, bot: PapersBot, config: Config) -> None:
        secrets = config.secrets
        self.mode = config.slack.mode
        missing = secrets.missing(required_secrets(config.slack))
        if missing:
            raise SlackConfigError(
                f"Slack {self.mode} mode needs {' and '.join(missing)} in the environment"
            )
        self.bot = bot
        self.config = config
        self.client = AsyncWebClient(
            token=None if config.slack.oauth else secrets.get(BOT_TOKEN),
            base_url=config.slack.api_base_url,
            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)],
        )
        # Many workspaces: each one's token from its installation, in the state database.
        self.installations = (
            Installations(bot.store.state, secrets.get(CLIENT_ID) or "")
            if config.slack.oauth
            else None
        )
        self.app: AsyncApp
        self.commands: SlackCommands
        self.app, self.commands = build_app(bot, config, self.client, self.installations)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._socket = None  # AsyncSocketModeHandler in Socket Mode
        self._channel_locks: dict[str, asyncio.Lock] = {}
        self._last_post: dict[str, float] = {}
        self._posting = asyncio.Semaphore(MAX_POSTS_IN_FLIGHT)
        self.port: int | None = None  # the port actually bound in HTTP mode

    # ---- lifecycle ------------------------------------------------------------------

    def web_app(self) -> web.Application:
        """The aiohttp application serving ``/slack/events`` (HTTP mode)."""

        secret = self.config.secrets.get(SIGNING_SECRET) or ""

        async def events(request: web.Request) -> web.Response:
            # Checked and parsed by us first: see adapters/slack/http.py for why.
            try:
                bolt_request = await parse_request(request, secret)
            except RequestRefused as refused:
                return refusal(request, refused)
            bolt_response = await self.app.async_dispatch(bolt_request)
            return await to_aiohttp_response(bolt_response)

        async def health(request: web.Request) -> web.Response:
            return web.Response(text="ok")

        application = web.Application(client_max_size=1024 * 1024)
        application.add_routes([web.post(EVENTS_PATH, events), web.get("/healthz", health)])
        flow = self.app.oauth_flow
        if flow is not None:
            # The install flow: unsigned GETs by a person's browser, checked by bolt with
            # the OAuth state (a cookie plus the state store), not by a signature.
            async def install(request: web.Request) -> web.Response:
                answer = await flow.handle_installation(await to_bolt_request(request))
                return await to_aiohttp_response(answer)

            async def redirect(request: web.Request) -> web.Response:
                answer = await flow.handle_callback(await to_bolt_request(request))
                return await to_aiohttp_response(answer)

            application.add_routes(
                [web.get(flow.install_path, install), web.get(flow.redirect_uri_path, redirect)]
            )
        return application

    async def start(self) -> None:
        """Listen on the configured host and port (HTTP) or connect to Slack (Socket Mode).

        One try: it raises when Slack cannot be reached (``run`` retries with backoff)
        and then leaves nothing open. Slack refusing the app token is a
        :class:`PermanentDeliveryError`, which no retry would fix.
        """
        # One HTTP session for every Web API call: connection reuse matters when the
        # scheduler posts to hundreds of channels in a row.
        self._session = aiohttp.ClientSession()
        self.client.session = self._session
        try:
            if self.mode == "http":
                await self._listen()
            else:
                await self._connect_socket()
        except BaseException:
            await self._close()
            raise

    async def _listen(self) -> None:
        self._runner = web.AppRunner(self.web_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.slack.host, self.config.slack.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.config.slack.port
        log.info(
            "Slack HTTP mode: listening on http://%s:%s%s",
            self.config.slack.host,
            self.port,
            EVENTS_PATH,
        )

    async def _connect_socket(self) -> None:
        """Ask Slack for a Socket Mode URL, then open the WebSocket, each once.

        slack_sdk's own ``connect`` retries forever every 10 s (logging a traceback each
        time) when Slack is unreachable, and would never return; so the URL is fetched
        here first, where a failure raises, and the WebSocket gets a deadline. Once
        connected, slack_sdk reconnects by itself after a drop.
        """
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        self._socket = AsyncSocketModeHandler(self.app, self.config.secrets.get(APP_TOKEN))
        client = self._socket.client
        try:
            client.wss_uri = await client.issue_new_wss_url()
        except SlackApiError as exc:
            code = str(exc.response.get("error") or "unknown_error")
            if code in PERMANENT_ERRORS:
                raise PermanentDeliveryError(f"Slack refused the app token ({code})") from None
            raise DeliveryError(f"Slack apps.connections.open failed ({code})") from None
        await asyncio.wait_for(self._socket.connect_async(), SOCKET_CONNECT_TIMEOUT)
        log.info("Slack Socket Mode: connected")

    async def stop(self) -> None:
        """Finish answers in flight, then close the server or the socket."""
        await self.commands.drain()
        await self._close()

    async def _close(self) -> None:
        """Close whatever :meth:`start` opened (any of it may be missing)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._session is not None:
            self.client.session = None
            await self._session.close()
            self._session = None

    # ---- posting --------------------------------------------------------------------

    async def post(self, channel: Channel, reply: Reply, *, thread: str | None = None) -> list[str]:
        """Post ``reply`` to ``channel`` as one or more messages; return their ``ts``.

        With ``thread`` (the ``ts`` of a message posted earlier, e.g. a digest's headline)
        every message of the reply goes into that message's thread (``thread_ts``), so a
        reply split over several messages still stays together under its headline.

        Raises :class:`PermanentDeliveryError` (message: Slack's error code) when the
        channel is gone or closed to us, or when ``reply`` cannot be rendered at all (the
        same reply would fail the same way on every retry), and :class:`DeliveryError`
        for anything else.
        """
        target = channel.channel_id
        token = await self._token(channel.workspace)
        async with self._posting:
            # Rendering is pure and costs as much as the post's HTTP round trip: in a
            # worker thread, so a fan-out's posts never render in one loop iteration.
            messages = await asyncio.to_thread(render_for_post, reply, channel.key)
        lock = self._channel_locks.setdefault(target, asyncio.Lock())
        stamps: list[str] = []
        async with lock:
            for message in messages:
                await self._pace(target)
                extra = {"thread_ts": thread} if thread else {}
                try:
                    async with self._posting:  # not held while pacing: a slot is CPU work
                        answer = await self.client.chat_postMessage(
                            channel=target,
                            text=message["text"],
                            blocks=message["blocks"],
                            unfurl_links=False,
                            unfurl_media=False,
                            **extra,
                            **token,
                        )
                except SlackApiError as exc:
                    code = str(exc.response.get("error") or "unknown_error")
                    if code in PERMANENT_ERRORS:
                        raise PermanentDeliveryError(code) from None
                    raise DeliveryError(code) from None
                except (TimeoutError, OSError) as exc:
                    raise DeliveryError(f"network: {type(exc).__name__}") from None
                except Exception as exc:  # aiohttp errors and the like: worth a retry later
                    raise DeliveryError(f"{type(exc).__name__}") from None
                finally:
                    self._last_post[target] = time.monotonic()
                stamps.append(str(answer.get("ts", "")))
        return stamps

    async def post_direct(self, workspace: str, user_id: str, text: str) -> None:
        """Send ``text`` to ``user_id`` in the app's direct message with them (pause and
        recovery notices): ``conversations.open`` (scope ``im:write``), then
        ``chat.postMessage``. The text is escaped, so nothing in it can mention or link,
        except a channel link ``<#C123>`` (which pings nobody).

        Raises :class:`PermanentDeliveryError` (Slack's error code) when the person cannot
        be written to (gone, deactivated, the scope missing), :class:`DeliveryError` for
        anything else.
        """
        # Only the notice's own channel link (the first) is restored: one inside a quoted
        # pause reason stays text, as on Discord.
        shown = _CHANNEL_LINK.sub(r"<#\1>", escape(text), count=1)
        token = await self._token(workspace)
        try:
            opened = await self.client.conversations_open(users=user_id, **token)
            target = str((opened.get("channel") or {}).get("id") or "")
            if not target:
                raise DeliveryError("conversations.open returned no channel")
            await self.client.chat_postMessage(
                channel=target, text=shown, unfurl_links=False, unfurl_media=False, **token
            )
        except SlackApiError as exc:
            code = str(exc.response.get("error") or "unknown_error")
            if code in PERMANENT_ERRORS or code in DIRECT_PERMANENT_ERRORS:
                raise PermanentDeliveryError(code) from None
            raise DeliveryError(code) from None
        except (TimeoutError, OSError) as exc:
            raise DeliveryError(f"network: {type(exc).__name__}") from None

    async def _token(self, workspace: str) -> dict[str, str]:
        """The Web API arguments that make a call in ``workspace``: none with one bot
        token; with ``[slack] oauth`` that workspace's own token (uninstalled: permanent,
        nothing to retry until someone installs it again)."""
        if self.installations is None:
            return {}
        found = await self.installations.bot_token(workspace)
        if found is None:
            raise PermanentDeliveryError("app_not_installed")
        return {"token": found}

    async def _pace(self, target: str) -> None:
        """Sleep until a second has passed since the last post to ``target``."""
        last = self._last_post.get(target)
        if last is not None:
            wait = POST_INTERVAL - (time.monotonic() - last)
            if wait > 0:
                await asyncio.sleep(wait)


def render_for_post(reply: Reply, where: str) -> list[dict[str, Any]]:
    """``reply`` as Slack messages, or :class:`PermanentDeliveryError` if it cannot be.

    Rendering is meant never to fail; if it does, it is a bug that retrying cannot fix, so
    the scheduler must record the post as failed instead of retrying it for ever.
    """
    try:
        return render(reply)
    except Exception as exc:
        log.exception("%s: could not render a Slack message", where)
        raise PermanentDeliveryError(
            f"Slack message could not be rendered ({type(exc).__name__}: {str(exc)[:200]})"
        ) from exc
