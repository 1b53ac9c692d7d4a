"""The Discord adapter: discord.py wiring, the ``/papers`` command group, button presses.

The client runs in the bot's own asyncio loop (``start`` logs in, connects in a background
task and returns once the gateway is ready). The ``/papers`` subcommands are derived from
the command declarations (:mod:`adapters.discord.tree`); each hands its typed options,
as an :class:`~bot.registry.Invocation`, to :meth:`PapersBot.handle_async`, which runs
the same handlers Slack and the terminal reach by text. Button presses arrive as
component interactions with a ``papers:`` custom id standing for the button pressed (see
:class:`~adapters.discord.render.CommandIds`): its action runs for the presser through the
registry, and its role decides how the answer is shown (paging edits the ephemeral results
in place). They are handled in ``on_interaction``, so buttons keep working on old
messages and, encoded as their command line, across restarts.

Safety: the client sets ``AllowedMentions.none()`` and every send passes it again, so
nothing the bot posts can ping @everyone, a role or a user even if escaping missed
something. The token is never logged.
"""

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from adapters.base import DeliveryError, PermanentDeliveryError
from adapters.discord.render import (
    CUSTOM_ID_PREFIX,
    LIMITS,
    CommandIds,
    MessagePayload,
    build_view,
    cut,
    render,
)
from adapters.discord.settings import DiscordSettings
from adapters.discord.tree import build_group
from bot.actions import invocation as action_invocation
from bot.app import PapersBot
from bot.commands import describe as describe_invocation
from bot.config import Config
from bot.delivery import describe
from bot.models import Channel
from bot.registry import Invocation, Option, Spec
from bot.replies import ButtonRole, Reply, ReplyKind, Request

log = logging.getLogger(__name__)

PLATFORM = "discord"
# Discord drops an interaction not answered within 3 s; past this we defer and follow up.
ACK_DEADLINE = 2.0
NO_MENTIONS = discord.AllowedMentions.none()
THREAD_NAME_LIMIT = 100  # Discord's limit on a thread's name
REMEMBERED_THREADS = 10_000  # headline -> thread ids kept; a restart falls back to code 160004


def configure_endpoints(settings: DiscordSettings) -> None:
    """Point discord.py's REST and gateway at ``settings`` (Discord itself by default)."""
    Route.BASE = settings.api_base_url.rstrip("/")
    if settings.gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)


def _remember(cache: "OrderedDict[str, Any]", key: str, value: Any) -> None:
    """Keep ``value`` in a bounded map: old headlines drop out first."""
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > REMEMBERED_THREADS:
        cache.popitem(last=False)


@asynccontextmanager
async def _delivery_errors(channel_id: int) -> AsyncIterator[None]:
    """discord.py and network errors as the scheduler's delivery errors: permanent when
    the bot can never post there as things are, transient otherwise."""
    try:
        yield
    except discord.Forbidden as exc:
        raise PermanentDeliveryError(
            f"Discord refused the post to channel {channel_id} (403, code {exc.code}: "
            f"{exc.text}): the bot lacks access, or Send Messages/Embed Links (or Create "
            "Public Threads, in thread mode) there."
        ) from exc
    except discord.NotFound as exc:
        raise PermanentDeliveryError(
            f"Discord channel {channel_id} not found (404, code {exc.code}): it was "
            "deleted or the bot was removed from the server."
        ) from exc
    except discord.HTTPException as exc:
        raise DeliveryError(
            f"Discord returned {exc.status} posting to channel {channel_id}: {exc.text}"
        ) from exc
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise DeliveryError(f"Could not reach Discord: {exc!r}") from exc


def _send_kwargs(payload: MessagePayload) -> dict[str, Any]:
    """Keyword arguments for any discord.py send: the message as a Components V2 layout.

    discord.py sets the IS_COMPONENTS_V2 flag itself for a ``LayoutView``; such a message
    carries no content and no embeds.
    """
    return {
        "view": build_view(payload),
        "allowed_mentions": payload.allowed_mentions or NO_MENTIONS,
    }


class _Hooks:
    """Event methods shared by the plain and the sharded client."""

    adapter: "DiscordAdapter"

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self.adapter.on_interaction(interaction)

    async def on_ready(self) -> None:
        user = getattr(self, "user", None)
        log.info("discord: connected as %s", user)


class PapersClient(_Hooks, discord.Client):
    pass


class PapersShardedClient(_Hooks, discord.AutoShardedClient):
    pass


class DiscordAdapter:
    """``/papers`` on Discord: slash commands in, layouts out, digests posted to channels."""

    platform = PLATFORM
    limits = LIMITS  # how the scheduler and the renderer split a reply into messages

    def __init__(
        self,
        bot: PapersBot,
        config: Config,
        *,
        ready_timeout: float = 60.0,
        ack_deadline: float = ACK_DEADLINE,
        guild_ready_timeout: float = 2.0,
    ) -> None:
        """``guild_ready_timeout`` is how long discord.py waits for more guilds before READY
        (tests shorten it); ``ack_deadline`` is when a slow answer gets deferred."""
        self.bot = bot
        self.config = config
        self.settings = config.discord
        self.ready_timeout = ready_timeout
        self.ack_deadline = ack_deadline
        self.ids = CommandIds()
        self.last_ack_seconds: float | None = None  # how long the last interaction took to answer
        cls = PapersShardedClient if self.settings.sharded else PapersClient
        intents = discord.Intents.none()
        intents.guilds = True  # channels and permissions; no message content, no members
        self.client: discord.Client = cls(
            intents=intents,
            allowed_mentions=NO_MENTIONS,
            guild_ready_timeout=guild_ready_timeout,
        )
        self.client.adapter = self  # type: ignore[attr-defined]
        self.tree = app_commands.CommandTree(self.client)
        self.group = build_group(self, bot.commands)
        self.tree.add_command(self.group)
        self._task: asyncio.Task[None] | None = None
        self._saved_endpoints: tuple[str, yarl.URL] | None = None
        self._headlines: OrderedDict[str, str] = OrderedDict()  # message id -> title
        self._threads: OrderedDict[str, int] = OrderedDict()  # headline id -> thread id

    # ---- lifecycle ------------------------------------------------------------------

    async def login(self) -> None:
        """Log in over REST only (enough to sync commands); raises on a bad token."""
        token = self.config.secrets.discord_token
        if not token:
            raise RuntimeError("DISCORD_TOKEN is not set: the Discord adapter cannot log in.")
        if self._saved_endpoints is None:
            self._saved_endpoints = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        configure_endpoints(self.settings)
        await self.client.login(token)

    async def start(self) -> None:
        """Log in, connect in the background, and return once the gateway is ready.

        Logging in is one try: when Discord's REST API cannot be reached it raises (``run``
        retries with backoff) after closing the HTTP session it opened, so nothing leaks
        ("Unclosed client session") and the next try starts clean. A refused token is a
        :class:`PermanentDeliveryError`. Once logged in, discord.py's own loop retries
        the gateway with backoff; this waits for READY as long as that takes (closing
        the client would make it unusable for another try), logging every
        ``ready_timeout`` seconds, and is cancelled by ``run`` on stop.
        """
        try:
            await self.login()
            if self.settings.sync_on_start:
                await self.sync_commands(self.settings.guild_ids)
        except discord.LoginFailure as exc:
            await self._drop_session()
            raise PermanentDeliveryError(f"Discord refused the token ({exc})") from None
        except BaseException:
            await self._drop_session()
            raise
        self._task = asyncio.create_task(self.client.connect(reconnect=True), name="discord")
        ready = asyncio.create_task(self.client.wait_until_ready())
        try:
            while True:
                done, _ = await asyncio.wait(
                    {self._task, ready},
                    timeout=self.ready_timeout,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if done:
                    break
                log.warning(
                    "discord: gateway not ready after %.0f s; still trying", self.ready_timeout
                )
        finally:
            ready.cancel()
        if ready in done:
            return
        error = self._task.exception()
        self._task = None
        if self.client.is_closed():
            # discord.py closes the client and gives up only on what reconnecting cannot
            # fix: a token the gateway refuses, missing privileged intents.
            raise PermanentDeliveryError(f"Discord refused the gateway connection: {error!r}")
        # Its loop also dies when the very first gateway connection fails (it reads the
        # sequence of a websocket it never had): a transient failure, tried again later.
        await self._drop_session()
        cause = (error.__context__ or error) if error else None
        raise DeliveryError(f"Discord gateway unreachable: {describe(cause)}") from None

    async def _drop_session(self) -> None:
        """Close the HTTP session a failed login opened, keeping the client reusable.

        ``Client.close`` would end the client for good; closing only its session (and
        forgetting the connector the session owned) lets the next ``login`` open new ones.
        """
        with contextlib.suppress(Exception):
            await self.client.http.close()
        self.client.http.connector = discord.utils.MISSING

    async def stop(self) -> None:
        await self.client.close()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except Exception as exc:  # closing: report, never raise
                log.debug("discord: connection task ended with %r", exc)
            self._task = None
        if self._saved_endpoints is not None:
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved_endpoints
            self._saved_endpoints = None

    async def sync_commands(self, guild_ids: list[int] | None = None) -> list[str]:
        """Register ``/papers`` with Discord: per guild (instant) or globally (up to an hour).

        Returns where it was synced, for the CLI to print.
        """
        done = []
        if guild_ids:
            for guild_id in guild_ids:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
                done.append(f"guild {guild_id}")
        else:
            await self.tree.sync()
            done.append("global")
        log.info("discord: /papers commands synced (%s)", ", ".join(done))
        return done

    # ---- posting --------------------------------------------------------------------

    async def post(self, channel: Channel, reply: Reply, *, thread: str | None = None) -> list[str]:
        """Post ``reply`` to a channel (a digest); return the message ids in order.

        With ``thread`` (a message id this adapter returned, the headline of a thread-mode
        post) the reply goes into a thread started on that message: started once, then
        reused for every paper under the same headline.
        """
        if self.client.is_closed() or self.client.user is None:
            raise DeliveryError("The Discord adapter is not connected.")
        try:
            channel_id = int(channel.channel_id)
            guild_id = int(channel.workspace) if channel.workspace.isdigit() else None
            headline = int(thread) if thread is not None else None
        except ValueError:
            raise PermanentDeliveryError(
                f"{channel.channel_id!r} is not a Discord channel id (or {thread!r} is not "
                "a message id)."
            ) from None
        target_id = channel_id
        if headline is not None:
            target_id = await self._thread_for(channel_id, headline)
        target = self.client.get_partial_messageable(target_id, guild_id=guild_id)
        ids = []
        # Rendering is pure: in a worker thread, so a fan-out never renders on the loop.
        payloads = await asyncio.to_thread(render, reply, self.ids)
        for payload in payloads:
            async with _delivery_errors(target_id):
                message = await target.send(**_send_kwargs(payload))
            ids.append(str(message.id))
        if headline is None and ids and reply.title:
            _remember(self._headlines, ids[0], reply.title)
        return ids

    async def _thread_for(self, channel_id: int, message_id: int) -> int:
        """The thread on a headline message: started on first use, then remembered.

        A thread started on a message has that message's id, so if Discord says one exists
        already (code 160004: we started it before a restart) we post into that.
        """
        key = str(message_id)
        known = self._threads.get(key)
        if known is not None:
            return known
        name = cut(self._headlines.get(key) or "Papers", THREAD_NAME_LIMIT)
        try:
            async with _delivery_errors(channel_id):
                data = await self.client.http.start_thread_with_message(
                    channel_id, message_id, name=name, auto_archive_duration=1440
                )
            thread_id = int(data["id"])
        except DeliveryError as exc:
            cause = exc.__cause__
            if not (isinstance(cause, discord.HTTPException) and cause.code == 160004):
                raise
            thread_id = message_id
        _remember(self._threads, key, thread_id)
        return thread_id

    # ---- interactions ---------------------------------------------------------------

    def request_for(self, interaction: discord.Interaction, text: str) -> Request:
        perms = interaction.permissions
        can_manage = (not self.settings.require_manage_channels) or bool(perms.manage_channels)
        return Request(
            text=text,
            platform=PLATFORM,
            workspace=str(interaction.guild_id or "dm"),
            channel_id=str(interaction.channel_id),
            user_id=str(interaction.user.id),
            user_name=interaction.user.display_name,
            can_manage=can_manage,
        )

    def channel_key(self, interaction: discord.Interaction) -> str:
        return self.request_for(interaction, "").channel

    async def invoke(self, interaction: discord.Interaction, invocation: Invocation) -> None:
        """Run a slash subcommand's typed options for the user and answer the interaction."""
        request = self.request_for(interaction, describe_invocation(invocation))
        await self.respond(interaction, request, component=False, invocation=invocation)

    def suggest(
        self, interaction: discord.Interaction, spec: Spec, option: Option, current: str
    ) -> list[tuple[str, str]]:
        """Autocomplete for ``option`` as typed so far, from the core."""
        request = self.request_for(interaction, "")
        return self.bot.suggest(request, spec.name, option.key, current)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Button presses: a ``papers:`` custom id's button runs its action for the presser.

        A button remembered (rendered since the start) runs as its action, through the
        registry; one made before a restart runs as the command line its id carries.
        """
        if interaction.type is not discord.InteractionType.component:
            return  # slash commands go through the CommandTree
        data: dict[str, Any] = interaction.data or {}  # type: ignore[assignment]
        custom_id = str(data.get("custom_id", ""))
        if not custom_id.startswith(CUSTOM_ID_PREFIX):
            return
        command = self.ids.decode(custom_id)
        if command is None:
            await interaction.response.send_message(
                "This button has expired (the bot restarted). Run the command again.",
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
            return
        button = self.ids.button(custom_id)
        action = button.action if button is not None else None
        await self.respond(
            interaction,
            self.request_for(interaction, command),
            component=True,
            invocation=action_invocation(action) if action is not None else None,
            role=button.role if button is not None else None,
        )

    async def respond(
        self,
        interaction: discord.Interaction,
        request: Request,
        *,
        component: bool,
        invocation: Invocation | None = None,
        role: ButtonRole | None = None,
    ) -> None:
        """Answer within Discord's 3 s: directly when the core is quick, else defer first.

        A slash command comes as an ``invocation`` (typed options); a button press as its
        action's ``invocation`` and its ``role``, or (made before a restart) as
        ``request.text`` alone.
        """
        started = time.monotonic()
        task = asyncio.create_task(self.bot.handle_async(request, invocation))
        done, _ = await asyncio.wait({task}, timeout=self.ack_deadline)
        if not done:
            # A button's deferred update shows nothing, and its follow-ups pick their own
            # visibility; a slash command's "thinking" message is the answer to come, so
            # it is deferred with the visibility the answer will have.
            public = (
                not component
                and invocation is not None
                and self.bot.answers_publicly(request, invocation)
            )
            if component:
                await interaction.response.defer()
            else:
                await interaction.response.defer(ephemeral=not public, thinking=True)
            self.last_ack_seconds = time.monotonic() - started
            reply = await task
            payloads = render(reply, self.ids)
            if not component:
                await self._follow_up_deferred(interaction, payloads, public=public)
                return
            for payload in payloads:
                await interaction.followup.send(
                    ephemeral=payload.ephemeral, **_send_kwargs(payload)
                )
            return
        reply = task.result()
        payloads = render(reply, self.ids)
        first, rest = payloads[0], payloads[1:]
        if component and self._replaces_pressed(interaction, role, reply, payloads):
            kwargs = _send_kwargs(first)
            kwargs.update(content=None, embeds=[])  # a V2 message has neither
            await interaction.response.edit_message(**kwargs)
        else:
            await interaction.response.send_message(
                ephemeral=first.ephemeral, **_send_kwargs(first)
            )
        self.last_ack_seconds = time.monotonic() - started
        for payload in rest:
            await interaction.followup.send(ephemeral=payload.ephemeral, **_send_kwargs(payload))

    @staticmethod
    async def _follow_up_deferred(
        interaction: discord.Interaction, payloads: list[MessagePayload], *, public: bool
    ) -> None:
        """Answer a deferred slash command whose defer was ``public`` (or not).

        Discord turns the first follow-up into the deferred message and keeps the defer's
        visibility, whatever the follow-up asks. When the answer's visibility is not the
        one guessed (a refusal where a change was expected), the "thinking" message is
        deleted first, so the answer is posted as a new message with its own visibility:
        an error is never shown to the channel, a change never hidden from it.
        """
        deferred_ephemeral = not public
        if payloads and payloads[0].ephemeral != deferred_ephemeral:
            try:
                await interaction.delete_original_response()
            except discord.HTTPException as exc:  # the answer still goes out, if less neatly
                log.warning("discord: could not delete a deferred response (%s)", exc.status)
        for payload in payloads:
            await interaction.followup.send(ephemeral=payload.ephemeral, **_send_kwargs(payload))

    @staticmethod
    def _replaces_pressed(
        interaction: discord.Interaction,
        role: ButtonRole | None,
        reply: Reply,
        payloads: list[MessagePayload],
    ) -> bool:
        """Paging edits the ephemeral results in place instead of stacking new messages.

        Only a ``PAGE`` button: "Similar" or "Subscribe" on ephemeral results answers with
        a new message, and nothing ever edits a public message (a digest) for one presser.
        """
        message = interaction.message
        return (
            role is ButtonRole.PAGE
            and reply.kind is ReplyKind.SEARCH
            and reply.ephemeral
            and len(payloads) == 1
            and message is not None
            and message.flags.ephemeral
        )
