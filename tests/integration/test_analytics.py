"""Response analytics against a hand-built March 2026 whose figures are worked out by hand below, on PostgreSQL
and SQLite: MTTA/MTTR medians and p90s, the escalation rate, per-person pages and sleep-hour interruptions around
both DST changes (New York 2026-03-08 07:00Z, Berlin 2026-03-29 01:00Z) and the 22:00/07:00 edges, the noisiest
services and sources, the window in the viewer's zone, and the filters. Then the REST API: JSON equals the admin
function's result, CSV equals the JSON rows (formula-guarded), bad input is a 400 in the error shape.

The history (times UTC; s = escalation step, g = generation; every page is an SMS unless said):

    I1  svc-a high  03-02 10:00:00  ack +60 s Alice, resolved +600 s.  Alice s0g1 sms 10:00:05 + email 10:00:06
    I2  svc-a high  03-03 12:00:00  ack +120 Alice, res +1200.  Alice s0g1 12:00:05; Bob s1g1 12:01:00
    I3  svc-b low   03-08 06:30:00  ack +300 Alice, res +1800.  Alice s0g1 06:30:10 + email 06:30:12
    I4  svc-b high  03-08 10:59:00  ack +900 Carol, res +3600.  Alice s0g1 11:00:00; Carol s1g1 11:04:00;
                                                                Alice s1g1 never sent (acknowledged first)
    I5  svc-c high  03-29 00:30:00  no ack, res +7200.  Bob s0g1 push 00:59:59, Bob s0g2 05:00:00;
                                                        Carol responder request (at step 1) 01:10:00
    I6  svc-a low   03-29 01:30:00  open.  Bob s0g1 01:30:30; Carol s0g1 still pending (no sent_at)
    I7  svc-c high  03-15 23:00:00  ack +30 Bob, open.  Bob s0g1 23:00:05; Carol s0g1 email 23:00:06
    I8  svc-a high  03-02 10:01:00  merged into I1 (ack +30 Alice).  Alice s0g1 push 10:01:05
    I9  svc-a high  02-28 23:00:00  (before the window) ack 03-01 00:20 Alice.  Alice s0g1 02-28 23:00:10 +
                                    email 03-01 00:05:00 (same page: began before the window); Alice s0g2 03-01 00:10
    I10 svc-c low   03-20 08:00:00  ack +45 Carol, res +900.  Carol s0g1 email 08:00:10 + sms 08:00:20
    I11 svc-a high  04-01 00:00:00  (the window's end: out).  Bob s0g1 04-01 00:00:05

Alice is in America/New_York, Bob in Europe/Berlin, Carol in UTC. svc-a and svc-b are team Core's, svc-c team
Edge's.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from opsknight import accounts, db
from opsknight.admin import Forbidden, Invalid, NotFound, analytics
from opsknight.models import Alert, Delivery, Incident, Service, Team, User

MARCH = {"from": "2026-03-01", "to": "2026-04-01"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def history(any_db) -> dict:
    return build_history()


@pytest.fixture
def pg_history(pg) -> dict:
    """The same history on PostgreSQL only, for the API tests (the `client` fixture runs on PostgreSQL)."""
    return build_history()


def build_history() -> dict:
    with Session(db.engine(), expire_on_commit=False) as s:
        core, edge = Team(name="Core"), Team(name="Edge")
        s.add_all([core, edge])
        s.flush()
        svc = {"a": Service(name="svc-a", team_id=core.id), "b": Service(name="svc-b", team_id=core.id),
               "c": Service(name="svc-c", team_id=edge.id)}
        alice = User(email="alice@example.com", name="Alice", time_zone="America/New_York")
        bob = User(email="bob@example.com", name="Bob", time_zone="Europe/Berlin")
        carol = User(email="carol@example.com", name="Carol", time_zone="UTC")
        viewer = User(email="vic@example.com", name="Vic", role="viewer", time_zone="UTC")
        s.add_all([*svc.values(), alice, bob, carol, viewer])
        s.flush()
        people = {"alice": alice.id, "bob": bob.id, "carol": carol.id}
        incidents: dict[int, Incident] = {}

        def incident(n, service, urgency, created, ack=None, by=None, resolved=None, merged_into=None):
            t0 = at(created)
            row = Incident(number=n, title=f"I{n}", dedup_key=f"k{n}", service_id=svc[service].id, urgency=urgency,
                           created_at=t0, status="resolved" if resolved or merged_into else
                           "acknowledged" if ack is not None else "triggered",
                           acknowledged_at=t0 + timedelta(seconds=ack) if ack is not None else None,
                           acknowledged_by_id=people[by] if by else None,
                           resolved_at=t0 + timedelta(seconds=resolved) if resolved else None,
                           merged_into_id=incidents[merged_into].id if merged_into else None)
            s.add(row)
            s.flush()
            incidents[n] = row

        incident(1, "a", "high", "2026-03-02T10:00:00", 60, "alice", 600)
        incident(2, "a", "high", "2026-03-03T12:00:00", 120, "alice", 1200)
        incident(3, "b", "low", "2026-03-08T06:30:00", 300, "alice", 1800)
        incident(4, "b", "high", "2026-03-08T10:59:00", 900, "carol", 3600)
        incident(5, "c", "high", "2026-03-29T00:30:00", None, None, 7200)
        incident(6, "a", "low", "2026-03-29T01:30:00")
        incident(7, "c", "high", "2026-03-15T23:00:00", 30, "bob")
        incident(8, "a", "high", "2026-03-02T10:01:00", 30, "alice", merged_into=1)
        incident(9, "a", "high", "2026-02-28T23:00:00", 80 * 60, "alice")
        incident(10, "c", "low", "2026-03-20T08:00:00", 45, "carol", 900)
        incident(11, "a", "high", "2026-04-01T00:00:00")

        keys = iter(range(1, 1000))

        def page(n, who, step, gen, sent, channel="sms", responder=False):
            s.add(Delivery(incident_id=incidents[n].id, user_id=people[who], channel=channel, target="x",
                           status="sent" if sent else "pending", idempotency_key=f"d{next(keys)}",
                           escalation_step=step, escalation_generation=gen, responder_request=responder,
                           created_at=at(sent) if sent else incidents[n].created_at,
                           sent_at=at(sent) if sent else None))

        page(1, "alice", 0, 1, "2026-03-02T10:00:05")
        page(1, "alice", 0, 1, "2026-03-02T10:00:06", "email")
        page(2, "alice", 0, 1, "2026-03-03T12:00:05")
        page(2, "bob", 1, 1, "2026-03-03T12:01:00")
        page(3, "alice", 0, 1, "2026-03-08T06:30:10")
        page(3, "alice", 0, 1, "2026-03-08T06:30:12", "email")
        page(4, "alice", 0, 1, "2026-03-08T11:00:00")
        page(4, "carol", 1, 1, "2026-03-08T11:04:00")
        page(4, "alice", 1, 1, None)
        page(5, "bob", 0, 1, "2026-03-29T00:59:59", "push")
        page(5, "bob", 0, 2, "2026-03-29T05:00:00")
        page(5, "carol", 1, 2, "2026-03-29T01:10:00", responder=True)
        page(6, "bob", 0, 1, "2026-03-29T01:30:30")
        page(6, "carol", 0, 1, None)
        page(7, "bob", 0, 1, "2026-03-15T23:00:05")
        page(7, "carol", 0, 1, "2026-03-15T23:00:06", "email")
        page(8, "alice", 0, 1, "2026-03-02T10:01:05", "push")
        page(9, "alice", 0, 1, "2026-02-28T23:00:10")
        page(9, "alice", 0, 1, "2026-03-01T00:05:00", "email")
        page(9, "alice", 0, 2, "2026-03-01T00:10:00")
        page(10, "carol", 0, 1, "2026-03-20T08:00:10", "email")
        page(10, "carol", 0, 1, "2026-03-20T08:00:20")
        page(11, "bob", 0, 1, "2026-04-01T00:00:05")

        def alerts(n, source, *times):
            for t in times:
                s.add(Alert(incident_id=incidents[n].id, source=source, action="trigger", dedup_key=f"k{n}",
                            summary="x", received_at=at(t)))

        alerts(1, "prometheus", "2026-03-02T10:00:00", "2026-03-02T10:00:30")
        alerts(1, "grafana", "2026-03-02T10:01:00")  # I8's alert, moved to I1 by the merge
        alerts(2, "prometheus", "2026-03-03T12:00:00")
        alerts(3, "datadog", "2026-03-08T06:30:00")
        alerts(4, "datadog", "2026-03-08T10:59:00", "2026-03-08T11:00:00", "2026-03-08T11:01:00")
        alerts(5, "=2+5", "2026-03-29T00:30:00")  # a source that a spreadsheet would run as a formula
        alerts(6, "prometheus", "2026-03-29T01:30:00")
        alerts(7, "grafana", "2026-03-15T23:00:00", "2026-03-15T23:05:00")
        alerts(9, "prometheus", "2026-02-28T23:00:00", "2026-03-01T00:15:00")
        alerts(10, "generic", "2026-03-20T08:00:00", "2026-03-20T08:01:00")
        alerts(11, "prometheus", "2026-04-01T00:00:00")
        s.commit()
        return {**people, "viewer": viewer.id, "core": core.id, "edge": edge.id,
                **{f"svc_{k}": v.id for k, v in svc.items()}}


def viewer(history, time_zone: str = "UTC") -> accounts.Principal:
    return accounts.Principal(user_id=history["viewer"], email="vic@example.com", name="Vic", role="viewer",
                              time_zone=time_zone)


def report(history, **query) -> dict:
    with Session(db.engine()) as s:
        return analytics.report(s, viewer(history), {**MARCH, **query})


def test_summary_is_the_hand_computed_one(history):
    # In the window, not merged: I1 I2 I3 I4 I5 I6 I7 I10 (I8 merged, I9 before, I11 at the end).
    # MTTA over the acknowledged, seconds sorted: 30 45 60 120 300 900. percentile_cont: position p*(n-1).
    #   median: position 2.5 -> 60 + 0.5*(120-60) = 90;  p90: position 4.5 -> 300 + 0.5*(900-300) = 600.
    # MTTR over the resolved: 600 900 1200 1800 3600 7200. median: 1200 + 0.5*600 = 1500; p90: 3600 + 0.5*3600 = 5400.
    # Escalated: I2 (Bob at step 1) and I4 (Carol at step 1; Alice's unsent step-1 row too). Not I5: its step-1
    # row is a responder request. 2 of 8 = 25 %.
    assert report(history)["summary"] == {
        "incidents": 8, "acknowledged": 6, "mtta_median_s": 90.0, "mtta_p90_s": 600.0,
        "resolved": 6, "mttr_median_s": 1500.0, "mttr_p90_s": 5400.0, "escalated": 2, "escalation_percent": 25.0}


def test_pages_acks_and_sleep_hours_per_person_across_dst(history):
    # Alice (New York; EST = UTC-5 until 03-08 07:00Z, then EDT = UTC-4):
    #   I1 10:00:05Z = 05:00 EST sleep (its email is the same page) | I2 12:00:05Z = 07:00:05 EST awake
    #   I3 06:30:10Z = 01:30 EST sleep | I4 11:00:00Z = 07:00:00 EDT awake (EST would say 06:00: asleep)
    #   I8 10:01:05Z = 05:01 EST sleep (merged later: still woke her) | I9 g2 00:10Z = 19:10 EST awake
    #   (I9 g1 began 02-28, before the window: its 03-01 email does not make it a page of March)
    #   -> 6 pages, 3 in sleep hours (50 %); acknowledged I1 I2 I3 = 3 (I8 merged and I9 before do not count).
    # Bob (Berlin; CET = UTC+1 until 03-29 01:00Z, then CEST = UTC+2):
    #   I2 s1 12:01Z = 13:01 awake | I5 g1 00:59:59Z = 01:59:59 CET sleep | I5 g2 05:00Z = 07:00 CEST awake (CET
    #   would say 06:00) | I6 01:30:30Z = 03:30 CEST sleep | I7 23:00:05Z = 00:00:05 CET sleep | I11 out
    #   -> 5 pages, 3 asleep (60 %); acknowledged I7 = 1.
    # Carol (UTC): I4 s1 11:04 awake | I5 responder 01:10 asleep | I7 23:00:06 asleep (>= 22:00) | I10 08:00:10
    #   awake (its SMS the same page) | I6 never sent -> 4 pages, 2 asleep (50 %); acknowledged I4 I10 = 2.
    people = [(p["name"], p["time_zone"], p["pages"], p["sleep_hour_pages"], p["sleep_hour_percent"],
               p["incidents_acknowledged"]) for p in report(history)["people"]]
    assert people == [("Alice", "America/New_York", 6, 3, 50.0, 3), ("Bob", "Europe/Berlin", 5, 3, 60.0, 1),
                      ("Carol", "UTC", 4, 2, 50.0, 2)]


def test_noisiest_services_and_sources(history):
    # Incidents: svc-a I1 I2 I6 = 3, svc-b I3 I4 = 2, svc-c I5 I7 I10 = 3.
    # Alerts received in March: svc-a I1 3 + I2 1 + I6 1 + I9's 03-01 one = 6; svc-b 1 + 3 = 4; svc-c 1 + 2 + 2 = 5.
    found = report(history)
    assert [(r["service"], r["team"], r["incidents"], r["alerts"]) for r in found["services"]] == [
        ("svc-a", "Core", 3, 6), ("svc-c", "Edge", 3, 5), ("svc-b", "Core", 2, 4)]
    # prometheus: I1 2, I2, I6, I9 (03-01) = 5 on 4 incidents; datadog 1 + 3 on 2; grafana I1 1 + I7 2 on 2;
    # generic 2 on I10; "=2+5" 1 on I5.
    assert [(r["source"], r["alerts"], r["incidents"]) for r in found["sources"]] == [
        ("prometheus", 5, 4), ("datadog", 4, 2), ("grafana", 3, 2), ("generic", 2, 1), ("=2+5", 1, 1)]


def test_days_are_the_viewers_calendar_days(history):
    utc = {r["day"]: (r["incidents"], r["high"], r["low"]) for r in report(history)["daily"] if r["incidents"]}
    assert len(report(history)["daily"]) == 31
    assert utc == {"2026-03-02": (1, 1, 0), "2026-03-03": (1, 1, 0), "2026-03-08": (2, 1, 1),
                   "2026-03-15": (1, 1, 0), "2026-03-20": (1, 0, 1), "2026-03-29": (2, 1, 1)}
    # In Berlin, March is [02-28 23:00Z, 03-31 22:00Z): I9 (02-28 23:00Z) is its first incident, I7 (23:00Z on the
    # 15th) falls on the 16th, and I6 (01:30Z on the 29th, after the change) is 03:30 CEST the same day.
    berlin = report(history, tz="Europe/Berlin")
    assert {r["day"]: r["incidents"] for r in berlin["daily"] if r["incidents"]} == {
        "2026-03-01": 1, "2026-03-02": 1, "2026-03-03": 1, "2026-03-08": 2, "2026-03-16": 1, "2026-03-20": 1,
        "2026-03-29": 2}
    assert berlin["summary"]["incidents"] == 9
    assert berlin["window"]["start"] == "2026-02-28T23:00:00+00:00" and berlin["window"]["end"] == \
        "2026-03-31T22:00:00+00:00"


def test_filters_change_the_figures(history):
    # svc-b: I3 I4. MTTA 300 900 -> median 600, p90 300 + 0.9*600 = 840. MTTR 1800 3600 -> 2700, 1800 + 0.9*1800
    # = 3420. I4 escalated: 1 of 2.
    assert report(history, service_id=history["svc_b"])["summary"] == {
        "incidents": 2, "acknowledged": 2, "mtta_median_s": 600.0, "mtta_p90_s": 840.0, "resolved": 2,
        "mttr_median_s": 2700.0, "mttr_p90_s": 3420.0, "escalated": 1, "escalation_percent": 50.0}
    # Low urgency: I3 I6 I10. MTTA 45 300 -> 172.5, 45 + 0.9*255 = 274.5; MTTR 900 1800 -> 1350, 1710.
    low = report(history, urgency="low")
    assert low["summary"] == {
        "incidents": 3, "acknowledged": 2, "mtta_median_s": 172.5, "mtta_p90_s": 274.5, "resolved": 2,
        "mttr_median_s": 1350.0, "mttr_p90_s": 1710.0, "escalated": 0, "escalation_percent": 0.0}
    assert [(r["source"], r["alerts"]) for r in low["sources"]] == [("generic", 2), ("datadog", 1), ("prometheus", 1)]
    # Team Core (svc-a, svc-b): Alice's six pages are all on its services; Bob: I2 (awake) and I6 (asleep);
    # Carol: I4 step 1 (awake). Acknowledged: Alice I1 I2 I3, Carol I4.
    core = report(history, team_id=history["core"])
    assert core["summary"]["incidents"] == 5
    assert [(p["name"], p["pages"], p["sleep_hour_pages"], p["incidents_acknowledged"]) for p in core["people"]] == [
        ("Alice", 6, 3, 3), ("Bob", 2, 1, 0), ("Carol", 1, 0, 1)]
    assert [r["service"] for r in core["services"]] == ["svc-a", "svc-b"]
    assert [(r["source"], r["alerts"]) for r in core["sources"]] == [("prometheus", 5), ("datadog", 4), ("grafana", 1)]
    # A window with nothing in it: zeros and no figures, not errors.
    empty = report(history, **{"from": "2025-01-01", "to": "2025-01-02"})
    assert empty["summary"] == {"incidents": 0, "acknowledged": 0, "mtta_median_s": None, "mtta_p90_s": None,
                                "resolved": 0, "mttr_median_s": None, "mttr_p90_s": None, "escalated": 0,
                                "escalation_percent": None}
    assert empty["people"] == empty["services"] == empty["sources"] == []


def test_default_window_is_the_last_30_days_of_the_viewers_zone(history):
    from opsknight.engine import clock

    clock.set_now(at("2026-03-29T03:00:00"))  # already the 29th in Berlin (05:00 CEST), still the 28th in New York
    with Session(db.engine()) as s:
        berlin = analytics.report(s, viewer(history, "Europe/Berlin"), {})["window"]
        new_york = analytics.report(s, viewer(history, "America/New_York"), {})["window"]
    assert (berlin["from"], berlin["to"]) == ("2026-02-28", "2026-03-30")
    assert (new_york["from"], new_york["to"]) == ("2026-02-27", "2026-03-29")


@pytest.mark.parametrize("query, message", [
    ({"from": "2026-03-10", "to": "2026-03-10"}, "from must be before to"),
    ({"from": "2025-01-01", "to": "2026-03-01"}, "at most 366 days"),
    ({"from": "03/01/2026"}, "from: Value error, must be a date as YYYY-MM-DD"),
    ({"tz": "Mars/Olympus"}, "tz: Value error, not a known IANA time zone"),
    ({"urgency": "urgent"}, "urgency: Input should be 'high' or 'low'"),
])
def test_bad_input_is_refused_with_a_clear_message(history, query, message):
    with Session(db.engine()) as s, pytest.raises(Invalid) as refused:
        analytics.report(s, viewer(history), query)
    assert message in refused.value.message


def test_csv_guards_formulas_and_equals_the_rows(history):
    rows = report(history)["sources"]
    parsed = list(csv.reader(io.StringIO(analytics.csv_text("sources", rows))))
    assert parsed[0] == ["source", "alerts", "incidents"]
    assert parsed[1:] == [["prometheus", "5", "4"], ["datadog", "4", "2"], ["grafana", "3", "2"],
                          ["generic", "2", "1"], ["'=2+5", "1", "1"]]


# --- the REST API ------------------------------------------------------------------------------------------------

URL = "/api/v1/analytics"


@pytest.fixture
def api(client, pg_history) -> dict:
    with Session(db.engine(), expire_on_commit=False) as s:
        key, _ = accounts.create_api_key(s, s.get(User, pg_history["viewer"]), name="t", scopes=("read",))
        s.commit()
    return {"Authorization": f"Bearer {key}"}


def test_api_json_is_the_admin_result_and_csv_is_the_json(client, pg_history, api):
    query = {**MARCH, "team_id": pg_history["core"]}
    whole = client.get(URL, params=query, headers=api)
    assert whole.status_code == 200, whole.text
    assert whole.json() == report(pg_history, team_id=pg_history["core"])
    for name, table in analytics.TABLES.items():
        as_json = client.get(f"{URL}/{name}", params=query, headers=api)
        assert as_json.status_code == 200, as_json.text
        rows = as_json.json()["data"]
        assert rows == ([whole.json()[name]] if name == "summary" else whole.json()[name])
        as_csv = client.get(f"{URL}/{name}.csv", params=query, headers=api)
        assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
        assert f'filename="opsknight-{name}-2026-03-01-to-2026-04-01.csv"' in as_csv.headers["content-disposition"]
        parsed = list(csv.DictReader(io.StringIO(as_csv.text)))
        assert parsed == [{c: spreadsheet_safe(r[c]) for c in table.columns} for r in rows], name
        assert len(parsed) == len(rows) and (name != "daily" or len(rows) == 31)


def test_api_days_default_to_the_key_owners_zone(client, pg_history, api):
    with Session(db.engine()) as s:
        s.get(User, pg_history["viewer"]).time_zone = "Europe/Berlin"
        s.commit()
    found = client.get(URL, params=MARCH, headers=api).json()
    assert found["window"]["tz"] == "Europe/Berlin" and found["summary"]["incidents"] == 9
    assert client.get(URL, params={**MARCH, "tz": "UTC"}, headers=api).json()["summary"]["incidents"] == 8


@pytest.mark.parametrize("params, field", [
    ({"from": "yesterday"}, "from"), ({"to": "2026-13-01"}, "to"), ({"tz": "../../etc/passwd"}, "tz"),
    ({"from": "2026-04-01", "to": "2026-03-01"}, "from"), ({"from": "2020-01-01", "to": "2026-01-01"}, "from"),
    ({"team_id": "x"}, "team_id"), ({"service_id": "99999999999"}, "service_id"), ({"urgency": "HIGH"}, "urgency"),
    ({"from": "1-01-01"}, "from"), ({"from": "2026-03-01\x00"}, "body"),
])
def test_api_bad_input_is_a_400_in_the_error_shape(client, pg_history, api, params, field):
    for path in (URL, f"{URL}/people", f"{URL}/people.csv"):
        response = client.get(path, params=params, headers=api)
        assert response.status_code == 400, (path, params, response.text)
        error = response.json()["error"]
        assert error["code"] == "invalid_request" and any(f.startswith(field) for f in error["fields"]), error


def test_api_unknown_team_or_service_is_a_404(client, pg_history, api):
    for params in ({"team_id": "424242"}, {"service_id": "424242"}):
        response = client.get(URL, params=params, headers=api)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", response.text


def test_api_viewer_reads_and_anonymous_is_refused(client, pg_history, api):
    assert client.get(f"{URL}/summary", headers=api).status_code == 200
    for path in (URL, f"{URL}/summary", f"{URL}/daily.csv"):
        response = client.get(path)
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


def spreadsheet_safe(value) -> str:
    """What a CSV cell holds for a JSON value: text that a spreadsheet would run as a formula gets a leading '."""
    text = "" if value is None else str(value)
    return "'" + text if isinstance(value, str) and text[:1] in ("=", "+", "-", "@") else text


def test_admin_layer_refuses_nobody(history):
    with Session(db.engine()) as s, pytest.raises(Forbidden):
        analytics.report(s, None, MARCH)
    with Session(db.engine()) as s, pytest.raises(NotFound):
        analytics.table(s, viewer(history), "nope", MARCH)
