"""Dispatch benchmark: how fast an alert becomes a page, and how late escalation timers fire, on real processes.

    .venv/bin/python bench/dispatch.py [--quick] [--workers 2] [--rate 20] [--seconds 20] [--timers/--no-timers]

What it does, against a throw-away PostgreSQL database and Redis database 13 (dropped/emptied at the end):

1. Starts a Twilio fake (tests/fakes/twilio.py, answering at once) in this process, the webhook API (the same
   FastAPI app the product mounts) under uvicorn in a subprocess, N `opsknight worker` processes and one
   `opsknight scheduler`, all in production mode and pointed at the fake with OPSKNIGHT_TWILIO_API_URL.
2. Open loop: alerts at a steady rate (default 20/s for 20 s; --quick: 10 s), sent on schedule whatever the
   answers do. Every alert opens a new incident on its own service, whose policy pages user A_i by SMS at once
   and escalates to user B_i after 1 minute. One service and phone pair per alert, because SMS pacing (one message
   per phone per 60 s, the rest bundled) would otherwise delay and merge the pages: we measure the engine, not
   the pacing policy.
3. alert -> first page: from the moment the client sends the webhook request to the moment the fake receives the
   SMS for A_i (webhook commit + enqueue, process_outbox, send_delivery, the real Twilio SDK call).
4. timer lateness: each incident's `next_escalation_at` (read from PostgreSQL after step 1) against the moment
   the fake receives B_i's SMS: how late the 1-minute timer fires, end to end (timer mover, escalate job,
   send_delivery). This part waits for the last timer (~65 s more); --quick skips it unless --timers is given.

Every A_i must get exactly one SMS (and every B_i one, when timers are measured): missing or duplicate pages are
reported. The last output line is one JSON object with every figure.
Caveat: everything (load generator, fake, API, workers, PostgreSQL, Redis) shares this machine's cores.
"""

from __future__ import annotations

import argparse, asyncio, json, os, secrets, signal, subprocess, sys, time, uuid
from datetime import timezone
from pathlib import Path

import httpx
import redis
from sqlalchemy import create_engine, text

from _procs import free_port, scratch, stop  # bench/ is the script's directory, first on sys.path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.fakes

REDIS_URL = "redis://127.0.0.1:6379/13"  # ingest.py uses 14, the test suite 15
BIN = Path(sys.executable).parent
TARGETS = {"p95_alert_to_page_ms": 250, "p99_timer_lateness_ms": 1000}
WARMUP_SECONDS = 2  # also reported without the alerts of the first seconds (cold worker processes)
INF = float("inf")  # a page that never came within the wait


def pct(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile; None when empty or when it falls on a page that never came (INF)."""
    if not values:
        return None
    value = sorted(values)[min(len(values) - 1, int(p / 100 * len(values)))]
    return None if value == INF else round(value, 1)


def summary(values: list[float], ps=(50, 95, 99, 100)) -> dict:
    return {"n": len(values), "never": sum(1 for v in values if v == INF),
            **{("max" if p == 100 else f"p{p}"): pct(values, p) for p in ps}}


def phone(kind: int, i: int) -> str:
    return f"+1555{kind}{i:06d}"  # kind 1: step-1 user A_i, kind 2: step-2 user B_i


def make_fake():
    from tests.fakes.twilio import TwilioFake

    class TimedTwilio(TwilioFake):
        """Answers at once; notes when each message arrived (wall clock), by recipient."""

        def __init__(self) -> None:
            super().__init__()
            self.arrived: dict[str, list[float]] = {}

        def dispatch(self, req):
            at = time.time()
            reply = super().dispatch(req)
            with self._cond:
                self.arrived.setdefault(req.form.get("To", ""), []).append(at)
                self._pending.clear()  # the base class keeps every request for tests; we only need the times
            return reply

        def first(self, to: str) -> float | None:
            with self._cond:
                times = self.arrived.get(to)
                return times[0] if times else None

        def counts(self) -> dict[str, int]:
            with self._cond:
                return {to: len(t) for to, t in self.arrived.items()}

    return TimedTwilio()


def setup(db_url: str, n: int) -> dict[int, str]:
    """n services, each with a policy: A_i now, B_i after 1 minute. Returns index -> integration token."""
    from sqlmodel import Session

    from opsknight import accounts, integrations, migrate
    from opsknight.db import make_engine
    from opsknight.models import (
        ContactMethod, EscalationPolicy, EscalationStep, EscalationStepTarget, NotificationRule, Service,
    )

    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    tokens = {}
    with Session(engine) as db:
        for i in range(n):
            users = []
            for kind in (1, 2):
                user = accounts.create_user(db, email=f"u{kind}-{i}@bench.example.com", name=f"User {kind}-{i}")
                contact = ContactMethod(user_id=user.id, kind="sms", address=phone(kind, i), verified=True)
                db.add(contact)
                db.flush()
                db.add(NotificationRule(user_id=user.id, contact_method_id=contact.id, urgency="high", delay_minutes=0))
                users.append(user.id)
            policy = EscalationPolicy(name=f"bench-policy-{i}", repeat_count=0)
            db.add(policy)
            db.flush()
            for position, user_id in enumerate(users):
                step = EscalationStep(policy_id=policy.id, position=position, delay_minutes=1)
                db.add(step)
                db.flush()
                db.add(EscalationStepTarget(step_id=step.id, target_type="user", target_id=user_id))
            service = Service(name=f"bench-{i}", escalation_policy_id=policy.id)
            db.add(service)
            db.flush()
            tokens[i] = integrations.create_integration(db, service, source_type="generic")[0]
        db.commit()
    engine.dispose()
    return tokens


def env_for(db_url: str, fake, workdir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSKNIGHT_")}
    env.update(PATH=f"{BIN}:{env.get('PATH', '')}", OPSKNIGHT_ENV="production",
               OPSKNIGHT_SECRET_KEY=secrets.token_urlsafe(48), OPSKNIGHT_DATABASE_URL=db_url,
               OPSKNIGHT_REDIS_URL=REDIS_URL, OPSKNIGHT_BASE_URL=f"http://127.0.0.1:{port}",
               OPSKNIGHT_DATA_DIR=str(workdir), OPSKNIGHT_EMBEDDED_WORKER="false", OPSKNIGHT_LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
               OPSKNIGHT_ENQUEUE_RATE_PER_MINUTE="10000000",
               OPSKNIGHT_TWILIO_ACCOUNT_SID=fake.account_sid, OPSKNIGHT_TWILIO_AUTH_TOKEN=fake.auth_token,
               OPSKNIGHT_TWILIO_FROM_NUMBER="+15005550006", OPSKNIGHT_TWILIO_API_URL=fake.url)
    return env


def start(name: str, argv: list[str], env: dict, workdir: Path) -> tuple[subprocess.Popen, Path]:
    log = workdir / f"{name}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, log


def wait_ready(base: str, procs, workers: int) -> None:
    from rq import Worker

    conn = redis.Redis.from_url(REDIS_URL)
    deadline = time.monotonic() + 60
    while True:
        for proc, log in procs:
            if proc.poll() is not None:
                sys.exit(f"{log.stem} exited early:\n{log.read_text()[-3000:]}")
        try:
            api_ok = httpx.get(f"{base}/api/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            api_ok = False
        if api_ok and len(Worker.all(connection=conn)) >= workers:
            return
        if time.monotonic() > deadline:
            sys.exit("the API or the workers did not start within 60 s")
        time.sleep(0.2)


async def send_alerts(base: str, tokens: dict[int, str], rate: float) -> tuple[dict[int, float], dict]:
    """Open loop: alert i is sent at t0 + i/rate. Returns index -> wall-clock send time (of the 2xx ones)."""
    sent, statuses, late = {}, {}, []
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        async def one(i: int) -> None:
            started = time.time()
            try:
                r = await client.post("/api/webhooks/generic", headers={"Authorization": f"Bearer {tokens[i]}"},
                                      json={"summary": f"Checkout 5xx above 5% (bench {i})", "severity": "critical",
                                            "dedup_key": uuid.uuid4().hex})
                status = str(r.status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            statuses[status] = statuses.get(status, 0) + 1
            if status.startswith("2"):
                sent[i] = started

        t0, tasks = time.perf_counter(), []
        for i in range(len(tokens)):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            late.append(max(0.0, -delay))
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return sent, {"statuses": statuses, "max_send_lag_ms": round(max(late) * 1000, 1)}


def wait_for(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.25)
    return pred()


def escalation_due(db_url: str) -> dict[int, float]:
    """Service index -> the incident's next_escalation_at (epoch seconds), read while step 1 is current."""
    engine = create_engine(db_url)
    with engine.connect() as conn:
        result = conn.execute(text(
            "SELECT s.name, i.next_escalation_at FROM incidents i JOIN services s ON s.id = i.service_id "
            "WHERE i.next_escalation_at IS NOT NULL AND i.escalation_step = 0")).all()
    engine.dispose()
    return {int(name.split("-")[1]): (due if due.tzinfo else due.replace(tzinfo=timezone.utc)).timestamp()
            for name, due in result}


def run(args, db_url: str, workdir: Path) -> dict:
    n = int(args.rate * args.seconds)
    print(f"creating {n} services (policy: A_i by SMS now, B_i after 1 minute)...", flush=True)
    tokens = setup(db_url, n)
    fake = make_fake().start()
    port = free_port()
    env = env_for(db_url, fake, workdir, port)
    procs = [start("api", [str(BIN / "python"), "-m", "uvicorn", "opsknight.api:create_api", "--factory",
                           "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"], env, workdir),
             start("scheduler", [str(BIN / "opsknight"), "scheduler"], env, workdir)]
    procs += [start(f"worker-{k}", [str(BIN / "opsknight"), "worker"], env, workdir) for k in range(args.workers)]
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, procs, args.workers)
        print(f"{args.workers} workers + scheduler + API up; sending {n} alerts at {args.rate}/s "
              f"for {args.seconds} s", flush=True)
        t_start = time.time()
        sent, send_info = asyncio.run(send_alerts(base, tokens, args.rate))
        wait_for(lambda: all(fake.first(phone(1, i)) for i in sent), 30)
        page_ms = {i: (fake.first(phone(1, i)) - t) * 1000 if fake.first(phone(1, i)) else INF
                   for i, t in sent.items()}
        counts = fake.counts()
        missing_a = sum(1 for i in sent if not counts.get(phone(1, i)))
        timers: dict = {"measured": False}
        lateness_ms: list[float] = []
        if args.timers:
            due = escalation_due(db_url)
            last_due = max(due.values(), default=time.time())
            print(f"waiting for {len(due)} escalation timers (the last is due in {last_due - time.time():.0f} s)",
                  flush=True)
            wait_for(lambda: all(fake.first(phone(2, i)) for i in due), max(0.0, last_due - time.time()) + 15)
            lateness_ms = [(fake.first(phone(2, i)) - at) * 1000 if fake.first(phone(2, i)) else INF
                           for i, at in due.items()]
            counts = fake.counts()
            timers = {"measured": True, "timers": len(due), "fired": sum(1 for v in lateness_ms if v != INF),
                      "early": sum(1 for v in lateness_ms if v < 0)}
        duplicates = sum(c - 1 for c in counts.values() if c > 1)
        alive = {log.stem: proc.poll() is None for proc, log in procs}
        log_errors = sum(log.read_text(errors="replace").count("Traceback") for _, log in procs)
    finally:
        for proc, _ in procs:
            stop(proc)
        fake.stop()
    warm = int(args.rate * WARMUP_SECONDS)  # the first alerts meet cold processes (connections, SDK clients)
    result = {
        "machine": {"cores": os.cpu_count()}, "workers": args.workers, "rate_per_s": args.rate,
        "seconds": args.seconds, "alerts": n, "accepted": len(sent), **send_info,
        "elapsed_s": round(time.time() - t_start, 1),
        "alert_to_first_page_ms": summary(list(page_ms.values())),
        "alert_to_first_page_ms_after_warmup": summary([v for i, v in page_ms.items() if i >= warm]),
        "warmup_s": WARMUP_SECONDS,
        "timer_lateness_ms": summary(lateness_ms, (50, 99, 100)),
        "timers": timers, "missing_first_pages": missing_a, "duplicate_pages": duplicates,
        "processes_alive": alive, "log_tracebacks": log_errors, "targets": TARGETS,
    }
    p95, p99t = result["alert_to_first_page_ms"]["p95"], result["timer_lateness_ms"]["p99"]
    result["met"] = {
        "p95_alert_to_page_ms": p95 is not None and p95 <= TARGETS["p95_alert_to_page_ms"] and missing_a == 0,
        "p99_timer_lateness_ms": (None if not args.timers else
                                  p99t is not None and p99t <= TARGETS["p99_timer_lateness_ms"]
                                  and result["timer_lateness_ms"]["never"] == 0),
        "no_duplicates": duplicates == 0,
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s of alerts and no timer phase (a smoke run)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=20.0, help="alerts per second")
    parser.add_argument("--seconds", type=float, help="how long to send (default 20, --quick 10)")
    parser.add_argument("--timers", action=argparse.BooleanOptionalAction, default=None,
                        help="measure escalation timer lateness (waits ~65 s more; default on, off with --quick)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs (BENCH_LOG_LEVEL=INFO for more)")
    args = parser.parse_args()
    args.seconds = args.seconds or (10.0 if args.quick else 20.0)
    args.timers = (not args.quick) if args.timers is None else args.timers
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks on kill too

    with scratch(REDIS_URL, "bench", keep_workdir=args.keep_logs, OPSKNIGHT_BCRYPT_ROUNDS="4") as (db_url, _, workdir):
        result = run(args, db_url, workdir)

    print(f"\n{'metric (None: never came)':<26} {'n':>5} {'never':>5} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} "
          f"{'max ms':>9}  target")
    rows = (("alert -> first page", result["alert_to_first_page_ms"], "p95", "p95_alert_to_page_ms"),
            (f"  after the first {WARMUP_SECONDS} s", result["alert_to_first_page_ms_after_warmup"], "p95",
             "p95_alert_to_page_ms"),
            ("escalation timer late", result["timer_lateness_ms"], "p99", "p99_timer_lateness_ms"))
    for label, m, key, target in rows:
        print(f"{label:<26} {m['n']:>5} {m['never']:>5} {m['p50']!s:>9} {m.get('p95', '')!s:>9} {m['p99']!s:>9} "
              f"{m['max']!s:>9}  {key} <= {TARGETS[target]}"
              + ("  (skipped)" if target.endswith("lateness_ms") and not result["timers"]["measured"] else ""))
    print(f"accepted {result['accepted']}/{result['alerts']} alerts {result['statuses']}; missing first pages "
          f"{result['missing_first_pages']}; duplicates {result['duplicate_pages']}; processes alive "
          f"{result['processes_alive']}; tracebacks in logs {result['log_tracebacks']}; targets met {result['met']}")
    print(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
