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
from bot.digest import LATE_NOTE, Digest, DigestBuilder
from bot.merge import MergeResult, apply_merge, plan_merge
from bot.models import Channel, Feedback, Paper, strip_version
from bot.preview import topic_preview
from bot.query import QueryError, parse_query
from bot.replies import Button, PaperCard, Reply, ReplyKind, Request
from bot.search import SearchIndex
from bot.settings_io import (
    WEEKDAYS,
    SettingsError,
    apply_settings,
    export_settings,
    one_line,
    parse_settings,
)
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
WEEKLY_USAGE = "/papers schedule weekly <mon..sun> <HH:MM> [IANA time zone] | schedule weekly off"
WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MAX_TRENDING = 25


def unquote(text: str) -> str:
    """A topic as typed, without surrounding quotes (straight or curly) and with its
    whitespace folded to single spaces (a pasted topic may hold newlines)."""
    text = " ".join(text.split())
    if len(text) >= 2 and text[0] in "\"'“‘" and text[-1] in "\"'”’":
        text = text[1:-1].strip()
    return text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def system_clock() -> datetime:
    return datetime.now(UTC)


def parse_paper_ref(text: str) -> str | None:
    """The arXiv id in ``2605.05242``, ``arXiv:2605.05242v2`` or an arXiv/HF URL."""
    match = _ARXIV_IN_TEXT.search(text.strip())
    return strip_version(match.group("id")) if match else None


def post_slot(channel: Channel, day: date, time: str | None = None) -> datetime:
    """The channel's post time (or ``time``) on local ``day``, as an aware UTC datetime.

    Correct across DST: a wall time that does not exist (spring forward) maps to the
    instant after the gap; one that exists twice (fall back) to its first occurrence.
    """
    zone = ZoneInfo(channel.timezone)
    hour, minute = parse_hhmm(time or channel.post_time)
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
            "preview": self._preview,
            "similar": self._similar,
            "feedback": self._feedback,
            "thread": self._thread,
            "set": self._set,
            "export": self._export,
            "import": self._import,
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
        if command.name == "subscribe" and re.search(r"(?:^|\s)--preview(?:\s|$)", command.args):
            topic = re.sub(r"(?:^|\s)--preview(?=\s|$)", " ", command.args)
            command = Command("preview", re.sub(r"(?:^|\s)--alert[ =]\S+", " ", topic).strip())
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
        listed = self.digests.papers_on(day)
        papers = listed[:count]
        cards = [self.card(p, rank=n) for n, p in enumerate(papers, start=1)]
        return Reply(
            text=f"Top {len(cards)} of {len(listed)} papers trending on {day}.",
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
                'Add one with `/papers subscribe "speech recognition"`.\n'
                "Feedback: "
                + self.digests.taste_for(request.channel).describe(self.index.surface)
                + "."
            )
        lines = [
            f"{t.id}. {t.query}  (added by {t.added_by}"
            + (f"; alert at {t.alert_upvotes}+ upvotes)" if t.alert_upvotes else ")")
            for t in topics
        ]
        lines.append(
            "Feedback: "
            + self.digests.taste_for(request.channel).describe(self.index.surface)
            + "."
        )
        return Reply(text="\n".join(lines), title="Topics of this channel")

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

    def _digest(self, request: Request, args: str) -> Reply:
        channel = self.channel_for(request) or self.new_channel(
            request.platform, request.workspace, request.channel_id
        )
        reply = self.digest_reply(self.digest_for(channel))
        reply.ephemeral = True
        reply.footer = "Preview: nothing was marked as posted."
        return reply

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
            if channel.daily:
                lines.append(
                    f"Daily post: {channel.post_time} {channel.timezone}, {state}, "
                    f"up to {channel.max_papers} papers"
                    + (", as a thread" if channel.thread_mode else "")
                    + "."
                )
            else:
                lines.append(f"Daily post: off ({state}).")
            if channel.weekly_day is not None:
                lines.append(
                    f"Weekly digest: {WEEKDAY_NAMES[channel.weekly_day]} {channel.weekly_time} "
                    f"{channel.timezone}; last {channel.last_weekly_date or 'none yet'}."
                )
            lines.append(f"Last post: {channel.last_post_at or 'none yet'}.")
            if not channel.paused and channel.daily:
                nxt = next_post_at(channel, self.clock()).astimezone(ZoneInfo(channel.timezone))
                lines.append(f"Next post: {nxt:%Y-%m-%d %H:%M} {channel.timezone}.")
            if channel.last_error:
                lines.append(f"Last delivery problem: {channel.last_error}.")
            if channel.retry_at and not channel.paused:
                lines.append(f"Retrying after {channel.retry_at[:16].replace('T', ' ')} UTC.")
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
        query = unquote(args)
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
        arg = unquote(args).lower()
        if not arg:
            raise CommandError("Unsubscribe from which topic?", usage("unsubscribe"))
        if arg == "all":
            gone = self.store.remove_topics(request.channel)
            if not gone:
                return Reply(text="This channel has no topics to remove.")
            return Reply(text=f"Removed all {_count(len(gone), 'topic')}.", ephemeral=False)
        topics = self.store.topics(request.channel)
        match = next((t for t in topics if arg in (str(t.id), t.query.lower())), None)
        if match is None:
            raise CommandError(
                f"This channel has no topic `{args[:60]}`. See `/papers topics`.",
                usage("unsubscribe"),
            )
        self.store.remove_topics(request.channel, [match.id])
        return Reply(text=f"Unsubscribed from “{match.query}”.", ephemeral=False)

    def _schedule(self, request: Request, args: str) -> Reply:
        parts = args.split()
        if parts and parts[0].lower() == "weekly":
            return self._schedule_weekly(request, parts[1:])
        if parts and parts[0].lower() == "daily":
            return self._schedule_daily(request, parts[1:])
        if not parts or len(parts) > 2:
            raise CommandError("Give a time, and optionally a time zone.", usage("schedule"))
        hour, minute = self._time_arg(parts[0])
        zone = self._zone_arg(parts[1]) if len(parts) == 2 else None
        channel = self.channel_for(request, create=True)
        assert channel is not None

        def change(ch: Channel) -> None:
            ch.post_time = f"{hour:02d}:{minute:02d}"
            ch.timezone = zone or ch.timezone
            ch.daily = True
            ch.not_before = self.clock().isoformat()

        channel = self.store.update_channel(channel.key, change)
        assert channel is not None
        nxt = next_post_at(channel, self.clock()).astimezone(ZoneInfo(channel.timezone))
        return Reply(
            text=f"Daily post at {channel.post_time} {channel.timezone}. "
            f"Next: {nxt:%a %Y-%m-%d %H:%M}.",
            ephemeral=False,
        )

    def _time_arg(self, text: str) -> tuple[int, int]:
        try:
            return parse_hhmm(text)
        except ValueError:
            raise CommandError(
                f"`{text[:20]}` is not a time like 09:00.", usage("schedule")
            ) from None

    def _zone_arg(self, text: str) -> str:
        try:
            return str(check_timezone(text))
        except ValueError as exc:
            raise CommandError(f"{exc}.", usage("schedule")) from None

    def _schedule_weekly(self, request: Request, parts: list[str]) -> Reply:
        if [p.lower() for p in parts] == ["off"]:
            channel = self.channel_for(request)
            if channel is not None:
                self.store.update_channel(channel.key, lambda ch: setattr(ch, "weekly_day", None))
            return Reply(text="Weekly digest off.", ephemeral=False)
        if len(parts) not in (2, 3) or parts[0].lower()[:3] not in WEEKDAYS:
            raise CommandError(
                "Give a weekday and a time, e.g. `schedule weekly mon 09:00`.", WEEKLY_USAGE
            )
        weekday = WEEKDAYS.index(parts[0].lower()[:3])
        hour, minute = self._time_arg(parts[1])
        zone = self._zone_arg(parts[2]) if len(parts) == 3 else None
        channel = self.channel_for(request, create=True)
        assert channel is not None

        def change(ch: Channel) -> None:
            ch.weekly_day, ch.weekly_time = weekday, f"{hour:02d}:{minute:02d}"
            ch.timezone = zone or ch.timezone
            ch.not_before = self.clock().isoformat()

        channel = self.store.update_channel(channel.key, change)
        assert channel is not None
        also = "as well as the daily post" if channel.daily else "instead of a daily post"
        return Reply(
            text=f"Weekly digest of the week's top papers every {WEEKDAY_NAMES[weekday]} at "
            f"{channel.weekly_time} {channel.timezone}, {also}.",
            ephemeral=False,
        )

    def _schedule_daily(self, request: Request, parts: list[str]) -> Reply:
        choice = [p.lower() for p in parts]
        if choice not in (["on"], ["off"]):
            raise CommandError(
                "Say `schedule daily on` or `schedule daily off`.", "/papers schedule daily on|off"
            )
        channel = self.channel_for(request, create=True)
        assert channel is not None
        on = choice == ["on"]

        def change(ch: Channel) -> None:
            ch.daily = on
            ch.not_before = self.clock().isoformat()

        self.store.update_channel(channel.key, change)
        if on:
            return Reply(
                text=f"Daily post on, at {channel.post_time} {channel.timezone}.", ephemeral=False
            )
        weekly = " The weekly digest stays on." if channel.weekly_day is not None else ""
        return Reply(text="Daily post off." + weekly, ephemeral=False)

    # ---- discovery and tuning ----------------------------------------------------------

    def _preview(self, request: Request, args: str) -> Reply:
        topic = unquote(args)
        if not topic:
            raise CommandError("Preview what? Give a topic.", usage("preview"))
        channel = self.channel_for(request) or self.new_channel(
            request.platform, request.workspace, request.channel_id
        )
        return topic_preview(self, channel, topic)

    def _similar(self, request: Request, args: str) -> Reply:
        paper = self._find_paper(args)
        self.index.sync(self.store)
        hits = self.index.similar(paper, limit=self.config.bot.search_page_size)
        cards = [
            self.card(p, rank=n)
            for n, hit in enumerate(hits, start=1)
            if (p := self.store.get_paper(hit.paper_id)) is not None
        ]
        if not cards:
            return Reply(text=f"Nothing in the corpus is close to “{paper.title}”.")
        return Reply(
            text=f"The papers closest to “{paper.title}” ({paper.id}), by their title, abstract "
            "and keywords.",
            kind=ReplyKind.SEARCH,
            title="Similar papers",
            cards=cards,
        )

    def _feedback(self, request: Request, args: str) -> Reply:
        parts = args.split()
        if len(parts) != 2 or parts[0].lower() not in ("up", "down"):
            raise CommandError("Say `feedback up <paper id>` or `feedback down <paper id>`.")
        paper = self._find_paper(parts[1])
        value = 1 if parts[0].lower() == "up" else -1
        self.store.put_feedback(
            Feedback(request.channel, paper.id, request.user_id, value, utc_now())
        )
        taste = self.digests.taste_for(request.channel)
        mark = "👍" if value > 0 else "👎"
        return Reply(
            text=f"{mark} noted for “{paper.title}”. This channel's ranking now: {taste.describe(self.index.surface)}."
        )

    def _set(self, request: Request, args: str) -> Reply:
        parts = args.lower().split()
        if len(parts) != 2:
            raise CommandError("Say which setting and its value.", usage("set"))
        key, value = parts
        new: int | bool
        if key in ("papers", "max", "max-papers"):
            field, new = "max_papers", self._number_arg(value, 1, 25)
            text = f"Posts carry up to {new} papers."
        elif key in ("min-upvotes", "upvotes", "min_upvotes"):
            field, new = "min_upvotes", self._number_arg(value, 0, 100_000)
            text = f"Only papers with {new}+ upvotes are posted." if new else "Any upvotes will do."
        elif key == "weekends" and value in ("skip", "post"):
            field, new = "skip_weekends", value == "skip"
            text = "No posts on Saturdays and Sundays." if new else "Posts come on weekends too."
        else:
            raise CommandError(f"There is no setting `{key[:30]} {value[:30]}`.", usage("set"))
        channel = self.channel_for(request, create=True)
        assert channel is not None
        self.store.update_channel(channel.key, lambda ch: setattr(ch, field, new))
        return Reply(text=text, ephemeral=False)

    def _number_arg(self, text: str, low: int, high: int) -> int:
        try:
            number = int(text)
        except ValueError:
            raise CommandError(f"`{text[:20]}` is not a number.", usage("set")) from None
        if not low <= number <= high:
            raise CommandError(f"Pick a number from {low} to {high}.", usage("set"))
        return number

    def _thread(self, request: Request, args: str) -> Reply:
        choice = args.strip().lower()
        if choice not in ("on", "off"):
            raise CommandError("Say `thread on` or `thread off`.", usage("thread"))
        channel = self.channel_for(request, create=True)
        assert channel is not None
        self.store.update_channel(
            channel.key, lambda ch: setattr(ch, "thread_mode", choice == "on")
        )
        if choice == "on":
            text = "Posts now come as a headline with one reply per paper in its thread."
        else:
            text = "Posts now come as one compact message."
        return Reply(text=text, ephemeral=False)

    def _export(self, request: Request, args: str) -> Reply:
        channel = self.channel_for(request) or self.new_channel(
            request.platform, request.workspace, request.channel_id
        )
        snippet = export_settings(channel, self.store.topics(request.channel))
        return Reply(
            text="Copy this and run `/papers import` with it in another channel, workspace or "
            "platform:\n```\n" + snippet + "```\nOne line (for chat boxes without newlines):\n"
            "`/papers import " + one_line(snippet) + "`",
            title="Settings of this channel",
        )

    def _import(self, request: Request, args: str) -> Reply:
        if not args.strip():
            raise CommandError("Import what? Paste what `/papers export` gave.", usage("import"))
        try:
            snapshot = parse_settings(args)
        except SettingsError as exc:
            raise CommandError(f"Cannot import: {exc}.", usage("import")) from None
        channel = self.channel_for(request, create=True)
        assert channel is not None

        def change(ch: Channel) -> None:
            apply_settings(ch, snapshot.settings)
            ch.not_before = self.clock().isoformat()

        self.store.update_channel(channel.key, change)
        existing = {t.query.lower() for t in self.store.topics(request.channel)}
        new = [(q, a) for q, a in snapshot.topics if q.lower() not in existing]
        room = MAX_TOPICS - len(existing)
        added = new[: max(0, room)]
        who = request.user_name or request.user_id
        for query, alert in added:
            self.store.add_topic(request.channel, query, who, alert_upvotes=alert)
        skipped = len(snapshot.topics) - len(added)
        return Reply(
            text=f"Imported {_count(len(snapshot.settings), 'setting')} and "
            f"{_count(len(added), 'topic')}"
            + (f" ({skipped} already here or over the limit)" if skipped else "")
            + ". See `/papers status` and `/papers topics`.",
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
            ch.retry_at = None
            ch.not_before = self.clock().isoformat()

        self.store.update_channel(channel.key, change)
        return Reply(
            text=f"Daily posts on: {channel.post_time} {channel.timezone}.", ephemeral=False
        )
