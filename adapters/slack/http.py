"""The HTTP-mode front door: check a Slack request and parse its body before bolt sees it.

Two things bolt's own HTTP path gets wrong, fixed here:

* A non-numeric ``X-Slack-Request-Timestamp``, a JSON content type over a body that is
  not JSON, or a body that is not UTF-8 made bolt raise while building or verifying the
  request: a 500 with a traceback in the log, reachable by anyone without the signing
  secret. Here the signature is checked first, on the raw bytes (401, one log line), and
  only a signed request is decoded and parsed (400, one log line, if it is malformed).
* bolt's ``parse_body`` treats any form body containing the text ``payload`` as an
  interactivity payload, so ``/papers search payload injection`` or any command from a
  channel named ``#payload-team`` was routed nowhere (404). Here the form is parsed as a
  form, and only a real ``payload`` field is read as one.

The parsed body is handed to bolt in a :class:`ParsedBoltRequest`, so bolt never parses it
again (its signature check still runs on the same raw text, as a second line of defence).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest

log = logging.getLogger(__name__)

MAX_CLOCK_SKEW = 5 * 60  # Slack: reject requests more than five minutes old (replays)
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"


class RequestRefused(Exception):
    """A request we answer with ``status`` and one log line, never a traceback."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def check_signature(
    raw: bytes,
    headers: Mapping[str, str],
    secret: str,
    now: Callable[[], float] = time.time,
) -> None:
    """Raise :class:`RequestRefused` (401) unless Slack signed ``raw`` with ``secret``.

    Works on bytes, so a body that is not UTF-8 is refused as unsigned rather than
    crashing a decoder; every header is checked for shape before it is used.
    """
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "")
    if not timestamp or not signature:
        raise RequestRefused(401, "unsigned request (no Slack signature headers)")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise RequestRefused(401, "bad X-Slack-Request-Timestamp (not a number)")
    if abs(now() - int(timestamp)) > MAX_CLOCK_SKEW:
        raise RequestRefused(401, "stale or future X-Slack-Request-Timestamp")
    base = b"v0:" + timestamp.encode() + b":" + raw
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not signature.isascii() or not hmac.compare_digest(expected, signature):
        raise RequestRefused(401, "bad Slack signature")


def decode(raw: bytes) -> str:
    """The body as text; Slack always sends UTF-8, so anything else is a bad request."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestRefused(400, "body is not UTF-8") from None


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise RequestRefused(400, f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise RequestRefused(400, f"{what} is not a JSON object")
    return value


def parse_body(text: str, content_type: str) -> dict[str, Any]:
    """A Slack request body as bolt expects it, without bolt's ``"payload" in body`` guess.

    JSON bodies (Events API, URL verification) are parsed as JSON; form bodies as a form,
    and an interactivity request's ``payload`` field (a button press) as the JSON it holds.
    A slash command whose text, channel or user name holds "payload" stays a form.
    """
    if not text:
        return {}
    if content_type == "application/json" or text.lstrip().startswith("{"):
        return _json_object(text, "JSON body")
    form = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in form and "command" not in form:
        return _json_object(form["payload"], "payload field")
    return form


class ParsedBoltRequest(AsyncBoltRequest):
    """A bolt request built from a body we parsed ourselves (see :func:`parse_body`).

    bolt's constructor would re-parse ``raw_body`` with its own ``parse_body``; this one
    keeps ours, also when bolt copies the request (``to_copyable``, for lazy listeners).
    """

    def __init__(
        self,
        *,
        raw_body: str,
        body: dict[str, Any],
        query: str | Mapping[str, Sequence[str]] | None,
        headers: Mapping[str, str | Sequence[str]],
        context: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(body="", query=query, headers=dict(headers), context=context)  # type: ignore[arg-type]
        self.raw_body = raw_body
        self.body = body
        self.context = build_async_context(AsyncBoltContext(context or {}), body)

    def to_copyable(self) -> ParsedBoltRequest:
        copy = ParsedBoltRequest(
            raw_body=self.raw_body,
            body=self.body,
            query=self.query,
            headers=self.headers,  # type: ignore[arg-type]
            context=self.context.to_copyable(),
        )
        copy.lazy_only = self.lazy_only
        copy.lazy_function_name = self.lazy_function_name
        return copy


async def parse_request(request: web.Request, secret: str) -> ParsedBoltRequest:
    """Check and parse an aiohttp request into a bolt request, or raise RequestRefused.

    Order matters: the signature is checked on the raw bytes before anything is decoded
    or parsed, so nobody without the signing secret reaches a parser.
    """
    raw = await request.read()
    check_signature(raw, request.headers, secret)
    text = decode(raw)
    body = parse_body(text, request.content_type)
    return ParsedBoltRequest(
        raw_body=text, body=body, query=request.query_string, headers=request.headers
    )


def refusal(request: web.Request, refused: RequestRefused) -> web.Response:
    """One log line (no body, no headers: they may hold secrets) and a plain answer."""
    peer = request.remote or "?"
    log.warning("slack: %d for a request from %s: %s", refused.status, peer, refused.reason)
    text = "invalid request signature" if refused.status == 401 else "bad request"
    return web.Response(status=refused.status, text=text)
