"""Fresh PostgreSQL planner statistics for the incidents table where autovacuum does not keep them.

The webhook's dedup lookup for a batch probes the partial unique index key by key only while the planner's
statistics know the incidents table is large; with statistics from an empty table it reads every open incident
of the service on every batch (README, Performance: PostgreSQL CPU per batch doubled over a benchmark run).
Autovacuum keeps statistics fresh on its own and is on by default. Where it is off (for the server, or for the
table with `autovacuum_enabled = false`), the reconciler's sweep analyzes the table by autovacuum's own rule:
more rows changed since the last ANALYZE than 50 + 10 % of the table. Only this table: it is the one whose plan
matters, and the sweep also moves escalation timers, so it must stay short. ANALYZE blocks no reads or writes;
it waits at most a second for a lock (a migration, a VACUUM) and is skipped where our role does not own the
table (PostgreSQL would only warn and leave the statistics stale, every sweep).
"""

from __future__ import annotations

from sqlalchemy import Connection, text

_STALE = text("""
SELECT 1 FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid
WHERE s.schemaname = current_schema() AND s.relname = 'incidents'
  AND (current_setting('autovacuum') = 'off'
       OR 'autovacuum_enabled=false' = ANY(c.reloptions) OR 'autovacuum_enabled=off' = ANY(c.reloptions))
  AND s.n_mod_since_analyze > 50 + 0.1 * s.n_live_tup
  AND pg_has_role(c.relowner, 'USAGE')""")


def analyze_incidents_if_stale(conn: Connection) -> bool:
    """ANALYZE incidents when autovacuum will not and its statistics are stale. True when it did."""
    if conn.dialect.name != "postgresql" or conn.execute(_STALE).first() is None:
        return False
    conn.execute(text("SET LOCAL lock_timeout = '1s'"))
    conn.execute(text("ANALYZE incidents"))
    return True
