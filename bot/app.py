"""The bot's core: runs ``/papers`` commands against the store and index.

:class:`PapersBot` is what every adapter talks to. ``handle`` takes a neutral
:class:`~bot.replies.Request` (and, from a platform with typed forms such as Discord's app
commands, the :class:`~bot.registry.Invocation` already read) and always returns a
:class:`~bot.replies.Reply`: user mistakes become a short message with the usage, and our
own failures are logged with their traceback and reported to the channel in one line,
never as a stack trace.

It dispatches and guards; the commands live in :mod:`bot.handlers` (declared in
:mod:`bot.registry`), get a :class:`~bot.context.Context`, and build their replies with
:mod:`bot.answers`. The methods below the entry points are thin delegations kept for
the scheduler, the CLI and the adapters.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from bot import answers
from bot.background_work import in_background
from bot.commands import Command, describe, parse_command, read_typed
from bot.config import Config
from bot.context import Clock, Context, PaperLookup, system_clock
from bot.digest import Digest, DigestBuilder
from bot.handlers import REGISTRY
from bot.handlers.common import parse_paper_ref
from bot.merge import MergeResult, apply_merge, plan_merge
from bot.models import Channel, Paper
from bot.query import QueryError
from bot.registry import CommandError, Invocation, Registry, Spec, usage
from bot.replies import PaperCard, Reply, Request
from bot.search import SearchIndex
from bot.store import StorageError, Store

__all__ = ["Clock", "PaperLookup", "PapersBot", "system_clock"]

log = logging.getLogger(__name__)


class PapersBot:
    """Commands, search and digests over one store. Cheap to call from any adapter."""

    def __init__(
        self,
        config: Config,
        store: Store,
        index: SearchIndex,
        *,
        clock: Clock = system_clock,
        lookup: PaperLookup | None = None,
    ) -> None:
        self.context = Context(config, store, index, DigestBuilder(store, index), clock)
        # Cards read papers from the index's stored copies: the corpus files stay on disk.
        store.record_lookup = index.stored_record
        self.commands: Registry = REGISTRY
        self.lookup = lookup  # fetches a paper that is not in the corpus (arXiv API)
        self._merging = threading.Lock()

    # What handlers see is the context; these read (and, for tests and benchmarks, set) it.

    @property
    def config(self) -> Config:
        return self.context.config

    @config.setter
    def config(self, value: Config) -> None:
        self.context.config = value

    @property
    def store(self) -> Store:
        return self.context.store

    @property
    def index(self) -> SearchIndex:
        return self.context.index

    @property
    def digests(self) -> DigestBuilder:
        return self.context.digests

    @property
    def clock(self) -> Clock:
        return self.context.clock

    @clock.setter
    def clock(self, value: Clock) -> None:
        self.context.clock = value

    # ---- entry points ---------------------------------------------------------------

    def handle(self, request: Request, invocation: Invocation | None = None) -> Reply:
        """Run one command: ``invocation`` if given, else ``request.text``. Never raises:
        every outcome is a Reply."""
        return self._answer(request, invocation)

    async def handle_async(self, request: Request, invocation: Invocation | None = None) -> Reply:
        """As :meth:`handle`, but first fetches a paper missing from the corpus (for
        commands that declare ``fetches``). The text is parsed once, here."""
        found: Command | Invocation | None = invocation
        if self.lookup is not None:
            try:
                found = found or parse_command(request.text)
            except CommandError as exc:
                return Reply.error(str(exc), exc.usage)
            spec = found.spec
            if spec.fetches:
                if isinstance(found, Command):
                    found = found.parse()  # a paper reference is free text: it cannot fail
                missing = await self._fetch_missing(found.values.get(spec.fetches) or "")
                if missing is not None:
                    return Reply.error(missing)
        # The command itself (a search, a digest) runs in a worker thread: the loop only
        # carries the platforms' I/O, so acks never queue behind an answer being built.
        return await asyncio.to_thread(self._answer, request, found)

    def add_papers(self, papers: list[Paper]) -> MergeResult:
        """Merge papers into the corpus (one atomic write) and bring the index up to date.

        Every way papers arrive goes through here: imports, ingests, arXiv look-ups.
        """
        # One merge at a time (an ingest and an arXiv look-up may both arrive): each plans
        # against the corpus the previous one committed, and the index follows in order.
        with self._merging, in_background(freeze=True):  # bot.background_work: or the loop waits
            return self._add_papers(papers)

    def _add_papers(self, papers: list[Paper]) -> MergeResult:
        plan = plan_merge(self.store, papers)
        with self.index.following():  # searches meanwhile use the index as it was
            apply_merge(self.store, plan)
            self.index.upsert(plan.changed_papers, self.store.corpus_revision, plan.replaced_ids)
        return plan

    def suggest(
        self, request: Request, command: str, option: str, current: str
    ) -> list[tuple[str, str]]:
        """Completions for ``option`` of ``command`` as typed so far: ``(label, value)``."""
        found = self.commands[command].option(option)
        if found.suggest is None:
            return []
        return found.suggest(self.context, request, current)

    def answers_publicly(self, request: Request, invocation: Invocation) -> bool:
        """Whether ``invocation`` will answer in the channel (see :class:`Registry`)."""
        return self.commands.answers_publicly(invocation, request.can_manage)

    # ---- dispatch -------------------------------------------------------------------

    def _answer(self, request: Request, found: Command | Invocation | None) -> Reply:
        shown = request.text if not isinstance(found, Invocation) else describe(found)
        try:
            return self._dispatch(request, found or parse_command(request.text))
        except CommandError as exc:
            return Reply.error(str(exc), exc.usage)
        except QueryError as exc:
            return Reply.error(str(exc), usage("search"))
        except StorageError as exc:
            log.error("storage problem while handling %r: %s", shown[:200], exc)
            return Reply.error("The bot's data file is damaged; an operator has to look at it.")
        except Exception:
            log.exception("command failed: %r from %s", shown[:200], request.channel)
            return Reply.error(
                "Something went wrong on our side; it has been logged. Try again later."
            )

    def _dispatch(self, request: Request, found: Command | Invocation) -> Reply:
        if isinstance(found, Command):
            if not found.redirects():
                # Someone who may not change the channel hears that before any word is read.
                self._permit(request, found.spec)
            invocation = found.parse()
        else:
            invocation = read_typed(found)
        invocation = self.commands.redirect(invocation)  # `subscribe x --preview` is `preview x`
        self._permit(request, invocation.spec)
        reply = invocation.spec.handler(self.context, request, **invocation.values)
        if invocation.spec.manages:
            self._note_manager(request)
        return reply

    def _note_manager(self, request: Request) -> None:
        """Remember who last changed the channel's settings (``Channel.managed_by``): the
        person told when repeated failures pause its posts (:mod:`bot.scheduler.notices`).
        Only for a channel that exists (a refused or no-op command created none), and a
        failure to remember never fails the command that succeeded."""
        try:
            channel = self.store.get_channel(request.channel)
            if channel is None or channel.managed_by == request.user_id:
                return

            def change(ch: Channel) -> None:
                ch.managed_by = request.user_id

            self.store.update_channel(request.channel, change)
        except Exception:
            log.exception("%s: could not record who manages it", request.channel)

    @staticmethod
    def _permit(request: Request, spec: Spec) -> None:
        why = refusal(request, spec)
        if why is not None:
            raise CommandError(why)

    async def _fetch_missing(self, text: str) -> str | None:
        """Fetch the paper ``text`` names from the lookup when the corpus lacks it.

        Returns why it is still missing, for the channel: arXiv could not be asked (try
        later) or arXiv has no such paper (check the id); ``None`` when the paper is here
        now, or ``text`` names no arXiv id (the command itself says so).
        """
        assert self.lookup is not None
        ref = parse_paper_ref(text)
        # A lookup may read a partition and the merge below commits one: off the loop.
        if not ref or await asyncio.to_thread(self.store.get_paper, ref) is not None:
            return None
        try:
            paper = await self.lookup(ref)
        except Exception as exc:
            log.exception("lookup of %s failed", ref)
            return answers.arxiv_not_asked(ref, exc)
        if paper is None:
            return answers.not_on_arxiv(ref)
        await asyncio.to_thread(self.add_papers, [paper])
        return None

    # ---- for the scheduler, the CLI and the adapters ---------------------------------

    def today_for(self, channel: Channel | None) -> str:
        return self.context.today_for(channel)

    def new_channel(self, platform: str, workspace: str, channel_id: str) -> Channel:
        return self.context.new_channel(platform, workspace, channel_id)

    def channel_for(self, request: Request, *, create: bool = False) -> Channel | None:
        return self.context.channel_for(request, create=create)

    def card(self, paper: Paper, *, public: bool = False, **kwargs: object) -> PaperCard:
        return answers.card(paper, public=public, **kwargs)  # type: ignore[arg-type]

    def search(self, query: str, page: int = 1) -> Reply:
        """The search reply for ``query`` (also used by the CLI)."""
        return answers.search(self.context, query, page)

    def trending(self, count: int, today: str | None = None) -> Reply:
        return answers.trending(self.context, count, today)

    def digest_for(self, channel: Channel) -> Digest:
        self.index.sync(self.store)
        return self.digests.build(channel, self.today_for(channel))

    def digest_reply(self, digest: Digest, *, late: bool = False) -> Reply:
        """A channel post for ``digest`` (also the ``digest`` command's preview)."""
        return answers.digest_reply(digest, late=late)


def refusal(request: Request, spec: Spec) -> str | None:
    """Why ``request`` may not run ``spec`` here (one line for the channel), else None.

    The one permission rule: adapters ask it before offering a form for a command, so a
    form is never shown to someone whose submission the core would refuse.
    """
    if spec.manages and not request.can_manage:
        return (
            f"You don't have permission to change this channel's papers settings "
            f"(`{spec.root}`). Ask someone who can manage the channel."
        )
    if spec.starts_posts and request.cannot_post:
        # Setting up posts where the bot cannot post would answer "Subscribed" and fail
        # when the post is due: the adapter's line on how to let the bot in instead.
        return request.cannot_post
    return None
