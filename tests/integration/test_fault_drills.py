"""Fault drills: real `opsknight worker` and `opsknight scheduler` processes, a private redis-server we can kill,
flush and restart, PostgreSQL, and the real Twilio SDK talking to a fake in this process. Each drill breaks
something in the middle of paging and asserts: every page still goes out, at most once more than planned, within
30 s, counted at the fake (requests per recipient) and in the Delivery rows.

a. `kill -9` of a worker (its whole process group, work horse included) while it waits on the provider: the
   lease on the "sending" row runs out (shortened with OPSKNIGHT_SEND_LEASE_SECONDS) and another worker sends
   it again: exactly one duplicate, never zero pages.
b. FLUSHALL of Redis (1) between the webhook's commit and any worker picking the job up (worker stopped, alert
   posted, flush, new worker) and (2) while the step-2 escalation timer is pending. Escalation delays are whole
   minutes, so (2) moves the incident's `next_escalation_at` forward in the database instead of waiting 60 s:
   the timer that was lost with Redis must be rebuilt from PostgreSQL by the reconciler.
c. Redis down (SHUTDOWN NOSAVE) and back on the same port, empty: the webhook still answers 2xx while it is down
   (the alert is committed to PostgreSQL), and the page goes out within 30 s of Redis coming back, with the same
   worker and scheduler processes (nobody restarts them).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from rq import Worker
from sqlmodel import Session, select

from opsknight import broker, db
from opsknight.api import create_api
from opsknight.config import reset_settings
from opsknight.engine import clock
from opsknight.models import Delivery, EscalationStep, Incident
from tests.dbutil import skip_or_fail
from tests.factories import make_integration, make_policy, make_service
from tests.fakes.twilio import TwilioFake
from tests.integration.conftest import rows
from tests.integration.test_paging import person

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
ANN, BOB = "+15551230001", "+15551230002"
LEASE_SECONDS = 4  # the production lease is 2 minutes: far too long for a 30 s drill
DEADLINE = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, chars: int = 3000) -> str:
    return f"\n--- {path.name} ---\n" + (path.read_text(errors="replace")[-chars:] if path.exists() else "(none)")


def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _exists(pid: int) -> bool:
    try:
        os.getpgid(pid)
        return True
    except ProcessLookupError:
        return False


class SlowTwilio(TwilioFake):
    """TwilioFake that notes each request when it arrives (so a test sees a send in flight) and can answer late."""

    def __init__(self) -> None:
        super().__init__()
        self.delay = 0.0
        self.arrivals: list[tuple[float, str]] = []  # (monotonic time, To)
        quiet = self._server.handle_error  # a killed worker's socket is gone when the late answer is written

        def handle_error(request, client_address):
            if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                quiet(request, client_address)

        self._server.handle_error = handle_error

    def dispatch(self, req):
        with self._cond:
            self.arrivals.append((time.monotonic(), req.form.get("To", "")))
            delay = self.delay
            self._cond.notify_all()
        if delay:
            time.sleep(delay)
        return super().dispatch(req)

    def count(self, to: str) -> int:
        with self._cond:
            return sum(1 for _, t in self.arrivals if t == to)

    def wait_arrival(self, to: str, n: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: sum(1 for _, t in self.arrivals if t == to) >= n, timeout=timeout)


class PrivateRedis:
    """A redis-server of our own on a free port, without persistence, so a drill may kill or flush it."""

    def __init__(self, exe: str, workdir: Path) -> None:
        self.exe, self.workdir, self.port = exe, workdir, _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None
        self.log = workdir / "redis.log"

    def start(self) -> PrivateRedis:
        self.proc = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir), "--protected-mode", "no"],
            stdout=open(self.log, "a"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client().ping()
                return self
            except redis.RedisError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("private redis-server did not start" + _tail(self.log)) from None
                time.sleep(0.05)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=2)

    def shutdown(self) -> None:
        """SHUTDOWN NOSAVE: everything in memory is gone, as after a crash of a cache-only Redis."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.client().shutdown(nosave=True)
        except redis.RedisError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Drill:
    """The processes of one drill and the helpers to break things and watch the pages."""

    def __init__(self, pg_url: str, rds: PrivateRedis, fake: SlowTwilio, token: str, tmp: Path):
        self.pg_url, self.redis, self.fake, self.token, self.tmp = pg_url, rds, fake, token, tmp
        self.procs: list[tuple[subprocess.Popen, Path]] = []
        self.api = TestClient(create_api())

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPSKNIGHT_")}
        env.update(OPSKNIGHT_DATABASE_URL=self.pg_url, OPSKNIGHT_REDIS_URL=self.redis.url,
                   OPSKNIGHT_DATA_DIR=str(self.tmp), OPSKNIGHT_LOG_LEVEL="INFO",
                   OPSKNIGHT_BASE_URL="http://opsknight.test", OPSKNIGHT_SEND_LEASE_SECONDS=str(LEASE_SECONDS),
                   OPSKNIGHT_TWILIO_ACCOUNT_SID=self.fake.account_sid, OPSKNIGHT_TWILIO_AUTH_TOKEN=self.fake.auth_token,
                   OPSKNIGHT_TWILIO_FROM_NUMBER="+15005550006", OPSKNIGHT_TWILIO_API_URL=self.fake.url)
        return env

    def start(self, command: str) -> subprocess.Popen:
        log = self.tmp / f"{command}-{len(self.procs)}.log"
        proc = subprocess.Popen([str(BIN / "opsknight"), command], env=self.env(), stdout=subprocess.DEVNULL,
                                stderr=open(log, "w"), start_new_session=True)
        self.procs.append((proc, log))
        return proc

    def wait_workers(self, n: int, timeout: float = 15) -> None:
        """Until n live RQ workers are registered in Redis (a started worker is listening)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if len([w for w in Worker.all(connection=self.redis.client()) if w.state != "suspended"]) >= n:
                    return
            except redis.RedisError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{n} worker(s) not registered in {timeout} s" + self.logs())

    def kill9(self, proc: subprocess.Popen) -> None:
        """SIGKILL the worker and its work horse, as a lost machine or pod would. RQ forks the horse that runs the
        job into a process group of its own (`os.setpgrp`), so killing the worker's group alone would leave the
        send running: every descendant's group is killed too."""
        groups = {proc.pid} | {os.getpgid(pid) for pid in _descendants(proc.pid) if _exists(pid)}
        for group in groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=10)

    def stop(self, proc: subprocess.Popen) -> None:
        """A clean stop (SIGTERM: RQ finishes the current job, then exits)."""
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop_all(self) -> None:
        for proc, _ in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc, _ in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def logs(self) -> str:
        status = ", ".join(f"{log.stem}: {'running' if p.poll() is None else f'exited {p.returncode}'}"
                           for p, log in self.procs)
        return f"\nprocesses: {status}" + "".join(_tail(log) for _, log in self.procs) + _tail(self.redis.log, 800)

    def assert_alive(self) -> None:
        dead = [(p.args[-1], p.returncode) for p, _ in self.procs if p.poll() is not None and p.returncode != 0
                and p.returncode != -signal.SIGKILL and p.returncode != -signal.SIGTERM]
        assert not dead, f"processes died on their own: {dead}" + self.logs()

    def post_alert(self, summary: str) -> float:
        """Send one alert (a new incident); returns how long the webhook took to answer 2xx."""
        t0 = time.monotonic()
        response = self.api.post("/api/webhooks/generic", json={"summary": summary, "severity": "critical"},
                                 headers={"Authorization": f"Bearer {self.token}"})
        took = time.monotonic() - t0
        assert 200 <= response.status_code < 300, response.text
        return took

    def wait_sent(self, expect: dict[str, int], since: float, what: str) -> float:
        """Wait (at most DEADLINE from `since`) until each recipient's deliveries are all sent and the fake saw at
        least the planned requests; then allow a moment for stragglers and check "at most once more". Returns the
        seconds from `since` until the pages were out."""
        deadline = since + DEADLINE
        while True:
            done = all(self.fake.count(to) >= n for to, n in expect.items()) and self._sent_rows(expect)
            if done:
                took = time.monotonic() - since
                break
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{what}: pages not out within {DEADLINE:.0f} s: fake saw "
                    f"{ {to: self.fake.count(to) for to in expect} }, planned {expect}; deliveries "
                    f"{[(d.target, d.status, d.attempts, d.error) for d in rows(Delivery)]}" + self.logs())
            time.sleep(0.1)
        time.sleep(1.0)  # a second page right behind the first would show up here
        counts = {to: self.fake.count(to) for to in expect}
        assert all(n <= counts[to] <= n + 1 for to, n in expect.items()), (
            f"{what}: requests per recipient {counts}, planned {expect} (at most once more allowed)")
        return took

    def _sent_rows(self, expect: dict[str, int]) -> bool:
        deliveries = rows(Delivery)
        for to, n in expect.items():
            mine = [d for d in deliveries if d.target == to]
            if len(mine) != (1 if n else 0) or any(d.status != "sent" for d in mine):
                return False
        return True


@pytest.fixture
def drill(pg, monkeypatch, tmp_path):
    exe = shutil.which("redis-server")
    if exe is None:
        skip_or_fail("redis-server binary not found: the fault drills start a private Redis they can kill")
    rds = PrivateRedis(exe, tmp_path).start()
    fake = SlowTwilio().start()
    drill = None
    try:
        monkeypatch.setenv("OPSKNIGHT_REDIS_URL", rds.url)  # the webhook in this process enqueues there too
        reset_settings()
        broker.reset_redis()
        with Session(db.engine(), expire_on_commit=False) as s:
            ann = person(s, "Ann", ANN)
            bob = person(s, "Bob", BOB)
            policy = make_policy(s, steps=[[("user", ann)], [("user", bob)]])
            for step in s.exec(select(EscalationStep).where(EscalationStep.policy_id == policy.id)):
                step.delay_minutes = 1  # step 1: Ann; after 1 minute, step 2: Bob
                s.add(step)
            s.commit()
            token, _ = make_integration(s, make_service(s, policy=policy), "generic")
        drill = Drill(pg, rds, fake, token, tmp_path)
        yield drill
    finally:
        if drill is not None:
            drill.stop_all()
        rds.shutdown()
        fake.stop()
    fake.take()  # counted via arrivals; anything the fake found wrong still fails the drill
    assert not fake._problems, fake._problems


def test_kill9_worker_mid_send_pages_once_more_at_most(drill):
    drill.fake.delay = 3.0  # the provider is slow: the worker is stuck inside the send when we kill it
    drill.start("scheduler")
    first = drill.start("worker")
    drill.wait_workers(1)
    drill.post_alert("Checkout is down")
    assert drill.fake.wait_arrival(ANN, 1, timeout=15), "the first SMS never reached the provider" + drill.logs()
    drill.kill9(first)
    killed_at = time.monotonic()
    drill.fake.delay = 0.0
    (delivery,) = rows(Delivery)
    assert delivery.status == "sending"  # the worker died between the provider call and recording it
    drill.start("worker")

    took = drill.wait_sent({ANN: 1}, since=killed_at, what="kill -9 mid-send")
    assert drill.fake.count(ANN) == 2  # the in-flight one the provider got, and the resend after the lease
    (delivery,) = rows(Delivery)
    assert delivery.status == "sent" and delivery.attempts == 2
    assert drill.fake.count(BOB) == 0  # step 2 is a minute away
    drill.assert_alive()
    print(f"kill -9 drill: page re-sent {took:.1f} s after the kill (lease {LEASE_SECONDS} s)")


def test_flushall_loses_queued_jobs_and_timers_but_no_page(drill):
    drill.start("scheduler")
    first = drill.start("worker")
    drill.wait_workers(1)
    drill.stop(first)  # nobody takes the job before the flush

    # (1) the outbox job: committed in PostgreSQL, queued in Redis, then Redis forgets it
    drill.post_alert("Checkout is down")
    drill.redis.client().flushall()
    flushed_at = time.monotonic()
    drill.start("worker")
    took_outbox = drill.wait_sent({ANN: 1}, since=flushed_at, what="FLUSHALL before pickup")

    # (2) the step-2 timer: scheduled in Redis, flushed; its due time comes (moved forward: delays are minutes)
    (incident,) = rows(Incident)
    assert incident.next_escalation_at is not None and incident.escalation_step == 0
    drill.redis.client().flushall()
    flushed_at = time.monotonic()
    with Session(db.engine()) as s:
        row = s.get(Incident, incident.id)
        row.next_escalation_at = clock.now() + timedelta(seconds=1)
        s.add(row)
        s.commit()
    took_timer = drill.wait_sent({ANN: 1, BOB: 1}, since=flushed_at, what="FLUSHALL with a pending escalation")
    assert drill.fake.count(ANN) == 1 and drill.fake.count(BOB) == 1  # nothing doubled by the rebuild
    assert rows(Incident)[0].escalation_step == 1
    drill.assert_alive()
    print(f"flush drill: outbox rebuilt and paged in {took_outbox:.1f} s, lost timer in {took_timer:.1f} s")


def test_redis_restart_with_work_pending(drill):
    drill.start("scheduler")
    drill.start("worker")
    drill.wait_workers(1)

    drill.redis.shutdown()
    answered_in = drill.post_alert("Checkout is down while Redis is down")  # accepted durably: 2xx
    assert answered_in < 5, f"the webhook hung {answered_in:.1f} s on a dead Redis"
    assert len(rows(Incident)) == 1
    time.sleep(2)  # the workers and the scheduler notice Redis is gone
    drill.redis.start()  # same port, empty
    back_at = time.monotonic()

    took = drill.wait_sent({ANN: 1}, since=back_at, what="Redis restart")
    assert drill.fake.count(ANN) == 1
    drill.assert_alive()
    print(f"restart drill: webhook answered in {answered_in * 1000:.0f} ms with Redis down; "
          f"paged {took:.1f} s after Redis came back")

