"""Email over SMTP (stdlib `smtplib` + `email.message.EmailMessage`): plain text with an HTML alternative.

The HTML part carries the acknowledge page (`page.ack_page_url`: one button that POSTs the single-use link;
opening it acknowledges nothing, so mail scanners that follow links are harmless) as a button; the text part
carries the same link for clients that show no HTML. One SMTP connection per page keeps the adapter stateless; pages are
rare enough that connection reuse is not worth a pool that can go stale at 3 a.m.

SMTP reply codes decide the outcome: 4xx is "try again later", 5xx is final.
"""

from __future__ import annotations

import html
import os
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from opsknight.config import ConfigError
from opsknight.engine.channels import require
from opsknight.engine.channels.base import Destination, Page, PermanentError, RetryableError


class EmailChannel:
    name = "email"

    def __init__(self, host: str, port: int, from_address: str, username: str = "", password: str = "",
                 starttls: bool = True, timeout: float = 15.0):
        self._host, self._port, self._from = host, port, from_address
        self._username, self._password = username, password
        self._starttls, self._timeout = starttls, timeout
        self._domain = parseaddr(from_address)[1].rpartition("@")[2] or "opsknight.local"

    def send(self, destination: Destination, page: Page) -> str:
        """Send one email; return its Message-ID (ours, since SMTP servers return none we can rely on)."""
        message = build_message(page, self._from, destination.address, make_msgid(domain=self._domain))
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                if self._starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self._username:
                    smtp.login(self._username, self._password)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _by_code(code, f"recipient refused: {code} {reply!r}") from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentError(f"smtp login failed: {exc.smtp_code} {exc.smtp_error!r}") from exc
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, f"smtp {exc.smtp_code} {exc.smtp_error!r}") from exc
        except (smtplib.SMTPException, OSError) as exc:  # disconnects, timeouts, refused connections
            raise RetryableError(f"smtp unreachable: {exc}") from exc
        return message["Message-ID"]


def _by_code(code: int, message: str) -> Exception:
    return PermanentError(message) if 500 <= code < 600 else RetryableError(message)


def subject(page: Page) -> str:
    if page.test:
        return "[OpsKnight] Test message"
    return f"[OpsKnight #{page.incident_number}] {page.urgency.upper()}: {' '.join(page.title.split())}"


def build_message(page: Page, from_address: str, to_address: str, message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject(page)
    message["From"] = from_address
    message["To"] = to_address
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: out-of-office replies must not answer a page
    message.set_content(_text(page))
    message.add_alternative(_html(page), subtype="html")
    return message


def _ack_link(page: Page) -> str:
    return page.ack_page_url or page.ack_url


def _text(page: Page) -> str:
    if page.test:
        return f"{page.title}\n\nOpen OpsKnight: {page.incident_url}\n"
    lines = [page.title, "", f"Service: {page.service_name}", f"Urgency: {page.urgency}", f"Status: {page.status}"]
    if page.bundled_count:
        lines.append(f"{page.bundled_count} more incidents on {page.service_name}")
    lines += ["", f"Open the incident: {page.incident_url}"]
    if _ack_link(page):
        lines.append(f"Acknowledge: {_ack_link(page)}")
    return "\n".join(lines) + "\n"


def _html(page: Page) -> str:
    e = html.escape
    if page.test:
        return (f"<html><body style=\"font-family:sans-serif\"><p>{e(page.title)}</p>"
                f'<p><a href="{e(page.incident_url)}">Open OpsKnight</a></p></body></html>')
    more = f"<p>{page.bundled_count} more incidents on {e(page.service_name)}</p>" if page.bundled_count else ""
    button = (
        f'<p><a href="{e(_ack_link(page))}" style="display:inline-block;padding:12px 24px;background:#b91c1c;'
        f'color:#ffffff;border-radius:6px;text-decoration:none;font-weight:bold">Acknowledge</a></p>'
        if _ack_link(page) else ""
    )
    return (
        f"<html><body style=\"font-family:sans-serif\">"
        f"<h2>#{page.incident_number} {e(page.urgency.upper())}: {e(page.title)}</h2>"
        f"<p><b>Service:</b> {e(page.service_name)}<br><b>Urgency:</b> {e(page.urgency)}"
        f"<br><b>Status:</b> {e(page.status)}</p>{more}{button}"
        f'<p><a href="{e(page.incident_url)}">Open incident #{page.incident_number}</a></p>'
        f"</body></html>"
    )


def from_settings(env: Mapping[str, str] = os.environ) -> EmailChannel | None:
    values = require(env, "email", ["SMTP_HOST", "SMTP_FROM"])
    if values is None:
        return None
    port_raw = env.get("OPSKNIGHT_SMTP_PORT", "").strip() or "587"
    starttls_raw = env.get("OPSKNIGHT_SMTP_STARTTLS", "").strip().lower() or "true"
    if not port_raw.isdigit():
        raise ConfigError(f"OPSKNIGHT_SMTP_PORT must be a port number, got {port_raw!r}")
    if starttls_raw not in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
        raise ConfigError(f"OPSKNIGHT_SMTP_STARTTLS must be true or false, got {starttls_raw!r}")
    return EmailChannel(
        values["SMTP_HOST"], int(port_raw), values["SMTP_FROM"],
        username=env.get("OPSKNIGHT_SMTP_USERNAME", "").strip(),
        password=env.get("OPSKNIGHT_SMTP_PASSWORD", ""),
        starttls=starttls_raw in {"1", "true", "yes", "on"},
    )
