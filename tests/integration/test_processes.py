"""`opsknight worker` and `opsknight scheduler` as real processes: an outbox row whose enqueue was lost (a crash
between commit and enqueue) is found by the scheduler's reconciler and processed by the worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sqlmodel import Session

from opsknight import db
from opsknight.engine import clock
from opsknight.models import Incident, OutboxJob
from tests.factories import make_policy, make_service
from tests.integration.conftest import rows

BIN = Path(sys.executable).parent


def _start(command: str, pg: str, redis_url: str, tmp_path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSKNIGHT_")}
    env.update(OPSKNIGHT_DATABASE_URL=pg, OPSKNIGHT_REDIS_URL=redis_url, OPSKNIGHT_DATA_DIR=str(tmp_path),
               OPSKNIGHT_LOG_LEVEL="WARNING")
    return subprocess.Popen([str(BIN / "opsknight"), command], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(tmp_path / f"{command}.log", "w"), start_new_session=True)


def test_lost_enqueue_is_recovered_by_scheduler_and_worker(pg, redis_url, tmp_path):
    with Session(db.engine(), expire_on_commit=False) as s:
        service = make_service(s, policy=make_policy(s, steps=[[("user", 1)]]))
        now = clock.now()
        incident = Incident(number=1, title="enqueue lost", dedup_key="k", service_id=service.id, created_at=now)
        s.add(incident)
        s.flush()
        s.add(OutboxJob(kind="process_incident", incident_id=incident.id, payload={"incident_id": incident.id},
                        created_at=now, available_at=now))
        s.commit()  # committed, never enqueued: what a crash right after the commit leaves behind

    procs = [_start("scheduler", pg, redis_url, tmp_path), _start("worker", pg, redis_url, tmp_path)]
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            (outbox,) = rows(OutboxJob)
            if outbox.processed_at is not None:
                break
            assert all(p.poll() is None for p in procs), (tmp_path / "worker.log").read_text()
            time.sleep(0.5)
        else:
            raise AssertionError("outbox row not processed within 30 s:\n"
                                 + (tmp_path / "scheduler.log").read_text() + (tmp_path / "worker.log").read_text())
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    assert rows(Incident)[0].escalation_policy_snapshot["steps"][0]["targets"] == [{"type": "user", "id": 1}]
