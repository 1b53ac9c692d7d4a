"""Whether the bot can post where a settings command was typed, asked once and remembered.

Slack runs ``/papers`` in any channel, also ones the bot was never invited to; a
``subscribe`` there used to answer "Subscribed" and fail when the post was due. Before a
command that sets up posts, :meth:`Membership.problem` says why the bot could not post
(one line for :attr:`bot.replies.Request.cannot_post`), or ``None``:

* a channel: ``conversations.info``'s ``is_member`` (``channel_not_found`` is a private
  channel the bot is not in, which it cannot even see), remembered for an hour when the
  bot is in and for a minute when not; ``member_joined_channel`` / ``member_left_channel``
  for the bot itself update the answer at once, so most commands cost no Web API call;
* a direct conversation (an id starting with ``D``): only the bot's own DM with the user
  (its App Home Messages tab) takes posts. ``conversations.open`` names that DM; it
  never changes, so it is remembered for good (``app_home_opened`` also tells it).

When the check itself fails (a timeout, a rate limit, a missing scope) the command is
not blocked: the answer is ``None`` and nothing is remembered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import welcome

log = logging.getLogger(__name__)

MEMBER_TTL = 3600.0  # seconds a "the bot is in" answer is trusted
NOT_MEMBER_TTL = 60.0  # a "not in" answer: the person is about to invite it
CHECK_TIMEOUT = 2.0  # seconds for one check; slower counts as failed (not blocking)
HOME_MESSAGES = "my App Home's Messages tab"


def is_direct(channel_id: str) -> bool:
    """A one-to-one direct conversation (Slack ids: ``D...``)."""
    return channel_id.startswith("D")


class Clients(Protocol):
    """Where a workspace's Web API client comes from (:class:`adapters.slack.app.Clients`)."""

    async def client_for(self, team_id: str) -> AsyncWebClient: ...


class Access(Enum):
    """What Slack said about the bot and one channel."""

    MEMBER = "member"
    NOT_MEMBER = "not a member"
    HIDDEN = "cannot see it"  # channel_not_found: a private channel the bot is not in
    ARCHIVED = "archived"


@dataclass(slots=True)
class BotIdentity:
    """The bot user as Slack knows it (``auth.test``): its id and the name to invite."""

    user_id: str = ""
    name: str = "papers"

    @property
    def invite(self) -> str:
        return f"/invite @{self.name}"


class Membership:
    """Where the bot may post, from Slack's answers and its membership events."""

    def __init__(self, clients: Clients) -> None:
        self.clients = clients
        self._now = time.monotonic
        # (team, channel) -> (when known, access); (team, user) -> the bot's DM with them
        self._channels: dict[tuple[str, str], tuple[float, Access]] = {}
        self._dms: dict[tuple[str, str], str] = {}
        self._identity: dict[str, BotIdentity] = {}  # per workspace: its own bot user

    # ---- what events tell us --------------------------------------------------------

    def joined(self, team_id: str, channel_id: str) -> None:
        """The bot was added to ``channel_id`` (``member_joined_channel``)."""
        self._channels[(team_id, channel_id)] = (self._now(), Access.MEMBER)

    def left(self, team_id: str, channel_id: str) -> None:
        """The bot was removed from ``channel_id`` (``member_left_channel``)."""
        self._channels[(team_id, channel_id)] = (self._now(), Access.NOT_MEMBER)

    def direct_channel(self, team_id: str, user_id: str, channel_id: str) -> None:
        """``channel_id`` is the bot's DM with ``user_id`` (``app_home_opened`` says so)."""
        if user_id and is_direct(channel_id):
            self._dms[(team_id, user_id)] = channel_id

    def forget(self, team_id: str) -> None:
        """The app was removed from ``team_id``: what was known there no longer holds (it
        left every channel; installed again, it starts from Slack's answers)."""
        for known in (self._channels, self._dms):
            for key in [k for k in known if k[0] == team_id]:
                del known[key]
        self._identity.pop(team_id, None)

    # ---- asking ---------------------------------------------------------------------

    async def identity(self, team_id: str) -> BotIdentity:
        """The bot's user id and name in ``team_id``, asked once (``auth.test``)."""
        found = self._identity.get(team_id)
        if found is None:
            client = await self.clients.client_for(team_id)
            answer = await client.auth_test()
            found = BotIdentity(
                str(answer.get("user_id") or ""), str(answer.get("user") or "papers")
            )
            self._identity[team_id] = found
        return found

    async def problem(self, team_id: str, channel_id: str, user_id: str) -> str | None:
        """Why the bot could not post in ``channel_id`` (for ``user_id``), or ``None``."""
        try:
            if is_direct(channel_id):
                return await asyncio.wait_for(
                    self._dm_problem(team_id, channel_id, user_id), CHECK_TIMEOUT
                )
            access = await asyncio.wait_for(self._access(team_id, channel_id), CHECK_TIMEOUT)
            if access is Access.MEMBER:
                return None
            invite = (await self.identity(team_id)).invite
        except Exception as exc:  # a timeout, a rate limit, a missing scope: never blocks
            log.warning(
                "could not check the bot's access to %s (%s); not blocking", channel_id, exc
            )
            return None
        if access is Access.HIDDEN:
            return welcome.cannot_see(invite)
        if access is Access.ARCHIVED:
            return welcome.archived()
        return welcome.not_a_member(invite)

    async def _dm_problem(self, team_id: str, channel_id: str, user_id: str) -> str | None:
        own = self._dms.get((team_id, user_id))
        if own is None:
            client = await self.clients.client_for(team_id)
            answer = await client.conversations_open(users=user_id)
            own = str((answer.get("channel") or {}).get("id") or "")
            if not own:
                return None
            self._dms[(team_id, user_id)] = own
        return None if own == channel_id else welcome.not_our_conversation(HOME_MESSAGES)

    async def _access(self, team_id: str, channel_id: str) -> Access:
        cached = self._channels.get((team_id, channel_id))
        now = self._now()
        if cached is not None:
            ttl = MEMBER_TTL if cached[1] is Access.MEMBER else NOT_MEMBER_TTL
            if now - cached[0] < ttl:
                return cached[1]
        try:
            client = await self.clients.client_for(team_id)
            answer = await client.conversations_info(channel=channel_id)
        except SlackApiError as exc:
            if exc.response.get("error") != "channel_not_found":
                raise
            access = Access.HIDDEN
        else:
            info = answer.get("channel") or {}
            if info.get("is_archived"):
                access = Access.ARCHIVED
            elif info.get("is_member") is False:
                access = Access.NOT_MEMBER
            else:
                access = Access.MEMBER
        self._channels[(team_id, channel_id)] = (now, access)
        return access
