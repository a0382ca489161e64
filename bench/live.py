"""Live dashboard benchmark: how fast a webhook's incident reaches open dashboards, and what it costs.

1. Makes a fresh PostgreSQL database and seeds 10,000 incidents (a bulk INSERT), then starts the app's backend
   as `opsknight serve` runs it on PostgreSQL + Redis (granian, Reflex's own worker count: 2 x cores + 1),
   without the frontend build: the sessions are clients that speak Reflex's websocket protocol
   (`tests/reflex_client.py`) and receive the same deltas a browser does.
2. First load: a signed-in session hydrates /incidents (sign-in check, feed link, filter choices, the first page
   and the counts over 10,000 incidents) until its rows arrive. Five times.
3. 50 dashboard sessions open. 20 webhooks, one a second: time from each webhook's 2xx to its incident showing in
   each session (p50/p95/max), and the web processes' CPU per change.
4. Acknowledge round trip while webhooks arrive at 100/s: a session acknowledges a triggered incident and waits
   until its own view shows it acknowledged; 30 times.
5. Storm: 500 new incidents a second for 10 s with the 50 sessions open. A session "shows" the k-th incident when
   its triggered count reaches k (a 50-row page cannot hold 5,000 rows; the count covers every one); latency is
   that moment minus the k-th webhook's 2xx. Web processes' health latency during the storm; afterwards every
   session's counts must equal the database's (nothing missed).

Run by hand: `make bench-live` (or `python bench/live.py --quick`). The load generator and the 50 sessions share
the machine with the server (see client_cpu_pct). Prints a table, then JSON on the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import sys
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OPSKNIGHT_BCRYPT_ROUNDS", "4")

from _http import Pool  # noqa: E402 - bench/ is the script's directory, first on sys.path
from _procs import scratch  # noqa: E402
from ingest import cpu_seconds, pct, pgbench, pids_of  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/13"
TARGETS = {"p95_ms": 500, "first_load_ms": 1500, "ack_rtt_p95_ms": 300, "storm_max_ms": 2000}


def prepare(db_url: str, sessions: int, seeded: int) -> tuple[list[str], str]:
    """Migrate, seed `seeded` incidents, and make `sessions` signed-in sessions and a generic token."""
    from opsknight import accounts, migrate
    from opsknight.api.session import SESSION_COOKIE
    from opsknight.config import reset_settings
    from opsknight.db import reset_engine, session_scope
    from opsknight.models import Role
    from tests.factories import make_integration, make_service

    migrate.upgrade(db_url)
    reset_settings()
    reset_engine()
    with session_scope() as db:
        service = make_service(db)
        token, _ = make_integration(db, service, "generic")
        cookies = []
        people = [accounts.create_user(db, email=f"responder{n}@bench.example.com", name=f"Responder {n}",
                                       role=Role.RESPONDER, password="pw-long-enough") for n in range(10)]
        for n in range(sessions):
            cookies.append(f"{SESSION_COOKIE}={accounts.create_session(db, people[n % len(people)], days=1)}")
        if seeded:
            # Mostly resolved history, a few hundred open: what a team's database looks like after a while.
            db.connection().execute(text("""
                INSERT INTO incidents (number, title, status, urgency, dedup_key, service_id, alert_count,
                                       created_at, escalation_step, escalation_generation, escalation_repeat)
                SELECT nextval('incident_number_seq'), 'seeded incident ' || g,
                       CASE WHEN g % 40 = 0 THEN 'triggered' WHEN g % 40 = 1 THEN 'acknowledged' ELSE 'resolved' END,
                       CASE WHEN g % 3 = 0 THEN 'low' ELSE 'high' END, 'seed-' || g, :service, 1,
                       now() - (g || ' minutes')::interval, 0, 0, 0
                FROM generate_series(1, :n) AS g"""), {"service": service.id, "n": seeded})
            db.connection().execute(text("ANALYZE incidents"))
    return cookies, token


async def first_load(base: str, cookie: str, rounds: int) -> list[float]:
    from opsknight.state.incidents import DashboardState
    from tests.reflex_client import Tab

    times = []
    for _ in range(rounds):
        tab = Tab(base, "/incidents", cookie)
        started = time.monotonic()
        await tab.open()
        await tab.wait_for(lambda t: t.var(DashboardState, "loaded") and t.var(DashboardState, "rows"), 30)
        times.append(time.monotonic() - started)
        await tab.close()
    return times


def _titles(tab) -> dict[str, str]:
    from opsknight.state.incidents import DashboardState

    return {row["title"]: row["status"] for row in tab.var(DashboardState, "rows", [])}


async def post_alert(pool: Pool, token: str, summary: str) -> tuple[int, float]:
    body = json.dumps({"summary": summary, "severity": "critical", "dedup_key": summary}).encode()
    status, _ = await pool.post("/api/webhooks/generic", {"Authorization": f"Bearer {token}",
                                                          "Content-Type": "application/json"}, body)
    return status, time.monotonic()


async def latency_rounds(tabs, pool: Pool, token: str, rounds: int) -> list[float]:
    latencies = []
    for n in range(rounds):
        summary = f"latency probe {n} {uuid.uuid4().hex[:6]}"
        status, answered = await post_alert(pool, token, summary)
        assert status == 202, status
        seen = await asyncio.gather(*(tab.wait_for(lambda t, s=summary: s in _titles(t), 10) for tab in tabs))
        latencies += [max(0.0, at - answered) for at in seen]
        await asyncio.sleep(1.0)
    return latencies


async def open_loop(pool: Pool, token: str, rate: int, seconds: float, prefix: str,
                    answered: list[float] | None = None) -> dict:
    """`rate` webhooks a second, each on schedule whatever the answers; `answered` gets each 2xx time, in order
    of the alerts' numbers."""
    statuses: dict[int, int] = {}
    total = int(rate * seconds)
    times: list[float | None] = [None] * total
    start = time.monotonic()

    async def one(k: int) -> None:
        status, at = await post_alert(pool, token, f"{prefix} {k:06d}")
        statuses[status] = statuses.get(status, 0) + 1
        times[k] = at if status == 202 else None

    tasks = []
    for k in range(total):
        delay = start + k / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(k)))
    await asyncio.gather(*tasks)
    if answered is not None:
        answered.extend(t for t in times if t is not None)
    return {"sent": total, "statuses": statuses, "seconds": round(time.monotonic() - start, 2)}


async def ack_round_trips(tab, pool: Pool, token: str, samples: int) -> tuple[list[float], dict]:
    from opsknight.state.incidents import DashboardState

    background = asyncio.create_task(open_loop(pool, token, 100, samples * 0.5 + 5, "background 100/s"))
    await asyncio.sleep(1.0)
    rtts = []
    for _ in range(samples):
        rows = tab.var(DashboardState, "rows", [])
        target = next((r for r in rows if r["status"] == "triggered"), None)
        if target is None:
            await asyncio.sleep(0.2)
            continue
        started = time.monotonic()
        await tab.send(DashboardState.acknowledge, incident_id=target["id"])
        # Done when the session's own view no longer shows it triggered (acknowledged, or pushed below the page by
        # newer triggered incidents, which sort first).
        done = await tab.wait_for(lambda t, i=target["id"]: not any(
            r["id"] == i and r["status"] == "triggered" for r in t.var(DashboardState, "rows", [])), 10)
        rtts.append(done - started)
        await asyncio.sleep(0.3)
    return rtts, await background


async def storm(tabs, pool: Pool, token: str, base: str, rate: int, seconds: float) -> dict:
    """Every session's triggered count must reach each incident's rank within 2 s of its webhook."""
    from opsknight.state.incidents import DashboardState

    baseline = [tab.var(DashboardState, "counts", {}).get("triggered", 0) for tab in tabs]
    reached: list[list[tuple[float, int]]] = [[] for _ in tabs]

    def watch(index: int):
        def condition(tab) -> bool:
            count = tab.var(DashboardState, "counts", {}).get("triggered", 0) - baseline[index]
            if not reached[index] or reached[index][-1][1] != count:
                reached[index].append((time.monotonic(), count))
            return False
        return condition

    watchers = [asyncio.create_task(tab.wait_for(watch(i), seconds + 30)) for i, tab in enumerate(tabs)]
    health: list[float] = []

    async def probe_health() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            while True:
                started = time.monotonic()
                await client.get("/api/health")
                health.append(time.monotonic() - started)
                await asyncio.sleep(0.5)

    prober = asyncio.create_task(probe_health())
    answered: list[float] = []
    sent = await open_loop(pool, token, rate, seconds, f"storm {uuid.uuid4().hex[:6]}", answered)
    await asyncio.sleep(5)  # the last updates, and a resync if one is due
    prober.cancel()
    for watcher in watchers:
        watcher.cancel()
    await asyncio.gather(*watchers, prober, return_exceptions=True)
    answered.sort()
    latencies, missed = [], 0
    for marks in reached:
        for k, webhook_at in enumerate(answered, start=1):
            seen_at = next((at for at, count in marks if count >= k), None)
            if seen_at is None:
                missed += 1
            else:
                latencies.append(max(0.0, seen_at - webhook_at))
    return {"sent": sent, "latencies": latencies, "missed": missed, "health": health}


async def run(args, db_url: str, db_name: str, workdir: Path) -> dict:
    from opsknight.state.incidents import DashboardState
    from tests.live_server import start_backend, stop_process_group
    from tests.reflex_client import Tab

    # The machine's baseline in the same run (it is shared and noisy): PostgreSQL's single-row INSERT rate.
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_insert (id bigserial PRIMARY KEY, payload jsonb)"))
    engine.dispose()
    baseline = pgbench(db_name, 5, workdir)
    cookies, token = prepare(db_url, args.sessions, args.seed)
    env = {"OPSKNIGHT_DATABASE_URL": db_url, "OPSKNIGHT_REDIS_URL": REDIS_URL, "REFLEX_REDIS_URL": REDIS_URL,
           "OPSKNIGHT_EMBEDDED_WORKER": "false", "OPSKNIGHT_DATA_DIR": str(workdir), "OPSKNIGHT_LOG_LEVEL": "WARNING"}
    proc, base = start_backend(env, workdir / "server.log", workers=None)
    result: dict = {"pgbench_insert_tps": round(baseline)}
    try:
        server_pids = pids_of(["-s", str(proc.pid)])
        result["web_processes"] = len(server_pids)
        loads = await first_load(base, cookies[0], 5)
        result["first_load_ms"] = {"p50": pct(loads, 50), "max": pct(loads, 100), "seeded_incidents": args.seed}
        print(f"first load of /incidents with {args.seed} incidents: {result['first_load_ms']}", flush=True)

        tabs = [Tab(base, "/incidents", cookie) for cookie in cookies]
        for chunk in range(0, len(tabs), 10):  # connect a few at a time, as people open their laptops
            await asyncio.gather(*(tab.open() for tab in tabs[chunk:chunk + 10]))
        await asyncio.gather(*(tab.wait_for(lambda t: t.var(DashboardState, "loaded"), 60) for tab in tabs))
        pool = Pool(base, 64)

        cpu0, client0 = cpu_seconds(server_pids), resource.getrusage(resource.RUSAGE_SELF)
        latencies = await latency_rounds(tabs, pool, token, args.rounds)
        cpu = cpu_seconds(server_pids) - cpu0
        result["latency_ms"] = {"p50": pct(latencies, 50), "p95": pct(latencies, 95), "max": pct(latencies, 100),
                                "samples": len(latencies), "sessions": len(tabs)}
        result["web_cpu_ms_per_change"] = round(1000 * cpu / args.rounds, 1)
        print(f"webhook -> shown in {len(tabs)} sessions: {result['latency_ms']}, web CPU per change "
              f"{result['web_cpu_ms_per_change']} ms", flush=True)

        rtts, background = await ack_round_trips(tabs[0], pool, token, args.acks)
        result["ack_rtt_ms"] = {"p50": pct(rtts, 50), "p95": pct(rtts, 95), "max": pct(rtts, 100),
                                "samples": len(rtts), "background": background}
        print(f"acknowledge round trip at 100 webhooks/s: {result['ack_rtt_ms']}", flush=True)

        cpu0 = cpu_seconds(server_pids)
        stormed = await storm(tabs, pool, token, base, args.storm_rate, args.storm_seconds)
        result["storm"] = {"rate": args.storm_rate, "seconds": args.storm_seconds, "sent": stormed["sent"],
                           "shown_ms": {"p50": pct(stormed["latencies"], 50), "p95": pct(stormed["latencies"], 95),
                                        "max": pct(stormed["latencies"], 100)},
                           "missed": stormed["missed"],
                           "health_ms": {"p50": pct(stormed["health"], 50), "max": pct(stormed["health"], 100)},
                           "web_cpu_s": round(cpu_seconds(server_pids) - cpu0, 1)}
        print(f"storm: {result['storm']}", flush=True)

        engine = create_engine(db_url)
        with engine.connect() as conn:
            truth = dict(conn.execute(text("SELECT status, count(*) FROM incidents GROUP BY status")).all())
        engine.dispose()
        await asyncio.sleep(1)
        wrong = sum(1 for tab in tabs if tab.var(DashboardState, "counts", {}).get("triggered") != truth.get("triggered"))
        result["sessions_out_of_date_after_storm"] = wrong
        client = resource.getrusage(resource.RUSAGE_SELF)
        result["client_cpu_s"] = round(client.ru_utime + client.ru_stime - client0.ru_utime - client0.ru_stime, 1)
        await pool.close()
        await asyncio.gather(*(tab.close() for tab in tabs))
    finally:
        stop_process_group(proc)
    result["met"] = {
        "p95_under_500ms": (result["latency_ms"]["p95"] or 1e9) < TARGETS["p95_ms"],
        "first_load_under_1500ms": (result["first_load_ms"]["max"] or 1e9) < TARGETS["first_load_ms"],
        "ack_rtt_p95_under_300ms": (result["ack_rtt_ms"]["p95"] or 1e9) < TARGETS["ack_rtt_p95_ms"],
        "storm_every_incident_within_2s": result["storm"]["missed"] == 0
        and (result["storm"]["shown_ms"]["max"] or 1e9) < TARGETS["storm_max_ms"],
        "nothing_missed_after_storm": result["sessions_out_of_date_after_storm"] == 0,
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--seed", type=int, default=10_000, help="incidents in the database before the run")
    parser.add_argument("--rounds", type=int, default=20, help="single webhooks for the latency figure")
    parser.add_argument("--acks", type=int, default=30)
    parser.add_argument("--storm-rate", type=int, default=500)
    parser.add_argument("--storm-seconds", type=float, default=10)
    parser.add_argument("--quick", action="store_true", help="10 sessions, 5 rounds, a 3 s storm (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.sessions, args.rounds, args.acks, args.storm_seconds = 10, 5, 10, 3
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with scratch(REDIS_URL, "bench_live") as (db_url, db_name, workdir):
        result = asyncio.run(run(args, db_url, db_name, workdir))
    print(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
