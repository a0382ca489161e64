"""Slack: one `chat.postMessage` per page, with Acknowledge and Resolve buttons.

The buttons come back to us as signed `block_actions` requests (see `opsknight.engine.inbound.parse_slack_action`):
action_id "ack"/"resolve", value = the incident id. The link to the incident sits in the message text rather
than on a link button, because a link button also posts an interaction to our endpoint.

A destination is a channel id (C…/G…) or a user id (U…/W…). For a user we open the DM with `conversations.open`
first: that is the documented way to message a person, and it yields a stable D… channel id for later updates.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from opsknight.engine.channels import parse_retry_after, require
from opsknight.engine.channels.base import Destination, Page, PermanentError, RetryableError

DEFAULT_API_URL = "https://slack.com/api/"

# Slack errors worth another try; every other error is a request that will never succeed as it is.
_TRANSIENT = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}


class SlackChannel:
    name = "slack"

    def __init__(self, token: str, base_url: str = DEFAULT_API_URL, timeout: float = 10.0):
        # No SDK retry handlers: the dispatcher owns retries, and a blind SDK retry after a dropped
        # connection could post the same page twice.
        base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._client = WebClient(token=token, base_url=base_url, timeout=int(timeout), retry_handlers=[])

    def send(self, destination: Destination, page: Page) -> str:
        """Post the page; return "<channel id>:<message ts>", which identifies the message for later updates."""
        try:
            channel = self._resolve_channel(destination.address)
            response = self._client.chat_postMessage(
                channel=channel, text=fallback_text(page), blocks=blocks(page), unfurl_links=False
            )
        except SlackApiError as exc:
            raise _map_error(exc) from exc
        except (URLError, OSError) as exc:
            raise RetryableError(f"slack unreachable: {exc}") from exc
        except SlackClientError as exc:  # e.g. a malformed base URL: no retry will fix it
            raise PermanentError(f"slack client error: {exc}") from exc
        return f"{response['channel']}:{response['ts']}"

    def _resolve_channel(self, address: str) -> str:
        if address[:1] in {"U", "W"}:
            return self._client.conversations_open(users=address)["channel"]["id"]
        return address


def _map_error(exc: SlackApiError) -> Exception:
    status = exc.response.status_code
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    error = data.get("error", "unknown_error")
    if status == 429 or error == "ratelimited":
        return RetryableError("slack rate limited", parse_retry_after(exc.response.headers.get("Retry-After")))
    if status >= 500 or error in _TRANSIENT:
        return RetryableError(f"slack {status}: {error}")
    # invalid_auth, account_inactive, token_revoked, channel_not_found, is_archived, not_in_channel, ...
    return PermanentError(f"slack {error}")


def fallback_text(page: Page) -> str:
    """The notification text (phones and screen readers show this, not the blocks)."""
    if page.test:
        return f"OpsKnight: {page.title}"
    return f"OpsKnight #{page.incident_number} {page.urgency.upper()} {page.service_name}: {page.title}"


def _escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def blocks(page: Page) -> list[dict]:
    if page.test:  # no buttons: there is nothing to acknowledge
        return [{"type": "section", "text": {"type": "mrkdwn",
                                             "text": f"{_escape(page.title)}\n<{page.incident_url}|Open OpsKnight>"}}]
    marker = "🔴" if page.urgency == "high" else "🟡"
    header = f"{marker} #{page.incident_number} {page.urgency.upper()}: {page.title}"
    details = f"*Service:* {_escape(page.service_name)}   *Urgency:* {page.urgency}   *Status:* {page.status}"
    if page.bundled_count:
        details += f"\n_{page.bundled_count} more incidents on {_escape(page.service_name)}_"
    value = str(page.incident_id)
    return [
        {"type": "header", "text": {"type": "plain_text", "text": header[:150], "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": details}},
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": f"<{page.incident_url}|Open incident #{page.incident_number}>"}},
        {
            "type": "actions",
            "block_id": f"incident-{page.incident_id}",
            "elements": [
                {"type": "button", "action_id": "ack", "value": value, "style": "primary",
                 "text": {"type": "plain_text", "text": "Acknowledge"}},
                {"type": "button", "action_id": "resolve", "value": value, "style": "danger",
                 "text": {"type": "plain_text", "text": "Resolve"}},
            ],
        },
    ]


def from_settings(env: Mapping[str, str] = os.environ) -> SlackChannel | None:
    values = require(env, "Slack", ["SLACK_BOT_TOKEN"])
    if values is None:
        return None
    return SlackChannel(values["SLACK_BOT_TOKEN"], env.get("OPSKNIGHT_SLACK_API_URL", "") or DEFAULT_API_URL)
