"""Verify and parse what providers send back: Slack button clicks and Twilio SMS/WhatsApp replies.

Pure functions (time is passed in), so the API routes stay thin and every rule here is unit-tested.
Signature checks use the providers' own SDK verifiers rather than hand-written HMAC code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from slack_sdk.signature import Clock, SignatureVerifier
from twilio.request_validator import RequestValidator

ACK, RESOLVE = "ack", "resolve"


class _FixedClock(Clock):
    """The SDK's clock hook: lets the caller's `now` decide whether a timestamp is stale."""

    def __init__(self, now_ts: float):
        self._now = now_ts

    def now(self) -> float:
        return self._now


def verify_slack(signing_secret: str, headers: Mapping[str, str], raw_body: bytes, now_ts: float) -> bool:
    """True when X-Slack-Signature signs `raw_body` with the secret and X-Slack-Request-Timestamp is within
    5 minutes of `now_ts` (the SDK's window; it stops replays of captured requests)."""
    try:
        verifier = SignatureVerifier(signing_secret, clock=_FixedClock(now_ts))
        return verifier.is_valid_request(raw_body, dict(headers))
    except (ValueError, TypeError):  # empty secret, non-numeric timestamp, body that is not UTF-8
        return False


def verify_twilio(auth_token: str, url: str, params: Mapping[str, str], signature: str | None) -> bool:
    """True when X-Twilio-Signature matches the public URL Twilio called plus the POST params sorted by name.

    `url` must be the URL as Twilio saw it (scheme, host, path and query), not the one a proxy forwarded to.
    """
    if not signature or not auth_token:
        return False
    return RequestValidator(auth_token).validate(url, dict(params), signature)


# Reply grammar, case-insensitive; surrounding spaces, quotes, asterisks (WhatsApp bold) and end punctuation
# are ignored:
#     reply   := verb [":" | "-"] ["#"] number [rest]     e.g. "ack 42", "ACK #42", "a42", "r 42 done"
#              | ["#"] number [":" | "-"] verb [rest]     e.g. "42 ack", "#42 resolve"
#     verb    := a | ack | acked | acknowledge | acknowledged      -> "ack"
#              | r | res | resolve | resolved                      -> "resolve"
#     number  := 1 to 9 digits, not 0
#     rest    := spaces, then words starting with a letter ("on it"); never another number, so a typo
#                like "ack 4 2" is refused rather than acknowledging the wrong incident.
# A verb without a number is not a command (it would be a guess which incident is meant).
_VERBS = {
    **dict.fromkeys(["a", "ack", "acked", "acknowledge", "acknowledged"], ACK),
    **dict.fromkeys(["r", "res", "resolve", "resolved"], RESOLVE),
}
_REST = r"(?:\s+[a-z].*)?"
_VERB_FIRST = re.compile(r"(?P<verb>[a-z]+)\s*[:\-]?\s*#?\s*(?P<number>[0-9]{1,9})" + _REST, re.S)
_NUMBER_FIRST = re.compile(r"#?(?P<number>[0-9]{1,9})\s*[:\-]?\s*(?P<verb>[a-z]+)" + _REST, re.S)


def parse_sms_command(body: str) -> tuple[str, int] | None:
    """("ack" | "resolve", incident number) for a reply in the grammar above, else None."""
    text = body.strip().strip("\"'*_`.!").strip().lower()
    for pattern in (_VERB_FIRST, _NUMBER_FIRST):
        match = pattern.fullmatch(text)
        if match and match["verb"] in _VERBS and int(match["number"]) > 0:
            return _VERBS[match["verb"]], int(match["number"])
    return None


_INCIDENT_ID = re.compile(r"[1-9][0-9]{0,9}")
MAX_ID = 2**31 - 1


def parse_slack_action(payload: object) -> tuple[str, int, str] | None:
    """("ack" | "resolve", incident id, Slack user id) for a click on our message's buttons, None for any other
    interaction. Raises ValueError for a shape Slack never sends (a signed request is not a well-formed one).

    `payload` is the parsed JSON in the `payload` form field of a `block_actions` interaction.
    """
    if not isinstance(payload, Mapping):
        raise ValueError("the payload is not a JSON object")
    if payload.get("type") != "block_actions":
        return None
    user = payload.get("user")
    actions = payload.get("actions")
    if not isinstance(user, Mapping) or not isinstance(user.get("id"), str) or not user["id"]:
        raise ValueError("user.id must be a string")
    if not isinstance(actions, list) or not all(isinstance(action, Mapping) for action in actions):
        raise ValueError("actions must be a list of objects")
    for action in actions:
        action_id, value = action.get("action_id"), action.get("value")
        if action_id not in (ACK, RESOLVE):
            continue
        if not isinstance(value, str) or not _INCIDENT_ID.fullmatch(value) or int(value) > MAX_ID:
            raise ValueError(f"{action_id}: value must be an incident id")
        return action_id, int(value), user["id"]
    return None
