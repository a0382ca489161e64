"""WhatsApp through Twilio: the SMS page with room for the incident link, addressed as "whatsapp:+E164".

WhatsApp accepts free-form text only inside the 24-hour window after the person last wrote to the number;
outside it Twilio refuses with error 63016 (a PermanentError here) unless an approved template is used.
Ask responders to message the number once when they add WhatsApp as a contact method.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opsknight.engine.channels._twilio import DEFAULT_API_URL, TwilioSender, settings_for
from opsknight.engine.channels.base import Destination, Page

PREFIX = "whatsapp:"


def _address(number: str) -> str:
    return number if number.startswith(PREFIX) else PREFIX + number


class WhatsAppChannel:
    name = "whatsapp"

    def __init__(self, account_sid: str, auth_token: str, from_number: str, base_url: str = DEFAULT_API_URL,
                 status_callback: str = ""):
        self._sender = TwilioSender(account_sid, auth_token, base_url)
        self._from = _address(from_number)
        self._status_callback = status_callback

    def send(self, destination: Destination, page: Page) -> str:
        """Send to an E.164 number (with or without the "whatsapp:" prefix); return the Twilio message SID."""
        return self._sender.send(to=_address(destination.address), from_=self._from, body=whatsapp_text(page),
                                 status_callback=self._status_callback)


def whatsapp_text(page: Page) -> str:
    if page.test:
        return f"*OpsKnight*\n{page.title}\n{page.incident_url}"
    n = page.incident_number
    lines = [f"*OpsKnight #{n}* {page.urgency.upper()} {page.service_name}", page.title]
    if page.bundled_count:
        lines.append(f"+{page.bundled_count} more incidents on {page.service_name}")
    lines += [page.incident_url, f"Reply 'ack {n}' or 'resolve {n}'"]
    return "\n".join(lines)


def from_settings(env: Mapping[str, str] = os.environ) -> WhatsAppChannel | None:
    found = settings_for(env, "OPSKNIGHT_TWILIO_WHATSAPP_FROM")
    return WhatsAppChannel(*found) if found else None
