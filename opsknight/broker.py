"""Redis and RQ plumbing: one connection factory, the queues, and the embedded in-process worker.

With `OPSKNIGHT_REDIS_URL` set we talk to that Redis and workers run as separate `opsknight worker`
processes. Without it (the embedded default) every client shares one fakeredis `FakeServer` inside this
process and a worker thread runs the jobs, so a newcomer gets the whole product from one command.
Redis is only a fast path: PostgreSQL holds the truth and the reconciler rebuilds lost work from it.
"""

from __future__ import annotations

import functools
import logging
import threading
import time

import redis
from rq import Queue, SimpleWorker
from rq.scheduler import RQScheduler
from rq.timeouts import TimerDeathPenalty

from opsknight.config import settings

log = logging.getLogger(__name__)

QUEUE_NAMES = ("urgent", "default")  # paging work first, housekeeping after
INCIDENTS_CHANNEL = "opsknight:incidents"
STATUS_GEN_KEY = "opsknight:status:gen"  # the public status page's cache generation (api.status_cache)


@functools.lru_cache(maxsize=1)
def _fake_server():
    import fakeredis

    return fakeredis.FakeServer()


def redis_conn() -> redis.Redis:
    """A Redis client: the configured server, or the process-wide embedded one."""
    return _redis_conn(settings().redis_url)


@functools.lru_cache(maxsize=4)
def _redis_conn(url: str) -> redis.Redis:
    if not url:
        import fakeredis

        return fakeredis.FakeRedis(server=_fake_server())
    # Short timeouts: a webhook must not hang on a sick Redis (the outbox covers a failed enqueue).
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30)


def reset_redis() -> None:
    _redis_conn.cache_clear()
    _fake_server.cache_clear()


def queue(name: str = "default") -> Queue:
    return Queue(name, connection=redis_conn())


def queues() -> list[Queue]:
    return [queue(n) for n in QUEUE_NAMES]


def publish_incidents_changed(incident_ids: list[int], pipeline=None, status_page: bool = True) -> None:
    """Tell live dashboards that incidents changed, and unless `status_page` is False (a change the public page
    does not show: who was paged, an escalation step, one more alert on an open incident) invalidate the status
    page's cache. Best effort: the UI also resyncs slowly, the status page cache expires. With `pipeline`, the
    commands join it (its caller executes it and handles Redis errors)."""
    message = ",".join(str(i) for i in incident_ids)
    if pipeline is not None:
        pipeline.publish(INCIDENTS_CHANNEL, message)
        if status_page:
            pipeline.incr(STATUS_GEN_KEY)
        return
    try:
        with redis_conn().pipeline(transaction=False) as pipe:
            publish_incidents_changed(incident_ids, pipe, status_page)
            pipe.execute()
    except redis.RedisError as exc:
        log.warning("could not publish incident change: %s", exc)


def invalidate_status_page() -> None:
    """The public status page may have changed (a component or a public update). Best effort, as above."""
    try:
        redis_conn().incr(STATUS_GEN_KEY)
    except redis.RedisError as exc:
        log.warning("could not invalidate the status page cache: %s", exc)


class PagingWorker(SimpleWorker):
    """The RQ worker `opsknight worker` runs: jobs run in-process (no fork per job, so provider clients and
    database connections stay warm), and after Redis trouble it retries every 2 s at most instead of backing off
    to RQ's default of a minute: a page must not wait a minute because Redis blinked."""

    max_connection_wait_time = 2.0


class ThreadWorker(PagingWorker):
    """An RQ worker that can live in a thread: no signal handlers, timer-based job timeouts."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:  # signals only work in the main thread
        pass


def move_scheduled_jobs(stop: threading.Event, poll_seconds: float, reconcile_too: bool) -> None:
    """Move due `enqueue_at` jobs (escalation timers, delayed pages) onto their queues every `poll_seconds`.

    RQ's own scheduler polls once a second; escalation timers should be late by well under a second, so the
    scheduler process (and the embedded runner) polls faster. With `reconcile_too` it also runs the reconciler
    every few seconds (the embedded default has no separate rq-scheduler process).
    """
    from opsknight.engine import reconciler, recurring

    scheduler = RQScheduler(queues(), connection=redis_conn())
    last_reconcile = 0.0
    while not stop.wait(poll_seconds):
        try:
            if not scheduler.acquired_locks or scheduler.should_reacquire_locks:
                scheduler.acquire_locks()
            if scheduler.acquired_locks:
                scheduler.enqueue_scheduled_jobs()
                scheduler.heartbeat()
            if reconcile_too and time.monotonic() - last_reconcile >= recurring.RECONCILE_EVERY_SECONDS:
                last_reconcile = time.monotonic()
                reconciler.reconcile()
        except Exception:  # Redis or the database away for a moment: try again next pass
            log.exception("scheduled-job pass failed")


class EmbeddedRunner:
    """Runs an RQ worker and the scheduled-job mover in daemon threads of this process."""

    def __init__(self, poll_seconds: float = 0.2):
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.worker: ThreadWorker | None = None

    def start(self) -> None:
        conn = redis_conn()
        self.worker = ThreadWorker(queues(), connection=conn)
        self._threads = [
            threading.Thread(target=self._work, name="opsknight-worker", daemon=True),
            threading.Thread(target=move_scheduled_jobs, args=(self._stop, self.poll_seconds, True),
                             name="opsknight-scheduler", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                self.worker.work(logging_level="WARNING", with_scheduler=False)
            except Exception:  # keep the embedded worker alive whatever a job does
                log.exception("embedded worker crashed; restarting")
                time.sleep(1)
                self.worker = ThreadWorker(queues(), connection=redis_conn())

    def stop(self) -> None:
        self._stop.set()
        if self.worker is not None:
            self.worker._stop_requested = True
