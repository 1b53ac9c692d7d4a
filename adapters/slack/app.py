"""Bolt wiring: the ``/papers`` slash command and the buttons, on one ``AsyncApp``.

Slack gives a slash command or a button press three seconds for its HTTP answer, so each
listener acks at once and hands the real work to a background task that answers through
``respond()`` (the request's ``response_url``). Search results and errors stay ephemeral;
replies the core marks as public (a shared paper, a settings change) go to the channel.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.installs import Installations
from adapters.slack.membership import Membership, is_direct
from adapters.slack.personal import register_personal
from adapters.slack.render import (
    ACTION_COMMAND,
    ACTION_LINK,
    ACTION_MORE,
    ACTION_NAV,
    LINK_VALUE,
    render,
)
from adapters.slack.settings import BOT_SCOPES, CLIENT_ID, CLIENT_SECRET
from adapters.slack.settings import PLATFORM_NAME as PLATFORM
from bot.app import PapersBot
from bot.commands import spec_of
from bot.config import Config
from bot.registry import Invocation, Spec
from bot.replies import Reply, Request

log = logging.getLogger(__name__)

COMMAND = "/papers"
ADMIN_CACHE_SECONDS = 300.0
MAX_RESPONSES = 5  # Slack accepts at most five posts to one response_url


class Clients:
    """The Web API client to call a workspace with.

    One app token for one workspace (the default); with ``[slack] oauth`` each workspace's
    own bot token, from its installation (:mod:`adapters.slack.installs`). The clients share
    the base client's URL, retries and HTTP session.
    """

    def __init__(self, client: AsyncWebClient, installations: Installations | None = None) -> None:
        self.client = client
        self.installations = installations

    async def client_for(self, team_id: str) -> AsyncWebClient:
        """A client carrying ``team_id``'s token (the base client without OAuth)."""
        if self.installations is None:
            return self.client
        token = await self.installations.bot_token(team_id)
        if token is None:
            raise NotInstalled(team_id)
        base = self.client
        client = AsyncWebClient(
            token=token, base_url=base.base_url, retry_handlers=base.retry_handlers
        )
        client.session = base.session
        return client


class NotInstalled(LookupError):
    """The app has no installation (or it was removed) in this workspace."""


class Permissions:
    """Who may change a channel's settings, from ``[slack] manage_users`` and ``admins_only``.

    With neither set everyone may. A user named in ``manage_users`` always may; with
    ``admins_only`` workspace admins and owners may too (asked with ``users.info``, cached
    for a few minutes so a burst of commands costs one call). When ``users.info`` fails the
    answer is "no": a Slack outage must not open settings to everyone.
    """

    def __init__(self, config: Config, clients: Clients) -> None:
        self.manage_users = set(config.slack.manage_users)
        self.admins_only = config.slack.admins_only
        self.clients = clients
        self._admin_cache: dict[tuple[str, str], tuple[float, bool]] = {}

    @property
    def restricted(self) -> bool:
        return bool(self.manage_users) or self.admins_only

    async def can_manage(self, user_id: str, team_id: str = "") -> bool:
        if not self.restricted or user_id in self.manage_users:
            return True
        if not self.admins_only:
            return False
        return await self.is_admin(user_id, team_id)

    async def is_admin(self, user_id: str, team_id: str = "") -> bool:
        cached = self._admin_cache.get((team_id, user_id))
        now = time.monotonic()
        if cached and now - cached[0] < ADMIN_CACHE_SECONDS:
            return cached[1]
        try:
            client = await self.clients.client_for(team_id)
            answer = await client.users_info(user=user_id)
            user = answer.get("user") or {}
            admin = bool(
                user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner")
            )
        except Exception as exc:  # network or API error: refuse, do not cache
            log.warning("users.info for %s failed (%s); treating as not an admin", user_id, exc)
            return False
        self._admin_cache[(team_id, user_id)] = (now, admin)
        return admin


class SlackCommands:
    """Runs ``/papers`` commands and button presses for one Slack app."""

    def __init__(self, bot: PapersBot, config: Config, clients: Clients) -> None:
        self.bot = bot
        self.config = config
        self.clients = clients
        self.permissions = Permissions(config, clients)
        self.membership = Membership(clients)
        self._tasks: set[asyncio.Task[None]] = set()

    async def request(
        self,
        text: str,
        team_id: str,
        channel_id: str,
        user_id: str,
        user_name: str,
        *,
        spec: Spec | None = None,
    ) -> Request:
        """The neutral request for ``text`` typed by ``user_id`` in ``channel_id``.

        ``spec`` is the command's declaration (read from ``text`` when not given). A direct
        conversation is the person's own channel: no permission rule applies there.
        Before a command that starts posts, the bot checks it can post where it would
        post (:mod:`adapters.slack.membership`), so "Subscribed" is never said where no
        post could arrive; stopping posts needs no check.
        """
        spec = spec or spec_of(text)
        can_manage = True
        if spec and spec.manages and self.permissions.restricted and not is_direct(channel_id):
            can_manage = await self.permissions.can_manage(user_id, team_id)
        cannot_post = None
        if spec and spec.starts_posts and can_manage:
            cannot_post = await self.membership.problem(team_id, channel_id, user_id)
        return Request(
            text=text,
            platform=PLATFORM,
            workspace=team_id,
            channel_id=channel_id,
            user_id=user_id,
            user_name=user_name,
            can_manage=can_manage,
            cannot_post=cannot_post,
        )

    async def execute(
        self, text: str, who: dict[str, str], invocation: Invocation | None = None
    ) -> Reply:
        """Run one command (``invocation`` if a form typed it, else ``text``); never raises."""
        try:
            spec = invocation.spec if invocation is not None else None
            request = await self.request(text, **who, spec=spec)
            return await self.bot.handle_async(request, invocation)
        except Exception:  # the core never raises; this guards our own wiring
            log.exception("command %r failed in the Slack adapter", text[:200])
            return Reply.error("Something went wrong on our side; it has been logged.")

    def spawn(self, work: Callable[[], Awaitable[None]], what: str) -> None:
        """Run ``work`` after the listener returns, so the ack goes out first."""

        async def guarded() -> None:
            try:
                await work()
            except Exception:
                log.exception("answering %s failed", what)

        task = asyncio.create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait for answers still being sent (on shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def answer(self, respond: AsyncRespond, reply: Reply, *, replace: bool) -> None:
        """Send ``reply`` through ``response_url``: one post per rendered message.

        ``replace_original`` is always sent explicitly (``False`` unless replacing), since
        an answer to a button on a public digest must add an ephemeral message for the
        presser, never overwrite the digest everyone sees.
        """
        try:
            messages = render(reply)
        except Exception:  # a renderer bug: the asker still gets an answer, not silence
            log.exception("rendering a Slack reply failed")
            messages = render(Reply.error("Something went wrong on our side; it has been logged."))
        if len(messages) > MAX_RESPONSES:
            log.warning("reply needs %d messages; sending the first %d", len(messages), 5)
            messages = messages[:MAX_RESPONSES]
        response_type = "ephemeral" if reply.ephemeral else "in_channel"
        for n, message in enumerate(messages):
            await respond(
                text=message["text"],
                blocks=message["blocks"],
                response_type=response_type,
                replace_original=replace and n == 0,
            )

    async def run(
        self, respond: AsyncRespond, text: str, who: dict[str, str], *, replace: bool = False
    ) -> None:
        reply = await self.execute(text, who)
        await self.answer(respond, reply, replace=replace and reply.ephemeral)


def unescape(text: str) -> str:
    """Slash command ``text`` as the user typed it.

    Slack sends ``&``, ``<`` and ``>`` in command text as ``&amp;``, ``&lt;`` and
    ``&gt;``; an imported settings snippet or a search for "R&D" needs them back.
    ``&amp;`` goes last so ``&amp;lt;`` becomes ``&lt;``, not ``<``.
    """
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# Slack's markup in command text (``should_escape: true``): a link ``<https://x|label>``,
# a channel ``<#C1|name>``. Mentions (``<@U1|name>``, ``<!subteam^S1|@team>``) stay as
# sent: ``subscribe --notify`` reads them (bot.mentions).
_LINK_MARKUP = re.compile(r"<((?:https?|mailto):[^<>|]*)(?:\|[^<>]*)?>")
_CHANNEL_MARKUP = re.compile(r"<#[A-Z0-9]+\|([^<>]*)>|<#([A-Z0-9]+)>")


def unwrap(text: str) -> str:
    """Raw slash command text with Slack's link and channel markup back to what was
    typed (``https://x``, ``#name``); run before :func:`unescape`, while a bare ``<``
    can only be Slack's markup (a typed one arrives as ``&lt;``)."""
    text = _LINK_MARKUP.sub(lambda m: m.group(1), text)
    return _CHANNEL_MARKUP.sub(lambda m: "#" + (m.group(1) or m.group(2)), text)


def replaces_original(action: dict[str, Any], container: dict[str, Any]) -> bool:
    """Whether the answer to a button press should replace the message the button is on.

    Only a paging button on an ephemeral list (a search result) does: the list is the
    presser's own. A press on a public message (a channel digest: Similar, 👍, 👎) must
    never edit what everyone sees, so its answer is always a new message.
    """
    paging = str(action.get("action_id", "")).startswith(ACTION_NAV)
    return paging and bool(container.get("is_ephemeral"))


def user_name(user: dict[str, Any]) -> str:
    return user.get("username") or user.get("name") or user.get("id", "")


def oauth_settings(config: Config, installations: Installations) -> AsyncOAuthSettings:
    """bolt's install flow (``/slack/install``, ``/slack/oauth_redirect``) over our stores."""
    return AsyncOAuthSettings(
        client_id=config.secrets.get(CLIENT_ID),
        client_secret=config.secrets.get(CLIENT_SECRET),
        scopes=list(BOT_SCOPES),
        redirect_uri=config.slack.redirect_url or None,
        installation_store=installations.installation_store,
        installation_store_bot_only=True,  # no user tokens: the bot acts, never a person
        state_store=installations.state_store,
        logger=logging.getLogger("adapters.slack.oauth"),
    )


def build_app(
    bot: PapersBot,
    config: Config,
    client: AsyncWebClient,
    installations: Installations | None = None,
) -> tuple[AsyncApp, SlackCommands]:
    """An ``AsyncApp`` answering ``/papers`` and our buttons, and the command runner.

    With ``installations`` (``[slack] oauth``) bolt runs the install flow and finds each
    request's workspace token in the installation store; without, one token serves.
    """
    http = config.slack.mode == "http"
    app = AsyncApp(
        client=client,
        signing_secret=config.secrets.slack_signing_secret or "",
        request_verification_enabled=http,
        oauth_settings=oauth_settings(config, installations) if installations else None,
        # Bolt's default logger would print request bodies at debug level; use ours.
        logger=logging.getLogger("adapters.slack.bolt"),
    )
    commands = SlackCommands(bot, config, Clients(client, installations))
    if installations is not None:
        register_uninstall(app, bot, installations, commands.membership)

    @app.command(COMMAND)
    async def on_command(ack: Any, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        # Newlines survive (a multi-line ``import`` snippet); entities are undone.
        text = unescape(unwrap(body.get("text") or ""))
        who = {
            "team_id": body.get("team_id", ""),
            "channel_id": body.get("channel_id", ""),
            "user_id": body.get("user_id", ""),
            "user_name": body.get("user_name", ""),
        }
        commands.spawn(lambda: commands.run(respond, text, who), f"/papers {text[:80]!r}")

    @app.action(re.compile(f"^({ACTION_COMMAND}|{ACTION_NAV}|{ACTION_MORE})_"))
    async def on_button(ack: Any, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        action = (body.get("actions") or [{}])[0]
        # A button carries its command as its value; a "⋯" menu, as the chosen option's.
        chosen = action.get("selected_option") or {}
        text = action.get("value") or chosen.get("value") or ""
        if text.startswith(LINK_VALUE):
            return  # a link in the "⋯" menu: Slack opened it, there is nothing to run
        user = body.get("user") or {}
        who = {
            "team_id": (body.get("team") or {}).get("id") or user.get("team_id", ""),
            "channel_id": (body.get("channel") or {}).get("id", ""),
            "user_id": user.get("id", ""),
            "user_name": user_name(user),
        }
        # Paging buttons replace the list they sit on; everything else answers anew, and
        # a press on a public digest never touches the digest (see replaces_original).
        replace = replaces_original(action, body.get("container") or {})
        commands.spawn(
            lambda: commands.run(respond, text, who, replace=replace), f"button {text[:80]!r}"
        )

    @app.action(re.compile(f"^{ACTION_LINK}_"))
    async def on_link(ack: Any) -> None:
        # Link buttons open in the browser; Slack still tells us, and wants an ack.
        await ack()

    register_personal(app, commands)
    return app, commands


def register_uninstall(
    app: AsyncApp, bot: PapersBot, installations: Installations, membership: Membership
) -> None:
    """``app_uninstalled`` and ``tokens_revoked``: forget the workspace's token and channels.

    Without them a removed workspace's channels would fail every day (``account_inactive``)
    and its token would stay in the database. A revoked user token alone changes nothing:
    the app installs bot tokens only.
    """

    async def forget(team_id: str, why: str) -> None:
        if not team_id:
            return
        await installations.forget(team_id)
        membership.forget(team_id)  # its "member of C1" no longer holds
        removed = await asyncio.to_thread(bot.store.forget_workspace, PLATFORM, team_id)
        log.info("slack: %s in %s: removed its token and %d channels", why, team_id, removed)

    @app.event("app_uninstalled")
    async def on_uninstalled(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        await forget(str(body.get("team_id") or ""), "app uninstalled")

    @app.event("tokens_revoked")
    async def on_revoked(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        tokens = (body.get("event") or {}).get("tokens") or {}
        if tokens.get("bot"):
            await forget(str(body.get("team_id") or ""), "bot token revoked")
