"""Slack in many workspaces: installations kept in the state database (``[slack] oauth``).

A hosted papers-bot is installed by each workspace through Slack's OAuth flow
(``/slack/install`` -> Slack -> ``/slack/oauth_redirect``, served by bolt). Each
installation's bot token is kept by slack_sdk's own SQLAlchemy stores, in the same
database as the rest of the state (SQLite or PostgreSQL, ``[state] url``), so every
worker finds every workspace's token and nothing is kept in files or the environment.

slack_sdk's SQLAlchemy stores are synchronous; bolt's ``AsyncApp`` wants asynchronous
ones. The wrappers here run each call in a worker thread, so one database round trip
never holds up the event loop (a hundred connections' worth of slash commands share it).
Their tables (``slack_installations``, ``slack_bots``, ``slack_oauth_states``) belong to
slack_sdk: they are created by slack_sdk when missing, not by our Alembic revisions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import delete, select

from bot.state_db import StateDB

log = logging.getLogger(__name__)

STATE_EXPIRY = 600  # seconds an OAuth ``state`` stays valid: the time to click "Allow"
TOKEN_CACHE_SECONDS = 60.0  # a revoked token is forgotten at once (forget); this bounds staleness


class ThreadedInstallationStore(AsyncInstallationStore):
    """slack_sdk's SQLAlchemy installation store, each call in a worker thread."""

    def __init__(self, store: SQLAlchemyInstallationStore) -> None:
        self.store = store

    @property
    def logger(self) -> logging.Logger:
        return self.store.logger

    async def async_save(self, installation: Installation) -> None:
        await asyncio.to_thread(self.store.save, installation)

    async def async_save_bot(self, bot: Bot) -> None:
        await asyncio.to_thread(self.store.save_bot, bot)

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        return await asyncio.to_thread(
            self.store.find_bot,
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        return await asyncio.to_thread(
            self.store.find_installation,
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            is_enterprise_install=is_enterprise_install,
        )

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await asyncio.to_thread(self.store.delete_bot, enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        await asyncio.to_thread(
            self.store.delete_installation,
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
        )

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await asyncio.to_thread(self.store.delete_all, enterprise_id=enterprise_id, team_id=team_id)


class ThreadedStateStore(AsyncOAuthStateStore):
    """slack_sdk's SQLAlchemy OAuth state store (the install flow's CSRF ``state``)."""

    def __init__(self, store: SQLAlchemyOAuthStateStore) -> None:
        self.store = store

    @property
    def logger(self) -> logging.Logger:
        return self.store.logger

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        return await asyncio.to_thread(self.store.issue, *args, **kwargs)

    async def async_consume(self, state: str) -> bool:
        return await asyncio.to_thread(self.store.consume, state)


class Installations:
    """Every workspace's installation, and the bot token to post there with."""

    def __init__(self, state: StateDB, client_id: str) -> None:
        logger = logging.getLogger("adapters.slack.oauth")  # never logs tokens
        engine = state.engine
        sync_store = SQLAlchemyInstallationStore(client_id=client_id, engine=engine, logger=logger)
        sync_states = SQLAlchemyOAuthStateStore(
            expiration_seconds=STATE_EXPIRY, engine=engine, logger=logger
        )
        # Created once, also when several workers start together on a new database.
        for store in (sync_store, sync_states):
            state.create_tables(store.metadata)
        self._sync = sync_store
        self.installation_store = ThreadedInstallationStore(sync_store)
        self.state_store = ThreadedStateStore(sync_states)
        self._tokens: dict[str, tuple[float, str | None]] = {}

    async def bot_token(self, team_id: str) -> str | None:
        """The bot token installed in ``team_id``, or ``None`` when the app is not there.

        Found by workspace alone: slack_sdk's ``find_bot`` also matches the enterprise id,
        which a channel key does not carry, so a workspace of an Enterprise Grid org would
        never be found. A token found is cached for a minute: a fan-out posts to many
        channels of one workspace, and each lookup is a database round trip. Uninstalling
        forgets the cached token at once; "not installed" is never cached, so an install
        (on this worker or another) is seen by the next lookup.
        """
        now = time.monotonic()
        cached = self._tokens.get(team_id)
        if cached is not None and now - cached[0] < TOKEN_CACHE_SECONDS:
            return cached[1]
        token = await asyncio.to_thread(self._newest_token, team_id)
        if token is not None:  # "not installed" is not cached: an install may come any time
            self._tokens[team_id] = (now, token)
        return token

    def _newest_token(self, team_id: str) -> str | None:
        bots = self._sync.bots
        query = (
            select(bots.c.bot_token)
            .where(bots.c.client_id == self._sync.client_id, bots.c.team_id == team_id)
            .order_by(bots.c.installed_at.desc(), bots.c.id.desc())
            .limit(1)
        )
        with self._sync.engine.connect() as conn:
            return conn.execute(query).scalar()

    async def forget(self, team_id: str) -> None:
        """Delete every installation and token of ``team_id`` (uninstalled or revoked),
        whatever enterprise it belongs to."""
        await asyncio.to_thread(self._delete_team, team_id)
        self._tokens.pop(team_id, None)  # after: a lookup meanwhile would cache it again

    def _delete_team(self, team_id: str) -> None:
        with self._sync.engine.begin() as conn:
            for table in (self._sync.bots, self._sync.installations):
                conn.execute(
                    delete(table).where(
                        table.c.client_id == self._sync.client_id, table.c.team_id == team_id
                    )
                )
