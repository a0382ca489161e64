"""With autovacuum off (as on this machine's PostgreSQL), the reconciler's sweep keeps the planner statistics
of the hot tables fresh, so the webhook's batch dedup lookup probes the index by key instead of reading every
open incident of the service."""

from __future__ import annotations

from sqlalchemy import text

from opsknight import db
from opsknight.engine import planner_stats, reconciler
from tests.factories import make_service
from tests.integration.test_query_plans import _lookup_plan


def _autovacuum() -> str:
    with db.engine().connect() as conn:
        return conn.execute(text("SHOW autovacuum")).scalar_one()


def _fresh_install_statistics() -> None:
    """The incidents table as a new install has it: no pages (earlier tests only deleted rows), analyzed empty."""
    with db.engine().begin() as conn:
        conn.execute(text("TRUNCATE incidents CASCADE"))
        conn.execute(text("ANALYZE incidents"))


def _open_incidents(service_id: int, n: int) -> None:
    with db.engine().begin() as conn:
        conn.execute(text(
            "INSERT INTO incidents (number, title, status, urgency, dedup_key, service_id, alert_count, created_at, "
            "escalation_step, escalation_generation, escalation_repeat) "
            "SELECT g, 't', 'triggered', 'high', 'key-' || g, :service, 1, now(), 0, 0, 0 "
            "FROM generate_series(1, :n) AS g"), {"service": service_id, "n": n})
        conn.execute(text("SELECT pg_stat_force_next_flush()"))  # counters are otherwise flushed within ~1 s


def _index_searches_by_key(plan: str) -> bool:
    return any("Index Cond" in line and "dedup_key" in line for line in plan.splitlines())


def test_the_sweep_analyzes_stale_hot_tables_and_the_lookup_then_searches_by_key(pg, session):
    service = make_service(session)
    _fresh_install_statistics()
    _open_incidents(service.id, 3000)
    if _autovacuum() == "on":  # autovacuum's business, not ours: the sweep leaves the tables alone
        with db.engine().begin() as conn:
            assert planner_stats.analyze_if_stale(conn) == []
        return
    assert not _index_searches_by_key(_lookup_plan(service.id))  # stale: searched by service, keys filtered
    reconciler.reconcile()
    assert _index_searches_by_key(_lookup_plan(service.id))
    with db.engine().begin() as conn:  # fresh now: the next sweep has nothing to do
        assert "incidents" not in planner_stats.analyze_if_stale(conn)


def test_a_few_changes_do_not_trigger_an_analyze(pg, session):
    service = make_service(session)
    _fresh_install_statistics()
    _open_incidents(service.id, 20)  # under autovacuum's threshold of 50 + 10 %
    with db.engine().begin() as conn:
        assert "incidents" not in planner_stats.analyze_if_stale(conn)
