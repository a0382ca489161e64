"""A tiny threaded HTTP fake server that records every request, for the real SDKs to talk to.

How a test uses a fake (the same for every fake, HTTP or SMTP):

    with SlackFake(token="xoxb-test") as slack:          # or the fixtures in tests/integration/test_channels.py
        channel = SlackChannel("xoxb-test", slack.api_url)
        channel.send(destination, page)
        [req] = slack.expect(1)                          # wait for exactly the requests you meant to cause
        assert req.json["channel"] == "C123"
        slack.respond_next(Reply(503, "upstream down"))  # script the next answer(s): 429, 500, ...
        ...
        slack.assert_no_unexpected()                     # fixtures call this on teardown

`expect(n)` takes the first n recorded requests; anything recorded and never taken, and anything the fake found
wrong (an unknown path, bad credentials, a malformed message), makes `assert_no_unexpected()` fail the test,
so a stray extra page cannot go unnoticed. The fake answers bad requests the way the provider would, too.

A subclass implements `check(req)` (validate; return a rejection `Reply` or None) and `answer(req)` (the
success reply). Scripted replies from `respond_next` apply to requests that pass `check`.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Recorder:
    """Thread-safe record of what a fake received, plus the problems it noticed."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: list[Any] = []
        self._problems: list[str] = []

    def record(self, item: Any) -> None:
        with self._cond:
            self._pending.append(item)
            self._cond.notify_all()

    def problem(self, message: str) -> None:
        """Note something the code under test got wrong; `assert_no_unexpected` will fail on it."""
        with self._cond:
            self._problems.append(message)
            self._cond.notify_all()

    def expect(self, n: int = 1, timeout: float = 5.0) -> list[Any]:
        """Wait for n recorded items and take them (oldest first). Fails if fewer arrive in time."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._pending) >= n, timeout=timeout):
                raise AssertionError(f"expected {n} request(s), got {len(self._pending)}: {self._pending!r}"
                                     + (f"; problems: {self._problems}" if self._problems else ""))
            taken, self._pending[:n] = self._pending[:n], []
            return taken

    def take(self) -> list[Any]:
        """Everything recorded so far (possibly nothing), without waiting."""
        with self._cond:
            taken, self._pending = self._pending, []
            return taken

    def assert_no_unexpected(self) -> None:
        with self._cond:
            problems, pending = list(self._problems), list(self._pending)
        if problems or pending:
            raise AssertionError(f"fake server saw unexpected traffic: problems={problems} untaken={pending!r}")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Message  # case-insensitive: req.headers["authorization"]
    body: bytes
    info: dict[str, Any] = field(default_factory=dict)  # what the fake worked out (decrypted payload, sid, ...)

    @property
    def form(self) -> dict[str, str]:
        """The form-encoded body, first value per name."""
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<{self.method} {self.path} {self.body[:200]!r}>"


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict | list = b""
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode(), "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return self.body, "application/octet-stream"


class FakeHTTPServer(Recorder):
    """Serves on 127.0.0.1 at a free port from a daemon thread; `url` is its origin."""

    def __init__(self) -> None:
        super().__init__()
        self._scripted: deque[Reply] = deque()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> FakeHTTPServer:
        # A short poll interval keeps stop() (which waits for the next poll) from adding 0.5 s to every test.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name=type(self).__name__,
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- programming ---------------------------------------------------------------------------------------------
    def respond_next(self, *replies: Reply) -> None:
        """Answer the next valid requests with these replies, in order, instead of the success reply."""
        with self._cond:
            self._scripted.extend(replies)

    # -- for subclasses ---------------------------------------------------------------------------------------------
    def check(self, req: Request) -> Reply | None:
        return None

    def answer(self, req: Request) -> Reply:
        raise NotImplementedError

    def dispatch(self, req: Request) -> Reply:
        try:
            rejection = self.check(req)
            with self._cond:
                scripted = self._scripted.popleft() if self._scripted and rejection is None else None
            reply = rejection or scripted or self.answer(req)
        except Exception as exc:  # a bug in the fake must fail the test, not hang it
            self.problem(f"{type(self).__name__} crashed on {req!r}: {exc!r}")
            reply = Reply(500, "fake crashed")
        req.info.setdefault("status", reply.status)
        self.record(req)
        return reply


def _make_handler(fake: FakeHTTPServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            req = Request(self.command, parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()},
                          self.headers, body)
            reply = fake.dispatch(req)
            data, content_type = reply.encoded()
            self.send_response(reply.status)
            headers = {"Content-Type": content_type, **reply.headers, "Content-Length": str(len(data))}
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

    return Handler
