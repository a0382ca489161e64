"""Fake SMTP server (aiosmtpd's Controller, its own thread and event loop) recording every message it accepts.

    with SmtpFake(username="ops", password="pw") as smtp:   # no credentials: AUTH not required
        EmailChannel("127.0.0.1", smtp.port, "OpsKnight <pager@example.com>", "ops", "pw", starttls=False)
        [mail] = smtp.expect(1)      # Mail(mail_from, rcpt_tos, message: email.message.EmailMessage)
        smtp.respond_next("550 5.1.1 No such user", stage="RCPT")   # or "451 4.3.0 Try later", stage="DATA"

Same `expect`/`take`/`assert_no_unexpected` contract as the HTTP fakes (see tests/fakes/base.py).
"""

from __future__ import annotations

import socket
from collections import deque
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.fakes.base import Recorder


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None  # the AUTH user name, None when the client did not log in


@dataclass
class RefusedLogin:
    """Recorded (like a message) when the client logs in with wrong credentials: a test must take() it."""

    login: str


class SmtpFake(Recorder):
    def __init__(self, username: str = "", password: str = ""):
        super().__init__()
        self._scripted: dict[str, deque[str]] = {"RCPT": deque(), "DATA": deque()}
        self._credentials = (username.encode(), password.encode()) if username else None
        self.port = _free_port()
        # AUTH is offered without TLS (a local test), and enforced in handle_DATA rather than with
        # aiosmtpd's auth_required, which warns on every connection when TLS is not required too.
        auth = {"authenticator": self._authenticate, "auth_require_tls": False} if self._credentials else {}
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **auth)

    def start(self) -> SmtpFake:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpFake:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def respond_next(self, reply: str, stage: str = "RCPT") -> None:
        """Answer the next RCPT TO (or DATA) with this SMTP reply line instead of 250."""
        with self._cond:
            self._scripted[stage].append(reply)

    def _scripted_reply(self, stage: str) -> str | None:
        with self._cond:
            return self._scripted[stage].popleft() if self._scripted[stage] else None

    # -- aiosmtpd handler hooks ----------------------------------------------------------------------------------
    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and tuple(auth_data) == self._credentials
        if not ok:
            self.record(RefusedLogin(getattr(auth_data, "login", b"").decode()))
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        reply = self._scripted_reply("RCPT")
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        reply = self._scripted_reply("DATA")
        if reply:
            return reply
        login = session.auth_data.login.decode() if session.authenticated else None
        if self._credentials and login is None:
            self.problem("mail sent without logging in")
            return "530 5.7.0 Authentication required"
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.record(Mail(envelope.mail_from, list(envelope.rcpt_tos), message, login))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    # aiosmtpd checks readiness by connecting to its port, so it needs a real port number up front.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
