"""The bolt listeners beyond ``/papers`` itself: the App Home tab, its forms, the welcome.

* ``app_home_opened`` (Home tab): publish the person's own papers (:mod:`.home`).
* A Home button either opens a form (``views.open``, :mod:`.forms`) or runs a command in
  the person's DM through the core, then republishes the tab with what it did.
* Typing a topic in the subscribe form: ``views.update`` with the live count.
* ``view_submission``: the form's command runs through the core like a typed one; a
  refusal goes back as a one-line field error, success closes the form.
* ``member_joined_channel`` for the bot itself: one short welcome, once per channel
  (the state's meta ``welcomed:<channel key>``, so a redelivered event or a restart
  never repeats it); joins and leaves also update what :mod:`.membership` knows.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from slack_bolt.async_app import AsyncApp

import adapters.slack.forms as forms
import adapters.slack.home as home
from adapters.slack.membership import Clients, Membership
from adapters.slack.render import escape, section
from adapters.slack.settings import PLATFORM_NAME as PLATFORM
from bot import welcome
from bot.app import PapersBot
from bot.commands import describe as describe_invocation
from bot.models import channel_key
from bot.preview import describe_count, topic_count
from bot.registry import Invocation
from bot.replies import Reply, ReplyKind, Request
from bot.store import utc_now


class SlackCommands(Protocol):
    """What these listeners use of :class:`adapters.slack.app.SlackCommands`."""

    bot: PapersBot
    clients: Clients
    membership: Membership

    def spawn(self, work: Callable[[], Awaitable[None]], what: str) -> None: ...

    async def execute(
        self, text: str, who: dict[str, str], invocation: Invocation | None = None
    ) -> Reply: ...


log = logging.getLogger(__name__)

COUNT_DEBOUNCE = 0.3  # seconds a topic typed in the form waits before it is counted

SUBMIT_BUDGET = 2.5  # seconds a form's command may take before the form just closes
SLACK_HINT = (
    "For a digest of your own, use `/papers` in my App Home's Messages tab; the Home tab "
    "shows your topics and saved papers."
)


class Personal:
    """The App Home, its forms and the welcome, for one Slack app."""

    def __init__(self, commands: SlackCommands) -> None:
        self.commands = commands
        self.bot = commands.bot
        self.clients = commands.clients
        self._welcoming: set[str] = set()
        self._typing: dict[str, str] = {}  # form view id -> the newest topic typed in it

    # ---- the Home tab ---------------------------------------------------------------

    async def publish(self, team: str, user: str, dm: str, notice: str | None = None) -> None:
        """Publish ``user``'s Home tab (their DM ``dm``'s settings and reading list)."""
        data = await asyncio.to_thread(home.gather, self.bot.store, team, user, dm)
        data.notice = notice
        client = await self.clients.client_for(team)
        await client.views_publish(user_id=user, view=home.home_view(data, dm))

    async def open_form(self, trigger_id: str, which: str, team: str, dm: str) -> None:
        if which == home.FORM_SCHEDULE:
            key = channel_key(PLATFORM, team, dm)
            channel = await asyncio.to_thread(self.bot.store.get_channel, key)
            channel = channel or self.bot.new_channel(PLATFORM, team, dm)
            view = forms.schedule_view(dm, channel.post_time, channel.timezone)
        else:
            view = forms.subscribe_view(dm)
        client = await self.clients.client_for(team)
        await client.views_open(trigger_id=trigger_id, view=view)

    async def count(self, team: str, dm: str, topic: str, view: dict[str, Any]) -> None:
        """Show what ``topic`` would match under the subscribe form's input.

        Keystrokes come faster than counts: only the newest topic typed in a form is
        shown (an older count finishing late is dropped), and the update carries no
        ``hash``, so a count is never refused for a view changed by the one before it.
        The input keeps what was typed (same block and action ids), so it is not resent.
        """
        view_id = str(view.get("id") or "")
        self._typing[view_id] = topic
        # Counting is a search over a week of papers in the shared worker threads: wait a
        # moment first, and count only if nothing newer was typed meanwhile, so fast
        # typing does not queue a count per keystroke ahead of commands and posts.
        await asyncio.sleep(COUNT_DEBOUNCE)
        if self._typing.get(view_id) != topic:
            return
        request = Request(text="", platform=PLATFORM, workspace=team, channel_id=dm)
        ctx = self.bot.context

        def counted() -> str:
            channel = ctx.channel_or_default(request)
            return describe_count(topic_count(ctx, channel, topic))

        try:
            line = await asyncio.to_thread(counted) if topic.strip() else None
            if self._typing.get(view_id) != topic:
                return  # something newer was typed: its own count follows
            client = await self.clients.client_for(team)
            await client.views_update(view_id=view_id, view=forms.subscribe_view(dm, "", line))
        finally:
            if self._typing.get(view_id) == topic:
                del self._typing[view_id]

    async def submit(
        self,
        ack: Any,
        body: dict[str, Any],
        invocation: Invocation,
        field_of: Callable[[str], str],
    ) -> None:
        """Run a form's command; answer the form with its error, or close it."""
        view = body.get("view") or {}
        dm = home.read_metadata(view).get("channel", "")
        team, user = team_and_user(body)
        who = {"team_id": team, "channel_id": dm, "user_id": user["id"], "user_name": user["name"]}
        text = describe_invocation(invocation)  # as the request's text (logs, the request)
        task = asyncio.ensure_future(self.commands.execute(text, who, invocation))
        try:
            reply = await asyncio.wait_for(asyncio.shield(task), SUBMIT_BUDGET)
        except TimeoutError:  # Slack wants the answer within 3 s: close, report on the tab
            await ack()
            self.commands.spawn(lambda: self._after(task, team, user["id"], dm), "form")
            return
        if reply.kind == ReplyKind.ERROR:
            line = forms.error_line(reply.text)
            await ack(response_action="errors", errors={field_of(line): line})
            return
        await ack()
        self.commands.spawn(
            lambda: self.publish(team, user["id"], dm, forms.first_line(reply.text)), "App Home"
        )

    async def _after(self, task: asyncio.Future[Reply], team: str, user: str, dm: str) -> None:
        reply = await task
        await self.publish(team, user, dm, forms.first_line(reply.text))

    async def run(self, text: str, team: str, user: dict[str, str], dm: str) -> None:
        """A Home button: its command in the person's DM, then the tab again."""
        who = {"team_id": team, "channel_id": dm, "user_id": user["id"], "user_name": user["name"]}
        reply = await self.commands.execute(text, who)
        await self.publish(team, user["id"], dm, forms.first_line(reply.text))

    # ---- the welcome ----------------------------------------------------------------

    async def welcome(self, team: str, channel_id: str) -> None:
        """Post the welcome in ``channel_id`` unless it was ever posted there."""
        key = channel_key(PLATFORM, team, channel_id)
        if key in self._welcoming:  # the same event delivered twice at once
            return
        self._welcoming.add(key)
        try:
            store = self.bot.store
            if await asyncio.to_thread(store.get_meta, welcome.welcomed_key(key)):
                return
            text = welcome.welcome_text(SLACK_HINT)
            client = await self.clients.client_for(team)
            await client.chat_postMessage(
                channel=channel_id,
                text=escape(text),
                blocks=[section(escape(text))],
                unfurl_links=False,
                unfurl_media=False,
            )
            await asyncio.to_thread(store.set_meta, welcome.welcomed_key(key), utc_now())
            log.info("welcomed %s", key)
        finally:
            self._welcoming.discard(key)


def team_and_user(body: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The team id and the acting user (id and name) of an interaction payload."""
    user = body.get("user") or {}
    team = (body.get("team") or {}).get("id") or user.get("team_id") or ""
    name = user.get("username") or user.get("name") or user.get("id") or ""
    return str(team), {"id": str(user.get("id") or ""), "name": str(name)}


def register_personal(app: AsyncApp, commands: SlackCommands) -> Personal:
    """Add the App Home, form, welcome and membership listeners to ``app``."""
    personal = Personal(commands)
    membership = commands.membership

    async def bot_user_id(context: Any, team: str) -> str:
        return str(context.get("bot_user_id") or (await membership.identity(team)).user_id)

    @app.event("app_home_opened")
    async def on_home_opened(body: dict[str, Any], event: dict[str, Any]) -> None:
        user, dm = str(event.get("user") or ""), str(event.get("channel") or "")
        team = str(body.get("team_id") or "")
        membership.direct_channel(team, user, dm)  # the Messages tab's DM is this one
        if event.get("tab") != "home" or not user or not dm:
            return
        commands.spawn(lambda: personal.publish(team, user, dm), "App Home")

    @app.action(re.compile(f"^{home.ACTION_FORM}_"))
    async def on_form_button(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        action = (body.get("actions") or [{}])[0]
        dm = home.read_metadata(body.get("view")).get("channel", "")
        team, _user = team_and_user(body)
        trigger = str(body.get("trigger_id") or "")
        if not dm or not trigger:
            return
        # views.open must come within three seconds of the press: not queued behind work.
        await personal.open_form(trigger, str(action.get("value") or ""), team, dm)

    @app.action(re.compile(f"^{home.ACTION_RUN}_"))
    async def on_home_run(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        action = (body.get("actions") or [{}])[0]
        dm = home.read_metadata(body.get("view")).get("channel", "")
        team, user = team_and_user(body)
        text = str(action.get("value") or "")
        if dm and text:
            commands.spawn(lambda: personal.run(text, team, user, dm), f"Home {text[:40]!r}")

    @app.action(forms.TOPIC_ACTION)
    async def on_topic_typed(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        view = body.get("view") or {}
        dm = home.read_metadata(view).get("channel", "")
        team, _user = team_and_user(body)
        topic = str(((body.get("actions") or [{}])[0]).get("value") or "")
        commands.spawn(lambda: personal.count(team, dm, topic, view), "topic count")

    @app.view(forms.CALLBACK_SUBSCRIBE)
    async def on_subscribe(ack: Any, body: dict[str, Any]) -> None:
        topic = forms.submitted_topic(body.get("view") or {})
        invocation = Invocation(commands.bot.commands["subscribe"], {"topic": topic})
        await personal.submit(ack, body, invocation, lambda _line: forms.TOPIC_BLOCK)

    @app.view(forms.CALLBACK_SCHEDULE)
    async def on_schedule(ack: Any, body: dict[str, Any]) -> None:
        time, zone = forms.submitted_schedule(body.get("view") or {})
        invocation = Invocation(
            commands.bot.commands["schedule"], {"time": time, "timezone": zone or None}
        )

        def field_of(line: str) -> str:
            return forms.ZONE_BLOCK if "zone" in line.lower() else forms.TIME_BLOCK

        await personal.submit(ack, body, invocation, field_of)

    @app.event("member_joined_channel")
    async def on_joined(body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
        channel = str(event.get("channel") or "")
        team = str(body.get("team_id") or event.get("team") or "")
        if not channel or event.get("user") != await bot_user_id(context, team):
            return  # someone else joined: nothing to say
        membership.joined(team, channel)
        commands.spawn(lambda: personal.welcome(team, channel), f"welcome in {channel}")

    @app.event("member_left_channel")
    async def on_left(body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
        channel = str(event.get("channel") or "")
        team = str(body.get("team_id") or event.get("team") or "")
        if channel and event.get("user") == await bot_user_id(context, team):
            membership.left(team, channel)

    return personal
