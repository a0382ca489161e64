"""Group commit (`api/webhooks/grouping.py`): concurrent requests with one token share a transaction, and each
keeps its own answer, its own raw body and its own refusal.

The live server runs the default of one webhook transaction per process, so requests fired at once must wait
and group; each test counts the commits to show that they did (fewer commits than requests)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone

import pytest
from sqlalchemy import event

from opsknight import db
from opsknight.api.webhooks import common
from opsknight.config import reset_settings
from opsknight.engine import clock
from opsknight.engine.normalize import Action, NormalizedAlert
from opsknight.models import Alert, Incident, TimelineEvent
from tests.factories import make_integration, make_service
from tests.integration.conftest import count, rows
from tests.integration.test_concurrency import fire


@pytest.fixture
def commits():
    seen = []
    listener = lambda _conn: seen.append(1)  # noqa: E731
    event.listen(db.engine(), "commit", listener)
    yield seen
    event.remove(db.engine(), "commit", listener)


@pytest.fixture
def service(session):
    return make_service(session)


def test_each_request_of_a_group_gets_its_own_answer_and_keeps_its_own_raw_body(live_api, session, service, commits):
    token, _ = make_integration(session, service, "generic")
    keys = [f"disk-{i:03d}" for i in range(100)]
    responses = fire(f"{live_api}/api/webhooks/generic",
                     [{"summary": f"disk full {key}", "severity": "critical", "dedup_key": key} for key in keys],
                     {"Authorization": f"Bearer {token}"})
    assert [r.status_code for r in responses] == [202] * 100
    assert len(commits) < 100, "no two requests shared a transaction: nothing was grouped"

    numbers = {i.dedup_key: i.number for i in rows(Incident)}
    for key, response in zip(keys, responses):  # the answer is about this request's alert, not a neighbour's
        (answer,) = response.json()["incidents"]
        assert (answer["dedup_key"], answer["incident_number"], answer["outcome"]) == (key, numbers[key], "created")
    alerts = rows(Alert)
    assert len(alerts) == 100
    assert all(a.raw is not None and a.raw["dedup_key"] == a.dedup_key for a in alerts)
    events = {e.data["alert_id"]: e.data["raw_alert_id"] for e in rows(TimelineEvent) if e.data}
    assert all(events[a.id] == a.id for a in alerts)  # each timeline entry points at its own request's body


def test_a_refused_request_refuses_only_itself(live_api, session, service, commits):
    token, _ = make_integration(session, service, "generic")
    bodies = [{"severity": "critical", "dedup_key": f"k{i}"} if i % 5 == 0  # no summary: 400
              else {"summary": f"disk full {i}", "severity": "critical", "dedup_key": f"k{i}"} for i in range(50)]
    responses = fire(f"{live_api}/api/webhooks/generic", bodies, {"Authorization": f"Bearer {token}"})
    assert [r.status_code for r in responses] == [400 if i % 5 == 0 else 202 for i in range(50)]
    assert all("summary" in json.dumps(r.json()["error"]) for r in responses if r.status_code == 400)
    assert len(commits) < 40
    assert sorted(a.dedup_key for a in rows(Alert)) == sorted(f"k{i}" for i in range(50) if i % 5)


def test_the_rate_limit_counts_each_request_of_a_group(live_api, session, service, commits, monkeypatch):
    monkeypatch.setenv("OPSKNIGHT_ENQUEUE_RATE_PER_MINUTE", "30")
    reset_settings()
    clock.set_now(datetime(2026, 11, 27, 3, 0, 15, tzinfo=timezone.utc))  # one fixed one-minute window
    token, _ = make_integration(session, service, "events_v2")
    responses = fire(f"{live_api}/api/v2/enqueue",
                     [{"routing_key": token, "event_action": "trigger", "dedup_key": f"k{i}",
                       "payload": {"summary": f"disk full {i}", "source": "db-01", "severity": "critical"}}
                      for i in range(40)])
    assert Counter(r.status_code for r in responses) == Counter({202: 30, 429: 10})
    assert len(commits) < 30
    accepted = {r.json()["dedup_key"] for r in responses if r.status_code == 202}
    assert {a.dedup_key for a in rows(Alert)} == accepted and count(Alert) == 30


def test_a_value_the_database_refuses_is_retried_alone_and_the_rest_of_the_group_is_stored(session, service):
    """The database refuses a whole transaction; whose value it was is found by taking the requests one by one."""
    token, _ = make_integration(session, service, "generic")

    def sends(summary: str) -> common.Submission:
        alert = NormalizedAlert(action=Action.TRIGGER, dedup_key=summary[:8], summary=summary, severity="critical",
                                source="test")
        return common.Submission({}, summary.encode(), lambda _integration: [alert])

    outcomes = common.accept_all(token, {"generic"}, [sends("good one"), sends("bad\x00one"), sends("good two")])
    assert [type(o).__name__ for o in outcomes] == ["Accepted", "WebhookError", "Accepted"]
    assert outcomes[1].status == 400
    assert sorted(a.summary for a in rows(Alert)) == ["good one", "good two"]


def test_a_group_that_resolves_and_triggers_one_key_again_opens_a_second_incident(session, service):
    """Request 2 resolves what request 1 opened; request 3 triggers the key again: a new incident, as if they had
    come one by one. The batch is applied in two parts there, and each part keeps its requests' bodies."""
    token, _ = make_integration(session, service, "generic")

    def sends(action: Action, body: str) -> common.Submission:
        alert = NormalizedAlert(action=action, dedup_key="db-01/disk", summary=body, severity="critical", source="t")
        other = NormalizedAlert(action=Action.TRIGGER, dedup_key=f"other-{body}", summary=body, severity="info",
                                source="t")
        return common.Submission({}, json.dumps({"request": body}).encode(), lambda _integration: [alert, other])

    outcomes = common.accept_all(token, {"generic"}, [sends(Action.TRIGGER, "one"), sends(Action.RESOLVE, "two"),
                                                      sends(Action.TRIGGER, "three")])
    assert [[r.outcome for r in o.batch.results] for o in outcomes] == [
        ["created", "created"], ["resolved", "created"], ["created", "created"]]
    first, again = sorted((i for i in rows(Incident) if i.dedup_key == "db-01/disk"), key=lambda i: i.number)
    assert (first.status, again.status) == ("resolved", "triggered")
    for alert in rows(Alert):  # each request's body on its first alert only
        assert alert.raw == ({"request": alert.summary} if alert.dedup_key == "db-01/disk" else None)


def _sends(*keys: str, body: str | None = None, fail: Exception | None = None) -> common.Submission:
    """A request whose alerts trigger `keys` (or whose normalizer raises `fail`)."""
    def normalize(_integration):
        if fail is not None:
            raise fail
        return [NormalizedAlert(action=Action.TRIGGER, dedup_key=k, summary=f"alert {k}", severity="critical",
                                source="t") for k in keys]

    return common.Submission({}, (body or ",".join(keys)).encode(), normalize)


def test_refusals_between_requests_of_several_alerts_leave_every_answer_its_own(session, service):
    token, _ = make_integration(session, service, "generic")
    refused = common.WebhookError(400, "invalid_payload", "bad")
    outcomes = common.accept_all(token, {"generic"}, [
        _sends("a1", "a2"), _sends(fail=refused), _sends("b1", "b2", "b3"), _sends(fail=refused), _sends("c1")])
    assert [[r.dedup_key for r in o.batch.results] if isinstance(o, common.Accepted) else o.status
            for o in outcomes] == [["a1", "a2"], 400, ["b1", "b2", "b3"], 400, ["c1"]]
    numbers = {i.dedup_key: i.number for i in rows(Incident)}
    assert all(r.incident_number == numbers[r.dedup_key] for o in outcomes if isinstance(o, common.Accepted)
               for r in o.batch.results)


def test_a_request_that_meets_a_bug_fails_alone(session, service):
    token, _ = make_integration(session, service, "generic")
    outcomes = common.accept_all(token, {"generic"}, [_sends("a"), _sends(fail=KeyError("bug")), _sends("b")])
    assert [getattr(o, "status", "accepted") for o in outcomes] == ["accepted", 500, "accepted"]
    assert sorted(a.dedup_key for a in rows(Alert)) == ["a", "b"]


def test_a_group_that_loses_a_dedup_race_reruns_and_attaches_every_request(session, service, pg_url):
    """Another transaction opens "db-01/disk" after the group looked for it and before its INSERT: the group's
    transaction fails on the unique index, reruns as a whole, and every request attaches to the winner."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool
    from sqlmodel import Session

    token, _ = make_integration(session, service, "generic")
    competitor = create_engine(pg_url, poolclass=NullPool)

    def open_it_first(_db, _integration):
        if not raced:
            raced.append(1)
            with Session(competitor) as other:
                other.add(Incident(number=900, title="winner", dedup_key="db-01/disk", service_id=service.id,
                                   alert_count=1))
                other.commit()

    raced: list[int] = []
    requests = [_sends("db-01/disk", body=f"request {i}") for i in range(3)]
    requests[2].check = open_it_first  # runs inside the group's transaction, before its ingest
    outcomes = common.accept_all(token, {"generic"}, requests)
    competitor.dispose()
    assert raced
    assert [[r.outcome for r in o.batch.results] for o in outcomes] == [["attached"]] * 3
    (incident,) = rows(Incident)
    assert incident.title == "winner" and incident.alert_count == 1 + 3
    assert all(a.raw is not None and a.incident_id == incident.id for a in rows(Alert))  # each kept its body
