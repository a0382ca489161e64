"""The hot queries use their indexes even as generic plans of prepared statements (psycopg prepares repeated
queries). A partial index is only usable when the query's predicate matches it without bind parameters; one
parameter in the wrong place turns the webhook's dedup lookup into a scan of every incident ever stored."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlmodel import select

from opsknight import db
from opsknight.engine import clock
from opsknight.engine.ingest import OPEN_INCIDENT, SELECT_OPEN
from opsknight.models import Incident


def _generic_plan(statement, params: dict | None = None) -> str:
    """`params`: values for a statement built with bind parameters (like ingest's own)."""
    if params is None:
        compiled = statement.compile(dialect=postgresql.dialect(), compile_kwargs={"render_postcompile": True})
        sql, values = str(compiled), compiled.params
    else:
        expanded = statement.compile(dialect=postgresql.dialect()).construct_expanded_state(params)
        sql, values = expanded.statement, expanded.parameters
    names = list(values)
    sql = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", sql)
    with db.engine().connect() as conn:
        conn.execute(text("SET plan_cache_mode = force_generic_plan"))
        conn.execute(text("SET enable_seqscan = off"))  # an index the planner *can* use wins on a small table
        conn.exec_driver_sql(f"PREPARE q AS {sql}")
        args = ", ".join(f"'{value}'" for value in values.values())
        plan = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN EXECUTE q({args})"))
        conn.exec_driver_sql("DEALLOCATE q")
    return plan


def _lookup_plan(service_id: int) -> str:
    """The generic plan of ingest's own batch dedup lookup (two keys) for this service."""
    return _generic_plan(SELECT_OPEN, {"service_id": service_id, "keys": ["key-1", "key-2"]})


def test_open_incident_lookup_uses_the_partial_unique_index(pg):
    query = select(Incident.id).where(Incident.service_id == 1, Incident.dedup_key.in_(["a", "b"]), OPEN_INCIDENT)
    assert "uq_incidents_open_dedup" in _generic_plan(query)


def test_a_parameterised_status_would_not(pg):
    # The trap the literal avoids: the same lookup with the status as a bind parameter cannot use the index.
    query = select(Incident.id).where(Incident.service_id == 1, Incident.dedup_key.in_(["a"]),
                                      Incident.status != "resolved")
    assert "uq_incidents_open_dedup" not in _generic_plan(query)


def test_due_timer_sweep_uses_its_partial_index(pg):
    query = select(Incident.id).where(Incident.next_escalation_at <= clock.now() - timedelta(seconds=2))
    assert "ix_incidents_due_escalation" in _generic_plan(query)
