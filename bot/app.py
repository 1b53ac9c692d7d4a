"""The bot's core: runs ``/papers`` commands against the store and index.

:class:`PapersBot` is what every adapter talks to. ``handle`` takes a neutral
:class:`~bot.replies.Request` and always returns a :class:`~bot.replies.Reply`: user
mistakes become a short message with the usage, and our own failures are logged with
their traceback and reported to the channel in one line, never as a stack trace.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.commands import Command, CommandError, help_text, parse_command, usage
from bot.config import Config, check_timezone, parse_hhmm
from bot.digest import Digest, DigestBuilder
from bot.models import Channel, Paper, strip_version
from bot.query import QueryError, parse_query
from bot.replies import Button, PaperCard, Reply, ReplyKind, Request
from bot.search import SearchIndex
from bot.store import StorageError, Store, utc_now

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
PaperLookup = Callable[[str], Awaitable[Paper | None]]

_ARXIV_IN_TEXT = re.compile(
    r"(?:arxiv\.org/(?:abs|pdf)/|huggingface\.co/papers/|arxiv:)?"
    r"(?P<id>\d{4}\.\d{4,5}(?:v\d+)?|[a-z\-]+(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?)",
    re.IGNORECASE,
)
MAX_TOPICS = 20
MAX_TRENDING = 25


def system_clock() -> datetime:
    return datetime.now(UTC)


def parse_paper_ref(text: str) -> str | None:
    """The arXiv id in ``2605.05242``, ``arXiv:2605.05242v2`` or an arXiv/HF URL."""
    match = _ARXIV_IN_TEXT.search(text.strip())
    return strip_version(match.group("id")) if match else None


def post_slot(channel: Channel, day: date) -> datetime:
    """The channel's post time on local ``day``, as an aware UTC datetime.

    Correct across DST: a wall time that does not exist (spring forward) maps to the
    instant after the gap; one that exists twice (fall back) to its first occurrence.
    """
    zone = ZoneInfo(channel.timezone)
    hour, minute = parse_hhmm(channel.post_time)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)


def next_post_at(channel: Channel, now: datetime) -> datetime:
    """When ``channel`` posts next, as an aware UTC datetime.

    Today's slot if it is still owed (even if its time has passed: then the post is due
    now), else the next day's slot that is not a skipped weekend day.
    """
    zone = ZoneInfo(channel.timezone)
    not_before = datetime.fromisoformat(channel.not_before) if channel.not_before else None
    day = now.astimezone(zone).date()
    for _ in range(9):
        slot = post_slot(channel, day)
        skipped = channel.skip_weekends and day.weekday() >= 5
        too_early = not_before is not None and slot < not_before
        if not skipped and not too_early and channel.last_post_date != day.isoformat():
            return slot
        day += timedelta(days=1)
    raise AssertionError("unreachable: a week always has a day to post")


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
        self._handlers: dict[str, Callable[[Request, str], Reply]] = {
            "help": self._help,
            "search": self._search,
            "trending": self._trending,
            "paper": self._paper,
            "share": self._share,
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "topics": self._topics,
            "schedule": self._schedule,
            "pause": self._pause,
            "resume": self._resume,
            "digest": self._digest,
            "status": self._status,
        }

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
            if command and command.name == "paper":
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

    def add_papers(self, papers: list[Paper]) -> None:
        """Store papers and bring the index up to date with them."""
        self.store.put_papers(papers)
        self.index.upsert(papers, self.store.corpus_revision)

    def _dispatch(self, request: Request, command: Command) -> Reply:
        if command.spec.manages and not request.can_manage:
            return Reply.error(
                f"You don't have permission to change this channel's papers settings "
                f"(`{command.name}`). Ask someone who can manage the channel."
            )
        return self._handlers[command.name](request, command.args)

    # ---- helpers --------------------------------------------------------------------

    def today_for(self, channel: Channel | None) -> str:
        zone = ZoneInfo(channel.timezone if channel else self.config.bot.default_timezone)
        return self.clock().astimezone(zone).date().isoformat()

    def channel_for(self, request: Request, *, create: bool = False) -> Channel | None:
        channel = self.store.get_channel(request.channel)
        if channel is None and create:
            defaults = self.config.bot
            channel = Channel(
                platform=request.platform,
                workspace=request.workspace,
                channel_id=request.channel_id,
                post_time=defaults.default_post_time,
                timezone=defaults.default_timezone,
                max_papers=defaults.default_max_papers,
                created_at=utc_now(),
                not_before=self.clock().isoformat(),
            )
            self.store.save_channel(channel)
            log.info("channel %s enrolled for daily posts", channel.key)
        return channel

    def card(self, paper: Paper, **kwargs: object) -> PaperCard:
        card = PaperCard(paper, **kwargs)  # type: ignore[arg-type]
        card.buttons.append(Button("Share in channel", f"share {paper.id}"))
        return card

    # ---- read-only commands -----------------------------------------------------------

    def _help(self, request: Request, args: str) -> Reply:
        return Reply(
            text=help_text(args.split()[0] if args.split() else None), title="papers-bot help"
        )

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

    def _search(self, request: Request, args: str) -> Reply:
        page = 1
        match = re.search(r"(?:^|\s)--page[ =](\S+)", args)
        if match:
            try:
                page = int(match.group(1))
            except ValueError:
                raise CommandError("--page needs a number.", usage("search")) from None
            if not 1 <= page <= 1000:
                raise CommandError("--page must be between 1 and 1000.", usage("search"))
            args = (args[: match.start()] + " " + args[match.end() :]).strip()
        if not args:
            raise CommandError("Search for what? Give a few words.", usage("search"))
        return self.search(args, page)

    def trending(self, count: int, today: str | None = None) -> Reply:
        day = self.digests.latest_day(today or self.today_for(None))
        if day is None:
            return Reply(text="No trending papers yet: the corpus has no daily lists.")
        papers = self.digests.papers_on(day)[:count]
        cards = [self.card(p, rank=n) for n, p in enumerate(papers, start=1)]
        return Reply(
            text=f"Top {len(cards)} of {len(self.digests.papers_on(day))} papers trending on {day}.",
            kind=ReplyKind.SEARCH,
            title=f"Trending papers, {day}",
            cards=cards,
        )

    def _trending(self, request: Request, args: str) -> Reply:
        count = 5
        if args:
            try:
                count = int(args.split()[0])
            except ValueError:
                raise CommandError(f"`{args[:20]}` is not a number.", usage("trending")) from None
            if not 1 <= count <= MAX_TRENDING:
                raise CommandError(f"Pick between 1 and {MAX_TRENDING} papers.", usage("trending"))
        channel = self.store.get_channel(request.channel)
        return self.trending(count, self.today_for(channel))

    def _find_paper(self, args: str) -> Paper:
        if not args:
            raise CommandError("Which paper? Give an arXiv id or link.", usage("paper"))
        ref = parse_paper_ref(args)
        paper = self.store.get_paper(ref) if ref else self.store.get_paper(args.split()[0])
        if paper is None:
            if ref is None:
                raise CommandError(f"`{args[:60]}` is not an arXiv id or link.", usage("paper"))
            raise CommandError(f"Paper {ref} is not in the local corpus (yet).")
        return paper

    def _paper(self, request: Request, args: str) -> Reply:
        paper = self._find_paper(args)
        return Reply(kind=ReplyKind.PAPER, cards=[self.card(paper)])

    def _share(self, request: Request, args: str) -> Reply:
        paper = self._find_paper(args)
        who = request.user_name or request.user_id
        return Reply(
            text=f"Shared by {who}", kind=ReplyKind.PAPER, cards=[PaperCard(paper)], ephemeral=False
        )

    def _topics(self, request: Request, args: str) -> Reply:
        topics = self.store.topics(request.channel)
        if not topics:
            return Reply(
                text="This channel has no topics: its posts carry all trending papers. "
                'Add one with `/papers subscribe "speech recognition"`.'
            )
        lines = [
            f"{t.id}. {t.query}  (added by {t.added_by}"
            + (f"; alert at {t.alert_upvotes}+ upvotes)" if t.alert_upvotes else ")")
            for t in topics
        ]
        return Reply(text="\n".join(lines), title="Topics of this channel")

    def digest_for(self, channel: Channel) -> Digest:
        self.index.sync(self.store)
        return self.digests.build(channel, self.today_for(channel))

    def digest_reply(self, digest: Digest, *, late: bool = False) -> Reply:
        """A channel post for ``digest`` (also the ``digest`` command's preview)."""
        if not digest.cards:
            text = f"No new papers today ({digest.reason})."
            return Reply(text=text, kind=ReplyKind.DIGEST, ephemeral=False)
        cards = [
            self.card(c.paper, rank=c.rank, topic=c.topic, matched_terms=c.matched_terms)
            for c in digest.cards
        ]
        title = f"Trending papers, {digest.day}"
        if late:
            title += " (late: the bot was offline at post time)"
        return Reply(kind=ReplyKind.DIGEST, title=title, cards=cards, ephemeral=False)

    def _digest(self, request: Request, args: str) -> Reply:
        channel = self.channel_for(request) or self._unsaved_channel(request)
        reply = self.digest_reply(self.digest_for(channel))
        reply.ephemeral = True
        reply.footer = "Preview: nothing was marked as posted."
        return reply

    def _unsaved_channel(self, request: Request) -> Channel:
        defaults = self.config.bot
        return Channel(
            request.platform,
            request.workspace,
            request.channel_id,
            post_time=defaults.default_post_time,
            timezone=defaults.default_timezone,
            max_papers=defaults.default_max_papers,
        )

    def _status(self, request: Request, args: str) -> Reply:
        lines = [f"Corpus: {self.store.paper_count():,} papers."]
        last_ingest = self.store.get_meta("last_ingest")
        if last_ingest:
            lines.append(
                f"Last ingest: {last_ingest.get('at')} ({last_ingest.get('summary', '')})."
            )
        else:
            lines.append("Last ingest: never (demo or imported corpus).")
        for source, day in sorted((self.store.get_meta("no_announcements") or {}).items()):
            lines.append(f"No announcements from {source} for {day}.")
        channel = self.store.get_channel(request.channel)
        if channel is None:
            lines.append(
                "This channel gets no daily post yet: `/papers schedule 09:00 Europe/Berlin` "
                "or `/papers subscribe <topic>` starts it."
            )
        else:
            state = (
                "paused" + (f" ({channel.pause_reason})" if channel.pause_reason else "")
                if channel.paused
                else "active"
            )
            lines.append(
                f"Daily post: {channel.post_time} {channel.timezone}, {state}, up to {channel.max_papers} papers."
            )
            lines.append(f"Last post: {channel.last_post_at or 'none yet'}.")
            if not channel.paused:
                nxt = next_post_at(channel, self.clock()).astimezone(ZoneInfo(channel.timezone))
                lines.append(f"Next post: {nxt:%Y-%m-%d %H:%M} {channel.timezone}.")
            if channel.last_error:
                lines.append(f"Last delivery problem: {channel.last_error}.")
        lines.append(f"Topics: {len(self.store.topics(request.channel))}.")
        return Reply(text="\n".join(lines), title="Status")

    # ---- commands that change the channel ----------------------------------------------

    def _subscribe(self, request: Request, args: str) -> Reply:
        alert: int | None = None
        match = re.search(r"(?:^|\s)--alert[ =](\S+)", args)
        if match:
            try:
                alert = int(match.group(1))
            except ValueError:
                raise CommandError(
                    "--alert needs a number of upvotes.", usage("subscribe")
                ) from None
            if not 1 <= alert <= 100_000:
                raise CommandError(
                    "--alert must be between 1 and 100000 upvotes.", usage("subscribe")
                )
            args = (args[: match.start()] + " " + args[match.end() :]).strip()
        query = args.strip()
        if len(query) >= 2 and query[0] == query[-1] and query[0] in "\"'“”":
            query = query[1:-1].strip()
        if not query:
            raise CommandError("Subscribe to what? Give a topic.", usage("subscribe"))
        parsed = parse_query(query)
        if parsed.is_empty:
            raise CommandError("That topic has no words to match.", usage("subscribe"))
        existing = self.store.topics(request.channel)
        if any(t.query.lower() == query.lower() for t in existing):
            return Reply(text=f"This channel already follows “{query}”.")
        if len(existing) >= MAX_TOPICS:
            raise CommandError(
                f"A channel can follow at most {MAX_TOPICS} topics; unsubscribe one first."
            )
        self.channel_for(request, create=True)
        topic = self.store.add_topic(
            request.channel, query, request.user_name or request.user_id, alert_upvotes=alert
        )
        alert_note = (
            f" Papers on it reaching {alert}+ upvotes are also posted as soon as they do."
            if alert
            else ""
        )
        log.info("channel %s subscribed to topic %d %r", request.channel, topic.id, query)
        return Reply(
            text=f"Subscribed to “{query}” (topic {topic.id}). This channel's posts now carry papers "
            "matching its topics." + alert_note,
            ephemeral=False,
        )

    def _unsubscribe(self, request: Request, args: str) -> Reply:
        arg = args.strip().lower()
        if not arg:
            raise CommandError("Unsubscribe from which topic?", usage("unsubscribe"))
        if arg == "all":
            gone = self.store.remove_topics(request.channel)
            return Reply(text=f"Removed all {len(gone)} topics.", ephemeral=False)
        topics = self.store.topics(request.channel)
        match = next(
            (t for t in topics if str(t.id) == arg or t.query.lower() == arg.strip("\"'")), None
        )
        if match is None:
            raise CommandError(
                f"This channel has no topic `{args[:60]}`. See `/papers topics`.",
                usage("unsubscribe"),
            )
        self.store.remove_topics(request.channel, [match.id])
        return Reply(text=f"Unsubscribed from “{match.query}”.", ephemeral=False)

    def _schedule(self, request: Request, args: str) -> Reply:
        parts = args.split()
        if not parts or len(parts) > 2:
            raise CommandError("Give a time, and optionally a time zone.", usage("schedule"))
        try:
            parse_hhmm(parts[0])
        except ValueError:
            raise CommandError(
                f"`{parts[0][:20]}` is not a time like 09:00.", usage("schedule")
            ) from None
        hour, minute = parse_hhmm(parts[0])
        channel = self.channel_for(request, create=True)
        assert channel is not None
        zone = channel.timezone
        if len(parts) == 2:
            try:
                zone = str(check_timezone(parts[1]))
            except ValueError as exc:
                raise CommandError(f"{exc}.", usage("schedule")) from None

        def change(ch: Channel) -> None:
            ch.post_time = f"{hour:02d}:{minute:02d}"
            ch.timezone = zone
            ch.not_before = self.clock().isoformat()

        channel = self.store.update_channel(channel.key, change)
        assert channel is not None
        nxt = next_post_at(channel, self.clock()).astimezone(ZoneInfo(zone))
        return Reply(
            text=f"Daily post at {channel.post_time} {zone}. Next: {nxt:%a %Y-%m-%d %H:%M}.",
            ephemeral=False,
        )

    def _pause(self, request: Request, args: str) -> Reply:
        channel = self.channel_for(request)
        if channel is None or channel.paused:
            return Reply(text="Daily posts are not running here; nothing to pause.")

        def change(ch: Channel) -> None:
            ch.paused, ch.pause_reason = True, f"paused by {request.user_name or request.user_id}"

        self.store.update_channel(channel.key, change)
        return Reply(
            text="Daily posts paused. `/papers resume` starts them again.", ephemeral=False
        )

    def _resume(self, request: Request, args: str) -> Reply:
        channel = self.channel_for(request, create=True)
        assert channel is not None

        def change(ch: Channel) -> None:
            ch.paused, ch.pause_reason, ch.failures, ch.last_error = False, None, 0, None
            ch.not_before = self.clock().isoformat()

        self.store.update_channel(channel.key, change)
        return Reply(
            text=f"Daily posts on: {channel.post_time} {channel.timezone}.", ephemeral=False
        )
