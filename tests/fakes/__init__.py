"""Local fake provider servers the real SDKs talk to: Slack, Twilio, SMTP and a web push service.

Each records what it receives and fails the test (`assert_no_unexpected()`) on anything it did not expect;
see `tests/fakes/base.py` for the shared contract.
"""

from tests.fakes.base import FakeHTTPServer, Reply, Request
from tests.fakes.push import PushFake
from tests.fakes.slack import SlackFake
from tests.fakes.smtp import Mail, RefusedLogin, SmtpFake
from tests.fakes.twilio import TwilioFake

__all__ = ["FakeHTTPServer", "Mail", "PushFake", "RefusedLogin", "Reply", "Request", "SlackFake", "SmtpFake", "TwilioFake"]
