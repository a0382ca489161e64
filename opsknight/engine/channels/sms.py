"""SMS through Twilio: one short text a person can act on by replying "ack 42".

The text is kept to one 160-character segment when the title allows: a long code sends about one segment per
second, and a split message may arrive out of order. Truncation uses "..." rather than "…", because one
character outside the GSM-7 alphabet switches the whole message to UCS-2 and 70-character segments.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opsknight.engine.channels._twilio import DEFAULT_API_URL, TwilioSender, settings_for
from opsknight.engine.channels.base import Destination, Page

SEGMENT = 160


class SmsChannel:
    name = "sms"

    def __init__(self, account_sid: str, auth_token: str, from_number: str, base_url: str = DEFAULT_API_URL,
                 status_callback: str = ""):
        self._sender = TwilioSender(account_sid, auth_token, base_url)
        self._from = from_number
        self._status_callback = status_callback

    def send(self, destination: Destination, page: Page) -> str:
        """Send the text to an E.164 number; return the Twilio message SID."""
        return self._sender.send(to=destination.address, from_=self._from, body=sms_text(page),
                                 status_callback=self._status_callback)


def sms_text(page: Page) -> str:
    """'OpsKnight #42 HIGH checkout: <title> Reply 'ack 42' or 'resolve 42'', the title cut to fit 160."""
    if page.test:
        return f"OpsKnight: {page.title}"[:SEGMENT]
    n = page.incident_number
    head = f"OpsKnight #{n} {page.urgency.upper()} {page.service_name}: "
    tail = f" Reply 'ack {n}' or 'resolve {n}'"
    if page.bundled_count:
        tail = f" (+{page.bundled_count} more)" + tail
    title = " ".join(page.title.split())  # newlines would waste characters and look broken
    room = SEGMENT - len(head) - len(tail)
    if len(title) > room:
        # Below ~10 characters a title says nothing: then go past one segment rather than lose it.
        title = title[: max(room, 10) - 3].rstrip() + "..."
    return head + title + tail


def from_settings(env: Mapping[str, str] = os.environ) -> SmsChannel | None:
    found = settings_for(env, "OPSKNIGHT_TWILIO_FROM_NUMBER")
    return SmsChannel(*found) if found else None
