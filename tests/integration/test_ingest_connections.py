"""How the webhook path uses its database connections: never more at once than the pool holds, however many
senders arrive together; no lost alert when PostgreSQL dropped the pooled connections (a restart); and idle
connections checked before use everywhere else."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import anyio
import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from opsknight import db
from opsknight.api.webhooks import common, grouping
from opsknight.config import reset_settings
from opsknight.models import Alert, Incident
from tests.factories import make_integration, make_service
from tests.integration.conftest import count
from tests.integration.test_concurrency import fire


@pytest.fixture
def token(session):
    token, _ = make_integration(session, make_service(session), "generic")
    return token


def _drop_every_other_connection(pg_url: str) -> int:
    """What a PostgreSQL restart does to a pool: every server process of our connections ends."""
    admin = create_engine(pg_url, poolclass=NullPool)
    with admin.connect() as conn:
        dropped = conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
    admin.dispose()
    return dropped


def _post(client, token: str, key: str):
    return client.post("/api/webhooks/generic", headers={"Authorization": f"Bearer {token}"},
                       json={"summary": f"disk full {key}", "severity": "critical", "dedup_key": key})


def test_an_alert_storm_holds_no_more_connections_than_the_webhook_limit(live_api, session, monkeypatch):
    """80 events at once from 8 integrations (so 8 tokens: groups that cannot merge) with 3 webhook transactions
    allowed: never more than 3 connections in use, none opened beyond the pool."""
    monkeypatch.setenv("OPSKNIGHT_WEBHOOK_TRANSACTIONS", "3")
    reset_settings()
    service = make_service(session)
    tokens = [make_integration(session, service, "events_v2")[0] for _ in range(8)]
    engine, lock = db.engine(), threading.Lock()
    seen = {"now": 0, "max": 0, "opened": 0}

    def checked_out(*_):
        with lock:
            seen["now"] += 1
            seen["max"] = max(seen["max"], seen["now"])

    def checked_in(*_):
        with lock:
            seen["now"] -= 1

    def opened(*_):
        with lock:
            seen["opened"] += 1

    listeners = (("checkout", checked_out), ("checkin", checked_in), ("connect", opened))
    for name, fn in listeners:
        event.listen(engine, name, fn)
    try:
        responses = fire(f"{live_api}/api/v2/enqueue",
                         [{"routing_key": tokens[i % 8], "event_action": "trigger", "dedup_key": f"k{i}",
                           "payload": {"summary": f"disk full {i}", "source": "db-01", "severity": "critical"}}
                          for i in range(80)])
    finally:
        for name, fn in listeners:
            event.remove(engine, name, fn)
    assert [r.status_code for r in responses] == [202] * 80
    assert count(Incident) == 80
    # 80 requests at once ran through at most 3 transactions, on connections opened once, not per request
    assert 1 < seen["max"] <= 3, seen
    assert seen["opened"] <= db.db_pool_size(), seen


def test_a_webhook_right_after_the_database_dropped_the_pool_is_accepted(client, pg_url, token):
    assert _post(client, token, "warm-up").status_code == 202  # the pool now holds a connection in use seconds ago
    assert _drop_every_other_connection(pg_url) >= 1
    answer = _post(client, token, "after-restart")
    assert answer.status_code == 202, answer.text  # the dead connection failed the first query; retried on a new one
    assert count(Alert, Alert.dedup_key == "after-restart") == 1


def test_outside_the_webhook_path_every_checkout_is_pinged(pg, pg_url):
    """Workers recording a send, the UI: a dead pooled connection is replaced before anyone uses it."""
    assert count(Incident) == 0  # the pool now holds a connection, used a moment ago
    assert _drop_every_other_connection(pg_url) >= 1
    assert count(Incident) == 0  # pinged at checkout, found dead, replaced: no error reaches the caller


def test_on_the_webhook_path_a_connection_idle_past_the_interval_is_pinged(pg, pg_url, monkeypatch):
    assert count(Incident) == 0
    assert _drop_every_other_connection(pg_url) >= 1
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
    with db.first_statement_retried():
        assert count(Incident) == 0


def test_on_the_webhook_path_a_recently_used_connection_is_not_pinged(pg, pg_url, monkeypatch):
    """The control for the two above (the ping is what saved them), and why the webhook retries its first
    statement: a connection used a moment ago goes out unchecked there."""
    assert count(Incident) == 0
    assert _drop_every_other_connection(pg_url) >= 1
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 3600.0)
    with db.first_statement_retried(), pytest.raises(Exception, match="terminat|closed|server"):
        count(Incident)


async def _in_slot(seconds: float) -> None:
    """A webhook transaction that takes `seconds`: a worker thread busy while it holds a database slot."""
    async with common.db_slot():
        await anyio.to_thread.run_sync(time.sleep, seconds)


@contextlib.asynccontextmanager
async def _the_only_slot_held(monkeypatch):
    """One database slot, held by a transaction that does not end until the block is left; waiters give up after
    0.2 s without progress."""
    monkeypatch.setattr(common, "STALL_SECONDS", 0.2)
    monkeypatch.setattr(common, "webhook_slots", lambda: 1)
    release = asyncio.Event()

    async def hold() -> None:
        async with common.db_slot():
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0.05)
    yield
    release.set()
    await holder  # the slow one finished normally


@pytest.mark.anyio
async def test_a_request_that_gets_no_database_slot_in_time_is_answered_503(monkeypatch):
    async with _the_only_slot_held(monkeypatch):
        started = time.monotonic()
        with pytest.raises(common.WebhookError) as refused:
            await _in_slot(0)
        assert refused.value.status == 503 and refused.value.headers["Retry-After"]
        assert 0.15 < time.monotonic() - started < 3.0  # the stall limit, not however long the holder takes
    await asyncio.wait_for(_in_slot(0), 1)  # the holder gave its slot back


@pytest.mark.anyio
async def test_a_group_that_gets_no_slot_is_answered_503_request_by_request(monkeypatch):
    never = common.Submission({}, b"{}", lambda _integration: pytest.fail("a refused group must not be ingested"))
    async with _the_only_slot_held(monkeypatch):
        answers = await asyncio.gather(*(grouping.submit("okt_same", {"generic"}, never) for _ in range(3)),
                                       return_exceptions=True)
    assert [getattr(a, "status", a) for a in answers] == [503, 503, 503]
    assert all(a.headers["Retry-After"] for a in answers)


@pytest.mark.anyio
async def test_a_burst_waits_longer_than_the_stall_limit_while_the_queue_moves(monkeypatch):
    """60 requests behind one slot, 25 ms each: the last waits about 1.5 s, three times the stall limit, and is
    served — a burst is not an outage (a fixed 0.5 s deadline on the wait refuses most of them)."""
    monkeypatch.setattr(common, "STALL_SECONDS", 0.5)
    monkeypatch.setattr(common, "webhook_slots", lambda: 1)
    answers = await asyncio.gather(*(_in_slot(0.025) for _ in range(60)), return_exceptions=True)
    assert [a for a in answers if a is not None] == []


@pytest.mark.anyio
async def test_a_queue_that_moves_too_slowly_is_shed_after_the_overall_limit(monkeypatch):
    monkeypatch.setattr(common, "STALL_SECONDS", 0.2)
    monkeypatch.setattr(common, "MAX_SLOT_WAIT_SECONDS", 0.5)
    monkeypatch.setattr(common, "webhook_slots", lambda: 1)
    answers = await asyncio.gather(*(_in_slot(0.1) for _ in range(10)), return_exceptions=True)
    served = [a for a in answers if a is None]
    refused = [a for a in answers if isinstance(a, common.WebhookError) and a.status == 503]
    assert len(served) + len(refused) == 10
    assert 1 <= len(served) <= 7 and len(refused) >= 3  # the queue moved all along, yet the late ones were shed


def _violation(session, incident) -> IntegrityError:
    session.add(incident)
    with pytest.raises(IntegrityError) as caught:
        session.commit()
    session.rollback()
    return caught.value


def test_only_the_dedup_constraint_counts_as_a_lost_race(any_db):
    from sqlmodel import Session

    with Session(db.engine()) as session:
        service = make_service(session)

        def incident(number: int, key: str) -> Incident:
            return Incident(number=number, title="t", dedup_key=key, service_id=service.id)

        session.add(incident(1, "k"))
        session.commit()
        assert common.lost_dedup_race(_violation(session, incident(2, "k")))  # the same open key
        assert not common.lost_dedup_race(_violation(session, incident(1, "other")))  # the same number
