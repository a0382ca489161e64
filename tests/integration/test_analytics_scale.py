"""Analytics at scale on PostgreSQL: 100,000 incidents over a year (with ~2.5 alerts and ~2.5 deliveries each),
bulk-inserted with INSERT ... SELECT FROM generate_series, then every query the page runs for a 30-day window —
unfiltered and filtered — must finish in under a second and read the big tables through their indexes
(EXPLAIN (FORMAT JSON) of the very statements executed, with their parameters: no Seq Scan on incidents, alerts
or deliveries)."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import event, text
from sqlmodel import Session

from opsknight import accounts, db
from opsknight.admin import analytics

pytestmark = pytest.mark.slow

BIG_TABLES = {"incidents", "alerts", "deliveries"}
INCIDENTS = 100_000
SEED = """
INSERT INTO teams (name, description, created_at)
  SELECT 'team-' || t, '', now() FROM generate_series(1, 4) t;
INSERT INTO services (name, description, team_id, default_urgency, urgency_from_severity, created_at)
  SELECT 'service-' || s, '', 1 + s % 4, 'high', true, now() FROM generate_series(1, 20) s;
INSERT INTO users (email, name, role, time_zone, status, created_at)
  SELECT 'u' || u || '@load.example.com', 'User ' || u, 'responder',
         (ARRAY['UTC', 'America/New_York', 'Europe/Berlin', 'Asia/Tokyo'])[1 + u % 4], 'active', now()
  FROM generate_series(1, 40) u;
-- One incident every 315 s: 100,000 of them span 364 days from 2025-03-01. A tenth still open; every 50th merged.
INSERT INTO incidents (number, title, status, urgency, dedup_key, service_id, alert_count, created_at,
                       acknowledged_at, acknowledged_by_id, resolved_at, escalation_step, escalation_generation,
                       escalation_repeat, merged_into_id)
  SELECT g, 'load ' || g, CASE WHEN g % 10 = 0 THEN 'triggered' ELSE 'resolved' END,
         CASE WHEN g % 3 = 0 THEN 'low' ELSE 'high' END, 'k' || g, 1 + g % 20, 2 + g % 2,
         timestamptz '2025-03-01 00:00Z' + g * interval '315 seconds',
         CASE WHEN g % 10 <> 0 THEN timestamptz '2025-03-01 00:00Z' + g * interval '315 seconds'
                                    + (g % 900) * interval '1 second' END,
         CASE WHEN g % 10 <> 0 THEN 1 + g % 40 END,
         CASE WHEN g % 10 <> 0 THEN timestamptz '2025-03-01 00:00Z' + g * interval '315 seconds'
                                    + (900 + g % 7200) * interval '1 second' END,
         g % 2, 1, 0, CASE WHEN g % 50 = 0 THEN g - 1 END
  FROM generate_series(1, :n) g;
INSERT INTO alerts (incident_id, source, action, dedup_key, summary, payload, received_at)
  SELECT i.id, 'source-' || (i.id + k) % 12, 'trigger', i.dedup_key, 'x', '{}'::jsonb,
         i.created_at + k * interval '40 seconds'
  FROM incidents i, generate_series(1, 2 + i.id % 2) k;
INSERT INTO deliveries (incident_id, user_id, channel, target, status, attempts, idempotency_key,
                        escalation_generation, escalation_step, created_at, sent_at, responder_request)
  SELECT i.id, 1 + (i.id + k) % 40, (ARRAY['sms', 'email', 'push'])[1 + k % 3], 'x', 'sent', 1,
         i.id || '-' || k, 1, CASE WHEN k = 3 THEN 1 ELSE 0 END, i.created_at + k * interval '20 seconds',
         i.created_at + k * interval '20 seconds', false
  FROM incidents i, generate_series(1, 2 + (i.id / 2) % 2) k;
"""
WINDOW = {"from": "2025-09-01", "to": "2025-10-01", "tz": "Europe/Berlin"}


@pytest.fixture
def big(session) -> accounts.Principal:
    started = time.perf_counter()
    for statement in SEED.split(";\n"):
        if statement.strip():
            session.execute(text(statement), {"n": INCIDENTS})
    session.commit()
    with db.engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE incidents, alerts, deliveries, services, users, teams"))
    counts = {t: session.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in sorted(BIG_TABLES)}
    print(f"seeded {counts} in {time.perf_counter() - started:.1f} s")
    assert counts["incidents"] == INCIDENTS and counts["alerts"] > 2 * INCIDENTS
    return accounts.Principal(user_id=1, email="u1@load.example.com", name="User 1", role="viewer")


def _scans(plan: dict) -> list[tuple[str, str]]:
    """(node type, relation) for every node of the plan that reads a table."""
    found = [(plan["Node Type"], plan["Relation Name"])] if "Relation Name" in plan else []
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


FILTERS = {"unfiltered": {}, "team and urgency": {"team_id": 2, "urgency": "high"}, "service": {"service_id": 7}}


def _explain(connection, statement: str, parameters) -> list[tuple[str, str]]:
    cursor = connection.connection.dbapi_connection.cursor()
    cursor.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
    plan = cursor.fetchone()[0]
    return _scans((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"])


def test_every_analytics_query_is_fast_and_uses_indexes(big):
    """One seeding (the expensive part, ~15-20 s), then each filter: every figure's one statement timed and
    EXPLAINed exactly as it ran."""
    slow, unindexed = [], []
    for label, filters in FILTERS.items():
        statements: list[tuple[str, object]] = []

        def capture(_conn, _cursor, statement, parameters, _context, _many):
            statements.append((statement, parameters))

        with Session(db.engine()) as s:
            scope = analytics.scope_for(s, big, {**WINDOW, **filters})
            connection = s.connection()
            event.listen(connection, "before_cursor_execute", capture)
            timings = {}
            for name, table in analytics.TABLES.items():
                started = time.perf_counter()
                assert table.rows(s, scope), (label, name)
                timings[name] = time.perf_counter() - started
            event.remove(connection, "before_cursor_execute", capture)
            print(label, {k: f"{v * 1000:.0f} ms" for k, v in timings.items()})
            slow += [(label, name, seconds) for name, seconds in timings.items() if seconds >= 1.0]
            assert len(statements) == len(analytics.TABLES)  # one statement per figure
            for (statement, parameters), name in zip(statements, analytics.TABLES):
                scans = [scan for scan in _explain(connection, statement, parameters) if scan[1] in BIG_TABLES]
                assert scans, (label, name)
                if any(node == "Seq Scan" for node, _ in scans):
                    unindexed.append((label, name, scans))
    assert slow == [] and unindexed == []
