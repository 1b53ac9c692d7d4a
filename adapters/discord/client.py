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

Personal papers (:mod:`adapters.discord.personal`): the DM with the bot is the user's own
channel (key ``discord:@me:<DM channel id>``, no permission rule, digests posted into the
DM); through the app's user install, in a place the bot cannot post to, every command acts
on that DM channel, opened over REST. Users are keyed globally (``user_scope="*"``).
When the bot joins a server it posts one welcome (:mod:`adapters.discord.welcome`);
:meth:`DiscordAdapter.post_direct` sends a person a DM (the core's pause notices).

Safety: the client sets ``AllowedMentions.none()`` and every send passes it again, so
nothing the bot posts can ping @everyone, a role or a user even if escaping missed
something. The token is never logged.
"""

import asyncio
import contextlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from adapters.base import DeliveryError, PermanentDeliveryError
from adapters.discord.personal import (
    CANNOT_OPEN_DM,
    CANNOT_POST_HERE,
    DM_WORKSPACE,
    MOVED_TO_DM,
    USER_SCOPE,
    Place,
    can_post,
    place_of,
)
from adapters.discord.render import (
    CUSTOM_ID_PREFIX,
    LIMITS,
    CommandIds,
    MessagePayload,
    build_view,
    cut,
    payload_files,
    render,
)
from adapters.discord.settings import PLATFORM_NAME as PLATFORM
from adapters.discord.settings import DiscordSettings
from adapters.discord.tree import build_group
from adapters.discord.welcome import WELCOME_TEXT, welcome_channels, welcome_key
from bot.actions import invocation as action_invocation
from bot.app import PapersBot
from bot.commands import describe as describe_invocation
from bot.commands import spec_of
from bot.config import Config
from bot.delivery import describe
from bot.models import Channel
from bot.registry import Invocation, Option, Spec
from bot.replies import ButtonRole, Reply, ReplyKind, Request
from bot.store import utc_now

log = logging.getLogger(__name__)

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
async def _delivery_errors(channel_id: int, *, user_id: int | None = None) -> AsyncIterator[None]:
    """discord.py and network errors as the scheduler's delivery errors: permanent when
    the bot can never post there as things are, transient otherwise. With ``user_id`` the
    post is a DM to that person (opening the DM, or sending into it)."""
    try:
        yield
    except discord.Forbidden as exc:
        if user_id is not None:
            raise PermanentDeliveryError(
                f"Discord refused a DM to user {user_id} (403, code {exc.code}: {exc.text}): "
                "they do not accept DMs from the bot (privacy settings, or no shared server "
                "and no install of the app)."
            ) from exc
        raise PermanentDeliveryError(
            f"Discord refused the post to channel {channel_id} (403, code {exc.code}: "
            f"{exc.text}): the bot lacks access, or Send Messages/Embed Links (or Create "
            "Public Threads, in thread mode) there."
        ) from exc
    except discord.NotFound as exc:
        if user_id is not None:
            raise PermanentDeliveryError(
                f"Discord has no DM with user {user_id} (404, code {exc.code}: {exc.text})."
            ) from exc
        raise PermanentDeliveryError(
            f"Discord channel {channel_id} not found (404, code {exc.code}): it was "
            "deleted or the bot was removed from the server."
        ) from exc
    except discord.HTTPException as exc:
        where = f"user {user_id}'s DM" if user_id is not None else f"channel {channel_id}"
        raise DeliveryError(
            f"Discord returned {exc.status} posting to {where}: {exc.text}"
        ) from exc
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise DeliveryError(f"Could not reach Discord: {exc!r}") from exc


def _send_kwargs(payload: MessagePayload) -> dict[str, Any]:
    """Keyword arguments for any discord.py send: the message as a Components V2 layout.

    discord.py sets the IS_COMPONENTS_V2 flag itself for a ``LayoutView``; such a message
    carries no content and no embeds.
    """
    kwargs: dict[str, Any] = {
        "view": build_view(payload),
        "allowed_mentions": payload.allowed_mentions or NO_MENTIONS,
    }
    if files := payload_files(payload):  # a reply's file (a reading list export)
        kwargs["files"] = files
    return kwargs


class _Hooks:
    """Event methods shared by the plain and the sharded client."""

    adapter: "DiscordAdapter"

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self.adapter.on_interaction(interaction)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        # A server the bot was not in (not one becoming available again: on_guild_available).
        await self.adapter.welcome(guild)

    async def on_ready(self) -> None:
        user = getattr(self, "user", None)
        log.info("discord: connected as %s", user)


# A channel link ``<#123>`` as the renderer's escaping leaves it (broken by a zero-width
# space, like every mention form); post_direct restores it, since it pings nobody.
_DEFUSED_CHANNEL_LINK = re.compile("<\u200b#(\\d{1,20})>")


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
        cls = PapersShardedClient if self.settings.split else PapersClient
        intents = discord.Intents.none()
        intents.guilds = True  # channels and permissions; no message content, no members
        shards: dict[str, Any] = {}
        if self.settings.shard_count:
            shards["shard_count"] = self.settings.shard_count
            if self.settings.shard_ids:  # this process's share of the guilds
                shards["shard_ids"] = list(self.settings.shard_ids)
        self.client: discord.Client = cls(
            intents=intents,
            allowed_mentions=NO_MENTIONS,
            guild_ready_timeout=guild_ready_timeout,
            **shards,
        )
        self.client.adapter = self  # type: ignore[attr-defined]
        self.tree = app_commands.CommandTree(self.client)
        self.group = build_group(self, bot.commands)
        self.tree.add_command(self.group)
        self._task: asyncio.Task[None] | None = None
        self._saved_endpoints: tuple[str, yarl.URL] | None = None
        self._headlines: OrderedDict[str, str] = OrderedDict()  # message id -> title
        self._threads: OrderedDict[str, int] = OrderedDict()  # headline id -> thread id
        self._dms: OrderedDict[int, int] = OrderedDict()  # user id -> their DM channel id
        self._welcoming: set[int] = set()  # guilds whose welcome is being sent right now

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
        if channel.workspace == DM_WORKSPACE:
            headline = None  # a DM has no threads: thread mode posts the messages in a row
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

    async def personal_dm(self, user_id: int) -> int:
        """The id of the DM channel between the bot and ``user_id``, opened over REST
        (``POST /users/@me/channels``) the first time and remembered. Raises the delivery
        errors, as a post does."""
        known = self._dms.get(user_id)
        if known is not None:
            return known
        async with _delivery_errors(0, user_id=user_id):
            channel = await self.client.create_dm(discord.Object(id=user_id))
        _remember(self._dms, user_id, channel.id)  # type: ignore[arg-type]
        return channel.id

    async def post_direct(self, workspace: str, user_id: str, text: str) -> None:
        """Send one short message to a person in their DM with the bot (pause notices).

        ``workspace`` is not needed: Discord user ids are global. Raises the same
        :class:`PermanentDeliveryError` / :class:`DeliveryError` as :meth:`post`.
        """
        if self.client.is_closed() or self.client.user is None:
            raise DeliveryError("The Discord adapter is not connected.")
        try:
            user = int(user_id)
        except ValueError:
            raise PermanentDeliveryError(f"{user_id!r} is not a Discord user id.") from None
        dm_id = await self.personal_dm(user)
        target = self.client.get_partial_messageable(dm_id)
        for payload in render(Reply(text=text, ephemeral=False), self.ids):
            if payload.content:  # the notice names its channel first: a link, pinging nobody
                # (only that one: a channel reference inside the quoted reason stays inert)
                payload.content = _DEFUSED_CHANNEL_LINK.sub(r"<#\1>", payload.content, count=1)
            async with _delivery_errors(dm_id, user_id=user):
                await target.send(**_send_kwargs(payload))

    async def welcome(self, guild: discord.Guild) -> int | None:
        """Post the welcome in a server the bot just joined, once per server ever.

        Returns the channel it went to (``None``: already welcomed, or no channel took it).
        It tries the channels :func:`welcome_channels` allows, in order, moving on when one
        refuses; it is recorded only once posted, so a server that refused everywhere is
        welcomed if the bot is invited again. Never raises (an event handler).
        """
        if guild.id in self._welcoming:
            return None
        self._welcoming.add(guild.id)
        key = welcome_key(guild.id)
        try:
            if await asyncio.to_thread(self.bot.store.get_meta, key):
                return None
            payloads = render(Reply(text=WELCOME_TEXT, ephemeral=False), self.ids)
            for channel in welcome_channels(guild):
                try:
                    async with _delivery_errors(channel.id):
                        for payload in payloads:
                            await channel.send(**_send_kwargs(payload))
                except DeliveryError as exc:
                    log.info("discord: welcome not posted in %s (%s)", channel.id, describe(exc))
                    continue
                record = {"channel": str(channel.id), "at": utc_now()}
                await asyncio.to_thread(self.bot.store.set_meta, key, record)
                log.info("discord: welcomed server %s in channel %s", guild.id, channel.id)
                return channel.id
            log.warning("discord: no channel of server %s took the welcome", guild.id)
        except Exception:  # an event handler: log, never raise into discord.py
            log.exception("discord: welcome to server %s failed", guild.id)
        finally:
            self._welcoming.discard(guild.id)
        return None

    # ---- interactions ---------------------------------------------------------------

    def request_for(
        self, interaction: discord.Interaction, text: str, *, dm_id: int | None = None
    ) -> Request:
        """The neutral request for ``interaction``: which channel it acts on, and whether
        the user may change that channel's settings.

        In a server the bot is in: that channel, Manage Channels to change it, and a
        ``cannot_post`` line when the bot may not post there. In the DM with the bot: that
        DM (``discord:@me:<id>``), theirs to change. Anywhere else (the user's install,
        where the bot cannot post): their DM with the bot, ``dm_id`` (opened by
        :meth:`personal_dm` when a command runs), theirs to change.
        """
        place = place_of(interaction)
        user = interaction.user
        workspace = str(interaction.guild_id) if interaction.guild_id else DM_WORKSPACE
        channel_id = str(interaction.channel_id)
        can_manage, cannot_post = True, None
        if place is Place.GUILD:
            perms = interaction.permissions
            can_manage = (not self.settings.require_manage_channels) or perms.manage_channels
            cannot_post = None if can_post(interaction) else CANNOT_POST_HERE
        elif place is Place.BOT_DM:  # (workspace is DM_WORKSPACE already: no guild)
            if interaction.channel_id is not None:
                _remember(self._dms, user.id, interaction.channel_id)
        else:
            dm_id = dm_id or self._dms.get(user.id)
            if dm_id is not None:
                workspace, channel_id = DM_WORKSPACE, str(dm_id)
            # else (only before the DM is open): this place's own key, never posted to
        return Request(
            text=text,
            platform=PLATFORM,
            workspace=workspace,
            channel_id=channel_id,
            user_id=str(user.id),
            user_name=user.display_name,
            can_manage=can_manage,
            cannot_post=cannot_post,
            user_scope=USER_SCOPE,
        )

    def channel_key(self, interaction: discord.Interaction) -> str:
        return self.request_for(interaction, "").channel

    async def invoke(self, interaction: discord.Interaction, invocation: Invocation) -> None:
        """Run a slash subcommand's typed options for the user and answer the interaction."""
        request = self.request_for(interaction, describe_invocation(invocation))
        await self.respond(interaction, request, component=False, invocation=invocation)

    async def suggest(
        self, interaction: discord.Interaction, spec: Spec, option: Option, current: str
    ) -> list[tuple[str, str]]:
        """Autocomplete for ``option`` as typed so far, from the core (for the channel the
        command would act on: through a user install, the personal DM's topics once that DM
        is known; autocomplete never opens it, so a user who refuses DMs costs no REST call
        per keystroke)."""
        request = self.request_for(interaction, "")
        # Suggestions read the state database (a channel's topics): off the event loop.
        return await asyncio.to_thread(self.bot.suggest, request, spec.name, option.key, current)

    async def _answer(
        self,
        interaction: discord.Interaction,
        request: Request,
        invocation: Invocation | None,
    ) -> Reply:
        """The core's reply to ``request``; from a place the bot cannot post to, run on
        the user's personal DM channel, a settings change saying so (privately)."""
        if place_of(interaction) is not Place.ELSEWHERE:
            return await self.bot.handle_async(request, invocation)
        manages = self._moves_to_dm(interaction, request, invocation)
        try:
            dm_id = await self.personal_dm(interaction.user.id)
        except DeliveryError as exc:
            log.info("discord: no DM with user %s (%s)", interaction.user.id, describe(exc))
            if manages:
                return Reply.error(CANNOT_OPEN_DM)
            return await self.bot.handle_async(request, invocation)  # reading needs no DM
        personal = self.request_for(interaction, request.text, dm_id=dm_id)
        reply = await self.bot.handle_async(personal, invocation)
        if manages and reply.kind is not ReplyKind.ERROR:
            text = f"{MOVED_TO_DM}\n{reply.text}" if reply.text else MOVED_TO_DM
            reply = replace(reply, text=text, ephemeral=True)
        return reply

    def _moves_to_dm(
        self, interaction: discord.Interaction, request: Request, invocation: Invocation | None
    ) -> bool:
        """Whether the command is a settings change made where the bot cannot post (a user
        install elsewhere): it acts on the asker's DM, and its answer is theirs alone."""
        return place_of(interaction) is Place.ELSEWHERE and self._manages(request, invocation)

    def _manages(self, request: Request, invocation: Invocation | None) -> bool:
        """Whether the command changes a channel's settings (its declaration says so)."""
        spec = invocation.spec if invocation is not None else spec_of(request.text)
        return spec is not None and spec.manages

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Button presses: a ``papers:`` custom id's button runs its action for the presser.

        A button remembered (rendered since the start) runs as its action, through the
        registry; one made before a restart runs as the command line its id carries.
        """
        if interaction.type is not discord.InteractionType.component:
            return  # slash commands go through the CommandTree
        data: dict[str, Any] = interaction.data or {}  # type: ignore[assignment]
        # A card's "⋯" menu (a select) carries the chosen button's custom id as its value.
        custom_id = str((data.get("values") or [data.get("custom_id", "")])[0])
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
        task = asyncio.create_task(self._answer(interaction, request, invocation))
        done, _ = await asyncio.wait({task}, timeout=self.ack_deadline)
        if not done:
            # A button's deferred update shows nothing, and its follow-ups pick their own
            # visibility; a slash command's "thinking" message is the answer to come, so
            # it is deferred with the visibility the answer will have.
            public = (
                not component
                and invocation is not None
                and self.bot.answers_publicly(request, invocation)
                and not self._moves_to_dm(interaction, request, invocation)
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
