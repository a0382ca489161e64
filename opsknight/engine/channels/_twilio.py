"""What SMS and WhatsApp share: one Twilio Messages API call and one mapping of its errors.

The API host is overridable (tests point it at `tests/fakes/twilio.py`): twilio-python builds every URL from
the `Api` domain's `base_url` (`twilio/base/domain.py`), so we set `client.api.base_url`. The client gets an
explicit empty `environment` so stray TWILIO_REGION/TWILIO_EDGE variables cannot rewrite that host.
"""

from __future__ import annotations

from collections.abc import Mapping

import requests
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from opsknight.config import ConfigError
from opsknight.engine.channels import parse_retry_after
from opsknight.engine.channels.base import PermanentError, RetryableError

DEFAULT_API_URL = "https://api.twilio.com"

# Twilio error codes that mean "this number will never take the message"; named for readable errors.
PERMANENT_CODES = {
    21211: "invalid 'To' number",
    21614: "'To' number cannot receive this message",
    21610: "recipient unsubscribed (replied STOP)",
}


class _HttpClient(TwilioHttpClient):
    """Turns a 429 into RetryableError here, because TwilioRestException drops the Retry-After header."""

    def request(self, *args, **kwargs) -> Response:
        response = super().request(*args, **kwargs)
        if response.status_code == 429:
            headers = response.headers or {}
            raise RetryableError("twilio rate limited", parse_retry_after(headers.get("Retry-After")))
        return response


class TwilioSender:
    def __init__(self, account_sid: str, auth_token: str, base_url: str = DEFAULT_API_URL, timeout: float = 10.0):
        # SDK retries stay off (max_retries=None): the dispatcher owns retries.
        self._client = Client(account_sid, auth_token, http_client=_HttpClient(timeout=timeout), environment={})
        self._client.api.base_url = base_url.rstrip("/")

    def send(self, *, to: str, from_: str, body: str, status_callback: str = "") -> str:
        """Create one message; return its SID ("SM…"). Raise RetryableError or PermanentError."""
        extra = {"status_callback": status_callback} if status_callback else {}
        try:
            message = self._client.messages.create(to=to, from_=from_, body=body, **extra)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise map_error(exc.status, exc.code, str(getattr(exc, "msg", "") or getattr(exc, "title", ""))) from exc
        except requests.RequestException as exc:
            raise RetryableError(f"twilio unreachable: {exc}") from exc
        return message.sid


def map_error(status: int, code: int | None, message: str) -> Exception:
    if status == 429 or status >= 500:
        return RetryableError(f"twilio {status} ({code}): {message}")
    reason = PERMANENT_CODES.get(code or 0, message)
    return PermanentError(f"twilio {status} ({code}): {reason}")


def settings_for(env: Mapping[str, str], from_variable: str) -> tuple[str, str, str, str] | None:
    """(account sid, auth token, from number, API URL) when ``from_variable`` is set, else None.

    SMS and WhatsApp share the account but each is switched on by its own sender number.
    """
    from_number = env.get(from_variable, "").strip()
    if not from_number:
        return None
    sid = env.get("OPSKNIGHT_TWILIO_ACCOUNT_SID", "").strip()
    token = env.get("OPSKNIGHT_TWILIO_AUTH_TOKEN", "").strip()
    if not (sid and token):
        raise ConfigError(
            f"{from_variable} is set: set OPSKNIGHT_TWILIO_ACCOUNT_SID and OPSKNIGHT_TWILIO_AUTH_TOKEN too")
    return sid, token, from_number, env.get("OPSKNIGHT_TWILIO_API_URL", "").strip() or DEFAULT_API_URL
