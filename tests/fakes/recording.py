"""An in-process platform for scheduler tests: records posts, fails on demand.

It implements the same Adapter protocol as the Slack and Discord adapters; the real ones
are exercised over sockets in their own tests and in test_run_slack_fanout.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bot.delivery import DeliveryError, PermanentDeliveryError
from bot.models import Channel
from bot.replies import Reply


@dataclass
class Posted:
    channel: str
    reply: Reply
    thread: str | None = None

    @property
    def paper_ids(self) -> list[str]:
        return [c.paper.id for c in self.reply.cards]


@dataclass
class RecordingAdapter:
    platform: str = "console"
    posts: list[Posted] = field(default_factory=list)
    permanent: dict[str, str] = field(default_factory=dict)  # channel_id -> error
    transient: dict[str, str] = field(default_factory=dict)
    fail_on_message: dict[str, int] = field(default_factory=dict)  # channel_id -> nth message
    delay: float = 0.0
    counter: int = 0
    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def post(self, channel: Channel, reply: Reply, *, thread: str | None = None) -> list[str]:
        self.started.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        if channel.channel_id in self.permanent:
            raise PermanentDeliveryError(self.permanent[channel.channel_id])
        if channel.channel_id in self.transient:
            raise DeliveryError(self.transient[channel.channel_id])
        sent_here = sum(1 for p in self.posts if p.channel == channel.key)
        if self.fail_on_message.get(channel.channel_id) == sent_here + 1:
            raise DeliveryError("server error 500")
        self.counter += 1
        self.posts.append(Posted(channel.key, reply, thread))
        return [f"m{self.counter}"]

    def to(self, channel_key: str) -> list[Posted]:
        return [p for p in self.posts if p.channel == channel_key]

    def papers_to(self, channel_key: str) -> list[str]:
        return [pid for p in self.to(channel_key) for pid in p.paper_ids]
