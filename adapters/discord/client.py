"""The Discord adapter: discord.py wiring, the ``/papers`` command group, button presses.

The client runs in the bot's own asyncio loop (``start`` logs in, connects in a background
task and returns once the gateway is ready). Every slash subcommand only builds the text
the core parser reads and hands it to :meth:`PapersBot.handle_async`, so Discord behaves
exactly like Slack and the terminal. Button presses arrive as component interactions with
a ``papers:`` custom id carrying the command to run for the presser (see
:class:`~adapters.discord.render.CommandIds`); they are handled in ``on_interaction``, so
buttons keep working on old messages and across restarts.

Safety: the client sets ``AllowedMentions.none()`` and every send passes it again, so
nothing the bot posts can ping @everyone, a role or a user even if escaping missed
something. The token is never logged.
"""

import asyncio
import contextlib
import logging
import time
import zoneinfo
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from typing import Any, Literal

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from adapters.base import DeliveryError, PermanentDeliveryError
from adapters.console import shorten
from adapters.discord.render import (
    CUSTOM_ID_PREFIX,
    CommandIds,
    MessagePayload,
    build_view,
    cut,
    render,
)
from adapters.discord.settings import DiscordSettings
from bot.app import PapersBot
from bot.commands import CommandError, parse_command
from bot.config import Config
from bot.delivery import describe
from bot.handlers.common import MAX_TRENDING, pop_flag
from bot.models import Channel
from bot.replies import Reply, ReplyKind, Request

log = logging.getLogger(__name__)

PLATFORM = "discord"
# Discord drops an interaction not answered within 3 s; past this we defer and follow up.
ACK_DEADLINE = 2.0
NO_MENTIONS = discord.AllowedMentions.none()
THREAD_NAME_LIMIT = 100  # Discord's limit on a thread's name
REMEMBERED_THREADS = 10_000  # headline -> thread ids kept; a restart falls back to code 160004


def answers_publicly(request: Request) -> bool:
    """Whether the core will answer ``request`` in the channel, decided before running it.

    A slow command is deferred, and a deferred slash command's answer keeps the defer's
    visibility, so it must be known up front. The core answers publicly exactly when a
    setting is changed (a ``manages`` command, run by someone allowed to) or a paper is
    shared; everything else, refusals and errors included, is for the asker only.
    ``subscribe --preview`` is a preview, not a change. A wrong guess is still corrected
    afterwards (see :meth:`DiscordAdapter._follow_up_deferred`).
    """
    try:
        command = parse_command(request.text)
    except CommandError:
        return False
    if command.name == "share":
        return True
    if command.name == "subscribe" and pop_flag(command.args, "preview")[1]:
        return False
    return command.spec.manages and request.can_manage


class PapersGroup(app_commands.Group):
    """The ``/papers`` group, registered with ``contexts`` and ``integration_types`` only.

    discord.py 2.7 still sends the deprecated ``dm_permission`` beside ``contexts``; it is
    left out so Discord reads where the command works from ``contexts`` alone.
    """

    def to_dict(self, tree: app_commands.CommandTree[Any]) -> dict[str, Any]:
        payload = super().to_dict(tree)
        payload.pop("dm_permission", None)
        return payload


@cache
def timezones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def timezone_choices(current: str, limit: int = 25) -> list[app_commands.Choice[str]]:
    """Time zones matching what was typed: prefix matches first, then substring matches."""
    needle = current.strip().lower().replace(" ", "_")
    if not needle:
        names = ["UTC", "Europe/London", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]
    else:
        starts = [z for z in timezones() if z.lower().startswith(needle)]
        parts = [z for z in timezones() if needle in z.lower() and z not in starts]
        names = (starts + parts)[:limit]
    return [app_commands.Choice(name=z, value=z) for z in names]


WEEKDAY_CHOICES = [
    app_commands.Choice(name=name, value=name[:3].lower())
    for name in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
] + [app_commands.Choice(name="off", value="off")]


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
    """Keyword arguments for any discord.py send: a view only when there are buttons."""
    kwargs: dict[str, Any] = {"embeds": payload.embeds, "allowed_mentions": NO_MENTIONS}
    if payload.content is not None:
        kwargs["content"] = payload.content
    view = build_view(payload.buttons)
    if view is not None:
        kwargs["view"] = view
    return kwargs


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
    """``/papers`` on Discord: slash commands in, embeds out, digests posted to channels."""

    platform = PLATFORM

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
        self.group = build_group(self)
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
        for payload in render(reply, self.ids):
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

    async def run(self, interaction: discord.Interaction, text: str) -> None:
        """Run a slash subcommand's text for the user and answer the interaction."""
        await self.respond(interaction, self.request_for(interaction, text), component=False)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Button presses: custom ids ``papers:<command>`` run ``<command>`` for the presser."""
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
        await self.respond(interaction, self.request_for(interaction, command), component=True)

    async def respond(
        self, interaction: discord.Interaction, request: Request, *, component: bool
    ) -> None:
        """Answer within Discord's 3 s: directly when the core is quick, else defer first."""
        started = time.monotonic()
        task = asyncio.create_task(self.bot.handle_async(request))
        done, _ = await asyncio.wait({task}, timeout=self.ack_deadline)
        if not done:
            # A button's deferred update shows nothing, and its follow-ups pick their own
            # visibility; a slash command's "thinking" message is the answer to come, so
            # it is deferred with the visibility the answer will have.
            public = not component and answers_publicly(request)
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
        if component and self._replaces_pressed(interaction, request, reply, payloads):
            kwargs = _send_kwargs(first)
            kwargs.setdefault("view", None)  # a last page has no buttons: remove the old ones
            kwargs.setdefault("content", None)
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
        request: Request,
        reply: Reply,
        payloads: list[MessagePayload],
    ) -> bool:
        """Paging edits the ephemeral results in place instead of stacking new messages.

        Only paging: "Similar" or "Subscribe" on ephemeral results answers with a new
        message, and nothing ever edits a public message (a digest) for one presser.
        """
        message = interaction.message
        return (
            request.text.startswith("search ")
            and reply.kind is ReplyKind.SEARCH
            and reply.ephemeral
            and len(payloads) == 1
            and message is not None
            and message.flags.ephemeral
        )


class ImportModal(discord.ui.Modal):
    """A form with a paragraph box for the multi-line TOML snippet of ``/papers export``:
    slash command options cannot hold newlines. Submitting runs ``import <snippet>`` for
    the submitter, with the same permission rule as the slash command."""

    def __init__(self, adapter: DiscordAdapter) -> None:
        super().__init__(title="Import papers-bot settings", timeout=900)
        self.adapter = adapter
        self.snippet: discord.ui.TextInput[ImportModal] = discord.ui.TextInput(
            label="Snippet from /papers export",
            style=discord.TextStyle.paragraph,
            placeholder='[channel]\npost_time = "09:00"\n...',
            max_length=4000,
        )
        self.add_item(self.snippet)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.adapter.run(interaction, f"import {self.snippet.value}")


def build_group(adapter: DiscordAdapter) -> app_commands.Group:
    """``/papers`` and its subcommands; each only builds the text the core parser reads."""
    # Guilds only, as before (channels are keyed by guild, settings need Manage Channels):
    # said with ``contexts``/``integration_types``, not the deprecated ``dm_permission``.
    group = PapersGroup(
        name="papers",
        description="Trending research papers: search, digests, topics",
        allowed_contexts=app_commands.AppCommandContext(
            guild=True, dm_channel=False, private_channel=False
        ),
        allowed_installs=app_commands.AppInstallationType(guild=True, user=False),
    )
    run = adapter.run

    @group.command(name="help", description="How to use /papers")
    @app_commands.describe(command="Show one command's usage")
    async def help_(interaction: discord.Interaction, command: str | None = None) -> None:
        await run(interaction, f"help {command or ''}".strip())

    @group.command(name="search", description="Search the papers")
    @app_commands.describe(
        query='Words, "phrases", -exclude, author:NAME, cat:cs.CL, since:2026-05-01',
        page="Which page of results",
    )
    async def search(
        interaction: discord.Interaction,
        query: app_commands.Range[str, 1, 500],
        page: app_commands.Range[int, 1, 1000] | None = None,
    ) -> None:
        text = f"search --page {page} {query}" if page else f"search {query}"
        await run(interaction, text)

    @group.command(name="trending", description="The top papers of the latest trending day")
    @app_commands.describe(count="How many papers")
    async def trending(
        interaction: discord.Interaction, count: app_commands.Range[int, 1, MAX_TRENDING] = 5
    ) -> None:
        await run(interaction, f"trending {count}")

    @group.command(name="paper", description="One paper's card")
    @app_commands.rename(paper_id="id")
    @app_commands.describe(paper_id="arXiv id or link, e.g. 2605.05242")
    async def paper(interaction: discord.Interaction, paper_id: str) -> None:
        await run(interaction, f"paper {paper_id}")

    @group.command(name="subscribe", description="Keep this channel's daily posts to a topic")
    @app_commands.describe(
        topic='A search query, e.g. "speech recognition" or cat:cs.CL',
        alert="Also post a paper on this topic as soon as it reaches this many upvotes",
        preview="Only show what this topic would post, without subscribing",
    )
    async def subscribe(
        interaction: discord.Interaction,
        topic: app_commands.Range[str, 1, 500],
        alert: app_commands.Range[int, 1, 100_000] | None = None,
        preview: bool = False,
    ) -> None:
        text = f"subscribe {topic}"
        if alert is not None:
            text += f" --alert {alert}"
        if preview:
            text += " --preview"
        await run(interaction, text)

    @group.command(name="preview", description="What a topic would post, day by day")
    @app_commands.describe(topic='A search query, e.g. "speech recognition" or cat:cs.CL')
    async def preview(
        interaction: discord.Interaction, topic: app_commands.Range[str, 1, 500]
    ) -> None:
        await run(interaction, f"preview {topic}")

    @group.command(name="similar", description="The papers closest to one paper")
    @app_commands.rename(paper_id="id")
    @app_commands.describe(paper_id="arXiv id or link, e.g. 2605.05242")
    async def similar(interaction: discord.Interaction, paper_id: str) -> None:
        await run(interaction, f"similar {paper_id}")

    @group.command(name="thread", description="Post each paper in a thread under a headline")
    @app_commands.describe(mode="on: a headline and one thread message per paper; off: compact")
    async def thread(interaction: discord.Interaction, mode: Literal["on", "off"]) -> None:
        await run(interaction, f"thread {mode}")

    @group.command(name="set", description="Papers per post, minimum upvotes, weekends")
    @app_commands.describe(
        setting="What to change",
        value="papers: 1-25; min-upvotes: a number; weekends: skip or post",
    )
    async def set_(
        interaction: discord.Interaction,
        setting: Literal["papers", "min-upvotes", "weekends"],
        value: app_commands.Range[str, 1, 10],
    ) -> None:
        await run(interaction, f"set {setting} {value}")

    @group.command(name="export", description="This channel's topics and settings, to copy")
    async def export(interaction: discord.Interaction) -> None:
        await run(interaction, "export")

    @group.command(name="import", description="Apply settings from /papers export here")
    @app_commands.describe(
        snippet="The one-line form /papers export shows; leave out to paste the multi-line one"
    )
    async def import_(
        interaction: discord.Interaction,
        snippet: app_commands.Range[str, 1, 6000] | None = None,
    ) -> None:
        if snippet is not None:
            await run(interaction, f"import {snippet}")
        elif not adapter.request_for(interaction, "import").can_manage:
            await run(interaction, "import")  # the core's permission refusal, not a form
        else:
            await interaction.response.send_modal(ImportModal(adapter))

    @group.command(name="weekly", description="A weekly digest of the week's top papers")
    @app_commands.describe(
        day="The weekday, or off to stop the weekly digest",
        time="HH:MM, e.g. 17:00 (default 09:00)",
        timezone="IANA time zone, e.g. Europe/Berlin",
    )
    @app_commands.choices(day=WEEKDAY_CHOICES)
    async def weekly(
        interaction: discord.Interaction,
        day: app_commands.Choice[str],
        time: app_commands.Range[str, 1, 5] | None = None,
        timezone: app_commands.Range[str, 1, 64] | None = None,
    ) -> None:
        if day.value == "off":
            await run(interaction, "schedule weekly off")
            return
        await run(
            interaction,
            " ".join(["schedule weekly", day.value, time or "09:00", timezone or ""]).strip(),
        )

    @weekly.autocomplete("timezone")
    async def weekly_timezones(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return timezone_choices(current)

    @group.command(name="daily", description="Turn the daily post on or off")
    @app_commands.describe(mode="off keeps only the weekly digest and alerts")
    async def daily(interaction: discord.Interaction, mode: Literal["on", "off"]) -> None:
        await run(interaction, f"schedule daily {mode}")

    @group.command(name="unsubscribe", description="Drop one of this channel's topics")
    @app_commands.describe(topic="The topic to drop, or all")
    async def unsubscribe(interaction: discord.Interaction, topic: str) -> None:
        await run(interaction, f"unsubscribe {topic}")

    @unsubscribe.autocomplete("topic")
    async def unsubscribe_topics(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        topics = adapter.bot.store.topics(adapter.channel_key(interaction))
        needle = current.strip().lower()
        choices = [
            app_commands.Choice(name=shorten(f"{t.id}. {t.query}", 100), value=str(t.id))
            for t in topics
            if needle in f"{t.id}. {t.query}".lower()
        ][:24]
        if topics and (not needle or needle in "all topics"):
            choices.append(app_commands.Choice(name="All topics", value="all"))
        return choices

    @group.command(name="topics", description="This channel's topics")
    async def topics(interaction: discord.Interaction) -> None:
        await run(interaction, "topics")

    @group.command(name="schedule", description="When this channel gets its daily post")
    @app_commands.describe(time="HH:MM, e.g. 09:00", timezone="IANA time zone, e.g. Europe/Berlin")
    async def schedule(
        interaction: discord.Interaction,
        time: app_commands.Range[str, 1, 5],
        timezone: app_commands.Range[str, 1, 64] | None = None,
    ) -> None:
        await run(interaction, f"schedule {time} {timezone or ''}".strip())

    @schedule.autocomplete("timezone")
    async def schedule_timezones(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return timezone_choices(current)

    @group.command(name="pause", description="Stop the daily posts here")
    async def pause(interaction: discord.Interaction) -> None:
        await run(interaction, "pause")

    @group.command(name="resume", description="Start the daily posts again")
    async def resume(interaction: discord.Interaction) -> None:
        await run(interaction, "resume")

    @group.command(name="digest", description="Preview this channel's next post")
    async def digest(interaction: discord.Interaction) -> None:
        await run(interaction, "digest")

    @group.command(name="status", description="Corpus size, last ingest, last and next post")
    async def status(interaction: discord.Interaction) -> None:
        await run(interaction, "status")

    return group
