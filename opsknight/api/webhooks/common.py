"""What every inbound webhook shares: size-bounded body, token authentication, optional HMAC signature,
load shedding, and the durable accept (commit, then enqueue).

A route authenticates, verifies, normalizes, persists, answers. It never calls a provider.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from fastapi import Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter, Histogram
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from opsknight import integrations
from opsknight.config import settings
from opsknight.db import db_pool_size, first_statement_retried, session_scope
from opsknight.engine import clock
from opsknight.engine.ingest import IngestBatch, ingest
from opsknight.engine.normalize import NormalizedAlert
from opsknight.engine.reconciler import enqueue_new_outbox
from opsknight.models import Integration

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-OpsKnight-Signature"  # "sha256=<hex HMAC-SHA256 of the raw body>"
GRAFANA_SIGNATURE_HEADER = "X-Grafana-Alerting-Signature"  # Grafana's own HMAC header (hex)
GRAFANA_TIMESTAMP_HEADER = "X-Grafana-Alerting-Signature-Timestamp"
RETRY_AFTER_SECONDS = "5"

ALERTS = Counter("opsknight_alerts_received_total", "Alerts accepted, by source and outcome",
                 ["source", "outcome"])
REJECTED = Counter("opsknight_webhook_rejected_total", "Webhook requests refused, by source and HTTP status",
                   ["source", "status"])
LATENCY = Histogram("opsknight_webhook_seconds", "Webhook handling time until the answer", ["source"],
                    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))


@dataclass
class WebhookError(Exception):
    """An answer other than success. `errors` lists field problems for a 400."""

    status: int
    code: str
    message: str
    errors: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> JSONResponse:
        return JSONResponse({"error": {"code": self.code, "message": self.message, "fields": self.errors}},
                            status_code=self.status, headers=self.headers)


def unavailable(message: str) -> WebhookError:
    """503 + Retry-After: every sender retries 5xx, none retries 4xx."""
    return WebhookError(503, "unavailable", message, headers={"Retry-After": RETRY_AFTER_SECONDS})


# At most OPSKNIGHT_WEBHOOK_TRANSACTIONS (default 1, never more than the connection pool) webhook transactions of
# a process run at once. The rest wait their turn in the event loop (still bounded by `admission.MAX_IN_FLIGHT`), where
# those with the same token are grouped into one transaction (`grouping`). Without a limit, an alert storm ran
# one thread per request: beyond the pool they opened and closed overflow connections (a PostgreSQL process
# started per request) and fought over the GIL, and throughput at 64 concurrent senders fell to about half of
# that at 4. One at a time per process (Reflex starts 2 × cores + 1 web processes) grouped the most and was
# fastest in bench/ingest.py (500 single events/s, that level alone: p99 15 ms, against 63 ms with 2 and 115 ms
# with 5). The price: one slow transaction holds up the process's other webhooks (see README).
#
# A waiting request gives up (503 + Retry-After) when the database stops making progress — no transaction
# finished for STALL_SECONDS since it began to wait or since the last one finished — or after MAX_SLOT_WAIT_SECONDS
# in all. A fixed deadline on the wait alone refused healthy bursts: 200 simultaneous alerts, one transaction
# each, queued for more than 5 s on a busy 2-core machine (CI).
STALL_SECONDS = 5.0
MAX_SLOT_WAIT_SECONDS = 20.0


class _DbSlots:
    def __init__(self, size: int):
        self.limiter = anyio.CapacityLimiter(size)
        self.last_finished = 0.0  # time.monotonic() when a transaction last gave its slot back

    async def acquire(self) -> None:
        started = time.monotonic()
        while (wait := self._deadline(started) - time.monotonic()) > 0:
            with anyio.move_on_after(wait):  # a transaction that finishes meanwhile moves the deadline on
                await self.limiter.acquire()
                return
        raise unavailable("OpsKnight is busy; retry shortly")

    def _deadline(self, started: float) -> float:
        return min(max(started, self.last_finished) + STALL_SECONDS, started + MAX_SLOT_WAIT_SECONDS)

    def release(self) -> None:
        self.last_finished = time.monotonic()
        self.limiter.release()


def webhook_slots() -> int:
    return min(settings().webhook_transactions, db_pool_size())


# One per event loop: a limiter belongs to the loop that made it.
_db_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _DbSlots] = weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def db_slot():
    """Hold one of the process's database slots; 503 + Retry-After when the database stops making progress (a
    stuck or unreachable database must not queue senders for minutes). Only the wait has a deadline: a
    transaction that started runs to its end, so a commit is never answered 503."""
    loop = asyncio.get_running_loop()
    slots = _db_slots.get(loop) or _db_slots.setdefault(loop, _DbSlots(webhook_slots()))
    await slots.acquire()
    try:
        yield
    finally:
        slots.release()


def parse_json(body: bytes) -> Any:
    if not body.strip():
        raise WebhookError(400, "invalid_json", "The body is empty; send a JSON document")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise WebhookError(400, "invalid_json", f"The body is not valid JSON: {str(exc)[:200]}") from None


def request_token(request: Request) -> str | None:
    """The service token from `Authorization: Bearer`, Basic auth (as the password), or `?token=`."""
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return password or user
    return request.query_params.get("token") or None


SIGNATURE_MAX_AGE_SECONDS = 300  # a timestamped signature older (or further ahead) than this is a replay


def signature_ok(integration: Integration, headers: dict[str, str], body: bytes, now_ts: float) -> bool:
    """Check the HMAC-SHA256 signature when the integration has a secret (constant-time).

    Our header, `X-OpsKnight-Signature`, comes in two forms: `t=<unix seconds>,v1=<hex HMAC of "<t>.<body>">`
    (as Stripe and Slack sign), refused when `t` is more than 5 minutes from now, so a captured request cannot be
    replayed later; and `sha256=<hex HMAC of the body>` for senders that cannot compute a header value per
    request. Grafana's own header signs `<timestamp>:<body>` when it sends its timestamp header, held to the same
    window, else the body alone."""
    if not integration.hmac_secret:
        return True
    key = integration.hmac_secret.encode()
    ours = headers.get(SIGNATURE_HEADER.lower(), "")
    if ours:
        if ours.startswith("t="):
            fields = dict(part.strip().partition("=")[::2] for part in ours.split(","))
            stamp, given = fields.get("t", ""), fields.get("v1", "")
            return _fresh(stamp, now_ts) and _same_hex(given, _hmac_hex(key, f"{stamp}.".encode() + body))
        return _same_hex(ours.removeprefix("sha256=").strip(), _hmac_hex(key, body))
    grafana = headers.get(GRAFANA_SIGNATURE_HEADER.lower(), "")
    if grafana:
        stamp = headers.get(GRAFANA_TIMESTAMP_HEADER.lower(), "")
        if stamp and not _fresh(stamp, now_ts):
            return False
        message = f"{stamp}:".encode() + body if stamp else body
        return _same_hex(grafana.strip(), _hmac_hex(key, message))
    return False


def _hmac_hex(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _fresh(stamp: str, now_ts: float) -> bool:
    """A Unix time in seconds within the signature window of now, either way (clocks drift)."""
    stamp = stamp.strip()
    return stamp.isascii() and stamp.isdigit() and len(stamp) <= 12 and \
        abs(int(stamp) - now_ts) <= SIGNATURE_MAX_AGE_SECONDS


def _same_hex(given: str, expected: str) -> bool:
    """Constant-time. A header value outside ASCII (HTTP lets bytes 0x80-0xFF through) cannot be our hex digest,
    and `compare_digest` raises on it rather than answering."""
    return given.isascii() and hmac.compare_digest(given, expected)


def identify(db, token: str | None, source_types: set[str]):
    """The token's (integration, service) — attribute bags, see `integrations.find_for_ingest` — or a 4xx."""
    if not token:
        raise WebhookError(401, "missing_token", "Send the integration token as 'Authorization: Bearer <token>'")
    found = integrations.find_for_ingest(db, token)
    if found is None:
        raise WebhookError(401, "invalid_token", "Unknown integration token")
    integration, service = found
    if not integration.enabled:
        raise WebhookError(403, "integration_disabled", "This integration is disabled")
    if integration.source_type not in source_types:
        raise WebhookError(403, "wrong_endpoint",
                           f"This token belongs to a {integration.source_type} integration; post to its endpoint")
    return integration, service


def verify_signature(integration, headers: dict[str, str], body: bytes) -> None:
    if not signature_ok(integration, headers, body, clock.now().timestamp()):
        raise WebhookError(401, "bad_signature",
                           f"Missing, wrong or expired signature: send {SIGNATURE_HEADER}: "
                           "t=<unix time>,v1=<HMAC-SHA256 of '<t>.<body>'> (or sha256=<HMAC-SHA256 of the body>)")


@dataclass
class Accepted:
    integration_id: int
    source: str
    batch: IngestBatch


@dataclass
class Submission:
    """One request for `accept_all`. `normalize(integration)` may raise WebhookError(400); `check(db,
    integration)` runs last (rate limits, the heartbeat's ping) and may refuse the request with a WebhookError.
    What `check` writes is committed with the group, so it must write only once it can no longer refuse."""

    headers: dict[str, str]
    body: bytes
    normalize: Callable[[Any], list[NormalizedAlert]]
    check: Callable[[Any, Any], None] | None = None


def accept_all(token: str | None, source_types: set[str],
               submissions: list[Submission]) -> list[Accepted | WebhookError]:
    """Requests that carry the same token, in one transaction (see `grouping`; one request is a group of one):
    each is authenticated, normalized and checked on its own, and refused on its own; the alerts of the rest are
    ingested together, in order, and committed together; then enqueued (best effort). Returns each request's
    answer."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with first_statement_retried(), session_scope() as db:
                try:
                    integration, service = _identify_on_live_connection(db, token, source_types)
                except WebhookError as refused:
                    return [refused] * len(submissions)
                admitted = [_admit(db, integration, submission) for submission in submissions]
                taken = [(found, submission.body) for found, submission in zip(admitted, submissions)
                         if not isinstance(found, WebhookError)]
                alerts = [alert for found, _ in taken for alert in found]
                bodies = [(len(found), body) for found, body in taken]
                batch = ingest(db, integration, alerts, bodies, clock.now(), service, isolated=False)
            break
        except (IntegrityError, _StaleConnection) as exc:
            # A concurrent request opened one of these incidents first (the transaction is rolled back: run it
            # again against the winner), or a pooled connection had died since its last use (nothing ran yet).
            # Any other constraint violation would fail the same way again: no retry.
            if isinstance(exc, IntegrityError) and not lost_dedup_race(exc):
                log.error("webhook ingest violated a constraint: %s", exc.orig)
                return [unavailable("Could not store the alert; retry")] * len(submissions)
            if attempt == ATTEMPTS:
                log.warning("webhook ingest gave up after %d attempts: %s", ATTEMPTS, type(exc).__name__)
                return [unavailable("Could not store the alert; retry")] * len(submissions)
        except DataError as exc:  # the database refused a value we let through: the sender's data, not an outage
            if len(submissions) > 1:
                return _each_alone(token, source_types, submissions)
            log.error("database refused webhook data: %s", exc.orig)
            return [WebhookError(400, "invalid_payload", "The payload holds a value that cannot be stored")]
        except DATABASE_ERRORS as exc:
            return [database_unavailable(exc)] * len(submissions)
        except Exception:
            if len(submissions) > 1:  # a bug the group's data met in ingest
                log.exception("grouped webhook ingest failed; retrying its requests one by one")
                return _each_alone(token, source_types, submissions)
            raise
    accepted = Accepted(integration.id, integration.source_type, batch)
    if taken:
        after_commit(accepted)
    return _per_request(accepted, admitted)


def _admit(db, integration, submission: Submission) -> list[NormalizedAlert] | WebhookError:
    """The request's alerts, or why it is refused. Its check runs last: what it writes is committed."""
    try:
        verify_signature(integration, submission.headers, submission.body)
        alerts = submission.normalize(integration)
        if submission.check is not None:
            submission.check(db, integration)
        return alerts
    except WebhookError as refused:
        return refused
    except Exception:  # a bug, met by one request's data: that request fails, not its group
        log.exception("webhook request failed")
        return WebhookError(500, "internal_error", "The request could not be handled")


def _each_alone(token: str | None, source_types: set[str],
                submissions: list[Submission]) -> list[Accepted | WebhookError]:
    """The group's transaction failed on someone's data: each request on its own, so the others are stored."""
    return [accept_all(token, source_types, [submission])[0] for submission in submissions]


def _per_request(accepted: Accepted,
                 admitted: list[list[NormalizedAlert] | WebhookError]) -> list[Accepted | WebhookError]:
    """Split the results of a group's ingest (one per alert, in order) back to the requests that sent them."""
    answers, start = [], 0
    for found in admitted:
        if isinstance(found, WebhookError):
            answers.append(found)
            continue
        results = accepted.batch.results[start:start + len(found)]
        start += len(found)
        answers.append(Accepted(accepted.integration_id, accepted.source, IngestBatch(results)))
    return answers


ATTEMPTS = 5
DEDUP_CONSTRAINT = "uq_incidents_open_dedup"


def lost_dedup_race(exc: IntegrityError) -> bool:
    """The violation a concurrent ingest of the same key causes (PostgreSQL names the index, SQLite the columns)."""
    message = str(exc.orig)
    return DEDUP_CONSTRAINT in message or "incidents.service_id, incidents.dedup_key" in message


class _StaleConnection(Exception):
    pass


def _identify_on_live_connection(db, *args):
    """`identify`, the transaction's first statement. Inside `db.first_statement_retried()` the pool checks
    only connections that sat idle, so one that died under load (a database restart) fails here, before anything
    is written: safe to retry on a fresh connection, which the pool hands out once it has seen the disconnect."""
    try:
        return identify(db, *args)
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise _StaleConnection from exc
        raise


DATABASE_ERRORS = (OperationalError, PoolTimeout, DBAPIError)


def database_unavailable(exc: Exception) -> WebhookError:
    log.warning("database unavailable for a webhook: %s", type(exc).__name__)
    return unavailable("The database is unavailable; retry shortly")


# The webhook's Redis calls (Events v2's rate count, the enqueue after commit) run inside a transaction that holds
# the process's database slot; a Redis that does not answer costs its full timeout each time. After a failure
# the webhook path leaves Redis alone for a few seconds: events go through unthrottled and their jobs are
# queued by the reconciler from the outbox, as when the enqueue fails.
REDIS_PAUSE_SECONDS = 5.0
_redis_failed_at = -REDIS_PAUSE_SECONDS


def redis_paused() -> bool:
    return time.monotonic() - _redis_failed_at < REDIS_PAUSE_SECONDS


def redis_failed() -> None:
    global _redis_failed_at
    _redis_failed_at = time.monotonic()


def forget_redis_failure() -> None:
    """Ask Redis again at once (tests: a failure in one must not pause the next)."""
    global _redis_failed_at
    _redis_failed_at = -REDIS_PAUSE_SECONDS


def after_commit(accepted: Accepted) -> None:
    """Durable already; now the fast path. Any failure here is repaired by the reconciler."""
    if not redis_paused() and not enqueue_new_outbox(accepted.batch.outbox_ids,
                                                     accepted.batch.changed_incident_ids,
                                                     accepted.batch.status_page_changed):
        redis_failed()
    for result in accepted.batch.results:
        ALERTS.labels(accepted.source, result.outcome).inc()
    integrations.touch_last_used(accepted.integration_id)


def timed(source: str):
    """Observe handling time and count refusals for one request."""

    class _Timer:
        def __enter__(self):
            self.started = time.perf_counter()
            return self

        def __exit__(self, exc_type, exc, _tb):
            LATENCY.labels(source).observe(time.perf_counter() - self.started)
            if isinstance(exc, WebhookError):
                REJECTED.labels(source, str(exc.status)).inc()
            return False

    return _Timer()
