"""The domain: papers, channels, topic subscriptions and delivery records.

These are plain dataclasses that convert to and from the JSON documents kept by
:mod:`bot.store`. Unknown facts stay empty (``None`` or an empty list): the
corpus never invents an arXiv id, a date or an upvote count.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Self
from urllib.parse import urlencode

# New-style arXiv ids (0704.0001 onwards) and old-style ones (hep-th/9901001).
ARXIV_ID_RE = re.compile(r"^(?:\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})$")
_VERSION_RE = re.compile(r"v\d+$")


# The ranges of the numbers people can set (commands, imported snippets), in one place so
# that the commands, the import check and the help text agree. Bounded so that a stored
# number always fits the data file (JSON integers are written as 64-bit).
MAX_PAPERS_PER_POST = 25
MAX_UPVOTES = 100_000

_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD.

    Undecodable bytes typed in a terminal (Python's ``surrogateescape``) and ``\\ud800``
    escapes in a platform's JSON reach us as lone surrogates. They cannot be written as
    UTF-8, so a topic or setting holding one would make the data file unwritable. A
    surrogate pair that spells a real character is joined into that character.
    """
    if text.isascii() or not _SURROGATE_RE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def strip_version(arxiv_id: str) -> str:
    """``2605.05242v2`` -> ``2605.05242``: one record per paper, whatever the version."""
    return _VERSION_RE.sub("", arxiv_id.strip())


def is_arxiv_id(value: str) -> bool:
    return bool(ARXIV_ID_RE.match(value))


def title_key(title: str) -> str:
    """A normalised title, used to recognise the same paper seen without an id."""
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", folded.lower()).strip()


def stable_id_for_title(title: str) -> str:
    """An id for a paper whose arXiv id is unknown: stable across runs and machines."""
    return "t-" + hashlib.sha1(title_key(title).encode()).hexdigest()[:12]


class Record:
    """A dataclass stored as a JSON document. Keys the class does not know (written by a
    newer papers-bot) are ignored on the way in, so an old reader never crashes on them."""

    __slots__ = ()

    def to_doc(self) -> dict[str, Any]:
        # Fields are flat (str, int, bool, None, lists of str): a shallow copy of each list
        # is all asdict's deep copy would do, at a fifth of its cost (a 300,000-paper import).
        doc = {name: getattr(self, name) for name in self.__dataclass_fields__}  # type: ignore[attr-defined]
        for name, value in doc.items():
            if type(value) is list:
                doc[name] = value.copy()
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Self:
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in doc.items() if k in known})


_ANNOTATION_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "bool": (bool,),
    "None": (type(None),),
    "float": (float, int),
}


@functools.cache
def record_fields(
    model: type[Record], also_required: tuple[str, ...] = ()
) -> list[tuple[str, frozenset[type], bool]]:
    """(name, the JSON types its stored value may have, whether it must be there) for
    each field of ``model``: what :mod:`bot.store` checks a stored record against.

    Read from the dataclass annotations (``str | None``, ``list[str]``...), so a new
    field is checked without anyone remembering to. Types are exact: ``True`` is not an int.
    """
    found = []
    for f in fields(model):  # type: ignore[arg-type]
        allowed: set[type] = set()
        for part in str(f.type).split("|"):
            part = part.strip()
            allowed.update((list,) if part.startswith("list[") else _ANNOTATION_TYPES[part])
        required = f.default is MISSING and f.default_factory is MISSING
        found.append((f.name, frozenset(allowed), required or f.name in also_required))
    return found


def allowed_names(allowed: frozenset[type]) -> str:
    """``frozenset({str, NoneType})`` -> ``"null or str"``, for error messages."""
    names = {"NoneType": "null", "list": "a list"}
    return " or ".join(sorted(names.get(t.__name__, t.__name__) for t in allowed))


@dataclass(slots=True)
class Paper(Record):
    """One paper, whichever sources saw it. ``id`` is the arXiv id without version when known."""

    id: str
    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    published: str | None = None  # YYYY-MM-DD
    daily_date: str | None = None  # the Hugging Face daily-list day, YYYY-MM-DD
    upvotes: int | None = None
    comments: int | None = None
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    first_seen: str | None = None  # ISO 8601 UTC timestamp
    doi: str | None = None
    journal_ref: str | None = None
    thumbnail: str | None = (
        None  # an http(s) image URL (Hugging Face sends one); older records lack it
    )

    @property
    def has_arxiv_id(self) -> bool:
        return is_arxiv_id(self.id)

    @property
    def arxiv_url(self) -> str | None:
        return f"https://arxiv.org/abs/{self.id}" if self.has_arxiv_id else None

    @property
    def pdf_url(self) -> str | None:
        return f"https://arxiv.org/pdf/{self.id}" if self.has_arxiv_id else None

    @property
    def hf_url(self) -> str | None:
        return f"https://huggingface.co/papers/{self.id}" if self.has_arxiv_id else None

    @property
    def url(self) -> str | None:
        """The best single link for the title: the Hugging Face page, else arXiv, else code."""
        return self.hf_url or self.project_page or self.github_repo

    @property
    def title_search_url(self) -> str:
        """arXiv's search for this title: where a paper without an arXiv id still leads."""
        query = urlencode({"query": " ".join(self.title.split()), "searchtype": "title"})
        return f"https://arxiv.org/search/?{query}"

    @property
    def open_url(self) -> str:
        """Where a card's title and its Open button lead: never nothing (see :attr:`url`,
        then the arXiv page, then an arXiv title search)."""
        return self.url or self.arxiv_url or self.title_search_url

    def links(self) -> list[tuple[str, str]]:
        """The paper's links as (label, url), known ones only, in the order cards show."""
        candidates = [
            ("arXiv", self.arxiv_url),
            ("PDF", self.pdf_url),
            ("Hugging Face", self.hf_url),
            ("Code", self.github_repo),
            ("Project page", self.project_page),
        ]
        return [(label, url) for label, url in candidates if url]

    @property
    def list_date(self) -> str | None:
        """The day the paper was on a trending list (or announced), for digests and filters."""
        return self.daily_date or self.published


def channel_key(platform: str, workspace: str, channel_id: str) -> str:
    """One key per channel across platforms: ``slack:T123:C456``."""
    return f"{platform}:{workspace}:{channel_id}"


@dataclass(slots=True)
class Channel(Record):
    """A chat channel's settings. A channel is enrolled for daily posts once it exists."""

    platform: str
    workspace: str
    channel_id: str
    post_time: str = "09:00"  # HH:MM, local to ``timezone``
    timezone: str = "UTC"
    paused: bool = False
    max_papers: int = 5
    min_upvotes: int = 0
    skip_weekends: bool = False
    pause_reason: str | None = None
    last_error: str | None = None
    failures: int = 0
    last_post_date: str | None = None  # local date of the last daily post, YYYY-MM-DD
    last_post_at: str | None = None  # ISO UTC timestamp
    created_at: str | None = None
    # Slots before this instant (ISO UTC) are not owed: set when a channel is enrolled,
    # rescheduled or resumed, so "schedule 08:30" at 17:00 means tomorrow, not now.
    not_before: str | None = None
    # After a failed post, the next attempt waits until then (ISO UTC), so a broken
    # channel is retried with backoff instead of on every tick.
    retry_at: str | None = None
    daily: bool = True  # the daily post; a channel may keep only the weekly one
    weekly_day: int | None = None  # 0 = Monday ... 6 = Sunday; None: no weekly digest
    weekly_time: str = "09:00"
    last_weekly_date: str | None = None
    thread_mode: bool = False  # a headline message with one reply per paper in its thread
    summary: str = "short"  # how much of a summary cards show: "short", "long" or "off"
    # The platform user id of the last person who changed this channel's settings: who is
    # told when repeated failures pause its posts, and when they recover (revision 0004).
    managed_by: str | None = None
    # The last failure notice sent about this channel ("paused" or "recovered"), so each
    # is sent once, not at every tick (revision 0004).
    notice: str | None = None

    @property
    def key(self) -> str:
        return channel_key(self.platform, self.workspace, self.channel_id)


@dataclass(slots=True)
class Topic(Record):
    """A channel's topic subscription: a search query its posts are kept to."""

    id: int
    channel: str  # channel key
    query: str
    added_by: str
    added_at: str
    # Post a matching paper as soon as its upvotes reach this, not only in the daily post.
    alert_upvotes: int | None = None
    # Who an alert mentions (opt-in, ``--notify``): a platform mention as the adapter
    # understands it, e.g. a Slack user group or a Discord role (revision 0004).
    notify: str | None = None


@dataclass(slots=True)
class Delivery(Record):
    """That a paper went (or is going) to a channel. ``status`` is ``pending`` until sent."""

    channel: str
    paper_id: str
    at: str
    status: str = "sent"  # "pending" (intent recorded) or "sent"
    message_id: str | None = None
    day: str | None = None  # the channel's local date of the post it belongs to
    kind: str = "digest"  # "digest", "alert" or "weekly"

    @property
    def key(self) -> str:
        # A weekly recap may repeat a paper the daily post had; everything else is once.
        suffix = "|weekly" if self.kind == "weekly" else ""
        return f"{self.channel}|{self.paper_id}{suffix}"


@dataclass(slots=True)
class Feedback(Record):
    """One person's 👍 (+1) or 👎 (-1) on a paper in a channel; the latest one counts."""

    channel: str
    paper_id: str
    user: str
    value: int
    at: str

    @property
    def key(self) -> str:
        return f"{self.channel}|{self.paper_id}|{self.user}"


@dataclass(slots=True)
class Saved(Record):
    """A paper on one person's reading list (``/papers save``), the same in every channel.

    ``user`` is the person's key across channels: ``platform:workspace:user_id``.
    """

    user: str
    paper_id: str
    at: str  # ISO UTC timestamp
    channel: str | None = None  # the channel key it was saved from, if any

    @property
    def key(self) -> str:
        return f"{self.user}|{self.paper_id}"


def user_key(platform: str, workspace: str, user_id: str) -> str:
    """One key per person per workspace: ``slack:T123:U456`` (their reading list's owner)."""
    return f"{platform}:{workspace}:{user_id}"
