"""Each channel adapter through its provider's real SDK to a local fake server.

Success records exactly the request we meant (content asserted); every provider failure maps to RetryableError
(with the provider's Retry-After) or PermanentError (gone=True only for a dead push subscription). Every fake
fails the test on teardown if it saw anything no test took. No PostgreSQL or Redis needed.
"""

from __future__ import annotations

import json

import socket
import time

import pytest

from opsknight.config import ConfigError
from opsknight.engine.channels import build_channels, parse_retry_after
from opsknight.engine.channels.base import Destination, Page, PermanentError, RetryableError
from opsknight.engine.channels.email import EmailChannel
from opsknight.engine.channels.push import PushChannel
from opsknight.engine.channels.slack import SlackChannel
from opsknight.engine.channels.sms import SmsChannel, sms_text
from opsknight.engine.channels.whatsapp import WhatsAppChannel
from opsknight.engine.inbound import verify_twilio
from opsknight.engine.vapid import generate_vapid_keys, public_key_for
from tests.fakes import FakeHTTPServer, PushFake, RefusedLogin, Reply, SlackFake, SmtpFake, TwilioFake

FROM_NUMBER = "+15005550006"
TO_NUMBER = "+14155550100"


def make_page(**overrides) -> Page:
    values = dict(incident_id=7, incident_number=42, title="Checkout p99 above 2s", urgency="high",
                  status="triggered", service_name="checkout", incident_url="https://oncall.example.com/incidents/7",
                  ack_url="https://oncall.example.com/api/ack/tok123",
                  ack_page_url="https://oncall.example.com/ack/tok123",
                  receipt_url="https://oncall.example.com/api/push/receipts/rec456")
    return Page(**{**values, **overrides})


def closed_port_url() -> str:
    """A URL nothing listens on: connection refused, the way a provider outage looks from here."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def slack():
    with SlackFake(token="xoxb-good") as fake:
        yield fake
        fake.assert_no_unexpected()


@pytest.fixture
def twilio():
    with TwilioFake() as fake:
        yield fake
        fake.assert_no_unexpected()


@pytest.fixture
def smtp():
    with SmtpFake(username="pager", password="s3cret") as fake:
        yield fake
        fake.assert_no_unexpected()


@pytest.fixture(scope="module")
def vapid_keys():
    return generate_vapid_keys()


@pytest.fixture
def push(vapid_keys):
    with PushFake(vapid_public_key=vapid_keys[1]) as fake:
        yield fake
        fake.assert_no_unexpected()


# -- Slack ---------------------------------------------------------------------------------------------------------

def test_slack_posts_title_service_link_and_two_buttons_to_a_channel(slack):
    provider_id = SlackChannel("xoxb-good", slack.api_url).send(Destination("slack", "C0123"), make_page())

    [req] = slack.expect(1)
    assert req.path == "/api/chat.postMessage"
    args = req.json
    assert provider_id == f"C0123:{req.info['ts']}"
    assert args["channel"] == "C0123"
    assert args["text"] == "OpsKnight #42 HIGH checkout: Checkout p99 above 2s"
    header, details, link, actions = args["blocks"]
    assert "#42 HIGH: Checkout p99 above 2s" in header["text"]["text"]
    assert "*Service:* checkout" in details["text"]["text"] and "*Urgency:* high" in details["text"]["text"]
    assert "<https://oncall.example.com/incidents/7|Open incident #42>" == link["text"]["text"]
    buttons = [(b["action_id"], b["value"], b["text"]["text"]) for b in actions["elements"]]
    assert buttons == [("ack", "7", "Acknowledge"), ("resolve", "7", "Resolve")]


def test_slack_user_id_opens_the_dm_then_posts_there(slack):
    provider_id = SlackChannel("xoxb-good", slack.api_url).send(Destination("slack", "U0456"), make_page())

    opened, posted = slack.expect(2)
    assert (opened.path, opened.form) == ("/api/conversations.open", {"users": "U0456"})
    assert posted.json["channel"] == "D0456"
    assert provider_id.startswith("D0456:")


def test_slack_escapes_mrkdwn_in_service_names(slack):
    SlackChannel("xoxb-good", slack.api_url).send(Destination("slack", "C0123"), make_page(service_name="a<b>&c"))
    [req] = slack.expect(1)
    assert "a&lt;b&gt;&amp;c" in req.json["blocks"][1]["text"]["text"]


def test_slack_rate_limit_is_retryable_with_retry_after(slack):
    slack.fail_next("ratelimited", status=429, retry_after=2)
    with pytest.raises(RetryableError) as err:
        SlackChannel("xoxb-good", slack.api_url).send(Destination("slack", "C0123"), make_page())
    assert err.value.retry_after == 2.0
    assert [r.info["status"] for r in slack.expect(1)] == [429]


@pytest.mark.parametrize("status", [500, 503])
def test_slack_server_error_is_retryable(slack, status):
    slack.fail_next_http(status)
    with pytest.raises(RetryableError) as err:
        SlackChannel("xoxb-good", slack.api_url).send(Destination("slack", "C0123"), make_page())
    assert err.value.retry_after is None
    slack.expect(1)


@pytest.mark.parametrize("error", ["channel_not_found", "account_inactive", "invalid_auth", "is_archived"])
def test_slack_permanent_errors(slack, error):
    slack.fail_next(error)
    with pytest.raises(PermanentError, match=error) as err:
        SlackChannel("xoxb-good", slack.api_url).send(Destination("slack", "C0123"), make_page())
    assert err.value.gone is False  # a person fixes a Slack contact method; we never delete it
    slack.expect(1)


def test_slack_wrong_token_is_permanent(slack):
    with pytest.raises(PermanentError, match="invalid_auth"):
        SlackChannel("xoxb-revoked", slack.api_url).send(Destination("slack", "C0123"), make_page())
    slack.expect(1)


def test_slack_unreachable_is_retryable():
    with pytest.raises(RetryableError):
        SlackChannel("xoxb-good", closed_port_url() + "/api/").send(Destination("slack", "C0123"), make_page())


# -- SMS and WhatsApp (Twilio) ----------------------------------------------------------------------------------

def sms_channel(twilio: TwilioFake, **kwargs) -> SmsChannel:
    return SmsChannel(twilio.account_sid, twilio.auth_token, FROM_NUMBER, twilio.url, **kwargs)


def test_sms_sends_one_short_text_with_the_reply_hint(twilio):
    sid = sms_channel(twilio).send(Destination("sms", TO_NUMBER), make_page())

    [req] = twilio.expect(1)
    assert sid == req.info["sid"] and sid.startswith("SM")
    assert req.form == {"To": TO_NUMBER, "From": FROM_NUMBER,
                        "Body": "OpsKnight #42 HIGH checkout: Checkout p99 above 2s Reply 'ack 42' or 'resolve 42'"}


def test_sms_long_title_is_cut_to_one_gsm_segment(twilio):
    sms_channel(twilio).send(Destination("sms", TO_NUMBER), make_page(title="Disk full on " + "db-primary " * 30))
    [req] = twilio.expect(1)
    body = req.form["Body"]
    assert len(body) == 160
    assert body.endswith("... Reply 'ack 42' or 'resolve 42'")
    assert body.isascii()  # "…" would force UCS-2 and 70-character segments


def test_sms_status_callback_is_signed_like_twilio(twilio):
    class Sink(FakeHTTPServer):
        def answer(self, req):
            return Reply(204)

    with Sink() as sink:
        callback = f"{sink.url}/api/twilio/status"
        sms_channel(twilio, status_callback=callback).send(Destination("sms", TO_NUMBER), make_page())
        [sent] = twilio.expect(1)
        assert sent.form["StatusCallback"] == callback

        twilio.send_status(sent, "delivered")
        [status] = sink.expect(1)
        assert status.form["MessageSid"] == sent.info["sid"] and status.form["MessageStatus"] == "delivered"
        assert verify_twilio(twilio.auth_token, callback, status.form, status.headers["X-Twilio-Signature"])


def test_sms_rate_limit_is_retryable_with_retry_after(twilio):
    twilio.fail_next(429, 20429, "Too Many Requests", retry_after=3)
    with pytest.raises(RetryableError) as err:
        sms_channel(twilio).send(Destination("sms", TO_NUMBER), make_page())
    assert err.value.retry_after == 3.0
    twilio.expect(1)


@pytest.mark.parametrize("status", [500, 503])
def test_sms_server_error_is_retryable(twilio, status):
    twilio.fail_next(status, 20500, "Internal Server Error")
    with pytest.raises(RetryableError):
        sms_channel(twilio).send(Destination("sms", TO_NUMBER), make_page())
    twilio.expect(1)


def test_sms_invalid_number_is_permanent(twilio):
    with pytest.raises(PermanentError, match="21211"):
        sms_channel(twilio).send(Destination("sms", "555-1234"), make_page())
    assert twilio.expect(1)[0].info["status"] == 400


@pytest.mark.parametrize("status, code", [(400, 21614), (400, 21610), (400, 21408), (403, 20403)])
def test_sms_other_client_errors_are_permanent(twilio, status, code):
    twilio.fail_next(status, code)
    with pytest.raises(PermanentError, match=str(code)):
        sms_channel(twilio).send(Destination("sms", TO_NUMBER), make_page())
    twilio.expect(1)


def test_sms_wrong_auth_token_is_permanent(twilio):
    channel = SmsChannel(twilio.account_sid, "wrong-token", FROM_NUMBER, twilio.url)
    with pytest.raises(PermanentError, match="20003"):
        channel.send(Destination("sms", TO_NUMBER), make_page())
    twilio.expect(1)


def test_sms_unreachable_is_retryable():
    channel = SmsChannel("AC" + "0" * 32, "token", FROM_NUMBER, closed_port_url())
    with pytest.raises(RetryableError):
        channel.send(Destination("sms", TO_NUMBER), make_page())


def test_whatsapp_uses_whatsapp_addresses_and_carries_the_link(twilio):
    channel = WhatsAppChannel(twilio.account_sid, twilio.auth_token, FROM_NUMBER, twilio.url)
    sid = channel.send(Destination("whatsapp", TO_NUMBER), make_page())

    [req] = twilio.expect(1)
    assert sid == req.info["sid"]
    assert (req.form["To"], req.form["From"]) == (f"whatsapp:{TO_NUMBER}", f"whatsapp:{FROM_NUMBER}")
    assert req.form["Body"].splitlines() == [
        "*OpsKnight #42* HIGH checkout", "Checkout p99 above 2s",
        "https://oncall.example.com/incidents/7", "Reply 'ack 42' or 'resolve 42'",
    ]


def test_whatsapp_outside_the_session_window_is_permanent(twilio):
    twilio.fail_next(400, 63016, "Failed to send freeform message because you are outside the allowed window")
    channel = WhatsAppChannel(twilio.account_sid, twilio.auth_token, f"whatsapp:{FROM_NUMBER}", twilio.url)
    with pytest.raises(PermanentError, match="63016"):
        channel.send(Destination("whatsapp", f"whatsapp:{TO_NUMBER}"), make_page())
    twilio.expect(1)


# -- Email (SMTP) --------------------------------------------------------------------------------------------------

def email_channel(smtp: SmtpFake, password: str = "s3cret") -> EmailChannel:
    return EmailChannel("127.0.0.1", smtp.port, "OpsKnight <pager@example.com>", "pager", password, starttls=False)


def test_email_has_subject_text_and_html_with_an_acknowledge_button(smtp):
    page = make_page(title="Checkout p99 > 2s & rising")
    message_id = email_channel(smtp).send(Destination("email", "ann@example.com"), page)

    [mail] = smtp.expect(1)
    message = mail.message
    assert (mail.mail_from, mail.rcpt_tos, mail.login) == ("pager@example.com", ["ann@example.com"], "pager")
    assert message["Subject"] == "[OpsKnight #42] HIGH: Checkout p99 > 2s & rising"
    assert message["Message-ID"] == message_id
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(("plain",)).get_content()
    assert "Acknowledge: https://oncall.example.com/ack/tok123" in text
    assert "https://oncall.example.com/incidents/7" in text
    html = message.get_body(("html",)).get_content()
    assert '<a href="https://oncall.example.com/ack/tok123"' in html and ">Acknowledge</a>" in html
    assert "Checkout p99 &gt; 2s &amp; rising" in html


def test_email_without_ack_link_has_no_button(smtp):
    email_channel(smtp).send(Destination("email", "ann@example.com"), make_page(ack_url="", ack_page_url=""))
    [mail] = smtp.expect(1)
    assert "Acknowledge" not in mail.message.get_body(("html",)).get_content()


@pytest.mark.parametrize("stage, reply, error", [
    ("RCPT", "550 5.1.1 No such user", PermanentError),
    ("RCPT", "451 4.3.0 Try again later", RetryableError),
    ("DATA", "554 5.7.1 Rejected as spam", PermanentError),
    ("DATA", "451 4.3.0 Queue full", RetryableError),
])
def test_email_smtp_reply_codes_decide(smtp, stage, reply, error):
    smtp.respond_next(reply, stage=stage)
    with pytest.raises(error, match=reply.split()[0]):
        email_channel(smtp).send(Destination("email", "ann@example.com"), make_page())


def test_email_wrong_password_is_permanent(smtp):
    with pytest.raises(PermanentError, match="login"):
        email_channel(smtp, password="wrong").send(Destination("email", "ann@example.com"), make_page())
    refused = smtp.take()  # smtplib tries each mechanism the server offers (PLAIN, then LOGIN)
    assert refused and all(item == RefusedLogin("pager") for item in refused)


def test_email_unreachable_is_retryable():
    port = int(closed_port_url().rsplit(":", 1)[1])
    channel = EmailChannel("127.0.0.1", port, "pager@example.com", starttls=False, timeout=2)
    with pytest.raises(RetryableError):
        channel.send(Destination("email", "ann@example.com"), make_page())


# -- Web push ------------------------------------------------------------------------------------------------------

def push_to(push: PushFake, subscription_id: str = "sub-1") -> Destination:
    sub = push.subscription(subscription_id)
    return Destination("push", sub["endpoint"], sub["keys"])


def test_push_payload_decrypts_and_vapid_verifies(push, vapid_keys):
    location = PushChannel(vapid_keys[0], "mailto:ops@example.com").send(push_to(push), make_page())

    [req] = push.expect(1)
    assert location.startswith(f"{push.url}/m/")
    assert req.info["payload"] == {
        "title": "#42 HIGH · checkout", "body": "Checkout p99 above 2s",
        "url": "https://oncall.example.com/incidents/7", "incident_id": 7, "incident_number": 42,
        "urgency": "high", "tag": "incident-7", "renotify": False, "requireInteraction": True,
        "actions": [{"action": "acknowledge", "title": "Acknowledge"}, {"action": "open", "title": "Open"}],
        "ack_url": "https://oncall.example.com/api/ack/tok123", "ack_page_url": "https://oncall.example.com/ack/tok123",
        "receipt_url": "https://oncall.example.com/api/push/receipts/rec456",
    }
    assert (req.info["ttl"], req.info["urgency"], req.info["topic"]) == (3600, "high", "incident-7")
    claims = req.info["vapid"]
    assert claims["aud"] == push.url and claims["sub"] == "mailto:ops@example.com"
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600


def test_push_low_urgency_is_normal_not_low_and_the_ttl_is_the_pages(push, vapid_keys):
    PushChannel(vapid_keys[0], "mailto:ops@example.com").send(push_to(push), make_page(urgency="low", ttl_seconds=60))
    [req] = push.expect(1)
    assert (req.info["urgency"], req.info["ttl"]) == ("normal", 60)
    assert req.info["payload"]["requireInteraction"] is False


def test_a_re_page_alerts_again_and_the_payload_stays_small(push, vapid_keys):
    # Four bytes a character and JSON-escaped: the longest title and service name come past the limit.
    long_page = make_page(repage=True, title="🔥" * 1024, service_name="服" * 100, bundled_count=99,
                          incident_url="https://oncall.example.com/" + "p" * 900,
                          ack_url="https://oncall.example.com/api/ack/" + "t" * 300,
                          ack_page_url="https://oncall.example.com/ack/" + "t" * 300,
                          receipt_url="https://oncall.example.com/api/push/receipts/" + "r" * 300)
    from opsknight.engine.channels.push import payload as build

    assert len(json.dumps({**build(long_page), "body": long_page.title[:300]}).encode()) > 3800  # would be over
    PushChannel(vapid_keys[0], "mailto:ops@example.com").send(push_to(push), long_page)
    [req] = push.expect(1)
    payload = req.info["payload"]
    assert payload["renotify"] is True and payload["tag"] == "incident-7"
    assert len(json.dumps(payload).encode()) <= 3800 and payload["body"].endswith("…")


def test_no_acknowledge_button_on_a_page_about_an_acknowledged_incident(push, vapid_keys):
    PushChannel(vapid_keys[0], "mailto:ops@example.com").send(push_to(push), make_page(status="acknowledged"))
    [req] = push.expect(1)
    assert [a["action"] for a in req.info["payload"]["actions"]] == ["open"]


@pytest.mark.parametrize("subject", ["mailto:admin@localhost", "https://localhost:3000", "mailto:me@127.0.0.1",
                                     "http://oncall.example.com", "oncall@example.com", "mailto:x@api.localhost"])
def test_a_vapid_subject_push_services_would_refuse_is_refused_at_start(vapid_keys, subject):
    with pytest.raises(ValueError, match="VAPID subject"):
        PushChannel(vapid_keys[0], subject)


def test_a_real_domain_that_merely_contains_localhost_is_fine(vapid_keys):
    PushChannel(vapid_keys[0], "mailto:ops@localhost.example.com")


def test_push_signs_each_push_service_with_its_own_audience(push, vapid_keys):
    """pywebpush writes aud into the claims dict: a shared dict would send service A's origin to service B."""
    channel = PushChannel(vapid_keys[0], "mailto:ops@example.com")
    with PushFake(vapid_public_key=vapid_keys[1]) as other:
        channel.send(push_to(push), make_page())
        channel.send(push_to(other), make_page())
        assert other.expect(1)[0].info["vapid"]["aud"] == other.url
        other.assert_no_unexpected()
    assert push.expect(1)[0].info["vapid"]["aud"] == push.url


@pytest.mark.parametrize("status", [404, 410])
def test_push_gone_subscription_is_permanent_and_gone(push, vapid_keys, status):
    push.respond_next(Reply(status))
    with pytest.raises(PermanentError) as err:
        PushChannel(vapid_keys[0], "mailto:ops@example.com").send(push_to(push), make_page())
    assert err.value.gone is True
    push.expect(1)


def test_push_rate_limit_is_retryable_with_retry_after(push, vapid_keys):
    push.respond_next(Reply(429, headers={"Retry-After": "7"}))
    with pytest.raises(RetryableError) as err:
        PushChannel(vapid_keys[0], "mailto:ops@example.com").send(push_to(push), make_page())
    assert err.value.retry_after == 7.0
    push.expect(1)


@pytest.mark.parametrize("status", [500, 503])
def test_push_server_error_is_retryable(push, vapid_keys, status):
    push.respond_next(Reply(status))
    with pytest.raises(RetryableError):
        PushChannel(vapid_keys[0], "mailto:ops@example.com").send(push_to(push), make_page())
    push.expect(1)


def test_push_rejected_request_is_permanent_but_not_gone(push, vapid_keys):
    push.respond_next(Reply(413, "payload too large"))
    with pytest.raises(PermanentError) as err:
        PushChannel(vapid_keys[0], "mailto:ops@example.com").send(push_to(push), make_page())
    assert err.value.gone is False
    push.expect(1)


def test_push_subscription_without_keys_is_gone_without_a_request(push, vapid_keys):
    with pytest.raises(PermanentError) as err:
        PushChannel(vapid_keys[0], "mailto:ops@example.com").send(Destination("push", f"{push.url}/push/x"),
                                                                   make_page())
    assert err.value.gone is True


def test_vapid_public_key_is_derived_from_the_private_key(vapid_keys):
    private, public = vapid_keys
    assert public_key_for(private) == public
    assert len(public) == 87  # 65-byte uncompressed P-256 point, base64url without padding


# -- registry and helpers ----------------------------------------------------------------------------------------

FULL_ENV = {
    "OPSKNIGHT_SLACK_BOT_TOKEN": "xoxb-1",
    "OPSKNIGHT_TWILIO_ACCOUNT_SID": "AC1", "OPSKNIGHT_TWILIO_AUTH_TOKEN": "t",
    "OPSKNIGHT_TWILIO_FROM_NUMBER": FROM_NUMBER, "OPSKNIGHT_TWILIO_WHATSAPP_FROM": FROM_NUMBER,
    "OPSKNIGHT_SMTP_HOST": "smtp.example.com", "OPSKNIGHT_SMTP_FROM": "pager@example.com",
    "OPSKNIGHT_VAPID_SUBJECT": "mailto:ops@example.com",
}


def test_build_channels_holds_only_the_configured_ones(vapid_keys):
    assert build_channels({}) == {}
    env = {**FULL_ENV, "OPSKNIGHT_VAPID_PRIVATE_KEY": vapid_keys[0]}
    assert sorted(build_channels(env)) == ["email", "push", "slack", "sms", "whatsapp"]
    assert sorted(build_channels({"OPSKNIGHT_SLACK_BOT_TOKEN": "xoxb-1"})) == ["slack"]


@pytest.mark.parametrize("env, missing", [
    ({"OPSKNIGHT_TWILIO_FROM_NUMBER": FROM_NUMBER}, "OPSKNIGHT_TWILIO_ACCOUNT_SID"),
    ({"OPSKNIGHT_SMTP_HOST": "smtp.example.com"}, "OPSKNIGHT_SMTP_FROM"),
    ({"OPSKNIGHT_VAPID_SUBJECT": "mailto:ops@example.com"}, "OPSKNIGHT_VAPID_PRIVATE_KEY"),
    ({"OPSKNIGHT_VAPID_SUBJECT": "mailto:ops@example.com", "OPSKNIGHT_VAPID_PRIVATE_KEY": "nonsense"},
     "OPSKNIGHT_VAPID_PRIVATE_KEY"),
    ({"OPSKNIGHT_SMTP_HOST": "h", "OPSKNIGHT_SMTP_FROM": "f@example.com", "OPSKNIGHT_SMTP_PORT": "x"},
     "OPSKNIGHT_SMTP_PORT"),
])
def test_half_configured_channel_is_a_config_error(env, missing):
    with pytest.raises(ConfigError, match=missing):
        build_channels(env)


@pytest.mark.parametrize("value, seconds", [("2", 2.0), ("0.5", 0.5), ("-3", 0.0), ("", None), (None, None),
                                            ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)])
def test_parse_retry_after(value, seconds):
    assert parse_retry_after(value) == seconds


def test_sms_text_keeps_short_titles_whole():
    text = sms_text(make_page(bundled_count=3))
    assert text.endswith("Checkout p99 above 2s (+3 more) Reply 'ack 42' or 'resolve 42'")
