"""The one incidents module the REST API and the pages share (`admin.incident_views`, `admin.incidents`): the
dashboard's filters, counts and cursor, the incident with its alerts and timeline, and the actions — on
PostgreSQL + Redis + a real RQ worker, the real Twilio SDK talking to a local fake."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event

from opsknight import accounts, db
from opsknight.admin import Conflict, incident_views, incidents
from opsknight.engine import clock
from opsknight.models import Alert, Incident, Role, Schedule, ScheduleLayer, ScheduleLayerMember, Service, Team
from tests.factories import make_integration, make_policy, make_service
from tests.integration.conftest import rows
from tests.integration.test_paging import drain, person, tick, trigger, twilio  # noqa: F401 - fixture

Filter = incident_views.IncidentFilter


def _principal(session, user_id: int) -> accounts.Principal:
    return accounts.principal_for_user(session.get(accounts.User, user_id))


def _view(session, principal, flt: Filter, **kwargs):
    session.expire_all()
    return incident_views.list_incidents(session, principal, flt, **kwargs)


@pytest.fixture
def world(client, session, twilio):
    """Two teams' services; Ann pages for both; six incidents in all three states."""
    clock.set_now(clock.now())
    ann = person(session, "Ann", "+15551230001")
    bob = person(session, "Bob", "+15551230002")
    payments, search = Team(name="payments"), Team(name="search")
    session.add_all([payments, search])
    session.commit()
    policy = make_policy(session, steps=[[("user", ann)], [("user", bob)]])
    checkout = make_service(session, policy=policy)
    checkout.name, checkout.team_id = "checkout", payments.id
    index = make_service(session, policy=policy)
    index.name, index.team_id = "indexer", search.id
    session.add_all([checkout, index])
    session.commit()
    tokens = {name: make_integration(session, service, "generic")[0] for name, service in
              (("checkout", checkout), ("indexer", index))}
    for service, summary, severity in (("checkout", "Card payments failing", "critical"),
                                       ("checkout", "Refund queue slow", "warning"),
                                       ("indexer", "Index lag 20 min", "critical"),
                                       ("indexer", "Disk 85% on es-3", "warning"),
                                       ("checkout", "Checkout 502s", "critical"),
                                       ("indexer", "Reindex stuck", "critical")):
        trigger(client, tokens[service], summary=summary, severity=severity, dedup_key=summary)
        clock.advance(timedelta(seconds=1))
    by_title = {i.title: i for i in rows(Incident)}
    as_ann = _principal(session, ann)
    incidents.acknowledge(as_ann, by_title["Index lag 20 min"].id, via="web")
    incidents.acknowledge(as_ann, by_title["Checkout 502s"].id, via="web")
    incidents.resolve(as_ann, by_title["Reindex stuck"].id, via="web")
    twilio.take()
    return {"ann": ann, "bob": bob, "teams": (payments, search), "services": (checkout, index), "tokens": tokens,
            "ids": {title: i.id for title, i in by_title.items()}, "as_ann": as_ann}


def test_open_first_then_newest_with_counts_and_a_cursor_across_statuses(session, world):
    as_ann = world["as_ann"]
    titles, cursor = [], None
    while True:
        page = _view(session, as_ann, Filter(view="all"), limit=2, cursor=cursor)
        titles += [r["title"] for r in page.rows]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert titles == ["Disk 85% on es-3", "Refund queue slow", "Card payments failing",  # triggered, newest first
                      "Checkout 502s", "Index lag 20 min",  # acknowledged
                      "Reindex stuck"]  # resolved
    assert page.counts == {"triggered": 3, "acknowledged": 2, "resolved": 1}
    assert [r["title"] for r in _view(session, as_ann, Filter(view="open")).rows] == titles[:5]
    assert [r["title"] for r in _view(session, as_ann, Filter(view="acknowledged")).rows] == titles[3:5]


@pytest.mark.parametrize(("flt", "expected"), [
    (Filter(view="all", urgency="low"), {"Disk 85% on es-3", "Refund queue slow"}),
    (Filter(view="open", text="CHECKOUT"), {"Refund queue slow", "Card payments failing", "Checkout 502s"}),
    (Filter(view="all", text="85%"), {"Disk 85% on es-3"}),  # % is a character here, not a wildcard
    (Filter(view="all", text="stuck"), {"Reindex stuck"}),
])
def test_filters(session, world, flt, expected):
    assert {r["title"] for r in _view(session, world["as_ann"], flt).rows} == expected


def test_filters_by_service_team_number_and_mine(session, world):
    checkout, index = world["services"]
    payments, search = world["teams"]
    as_ann = world["as_ann"]
    by_service = _view(session, as_ann, Filter(view="all", service_id=index.id))
    assert {r["service"]["name"] for r in by_service.rows} == {"indexer"} and len(by_service.rows) == 3
    assert by_service.counts == {"triggered": 1, "acknowledged": 1, "resolved": 1}
    by_team = _view(session, as_ann, Filter(view="all", team_id=payments.id)).rows
    assert {r["team"]["name"] for r in by_team} == {"payments"} and len(by_team) == 3
    number = rows(Incident, Incident.id == world["ids"]["Checkout 502s"])[0].number
    assert [r["title"] for r in _view(session, as_ann, Filter(view="all", text=f"#{number}")).rows] == ["Checkout 502s"]
    # Ann is paged for the open high-urgency one (her rule is high urgency only) and acknowledged two; Bob: none.
    assert {r["title"] for r in _view(session, as_ann, Filter(view="open", mine=True)).rows} == {
        "Card payments failing", "Checkout 502s", "Index lag 20 min"}
    as_bob = _principal(session, world["bob"])
    assert _view(session, as_bob, Filter(view="open", mine=True)).rows == []
    incidents.reassign(as_ann, world["ids"]["Refund queue slow"], {"user_id": world["bob"]}, via="web")
    assert [r["title"] for r in _view(session, as_bob, Filter(view="open", mine=True)).rows] == ["Refund queue slow"]


def test_a_50_row_page_costs_the_same_statements_as_a_2_row_page(client, session, world):
    token = world["tokens"]["checkout"]
    client.post("/api/webhooks/generic", headers={"Authorization": f"Bearer {token}"},
                json=[{"summary": f"bulk {i}", "dedup_key": f"bulk-{i}"} for i in range(60)])
    statements = []
    listener = lambda *args: statements.append(1)  # noqa: E731
    event.listen(db.engine(), "before_cursor_execute", listener)
    try:
        def cost(limit: int) -> int:
            statements.clear()
            with db.session_scope() as s:
                page = incident_views.list_incidents(s, world["as_ann"], Filter(view="all"), limit=limit)
            assert len(page.rows) == limit and all(r["service"]["name"] for r in page.rows)
            return len(statements)

        assert cost(50) == cost(2) <= 3  # the page and the counts, whatever the page size
    finally:
        event.remove(db.engine(), "before_cursor_execute", listener)


def test_one_incident_with_its_alerts_notes_and_every_page_on_the_timeline(client, session, world, twilio):
    incident_id = world["ids"]["Card payments failing"]
    trigger(client, world["tokens"]["checkout"], summary="Card payments failing", dedup_key="Card payments failing",
            details={"labels": {"region": "eu-1"}, "annotations": {"runbook": "https://runbooks/cards"}},
            links=[{"href": "https://grafana.example.com/d/cards", "text": "Dashboard"}])
    incidents.add_note(world["as_ann"], incident_id, {"body": "Looking at the card processor"}, via="web")
    with db.session_scope() as s:
        detail = incident_views.get_incident(s, world["as_ann"], incident_id)
    assert detail["alert_total"] == 2 and detail["alert_count"] == 2
    newest = detail["alerts"][0]
    assert newest["labels"] == {"region": "eu-1"} and newest["annotations"]["runbook"] == "https://runbooks/cards"
    assert newest["links"][0]["href"] == "https://grafana.example.com/d/cards" and newest["raw"]["summary"]
    assert [n["body"] for n in detail["notes"]] == ["Looking at the card processor"]
    assert detail["notes"][0]["author_name"] == "Ann"
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds[0] == "triggered" and "note" in kinds and "policy_applied" in kinds
    [page] = [e for e in detail["timeline"] if e["kind"] == "delivery"]
    assert page["data"]["channel"] == "sms" and "Ann" in page["message"] and "+15551230001" in page["message"]
    assert page["data"]["status"] == "sent"
    assert detail["timeline"] == sorted(detail["timeline"], key=lambda e: e["at"])


def test_someone_else_acting_first_says_who_and_when(session, world):
    incident_id = world["ids"]["Index lag 20 min"]  # Ann acknowledged it in the fixture
    clock.advance(timedelta(seconds=3))
    as_bob = _principal(session, world["bob"])
    with pytest.raises(incidents.LostRace, match=r"^Ann acknowledged this [3-5] s ago$"):
        incidents.acknowledge(as_bob, incident_id, via="web")
    incidents.resolve(as_bob, incident_id, {"note": "Rolled back the indexer"}, via="web")
    with pytest.raises(incidents.LostRace, match=r"^Bob resolved this \d+ s ago$"):
        incidents.resolve(world["as_ann"], incident_id, via="web")
    with db.session_scope() as s:
        detail = incident_views.get_incident(s, world["as_ann"], incident_id)
    assert [n["body"] for n in detail["notes"]] == ["Rolled back the indexer"]
    assert any("Rolled back the indexer" in e["message"] for e in detail["timeline"] if e["kind"] == "resolved")


def test_add_responder_pages_them_now_even_when_acknowledged_and_keeps_the_assignee(session, world, twilio):
    cat = person(session, "Cat", "+15551230003")
    dan = person(session, "Dan", "+15551230004")
    schedule = Schedule(name="dba-oncall", time_zone="UTC")
    session.add(schedule)
    session.flush()
    layer = ScheduleLayer(schedule_id=schedule.id, rotation_start=clock.now() - timedelta(days=1),
                          rotation_unit="week", rotation_length=1)
    session.add(layer)
    session.flush()
    session.add(ScheduleLayerMember(layer_id=layer.id, user_id=dan, position=0))
    session.commit()
    incident_id = world["ids"]["Checkout 502s"]  # acknowledged by Ann
    as_ann = world["as_ann"]
    incidents.add_responders(as_ann, incident_id, {"target_type": "user", "target_id": cat}, via="web")
    incidents.add_responders(as_ann, incident_id, {"target_type": "schedule", "target_id": schedule.id}, via="web")
    drain()
    sent = {r.form["To"] for r in twilio.expect(2)}
    assert sent == {"+15551230003", "+15551230004"}
    incident = rows(Incident, Incident.id == incident_id)[0]
    assert incident.status == "acknowledged" and incident.assignee_id is None
    policy = make_policy(session, steps=[[("user", world["bob"])]])
    incidents.add_responders(as_ann, incident_id, {"target_type": "escalation_policy", "target_id": policy.id},
                             via="web")
    drain()
    assert [r.form["To"] for r in twilio.expect(1)] == ["+15551230002"]
    tick(timedelta(minutes=30))  # a responder request pages once; the acknowledged incident does not escalate
    assert not [r for r in twilio.take() if f"#{incident.number} " in r.form["Body"]]
    with pytest.raises(Conflict, match="resolves to no active person"):
        incidents.add_responders(as_ann, incident_id, {"target_type": "escalation_policy",
                                                       "target_id": make_policy(session, steps=[]).id}, via="web")


def test_a_responder_request_is_dropped_once_the_incident_is_resolved(session, world, twilio):
    cat = person(session, "Cat", "+15551230003", rules=((3, "any"),))  # pages Cat after 3 minutes
    incident_id = world["ids"]["Checkout 502s"]
    incidents.add_responders(world["as_ann"], incident_id, {"target_type": "user", "target_id": cat}, via="web")
    incidents.resolve(world["as_ann"], incident_id, via="web")
    tick(timedelta(minutes=4))
    assert twilio.take() == []


def test_raising_the_urgency_pages_the_current_step_as_high_now_and_starts_escalating(session, world, twilio):
    incident_id = world["ids"]["Disk 85% on es-3"]  # low urgency: Ann's rule is high only, so nobody was paged
    incident = rows(Incident, Incident.id == incident_id)[0]
    assert incident.urgency == "low"
    incidents.change_urgency(world["as_ann"], incident_id, {"urgency": "high"}, via="web")
    tick(timedelta(seconds=65))  # Ann got SMS pages a moment ago: pacing holds the next for its window
    [page] = twilio.expect(1)
    assert page.form["To"] == "+15551230001" and "Disk 85%" in page.form["Body"]
    incident = rows(Incident, Incident.id == incident_id)[0]
    assert incident.urgency == "high" and incident.next_escalation_at is not None  # escalating
    with pytest.raises(incidents.LostRace, match="high already"):
        incidents.change_urgency(world["as_ann"], incident_id, {"urgency": "high"}, via="web")
    tick(timedelta(minutes=5, seconds=5))
    assert "+15551230002" in {r.form["To"] for r in twilio.take()}  # step 2: Bob (with others, bundled)
    incident = rows(Incident, Incident.id == incident_id)[0]
    assert incident.escalation_step == 1


def test_add_responder_plans_a_high_urgency_page_and_says_when_nobody_can_be_reached(session, world, twilio):
    incident_id = world["ids"]["Refund queue slow"]  # low urgency
    eve = person(session, "Eve", "+15551230005")  # her only rule is for high urgency
    incidents.add_responders(world["as_ann"], incident_id, {"target_type": "user", "target_id": eve}, via="web")
    drain()
    assert [r.form["To"] for r in twilio.expect(1)] == ["+15551230005"]
    mute = accounts.create_user(session, email="mute@example.com", name="Mute", password="pw-long-enough")
    session.commit()
    with pytest.raises(Conflict, match="Nobody could be paged: Mute has no usable contact method"):
        incidents.add_responders(world["as_ann"], incident_id, {"target_type": "user", "target_id": mute.id},
                                 via="web")


def test_unknown_ids_are_404_whatever_their_size(session, world):
    from opsknight.admin import NotFound

    for incident_id in (999_999, 2**31, 10**12):
        with pytest.raises(NotFound):
            incidents.acknowledge(world["as_ann"], incident_id, via="web")
    for kind in ("schedule", "escalation_policy"):
        with pytest.raises(NotFound):
            incidents.add_responders(world["as_ann"], world["ids"]["Refund queue slow"],
                                     {"target_type": kind, "target_id": 999_999}, via="web")


def test_the_timeline_keeps_the_newest_entries_of_a_long_incident(session, world, monkeypatch):
    monkeypatch.setattr(incident_views, "TIMELINE_SHOWN", 5)
    incident_id = world["ids"]["Card payments failing"]
    for n in range(8):
        incidents.add_note(world["as_ann"], incident_id, {"body": f"note {n}"}, via="web")
    with db.session_scope() as s:
        notes = [e["message"] for e in incident_views.timeline(s, incident_id) if e["kind"] == "note"]
    assert notes[-1].endswith("note 7") and not any(m.endswith("note 0") for m in notes)


def test_merge_moves_the_alerts_and_resolves_the_source_on_both_timelines(client, session, world):
    source_id, target_id = world["ids"]["Checkout 502s"], world["ids"]["Card payments failing"]
    trigger(client, world["tokens"]["checkout"], summary="Checkout 502s", dedup_key="Checkout 502s")
    incidents.merge(world["as_ann"], source_id, {"into_id": target_id}, via="web")
    source, target = (rows(Incident, Incident.id == i)[0] for i in (source_id, target_id))
    assert source.status == "resolved" and source.merged_into_id == target_id and source.resolved_by_source == "merged"
    assert target.status == "triggered" and target.alert_count == 3
    assert {a.incident_id for a in rows(Alert)} >= {target_id} and not rows(Alert, Alert.incident_id == source_id)
    with db.session_scope() as s:
        merged_from = incident_views.get_incident(s, world["as_ann"], source_id)
        merged_to = incident_views.get_incident(s, world["as_ann"], target_id)
    assert merged_from["merged_into"] == {"id": target_id, "number": target.number}
    assert any(f"Merged into #{target.number}" in e["message"] for e in merged_from["timeline"])
    assert any(e["kind"] == "merged" and f"#{source.number}" in e["message"] for e in merged_to["timeline"])
    # The monitor keeps sending the merged incident's key: its repeats join the target, its resolve leaves the
    # target open (it holds other alerts); no new incident is opened and nobody is paged again.
    before = len(rows(Incident))
    trigger(client, world["tokens"]["checkout"], summary="Checkout 502s", dedup_key="Checkout 502s")
    client.post("/api/webhooks/generic", headers={"Authorization": f"Bearer {world['tokens']['checkout']}"},
                json={"summary": "Checkout 502s", "dedup_key": "Checkout 502s", "action": "resolve"})
    target = rows(Incident, Incident.id == target_id)[0]
    assert len(rows(Incident)) == before and target.status == "triggered" and target.alert_count == 5
    incidents.resolve(world["as_ann"], target_id, via="web")
    trigger(client, world["tokens"]["checkout"], summary="Checkout 502s", dedup_key="Checkout 502s")
    assert len(rows(Incident)) == before + 1  # the target is over: the key opens a new incident again
    with pytest.raises(Conflict, match="resolved: merge into an open incident"):
        incidents.merge(world["as_ann"], world["ids"]["Refund queue slow"], {"into_id": world["ids"]["Reindex stuck"]},
                        via="web")
    with pytest.raises(Conflict, match="into itself"):
        incidents.merge(world["as_ann"], target_id, {"into_id": target_id}, via="web")


def test_viewers_read_but_cannot_act(session, world):
    viewer = accounts.create_user(session, email="vic@example.com", name="Vic", role=Role.VIEWER,
                                  password="pw-long-enough")
    session.commit()
    as_vic = accounts.principal_for_user(viewer)
    assert len(_view(session, as_vic, Filter(view="all")).rows) == 6
    from opsknight.admin import Forbidden

    for act in (lambda: incidents.acknowledge(as_vic, world["ids"]["Checkout 502s"], via="web"),
                lambda: incidents.add_note(as_vic, world["ids"]["Checkout 502s"], {"body": "x"}, via="web"),
                lambda: incidents.open_incident(as_vic, {"service_id": world["services"][0].id, "title": "x"},
                                                via="web")):
        with pytest.raises(Forbidden):
            act()
    assert rows(Incident, Incident.id == world["ids"]["Checkout 502s"])[0].status == "acknowledged"
    assert len(rows(Service)) == 2
