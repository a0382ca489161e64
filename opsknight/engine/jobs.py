"""RQ entry points. Each takes ids, re-reads and locks its row in the database, and does nothing if the work is
already done, so running a job twice (a reconciler re-enqueue, an RQ retry) is harmless."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlmodel import Session, select

from opsknight.db import session_scope
from opsknight.engine import clock, process
from opsknight.engine.ingest import PROCESS_INCIDENT
from opsknight.models import OutboxJob

log = logging.getLogger(__name__)

# kind -> handler(db, outbox_row). Handlers run inside the row's transaction and must be idempotent.
OUTBOX_HANDLERS: dict[str, Callable[[Session, OutboxJob], None]] = {
    PROCESS_INCIDENT: process.process_incident,
}


def outbox_job_id(outbox_id: int) -> str:
    """Deterministic RQ job id, so the ingest path and the reconciler never queue the same row twice."""
    return f"outbox-{outbox_id}"


def process_outbox(outbox_id: int) -> str:
    """Run the handler of one outbox row, exactly once."""
    with session_scope() as db:
        row = db.exec(select(OutboxJob).where(OutboxJob.id == outbox_id).with_for_update(skip_locked=True)).first()
        if row is None:
            return "missing-or-locked"
        if row.processed_at is not None:
            return "already-done"
        handler = OUTBOX_HANDLERS.get(row.kind)
        row.attempts += 1
        if handler is None:
            row.last_error = f"no handler for outbox kind {row.kind!r}"
            log.error(row.last_error)
            return "no-handler"
        handler(db, row)
        row.processed_at = clock.now()
        row.last_error = None
        db.add(row)
    return "done"
