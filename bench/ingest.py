"""Ingest benchmark: how many alerts a second the production server durably accepts, and how fast it answers.

    .venv/bin/python bench/ingest.py [--quick]        (or: make bench-ingest)

What it does, against a throw-away PostgreSQL database and Redis database 14 (both emptied/dropped at the end):

1. Starts the real production server (`opsknight serve` = `reflex run --env prod --single-port`) as a subprocess,
   with OPSKNIGHT_EMBEDDED_WORKER=false: no RQ worker runs, so we measure ingest alone (jobs pile up in Redis).
2. Closed loop: N concurrent HTTP/1.1 keep-alive senders post unique alerts (each one opens a new incident) for a
   fixed time per level, for three payloads: Alertmanager with 1 alert, Alertmanager batches of 10 (it groups
   alerts), and PagerDuty Events v2 triggers. Reports alerts/s, requests/s, latency percentiles, errors by status.
3. Durability: a 2xx means "committed" (the ingest transaction commits before the answer), so after each level
   the alerts and incidents in PostgreSQL must match what the 2xx answers acknowledged (`durable_ok`).
4. Open loop at a fixed 500 alerts/s, sent on schedule whatever the answers do (latency is counted from the
   scheduled send time, so a slow server cannot hide its queueing), in-flight capped at 256 — twice: as
   Alertmanager sends them (batches of 10: 50 requests/s) and as single Events v2 triggers (500 requests/s).
5. pgbench: single-row INSERTs in autocommit (one commit per row, the same durability as one 2xx) with 8
   clients: the ceiling this machine's PostgreSQL and disk put on any one-commit-per-alert design.

The last output line is one JSON object with every figure, for CI and for comparing runs.
Caveat: the load generator runs on the same machine and takes CPU from the server (see client_cpu_pct).
"""

from __future__ import annotations

import argparse, asyncio, json, os, re, secrets, shutil, signal, subprocess, sys, time, uuid
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import text

from _http import Pool  # bench/ is the script's directory, first on sys.path
from _procs import free_port, scratch, stop

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = "redis://127.0.0.1:6379/14"
LEVELS = (1, 4, 16, 64)
SCENARIOS = {"am": ("prometheus", 1), "am-batch": ("prometheus", 10), "events-v2": ("events_v2", 1)}
OPEN_RATE, OPEN_CAP = 500, 256
TARGETS = {"alerts_per_s": 1000, "p99_ms_at_500": 50}


ROW = ("{scenario:<9} {concurrency:>4} {alerts_per_s:>9} {req_per_s:>8} {p50_ms!s:>8} {p95_ms!s:>8} {p99_ms!s:>8} "
       "{errors:<16} {durable_ok!s:>7} {client_cpu_pct:>4} {server_cpu_ms_per_req:>7} {db_cpu_ms_per_req:>6}")
HEADER = dict(scenario="scenario", concurrency="conc", alerts_per_s="alerts/s", req_per_s="req/s", p50_ms="p50 ms",
              p95_ms="p95 ms", p99_ms="p99 ms", errors="non-2xx", durable_ok="durable", client_cpu_pct="cli%",
              server_cpu_ms_per_req="srv ms", db_cpu_ms_per_req="pg ms")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far (processes that ended meanwhile count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / CLOCK_TICKS


def pids_of(args: list[str]) -> list[int]:
    return [int(p) for p in subprocess.run(["ps", *args, "-o", "pid="], capture_output=True, text=True).stdout.split()]


def errors(level: dict) -> str:
    bad = {k: v for k, v in level["statuses"].items() if not k.startswith("2")} | level["transport_errors"]
    return ",".join(f"{k}:{v}" for k, v in bad.items()) or "-"


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(p / 100 * len(s)))] * 1000, 2)


# ---- payloads: unique per request, so every alert opens a new incident --------------------------------------------
def am_body(n: int) -> bytes:
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    alerts = [{"status": "firing",
               "labels": {"alertname": "HighErrorRate", "service": "checkout", "severity": "critical",
                          "instance": f"checkout-{uuid.uuid4().hex[:8]}:8080"},
               "annotations": {"summary": "5xx rate above 5% on checkout", "description": "error ratio 0.083 over 5m",
                               "runbook_url": "https://runbooks.example/checkout-5xx"},
               "startsAt": now, "endsAt": "0001-01-01T00:00:00Z",
               "generatorURL": "http://prometheus.example:9090/graph?g0.expr=job%3Arequest_errors%3Aratio5m",
               "fingerprint": uuid.uuid4().hex[:16]} for _ in range(n)]
    return json.dumps({"version": "4", "groupKey": '{}:{alertname="HighErrorRate"}', "truncatedAlerts": 0,
                       "status": "firing", "receiver": "opsknight", "groupLabels": {"alertname": "HighErrorRate"},
                       "commonLabels": {"alertname": "HighErrorRate", "service": "checkout", "severity": "critical"},
                       "commonAnnotations": {"summary": "5xx rate above 5% on checkout"},
                       "externalURL": "http://alertmanager.example:9093", "alerts": alerts}).encode()


def ev2_body(routing_key: str) -> bytes:
    host = f"db-{secrets.token_hex(3)}"
    return json.dumps({"routing_key": routing_key, "event_action": "trigger", "dedup_key": f"{host}/lag-{uuid.uuid4().hex}",
                       "payload": {"summary": f"Replication lag 312s on {host}", "source": f"{host}.prod.example",
                                   "severity": "error", "component": "postgres", "group": "prod-db",
                                   "class": "replication", "custom_details": {"lag_seconds": 312, "replica": "db-02"}},
                       "links": [{"href": "https://grafana.example/d/pg", "text": "Postgres dashboard"}],
                       "client": "Sample Monitor", "client_url": "https://monitor.example"}).encode()


def make_request(scenario: str, tokens: dict[str, str]):
    """-> (path, headers, body, alerts in it) for one fresh request of this scenario."""
    source, n = SCENARIOS[scenario]
    if source == "prometheus":
        return "/api/webhooks/prometheus", {"Authorization": f"Bearer {tokens['prometheus']}"}, am_body(n), n
    return "/api/v2/enqueue", {}, ev2_body(tokens["events_v2"]), 1


class Stats:
    def __init__(self):
        self.latencies, self.statuses, self.transport, self.acked, self.requests = [], Counter(), Counter(), 0, 0

    async def send(self, client: Pool, req, started: float | None = None) -> None:
        path, headers, body, n = req
        t0 = started if started is not None else time.perf_counter()
        try:
            status, answer = await client.post(path, {"Content-Type": "application/json", **headers}, body)
        except (OSError, ValueError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
            self.transport[type(exc).__name__] += 1
            return
        self.latencies.append(time.perf_counter() - t0)
        self.requests += 1
        self.statuses[str(status)] += 1
        if 200 <= status < 300:
            self.acked += json.loads(answer).get("alerts", n) if path.startswith("/api/webhooks") else n


async def closed_loop(base: str, scenario: str, tokens: dict, concurrency: int, seconds: float) -> tuple[Stats, float]:
    stats, end = Stats(), time.perf_counter() + seconds

    async def sender(client):
        while time.perf_counter() < end:
            await stats.send(client, make_request(scenario, tokens))

    client = Pool(base, concurrency)
    t0 = time.perf_counter()
    await asyncio.gather(*(sender(client) for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    await client.close()
    return stats, elapsed


async def open_loop(base: str, scenario: str, tokens: dict, alert_rate: int, seconds: float) -> dict:
    """`alert_rate` alerts a second of `scenario` payloads (so alert_rate / batch size requests a second)."""
    rate = alert_rate / SCENARIOS[scenario][1]
    stats, total, skipped, tasks = Stats(), int(rate * seconds), 0, set()
    client = Pool(base, OPEN_CAP)
    t0, i = time.perf_counter(), 0
    while i < total:
        due = min(total, int((time.perf_counter() - t0) * rate) + 1)
        for k in range(i, due):  # launch everything that is due now; latency counts from the scheduled time
            if len(tasks) >= OPEN_CAP:
                skipped += 1
                continue
            task = asyncio.create_task(stats.send(client, make_request(scenario, tokens), t0 + k / rate))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        i = due
        await asyncio.sleep(0.001)
    await asyncio.gather(*list(tasks))
    elapsed = time.perf_counter() - t0
    await client.close()
    achieved = stats.acked / elapsed  # alerts
    return {"scenario": scenario, "target_alerts_per_s": alert_rate, "duration_s": seconds, "scheduled": total, "skipped_at_cap": skipped,
            "acked": stats.acked, "achieved_per_s": round(achieved, 1), "p50_ms": pct(stats.latencies, 50),
            "p99_ms": pct(stats.latencies, 99), "statuses": dict(stats.statuses), "transport_errors": dict(stats.transport),
            "rate_achieved": (skipped == 0 and stats.acked == total * SCENARIOS[scenario][1]
                              and achieved >= 0.95 * alert_rate)}


def db_counts(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.execute(text("SELECT count(*) FROM alerts")).scalar_one(),
                conn.execute(text("SELECT count(*) FROM incidents")).scalar_one())


def refresh_statistics(engine) -> None:
    """What the reconciler's sweep does every few seconds in production (engine/planner_stats.py) — this bench runs
    no reconciler: where autovacuum does not keep the incidents table's planner statistics fresh (it is off on
    this machine), ANALYZE it once enough rows changed. Without that the planner keeps searching the dedup index
    by service alone, so each batch's lookup reads every open incident of the service and a 10 s level slows the
    next (PostgreSQL CPU per batch 13 -> 25 ms)."""
    from opsknight.engine import planner_stats

    with engine.begin() as conn:
        planner_stats.analyze_incidents_if_stale(conn)


def pgbench(db_name: str, seconds: int, workdir: Path) -> float:
    exe = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    script = workdir / "insert.sql"
    script.write_text("""INSERT INTO bench_insert(payload) VALUES ('{"a":1}');\n""")
    out = subprocess.run([exe, "-n", "-c", "8", "-j", "2", "-T", str(seconds), "-f", str(script),
                          "-h", "127.0.0.1", "-U", "postgres", db_name], capture_output=True, text=True, check=True)
    return float(re.search(r"tps = ([\d.]+)", out.stdout).group(1))


def start_server(db_url: str, port: int, data_dir: Path) -> tuple[subprocess.Popen, Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSKNIGHT_")}
    env.update(PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}", REFLEX_USE_NPM="1",
               REFLEX_TELEMETRY_ENABLED="false", OPSKNIGHT_ENV="production", OPSKNIGHT_SECRET_KEY=secrets.token_urlsafe(48),
               OPSKNIGHT_DATABASE_URL=db_url, OPSKNIGHT_REDIS_URL=REDIS_URL, OPSKNIGHT_PORT=str(port),
               OPSKNIGHT_BASE_URL=f"http://127.0.0.1:{port}", OPSKNIGHT_DATA_DIR=str(data_dir),
               OPSKNIGHT_ADMIN_EMAIL="admin@bench.example.com", OPSKNIGHT_ADMIN_PASSWORD=secrets.token_urlsafe(16),
               OPSKNIGHT_EMBEDDED_WORKER="false", OPSKNIGHT_ENQUEUE_RATE_PER_MINUTE="10000000")
    log_path = data_dir / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "opsknight"), "serve", "--host", "127.0.0.1"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 600  # the first start builds the frontend
    while True:
        if proc.poll() is not None:
            sys.exit(f"the server exited early:\n{log_path.read_text()[-4000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return proc, log_path
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"the server did not start in time:\n{log_path.read_text()[-4000:]}")
        time.sleep(1)


def run(args, db_url: str, db_name: str, workdir: Path) -> dict:
    from sqlmodel import Session

    from opsknight import integrations, migrate
    from opsknight.db import make_engine
    from opsknight.models import Service

    seconds = 3 if args.quick else 10
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    with engine.connect() as conn:
        autovacuum = conn.execute(text("SHOW autovacuum")).scalar_one()
    with Session(engine) as db:
        service = Service(name="bench-checkout")
        db.add(service)
        db.flush()
        tokens = {src: integrations.create_integration(db, service, source_type=src)[0] for src in ("prometheus", "events_v2")}
        db.commit()
    port = free_port()
    print(f"starting the production server on :{port} (OPSKNIGHT_EMBEDDED_WORKER=false: no worker, ingest only)",
          flush=True)
    proc, log_path = start_server(db_url, port, workdir)
    try:
        base = f"http://127.0.0.1:{port}"
        procs = subprocess.run(["ps", "-s", str(proc.pid), "-o", "args="], capture_output=True, text=True).stdout
        # `reflex run` supervisor + granian workers; Reflex starts ONE worker unless REFLEX_REDIS_URL is set
        server = {"processes": len(procs.splitlines()), "granian_workers": len(procs.splitlines()) - 1,
                  "rq_worker": "none (OPSKNIGHT_EMBEDDED_WORKER=false)",
                  "postgres_autovacuum": f"{autovacuum} (statistics refreshed after each level, as the reconciler would)"}
        print(f"server: {server}", flush=True)
        levels = []
        print(ROW.format(**HEADER))
        for scenario in args.scenarios:
            for concurrency in args.levels:
                server_pids, db_pids = pids_of(["-s", str(proc.pid)]), pids_of(["-C", "postgres"])
                before, cpu0 = db_counts(engine), time.process_time()
                server0, db0 = cpu_seconds(server_pids), cpu_seconds(db_pids)
                stats, elapsed = asyncio.run(closed_loop(base, scenario, tokens, concurrency, seconds))
                cpu = time.process_time() - cpu0
                server_cpu, db_cpu = cpu_seconds(server_pids) - server0, cpu_seconds(db_pids) - db0
                after = db_counts(engine)
                alerts, incidents = after[0] - before[0], after[1] - before[1]
                levels.append({
                    "scenario": scenario, "concurrency": concurrency, "duration_s": round(elapsed, 2),
                    "requests": stats.requests, "req_per_s": round(stats.requests / elapsed, 1),
                    "alerts_per_s": round(stats.acked / elapsed, 1), "p50_ms": pct(stats.latencies, 50),
                    "p95_ms": pct(stats.latencies, 95), "p99_ms": pct(stats.latencies, 99),
                    "statuses": dict(stats.statuses), "transport_errors": dict(stats.transport),
                    "acked_alerts": stats.acked, "db_alerts": alerts, "db_incidents": incidents,
                    "durable_ok": alerts == stats.acked and incidents == stats.acked,
                    "client_cpu_pct": round(100 * cpu / elapsed),
                    # CPU per request of the web processes and of PostgreSQL (all its processes): where time goes
                    "server_cpu_ms_per_req": round(1000 * server_cpu / max(stats.requests, 1), 2),
                    "db_cpu_ms_per_req": round(1000 * db_cpu / max(stats.requests, 1), 2)})
                print(ROW.format(**levels[-1], errors=errors(levels[-1])), flush=True)
                refresh_statistics(engine)
        open_500 = {}
        for scenario in [s for s in ("am-batch", "events-v2") if s in args.open_loop]:
            result = open_500[scenario] = asyncio.run(open_loop(base, scenario, tokens, OPEN_RATE, seconds))
            print(f"\nopen loop, {scenario} at {OPEN_RATE} alerts/s for {seconds} s: achieved "
                  f"{result['achieved_per_s']} alerts/s, p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
                  f"{result['skipped_at_cap']} not sent (in-flight cap {OPEN_CAP}), statuses {result['statuses']}, "
                  f"rate achieved: {result['rate_achieved']}", flush=True)
        server["log_errors"] = sum(1 for line in log_path.read_text().splitlines() if "ERROR" in line or "Traceback" in line)
    finally:
        stop(proc)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_insert(id bigserial PRIMARY KEY, payload jsonb, "
                          "created_at timestamptz DEFAULT now())"))
    engine.dispose()
    tps = pgbench(db_name, seconds, workdir)
    best = max(level["alerts_per_s"] for level in levels)
    return {"machine": {"cores": os.cpu_count()}, "server": server, "levels": levels, "open_loop_500": open_500,
            "pgbench_insert_tps": tps, "best_alerts_per_s": best, "ratio_to_pgbench": round(best / tps, 3),
            "targets": TARGETS,
            "met": {"alerts_per_s": best >= TARGETS["alerts_per_s"],
                    **{f"p99_ms_at_500_{scenario}": run["rate_achieved"] and (run["p99_ms"] or 1e9) <= TARGETS["p99_ms_at_500"]
                       for scenario, run in open_500.items()}}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s per level instead of 10 (a smoke run)")
    parser.add_argument("--scenarios", type=lambda v: v.split(","), default=list(SCENARIOS),
                        help=f"closed-loop payloads, comma-separated (default: {','.join(SCENARIOS)})")
    parser.add_argument("--levels", type=lambda v: [int(x) for x in v.split(",")], default=list(LEVELS),
                        help=f"closed-loop concurrency levels (default: {','.join(map(str, LEVELS))})")
    parser.add_argument("--open-loop", type=lambda v: [x for x in v.split(",") if x], default=["am-batch", "events-v2"],
                        help="open-loop runs at 500 alerts/s (default: am-batch,events-v2; '' for none)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks on kill too
    with scratch(REDIS_URL, "bench") as (db_url, db_name, workdir):
        result = run(args, db_url, db_name, workdir)
    print(f"\npgbench single-row INSERT (8 clients, autocommit): {result['pgbench_insert_tps']:.0f} tps; best ingest "
          f"{result['best_alerts_per_s']} alerts/s = {result['ratio_to_pgbench']:.0%} of it; targets met: {result['met']}")
    print(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
