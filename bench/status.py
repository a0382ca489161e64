"""Public status page under load: requests/s and latency of /status and /api/v2/summary.json with 64 connections
while webhooks arrive at 200/s, and how soon a change shows.

Set-up: PostgreSQL + Redis, the backend as in production (granian, Reflex's worker count), a database of its own
with 90 days of history on the linked services (--history incidents) and 4 components. No RQ worker runs: the
webhooks' jobs wait in Redis, so the web processes get the CPU a worker would take on a real machine (a
conservative choice would be to run one; see README).

Phases (each `--seconds` long, webhooks at `--webhook-rate`/s all along, 90% repeats of open alerts, 10% new
alerts or resolves, so the page's cache is invalidated about 20 times a second):
1. 64 connections read /status in a closed loop (as fast as the server answers: throughput, and latency at
   saturation); 2. the same for /api/v2/summary.json;
3. and 4. the same paths at a steady 2,000 requests/s over the 64 connections (open loop: latency at the target
   rate, counted from each request's planned start);
5. `--probes` times: an alert on the probe component's service, then summary.json read every 20 ms until the
   component shows major_outage (and after a resolve, operational again): the time from the webhook's 2xx.

Targets: >= 2,000 req/s and p99 < 50 ms for each path, every change visible within 2 s. The machine's baseline in
the same run: pgbench single-row INSERTs. JSON on the last line. `--quick`: 5 s phases, 3 probes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import signal
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _http import Pool  # noqa: E402 - bench/ is the script's directory, first on sys.path
from _procs import scratch  # noqa: E402
from ingest import cpu_seconds, pct, pgbench, pids_of  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/12"
TARGETS = {"rps": 2000, "p99_ms": 50, "visible_ms": 2000}
READERS = 64
BROWSER = {"Accept-Encoding": "gzip, deflate, br"}  # what every browser and status widget sends


def prepare(db_url: str, history: int) -> dict:
    """Migrate; 4 services with a generic token each; 4 components (the last, "Probe", alone on its service);
    `history` incidents over 90 days on the first three services, each with a public update."""
    from opsknight import migrate
    from opsknight.admin import status_page
    from opsknight.config import reset_settings
    from opsknight.db import reset_engine, session_scope
    from tests.factories import make_integration, make_service

    migrate.upgrade(db_url)
    reset_settings()
    reset_engine()
    with session_scope() as db:
        services = [make_service(db) for _ in range(4)]
        tokens = [make_integration(db, s, "generic")[0] for s in services]
        for n, (name, linked) in enumerate([("API", [0]), ("Dashboard", [1]), ("Checkout", [0, 2]),
                                            ("Probe", [3])]):
            component = status_page.StatusPageComponent(name=name, position=n, created_at=_days_ago(120))
            db.add(component)
            db.flush()
            for index in linked:
                db.add(status_page.StatusPageComponentService(component_id=component.id,
                                                              service_id=services[index].id))
        db.connection().execute(text("""
            INSERT INTO incidents (number, title, status, urgency, dedup_key, service_id, alert_count, created_at,
                                   resolved_at, escalation_step, escalation_generation, escalation_repeat)
            SELECT g, 'history ' || g, 'resolved', CASE WHEN g % 4 = 0 THEN 'high' ELSE 'low' END, 'h-' || g,
                   (ARRAY[:s0, :s1, :s2])[1 + g % 3], 1, now() - make_interval(secs => g * 7776000.0 / :n),
                   now() - make_interval(secs => g * 7776000.0 / :n) + interval '25 minutes', 0, 0, 0
            FROM generate_series(1, :n) AS g"""), {"s0": services[0].id, "s1": services[1].id,
                                                    "s2": services[2].id, "n": history})
        db.connection().execute(text("SELECT setval('incident_number_seq', :n + 1)"), {"n": history})
        db.connection().execute(text("""
            INSERT INTO status_updates (incident_id, status, body, created_at)
            SELECT id, 'resolved', 'We fixed it and are watching closely.', resolved_at FROM incidents"""))
        db.connection().execute(text("ANALYZE"))
    return {"tokens": tokens}


def _days_ago(days: int):
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) - timedelta(days=days)


async def webhooks(pool: Pool, tokens: list[str], rate: int, stop: asyncio.Event, counts: dict) -> None:
    """Open loop at `rate`/s: mostly repeats of 20 open alerts per service (nothing public changes), 1 in 10 a
    new alert or a resolve (the page's cache is invalidated)."""
    open_keys: list[tuple[int, str]] = []
    serial = 0

    async def send(index: int, body: dict) -> None:
        try:
            status, _ = await pool.post("/api/webhooks/generic", {"Authorization": f"Bearer {tokens[index]}",
                                                                  "Content-Type": "application/json"},
                                        json.dumps(body).encode())
            counts[str(status)] = counts.get(str(status), 0) + 1
        except (OSError, asyncio.TimeoutError, ValueError, asyncio.IncompleteReadError) as exc:
            counts[type(exc).__name__] = counts.get(type(exc).__name__, 0) + 1

    started, sent, tasks = time.monotonic(), 0, set()
    while not stop.is_set():
        due = int((time.monotonic() - started) * rate)
        while sent < due:
            sent += 1
            index = random.randrange(3)
            roll = random.random()
            if roll < 0.05 or len(open_keys) < 20:
                serial += 1
                key = f"w-{serial}"
                open_keys.append((index, key))
                body = {"summary": f"alert {key}", "severity": "critical", "dedup_key": key}
            elif roll < 0.10:
                index, key = open_keys.pop(random.randrange(len(open_keys)))
                body = {"summary": f"alert {key}", "dedup_key": key, "action": "resolve"}
            else:
                index, key = random.choice(open_keys)
                body = {"summary": f"alert {key}", "severity": "critical", "dedup_key": key}
            task = asyncio.create_task(send(index, body))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.sleep(0.005)
    await asyncio.gather(*tasks)


async def readers(pool: Pool, path: str, seconds: float) -> dict:
    latencies: list[float] = []
    failures: dict[str, int] = {}
    deadline = time.monotonic() + seconds

    async def reader() -> None:
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            try:
                status, _ = await pool.get(path, BROWSER)
            except (OSError, asyncio.TimeoutError, ValueError, asyncio.IncompleteReadError) as exc:
                failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
                continue
            if status == 200:
                latencies.append(time.perf_counter() - t0)
            else:
                failures[str(status)] = failures.get(str(status), 0) + 1

    await asyncio.gather(*(reader() for _ in range(READERS)))
    return {"rps": round(len(latencies) / seconds), "p50_ms": pct(latencies, 50), "p99_ms": pct(latencies, 99),
            "max_ms": pct(latencies, 100), "requests": len(latencies), "failures": failures}


async def paced(pool: Pool, path: str, rate: int, seconds: float) -> dict:
    """Open loop: requests start at `rate`/s whatever the answers do (over the same 64 connections); latency runs
    from each request's planned start, so a stall counts for every request it delayed."""
    latencies: list[float] = []
    failures: dict[str, int] = {}
    started = time.perf_counter()

    async def one(planned: float) -> None:
        try:
            status, _ = await pool.get(path, BROWSER)
        except (OSError, asyncio.TimeoutError, ValueError, asyncio.IncompleteReadError) as exc:
            failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
            return
        if status == 200:
            latencies.append(time.perf_counter() - planned)
        else:
            failures[str(status)] = failures.get(str(status), 0) + 1

    tasks = []
    for n in range(int(rate * seconds)):
        planned = started + n / rate
        if (wait := planned - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        tasks.append(asyncio.create_task(one(planned)))
    await asyncio.gather(*tasks)
    return {"rate": rate, "p50_ms": pct(latencies, 50), "p99_ms": pct(latencies, 99), "max_ms": pct(latencies, 100),
            "requests": len(latencies), "failures": failures}


async def probe(pool: Pool, token: str, key: str, action: str, expected: str) -> float:
    body = {"summary": "probe", "severity": "critical", "dedup_key": key, "action": action}
    status, _ = await pool.post("/api/webhooks/generic", {"Authorization": f"Bearer {token}",
                                                           "Content-Type": "application/json"}, json.dumps(body).encode())
    assert status == 202, status
    answered = time.perf_counter()
    while time.perf_counter() - answered < 10:
        _, raw = await pool.get("/api/v2/summary.json")
        if {c["name"]: c["status"] for c in json.loads(raw)["components"]}["Probe"] == expected:
            return time.perf_counter() - answered
        await asyncio.sleep(0.02)
    return float("inf")


async def run(args, db_url: str, db_name: str, workdir: Path) -> dict:
    from tests.live_server import start_backend, stop_process_group

    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_insert (id bigserial PRIMARY KEY, payload jsonb)"))
    engine.dispose()
    result: dict = {"pgbench_insert_tps": round(pgbench(db_name, 5, workdir))}
    world = prepare(db_url, args.history)
    env = {"OPSKNIGHT_DATABASE_URL": db_url, "OPSKNIGHT_REDIS_URL": REDIS_URL, "REFLEX_REDIS_URL": REDIS_URL,
           "OPSKNIGHT_EMBEDDED_WORKER": "false", "OPSKNIGHT_DATA_DIR": str(workdir), "OPSKNIGHT_LOG_LEVEL": "WARNING",
           "OPSKNIGHT_ENQUEUE_RATE_PER_MINUTE": "1000000"}
    proc, base = start_backend(env, workdir / "server.log", workers=None)
    try:
        server_pids = pids_of(["-s", str(proc.pid)])
        result["web_processes"] = len(server_pids)
        result["history_incidents"] = args.history
        read_pool, hook_pool = Pool(base, READERS), Pool(base, 32)
        await read_pool.get("/status")  # the first build
        stop, counts = asyncio.Event(), {}
        hooks = asyncio.create_task(webhooks(hook_pool, world["tokens"][:3], args.webhook_rate, stop, counts))
        await asyncio.sleep(1)
        client0, cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), cpu_seconds(server_pids), time.monotonic()
        for name, path in (("status_html", "/status"), ("summary_json", "/api/v2/summary.json")):
            result[name] = await readers(read_pool, path, args.seconds)
            print(f"{path}: {result[name]}", flush=True)
        elapsed = time.monotonic() - t0
        client = resource.getrusage(resource.RUSAGE_SELF)
        result["server_cpu_cores"] = round((cpu_seconds(server_pids) - cpu0) / elapsed, 2)
        result["client_cpu_cores"] = round((client.ru_utime + client.ru_stime - client0.ru_utime
                                            - client0.ru_stime) / elapsed, 2)
        for name, path in (("status_html_at_2000", "/status"), ("summary_json_at_2000", "/api/v2/summary.json")):
            result[name] = await paced(read_pool, path, TARGETS["rps"], args.seconds)
            print(f"{path} at {TARGETS['rps']}/s: {result[name]}", flush=True)
        seen, probe_pool = [], Pool(base, 2)  # connections of its own: not queued behind the webhooks' backlog
        for n in range(args.probes):
            seen.append(await probe(probe_pool, world["tokens"][3], f"probe-{n}", "trigger", "major_outage"))
            seen.append(await probe(probe_pool, world["tokens"][3], f"probe-{n}", "resolve", "operational"))
        await probe_pool.close()
        result["visible_ms"] = {"p50": pct(seen, 50), "max": pct(seen, 100), "samples": len(seen),
                                "each": [round(1000 * s) for s in seen]}
        print(f"change visible after: {result['visible_ms']}", flush=True)
        stop.set()
        await hooks
        webhook_seconds = time.monotonic() - t0 + 1
        result["webhooks"] = {"rate_asked": args.webhook_rate, "answers": counts,
                              "rate_done": round(sum(v for k, v in counts.items() if k.startswith("2")) / webhook_seconds)}
        await read_pool.close()
        await hook_pool.close()
    finally:
        stop_process_group(proc)
    result["met"] = {
        f"{name}_{what}": ok for name in ("status_html", "summary_json") for what, ok in (
            ("rps_2000", result[name]["rps"] >= TARGETS["rps"]),
            ("p99_under_50ms", (result[name]["p99_ms"] or 1e9) < TARGETS["p99_ms"]))
    } | {f"{name}_at_2000_p99_under_50ms": (result[f"{name}_at_2000"]["p99_ms"] or 1e9) < TARGETS["p99_ms"]
         for name in ("status_html", "summary_json")
         } | {"visible_within_2s": (result["visible_ms"]["max"] or 1e9) < TARGETS["visible_ms"]}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--webhook-rate", type=int, default=200)
    parser.add_argument("--history", type=int, default=20_000, help="resolved incidents over 90 days")
    parser.add_argument("--probes", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.probes, args.history = 5, 3, 2000
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with scratch(REDIS_URL, "bench_status") as (db_url, db_name, workdir):
        result = asyncio.run(run(args, db_url, db_name, workdir))
    print(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
