"""Fresh PostgreSQL planner statistics where autovacuum is turned off.

The webhook's dedup lookup for a batch probes the partial unique index key by key only while the planner's
statistics know the incidents table is large; with statistics from an empty table it reads every open incident
of the service on every batch (README, Performance: PostgreSQL CPU per batch doubled over a benchmark run).
Autovacuum keeps statistics fresh on its own and is on by default. Where it is off, the reconciler's sweep
analyzes the hot tables by autovacuum's own rule: more rows changed since the last ANALYZE than 50 + 10 % of the
table. ANALYZE takes no lock that blocks reads or writes.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, text

HOT_TABLES = ("incidents", "alerts", "timeline_events", "outbox_jobs", "deliveries")
_STALE = text("SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
              "AND relname IN :tables AND n_mod_since_analyze > 50 + 0.1 * n_live_tup ORDER BY relname"
              ).bindparams(bindparam("tables", expanding=True))


def analyze_if_stale(conn: Connection) -> list[str]:
    """ANALYZE the hot tables whose statistics are stale, when autovacuum is off. Returns the tables analyzed."""
    if conn.dialect.name != "postgresql" or conn.execute(text("SHOW autovacuum")).scalar_one() == "on":
        return []
    stale = list(conn.execute(_STALE, {"tables": list(HOT_TABLES)}).scalars())
    for table in stale:  # names from HOT_TABLES above, never from input
        conn.execute(text(f'ANALYZE "{table}"'))
    return stale
