"""Where autovacuum does not run for the incidents table, the reconciler's sweep keeps its planner statistics
fresh, so the webhook's batch dedup lookup probes the index by key instead of reading every open incident of
the service. The tests turn autovacuum off for the table (whatever the server's setting), as a DBA might."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from opsknight import db
from opsknight.engine import planner_stats, reconciler
from tests.factories import make_service
from tests.integration.test_query_plans import _lookup_plan


@pytest.fixture
def no_autovacuum(pg):
    with db.engine().begin() as conn:
        conn.execute(text("ALTER TABLE incidents SET (autovacuum_enabled = false)"))
    yield
    with db.engine().begin() as conn:
        conn.execute(text("ALTER TABLE incidents RESET (autovacuum_enabled)"))


def _analyze_if_stale() -> bool:
    with db.engine().begin() as conn:
        return planner_stats.analyze_incidents_if_stale(conn)


def _fresh_install_statistics() -> None:
    """The incidents table as a new install has it: no pages (earlier tests only deleted rows), analyzed empty."""
    with db.engine().begin() as conn:
        conn.execute(text("TRUNCATE incidents CASCADE"))
        conn.execute(text("ANALYZE incidents"))


def _open_incidents(service_id: int, n: int, first: int = 1) -> None:
    with db.engine().begin() as conn:
        conn.execute(text(
            "INSERT INTO incidents (number, title, status, urgency, dedup_key, service_id, alert_count, created_at, "
            "escalation_step, escalation_generation, escalation_repeat) "
            "SELECT g, 't', 'triggered', 'high', 'key-' || g, :service, 1, now(), 0, 0, 0 "
            "FROM generate_series(:first, :first + :n - 1) AS g"), {"service": service_id, "n": n, "first": first})
        conn.execute(text("SELECT pg_stat_force_next_flush()"))  # counters are otherwise flushed within ~1 s


def _counted_rows() -> int:
    """What the planner's statistics say the incidents table holds."""
    with db.engine().connect() as conn:
        return int(conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = 'incidents'::regclass")).scalar_one())


def _index_searches_by_key(plan: str) -> bool:
    return any("Index Cond" in line and "dedup_key" in line for line in plan.splitlines())


def test_the_sweep_analyzes_stale_statistics_and_the_lookup_then_searches_by_key(no_autovacuum, session):
    service = make_service(session)
    _fresh_install_statistics()
    _open_incidents(service.id, 3000)
    assert _counted_rows() == 0  # the planner still believes the table empty
    reconciler.reconcile()
    assert _counted_rows() == 3000
    assert _index_searches_by_key(_lookup_plan(service.id))
    assert not _analyze_if_stale()  # fresh now: the next sweep has nothing to do


def test_a_few_changes_do_not_trigger_an_analyze(no_autovacuum, session):
    service = make_service(session)
    _fresh_install_statistics()
    _open_incidents(service.id, 20)  # under autovacuum's threshold of 50 + 10 %
    assert not _analyze_if_stale()
    _open_incidents(service.id, 100, first=21)
    assert _analyze_if_stale()
