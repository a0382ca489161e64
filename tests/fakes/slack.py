"""Fake Slack Web API: `chat.postMessage` and `conversations.open`, checking the bot token like Slack does.

Point the real `slack_sdk.WebClient` at `fake.api_url`. Slack answers API errors with HTTP 200 and
{"ok": false, "error": ...}; rate limits with 429 and Retry-After. `fail_next` scripts either.
"""

from __future__ import annotations

import itertools

from tests.fakes.base import FakeHTTPServer, Reply, Request

METHODS = {"/api/chat.postMessage", "/api/conversations.open"}


class SlackFake(FakeHTTPServer):
    def __init__(self, token: str = "xoxb-test-token"):
        super().__init__()
        self.token = token
        self.api_url = f"{self.url}/api/"
        self._ts = itertools.count(1)

    def fail_next(self, error: str, status: int = 200, retry_after: int | None = None) -> None:
        """Answer the next API call with this Slack error, e.g. "channel_not_found", or ("ratelimited", 429, 2)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.respond_next(Reply(status, {"ok": False, "error": error}, headers))

    def fail_next_http(self, status: int, body: str = "upstream error") -> None:
        """Answer the next API call with a bare HTTP error (Slack's edge does this on 5xx)."""
        self.respond_next(Reply(status, body))

    def check(self, req: Request) -> Reply | None:
        if req.method != "POST" or req.path not in METHODS:
            self.problem(f"unexpected Slack call {req.method} {req.path}")
            return Reply(404, {"ok": False, "error": "unknown_method"})
        if req.headers.get("Authorization") != f"Bearer {self.token}":
            return Reply(200, {"ok": False, "error": "invalid_auth"})  # recorded: a test must take() it
        req.info["args"] = req.json if "json" in (req.headers.get("Content-Type") or "") else req.form
        if req.path == "/api/chat.postMessage" and not req.info["args"].get("channel"):
            self.problem("chat.postMessage without a channel")
            return Reply(200, {"ok": False, "error": "channel_not_found"})
        return None

    def answer(self, req: Request) -> Reply:
        args = req.info["args"]
        if req.path == "/api/conversations.open":
            return Reply(200, {"ok": True, "channel": {"id": "D" + args["users"].lstrip("UW")}})
        ts = f"1700000000.{next(self._ts):06d}"
        req.info["ts"] = ts
        return Reply(200, {"ok": True, "channel": args["channel"], "ts": ts,
                           "message": {"type": "message", "text": args.get("text", ""), "ts": ts}})
