"""A fake Hugging Face / arXiv server on a real 127.0.0.1 socket, run in a thread.

It serves the recorded fixtures by default and can be scripted per route to fail the way
the real services do: 429 with ``Retry-After``, a 500 before the 200, an HTML error page,
a body cut short, an answer slower than the client's timeout, an empty weekend list; and
the way a broken or hostile server does: a body drip-fed one byte at a time, a huge body
(chunked, so no Content-Length warns the client), a gzip bomb, a redirect elsewhere.

``route(path, *responses, **params)``: requests to ``path`` whose query contains
``params`` get ``responses`` in order, the last one repeating. The route that matches the
most params wins. Every request is recorded (path, query, headers, time).
"""

from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from bot.config import Config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "upstream"
HF_BY_DATE = FIXTURES / "hf_daily_papers_by_date_sample.json"
HF_LATEST = FIXTURES / "hf_daily_papers_sample.json"
ARXIV_RSS = FIXTURES / "arxiv_rss_multi_category_sample.rss.xml"
ARXIV_ATOM = FIXTURES / "arxiv_api_query_sample.atom.xml"

HTML_ERROR = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>oops</body></html>"
)
EMPTY_RSS = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
    b'xmlns:arxiv="http://arxiv.org/schemas/atom"><channel><title>cs.CL updates on arXiv.org'
    b"</title><link>http://rss.arxiv.org/rss/cs.CL</link><description>none</description>"
    b"</channel></rss>"
)


@dataclass(slots=True)
class Canned:
    """One scripted answer. ``cut`` sends only that many body bytes, then hangs up
    (with the full Content-Length, so the client sees a truncated body). ``drip`` sends
    the body one byte every ``drip`` seconds; ``chunked`` sends it with
    ``Transfer-Encoding: chunked`` instead of a Content-Length."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    cut: int | None = None
    drip: float = 0.0
    chunked: bool = False

    @classmethod
    def file(cls, path: Path, content_type: str | None = None) -> Canned:
        kind = content_type or ("application/json" if path.suffix == ".json" else "text/xml")
        return cls(body=path.read_bytes(), content_type=kind)

    @classmethod
    def html(cls, status: int = 200) -> Canned:
        return cls(status=status, body=HTML_ERROR, content_type="text/html; charset=utf-8")

    @classmethod
    def gzipped(cls, data: bytes, content_type: str = "application/json") -> Canned:
        """``data`` sent gzip-compressed (``Content-Encoding: gzip``): a bomb when ``data``
        is large and repetitive."""
        body = gzip.compress(data, compresslevel=9)
        return cls(body=body, content_type=content_type, headers={"Content-Encoding": "gzip"})

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Canned:
        return cls(
            status=status, body=b"", content_type="text/plain", headers={"Location": location}
        )


@dataclass(slots=True)
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float


@dataclass(slots=True)
class _Route:
    path: str
    params: dict[str, str]
    responses: list[Canned]
    served: int = 0


class FakeUpstream:
    """Start with ``with FakeUpstream() as server:``; ``server.url`` is the base URL."""

    def __init__(self) -> None:
        self.routes: list[_Route] = []
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self.route("/api/daily_papers", Canned.file(HF_LATEST))
        self.route("/api/daily_papers", Canned.file(HF_BY_DATE), date="2026-05-08")
        self.route("/api/query", Canned.file(ARXIV_ATOM))
        self.route("/rss/", Canned.file(ARXIV_RSS))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._closing = threading.Event()  # stops drip-feeds when the test is over
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, path: str, *responses: Canned, **params: str) -> None:
        """Script ``path`` (plus query ``params``); replaces an identical earlier route."""
        with self._lock:
            self.routes = [r for r in self.routes if (r.path, r.params) != (path, params)]
            self.routes.append(_Route(path, dict(params), list(responses)))

    def hits(self, path_prefix: str) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    def _pick(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Canned | None:
        with self._lock:
            self.requests.append(Seen(path, query, headers, time.monotonic()))
            matches = [
                r
                for r in self.routes
                if (path == r.path or (r.path.endswith("/") and path.startswith(r.path)))
                and all(query.get(k) == v for k, v in r.params.items())
            ]
            if not matches:
                return None
            best = max(matches, key=lambda r: len(r.params))
            answer = best.responses[min(best.served, len(best.responses) - 1)]
            best.served += 1
            return answer

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                canned = fake._pick(parts.path, query, dict(self.headers.items()))
                if canned is None:
                    canned = Canned(status=404, body=b"not found", content_type="text/plain")
                if canned.delay:
                    time.sleep(canned.delay)
                try:
                    self.send_response(canned.status)
                    self.send_header("Content-Type", canned.content_type)
                    if canned.chunked:
                        self.send_header("Transfer-Encoding", "chunked")
                    else:
                        self.send_header("Content-Length", str(len(canned.body)))
                    for name, value in canned.headers.items():
                        self.send_header(name, value)
                    if canned.cut is not None or canned.drip or canned.chunked:
                        self.send_header("Connection", "close")
                    self.end_headers()
                    if canned.drip:
                        self._drip(canned)
                    elif canned.chunked:
                        self._chunked(canned.body)
                    else:
                        self.wfile.write(
                            canned.body if canned.cut is None else canned.body[: canned.cut]
                        )
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)
                if canned.cut is not None or canned.drip or canned.chunked:
                    self.close_connection = True

            def _drip(self, canned: Canned) -> None:
                for n in range(len(canned.body)):
                    if fake._closing.wait(canned.drip):
                        return
                    self.wfile.write(canned.body[n : n + 1])
                    self.wfile.flush()

            def _chunked(self, body: bytes, size: int = 16384) -> None:
                for start in range(0, len(body), size):
                    chunk = body[start : start + size]
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")

        return Handler

    def __enter__(self) -> FakeUpstream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()


def point_sources_at(config: Config, url: str, *, retries: int) -> Config:
    """Aim every source of ``config`` at the fake, with quick retries and no throttle."""
    s = config.sources
    s.retries = retries
    s.retry_backoff = 0.01
    s.huggingface.base_url = url
    s.huggingface.timeout = 2.0
    s.arxiv.base_url = url
    s.arxiv.api_base_url = url
    s.arxiv.categories = ["cs.CL", "cs.LG"]
    s.arxiv.timeout = 2.0
    s.arxiv.min_interval = 0.0
    return config
