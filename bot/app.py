"""The bot's core: runs ``/papers`` commands against the store and index.

:class:`PapersBot` is what every adapter talks to. ``handle`` takes a neutral
:class:`~bot.replies.Request` and always returns a :class:`~bot.replies.Reply`: user
mistakes become a short message with the usage, and our own failures are logged with
their traceback and reported to the channel in one line, never as a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.commands import Command, CommandError, parse_command, usage
from bot.config import Config
from bot.digest import LATE_NOTE, Digest, DigestBuilder
from bot.handlers import HANDLERS
from bot.handlers.common import parse_paper_ref, pop_flag, pop_number
from bot.merge import MergeResult, apply_merge, plan_merge
from bot.models import Channel, Paper
from bot.query import QueryError, parse_query
from bot.replies import Button, PaperCard, Reply, ReplyKind, Request
from bot.search import SearchIndex
from bot.store import StorageError, Store, utc_now

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
PaperLookup = Callable[[str], Awaitable[Paper | None]]


def system_clock() -> datetime:
    return datetime.now(UTC)


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
        self.config = config
        self.store = store
        self.index = index
        self.clock = clock
        self.lookup = lookup  # fetches a paper that is not in the corpus (arXiv API)
        self.digests = DigestBuilder(store, index)

    # ---- entry points ---------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        """Run one command. Never raises: every outcome is a Reply."""
        try:
            command = parse_command(request.text)
            return self._dispatch(request, command)
        except CommandError as exc:
            return Reply.error(str(exc), exc.usage)
        except QueryError as exc:
            return Reply.error(str(exc), usage("search"))
        except StorageError as exc:
            log.error("storage problem while handling %r: %s", request.text[:200], exc)
            return Reply.error("The bot's data file is damaged; an operator has to look at it.")
        except Exception:
            log.exception("command failed: %r from %s", request.text[:200], request.channel)
            return Reply.error(
                "Something went wrong on our side; it has been logged. Try again later."
            )

    async def handle_async(self, request: Request) -> Reply:
        """As :meth:`handle`, but may fetch a paper missing from the corpus first."""
        if self.lookup is not None:
            try:
                command = parse_command(request.text)
            except CommandError:
                command = None
            if command and command.name in ("paper", "similar"):
                ref = parse_paper_ref(command.args)
                if ref and self.store.get_paper(ref) is None:
                    try:
                        paper = await self.lookup(ref)
                    except Exception:
                        log.exception("lookup of %s failed", ref)
                        paper = None
                    if paper is not None:
                        self.add_papers([paper])
        return self.handle(request)

    def add_papers(self, papers: list[Paper]) -> MergeResult:
        """Merge papers into the corpus (one atomic write) and bring the index up to date.

        Every way papers arrive goes through here: imports, ingests, arXiv look-ups.
        """
        plan = plan_merge(self.store, papers)
        apply_merge(self.store, plan)
        self.index.upsert(plan.changed_papers, self.store.corpus_revision, plan.replaced_ids)
        return plan

    def _dispatch(self, request: Request, command: Command) -> Reply:
        if command.name == "subscribe":  # `subscribe <topic> --preview` is `preview <topic>`
            topic, preview = pop_flag(command.args, "preview")
            if preview:
                command = Command(
                    "preview", pop_number(topic, "alert", 1, 100_000, usage("subscribe"))[0]
                )
        if command.spec.manages and not request.can_manage:
            return Reply.error(
                f"You don't have permission to change this channel's papers settings "
                f"(`{command.name}`). Ask someone who can manage the channel."
            )
        return HANDLERS[command.name](self, request, command.args)

    # ---- helpers --------------------------------------------------------------------

    def today_for(self, channel: Channel | None) -> str:
        zone = ZoneInfo(channel.timezone if channel else self.config.bot.default_timezone)
        return self.clock().astimezone(zone).date().isoformat()

    def new_channel(self, platform: str, workspace: str, channel_id: str) -> Channel:
        """A channel with the configured defaults, owed nothing before now (not saved)."""
        defaults = self.config.bot
        return Channel(
            platform,
            workspace,
            channel_id,
            post_time=defaults.default_post_time,
            timezone=defaults.default_timezone,
            max_papers=defaults.default_max_papers,
            created_at=utc_now(),
            not_before=self.clock().isoformat(),
        )

    def channel_for(self, request: Request, *, create: bool = False) -> Channel | None:
        """The request's channel; with ``create``, enrolled (saved) if it is new."""
        channel = self.store.get_channel(request.channel)
        if channel is None and create:
            channel = self.new_channel(request.platform, request.workspace, request.channel_id)
            self.store.save_channel(channel)
            log.info("channel %s enrolled for daily posts", channel.key)
        return channel

    def card(self, paper: Paper, *, public: bool = False, **kwargs: object) -> PaperCard:
        """A paper card with its buttons: Share and Similar on answers only the asker
        sees; Similar and 👍/👎 (which tune the channel's ranking) on channel posts."""
        card = PaperCard(paper, **kwargs)  # type: ignore[arg-type]
        if not public:
            card.buttons.append(Button("Share in channel", f"share {paper.id}"))
        card.buttons.append(Button("Similar", f"similar {paper.id}"))
        if public:
            card.buttons.append(Button("👍", f"feedback up {paper.id}"))
            card.buttons.append(Button("👎", f"feedback down {paper.id}"))
        return card

    # ---- read-only commands -----------------------------------------------------------

    def search(self, query: str, page: int = 1) -> Reply:
        """The search reply for ``query`` (also used by the CLI)."""
        parsed = parse_query(query)
        if parsed.is_empty:
            raise CommandError("Search for what? Give a few words.", usage("search"))
        self.index.sync(self.store)
        per_page = self.config.bot.search_page_size
        result = self.index.search(parsed, page=page, per_page=per_page)
        shown = parsed.describe()
        if result.total == 0:
            return Reply(text=f"No papers match “{shown}”.", kind=ReplyKind.SEARCH, title="Search")
        if page > result.pages:
            raise CommandError(f"There are only {result.pages} pages of results.", usage("search"))
        cards = []
        first = (page - 1) * per_page
        for n, hit in enumerate(result.hits, start=first + 1):
            paper = self.store.get_paper(hit.paper_id)
            if paper is None:  # index ahead of a corpus rollback; skip, it resyncs
                continue
            cards.append(
                # hit.terms: the index's stored analysis, so no per-hit re-analysis.
                self.card(
                    paper, rank=n, matched_terms=self.index.matched_terms(parsed, paper, hit.terms)
                )
            )
        notes = [f"Results {first + 1}–{first + len(result.hits)} of {result.total} for “{shown}”."]
        if result.corrected:
            notes.append("Also matched close spellings of: " + ", ".join(result.corrected) + ".")
        if not result.matched_all_words:
            notes.append("No paper has every word; these have some of them.")
        buttons = []
        if page > 1:
            buttons.append(Button("◀ Previous", f"search --page {page - 1} {query}"))
        if page < result.pages:
            buttons.append(Button("Next ▶", f"search --page {page + 1} {query}", primary=True))
        return Reply(
            text=" ".join(notes),
            kind=ReplyKind.SEARCH,
            title="Search",
            cards=cards,
            buttons=buttons,
            footer=f"Page {page} of {result.pages}",
        )

    def trending(self, count: int, today: str | None = None) -> Reply:
        day = self.digests.latest_day(today or self.today_for(None))
        if day is None:
            return Reply(text="No trending papers yet: the corpus has no daily lists.")
        listed = self.digests.papers_on(day)
        papers = listed[:count]
        cards = [self.card(p, rank=n) for n, p in enumerate(papers, start=1)]
        return Reply(
            text=f"Top {len(cards)} of {len(listed)} papers trending on {day}.",
            kind=ReplyKind.SEARCH,
            title=f"Trending papers, {day}",
            cards=cards,
        )

    def digest_for(self, channel: Channel) -> Digest:
        self.index.sync(self.store)
        return self.digests.build(channel, self.today_for(channel))

    def digest_reply(self, digest: Digest, *, late: bool = False) -> Reply:
        """A channel post for ``digest`` (also the ``digest`` command's preview)."""
        if not digest.cards:
            when = "since the bot went offline" if late else "today"
            text = f"No new papers {when} ({digest.reason})."
            return Reply(text=text, kind=ReplyKind.DIGEST, ephemeral=False)
        cards = [
            self.card(
                c.paper, public=True, rank=c.rank, topic=c.topic, matched_terms=c.matched_terms
            )
            for c in digest.cards
        ]
        title = digest.title
        if late:
            title += LATE_NOTE
        return Reply(kind=ReplyKind.DIGEST, title=title, cards=cards, ephemeral=False)

    # ---- commands that change the channel ----------------------------------------------

    # ---- discovery and tuning ----------------------------------------------------------
