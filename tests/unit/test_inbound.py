"""Inbound provider callbacks: Slack and Twilio signature checks, the SMS reply grammar, Slack button payloads.

Expected signatures are computed here by hand from the providers' documented recipes, not with the SDK
under test, so a wrong call into the SDK cannot agree with itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from opsknight.engine.inbound import parse_sms_command, parse_slack_action, verify_slack, verify_twilio

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TS = 1_700_000_000
BODY = b"payload=%7B%22type%22%3A%22block_actions%22%7D"


def slack_headers(body: bytes = BODY, ts: int = TS, secret: str = SECRET, lower: bool = False) -> dict:
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}
    return {k.lower(): v for k, v in headers.items()} if lower else headers


def test_slack_valid_signature():
    assert verify_slack(SECRET, slack_headers(), BODY, now_ts=TS + 10)


def test_slack_headers_are_case_insensitive():  # Starlette hands over lower-case names
    assert verify_slack(SECRET, slack_headers(lower=True), BODY, now_ts=TS)


def test_slack_wrong_secret():
    assert not verify_slack(SECRET, slack_headers(secret="another-secret"), BODY, now_ts=TS)


@pytest.mark.parametrize("skew, ok", [(299, True), (300, True), (301, False), (-301, False), (3600, False)])
def test_slack_timestamp_window_is_five_minutes(skew, ok):
    assert verify_slack(SECRET, slack_headers(), BODY, now_ts=TS + skew) is ok


def test_slack_tampered_body():
    assert not verify_slack(SECRET, slack_headers(), BODY + b"x", now_ts=TS)


@pytest.mark.parametrize("headers", [
    {},
    {"X-Slack-Request-Timestamp": str(TS)},
    {"X-Slack-Request-Timestamp": "yesterday", "X-Slack-Signature": "v0=00"},
])
def test_slack_missing_or_garbled_headers(headers):
    assert not verify_slack(SECRET, headers, BODY, now_ts=TS)


def test_slack_empty_secret_never_verifies():
    assert not verify_slack("", slack_headers(secret=""), BODY, now_ts=TS)


# Twilio's documented example (https://www.twilio.com/docs/usage/security#validating-requests).
TW_TOKEN = "12345"
TW_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TW_PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
             "From": "+12349013030", "To": "+18005551212"}
TW_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def twilio_signature(token: str, url: str, params: dict) -> str:
    data = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def test_twilio_documented_example():
    assert twilio_signature(TW_TOKEN, TW_URL, TW_PARAMS) == TW_SIGNATURE
    assert verify_twilio(TW_TOKEN, TW_URL, TW_PARAMS, TW_SIGNATURE)


def test_twilio_param_order_does_not_matter():
    assert verify_twilio(TW_TOKEN, TW_URL, dict(reversed(list(TW_PARAMS.items()))), TW_SIGNATURE)


def test_twilio_inbound_sms_reply():
    url = "https://oncall.example.com/api/twilio/sms"
    params = {"From": "+14155550100", "To": "+15005550006", "Body": "ack 42", "MessageSid": "SM" + "1" * 32}
    assert verify_twilio("tok", url, params, twilio_signature("tok", url, params))


@pytest.mark.parametrize("token, url, params, signature", [
    ("wrong", TW_URL, TW_PARAMS, TW_SIGNATURE),
    (TW_TOKEN, "https://mycompany.com/myapp.php?foo=1&bar=3", TW_PARAMS, TW_SIGNATURE),
    (TW_TOKEN, "http://mycompany.com/myapp.php?foo=1&bar=2", TW_PARAMS, TW_SIGNATURE),  # proxy saw http
    (TW_TOKEN, TW_URL, {**TW_PARAMS, "Digits": "9999"}, TW_SIGNATURE),
    (TW_TOKEN, TW_URL, {**TW_PARAMS, "Extra": "1"}, TW_SIGNATURE),
    (TW_TOKEN, TW_URL, TW_PARAMS, ""),
    (TW_TOKEN, TW_URL, TW_PARAMS, None),
    ("", TW_URL, TW_PARAMS, TW_SIGNATURE),
])
def test_twilio_rejects(token, url, params, signature):
    assert not verify_twilio(token, url, params, signature)


@pytest.mark.parametrize("body, expected", [
    ("ack 42", ("ack", 42)),
    ("ACK #42", ("ack", 42)),
    ("Ack 42", ("ack", 42)),
    ("a42", ("ack", 42)),
    ("a 42", ("ack", 42)),
    ("ack#42", ("ack", 42)),
    ("ack: 42", ("ack", 42)),
    ("  ack   42  ", ("ack", 42)),
    ("acknowledge 42", ("ack", 42)),
    ("acked 42.", ("ack", 42)),
    ("'ack 42'", ("ack", 42)),
    ("*ack 42*", ("ack", 42)),  # WhatsApp bold
    ("ack 42 on it", ("ack", 42)),
    ("42 ack", ("ack", 42)),
    ("#42 resolve", ("resolve", 42)),
    ("resolve 42", ("resolve", 42)),
    ("RESOLVE #7", ("resolve", 7)),
    ("r 42", ("resolve", 42)),
    ("r42", ("resolve", 42)),
    ("res 42", ("resolve", 42)),
    ("resolved 42!", ("resolve", 42)),
    ("ack 1234567", ("ack", 1234567)),
    ("ack", None),  # which incident? not a guess we make
    ("resolve", None),
    ("42", None),
    ("ack 0", None),
    ("ack 42x", None),
    ("ack4 2", None),
    ("ack 4 2", None),  # a typo must not acknowledge incident 4
    ("ack 42, 43", None),
    ("42 ack 43", None),
    ("ack 42 - on it", None),
    ("42ack", ("ack", 42)),
    ("hello 42", None),
    ("stop", None),
    ("ra 42", None),
    ("", None),
    ("ack 12345678901", None),  # absurdly long numbers are not incident numbers
])
def test_sms_command_grammar(body, expected):
    assert parse_sms_command(body) == expected


def block_actions(action_id: str = "ack", value: str = "7", **extra) -> dict:
    """The shape Slack posts (JSON in the `payload` form field) when someone clicks our button."""
    return {
        "type": "block_actions",
        "user": {"id": "U0456", "username": "ann", "team_id": "T01"},
        "team": {"id": "T01", "domain": "example"},
        "channel": {"id": "C0123", "name": "ops"},
        "message": {"ts": "1700000000.000001", "text": "OpsKnight #42 ..."},
        "response_url": "https://hooks.slack.com/actions/T01/1/abc",
        "trigger_id": "1.2.3",
        "actions": [{"type": "button", "block_id": "incident-7", "action_id": action_id, "value": value,
                     "text": {"type": "plain_text", "text": "Acknowledge"}, "action_ts": "1700000001.1"}],
        **extra,
    }


@pytest.mark.parametrize("payload, expected", [
    (block_actions("ack"), ("ack", 7, "U0456")),
    (block_actions("resolve", "123"), ("resolve", 123, "U0456")),
    (block_actions("ack", str(2**31 - 1)), ("ack", 2**31 - 1, "U0456")),
    (block_actions("open"), None),
    ({**block_actions(), "type": "view_submission"}, None),
    ({**block_actions(), "actions": []}, None),
    ({}, None),
])
def test_parse_slack_action(payload, expected):
    assert parse_slack_action(payload) == expected


@pytest.mark.parametrize("payload", [
    [block_actions()],  # a JSON array
    "block_actions",
    {**block_actions(), "user": "U0456"},
    {**block_actions(), "user": None},
    {**block_actions(), "user": {"id": 7}},
    {**block_actions(), "actions": ["ack"]},
    {**block_actions(), "actions": {"action_id": "ack"}},
    block_actions("ack", "seven"),
    block_actions("ack", ""),
    block_actions("ack", 7),
    block_actions("ack", "0"),
    block_actions("ack", "9" * 5000),  # int() of it raises beyond 4300 digits
    block_actions("ack", str(2**31)),  # beyond the id column
    block_actions("ack", "٣"),  # a digit, but not ASCII
])
def test_a_slack_payload_of_a_shape_slack_never_sends_is_refused(payload):
    with pytest.raises(ValueError):
        parse_slack_action(payload)
