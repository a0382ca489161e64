"""The real Prometheus Alertmanager binary pages OpsKnight through its webhook receiver, then resolves.

Alertmanager runs as a subprocess (no clustering, fast group timers) with a `webhook_configs` receiver pointing at
the live API with the integration token as a Bearer credential. Alerts are pushed to Alertmanager's own API, so
what reaches OpsKnight is exactly what Alertmanager sends: its payload, its fingerprints, its auth header.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from opsknight.models import Alert, Incident
from tests.dbutil import skip_or_fail
from tests.factories import make_integration, make_service
from tests.integration.conftest import rows

BINARY = os.environ.get("OPSKNIGHT_ALERTMANAGER_BIN") or "/usr/bin/prometheus-alertmanager"
WAIT_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(webhook_url: str, token: str) -> str:
    # JSON is valid YAML: no YAML library and no quoting surprises with the token.
    import json

    return json.dumps({
        "route": {"receiver": "opsknight", "group_by": ["alertname"], "group_wait": "1s",
                  "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "opsknight", "webhook_configs": [{
            "url": webhook_url, "send_resolved": True,
            "http_config": {"authorization": {"type": "Bearer", "credentials": token}},
        }]}],
    }, indent=2)


def _wait_for(predicate, what: str, timeout: float = WAIT_SECONDS, log: Path | None = None):
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            pytest.fail(f"timed out after {timeout}s waiting for {what}\nAlertmanager log tail:\n{tail}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


@pytest.fixture
def alertmanager_binary() -> str:
    binary = shutil.which(BINARY) or (BINARY if os.access(BINARY, os.X_OK) else None)
    if binary is None:
        skip_or_fail(f"the Alertmanager binary is not installed ({BINARY})")
    return binary


@pytest.fixture
def alertmanager(alertmanager_binary, tmp_path, live_api, session):
    """(Alertmanager base URL, its log path): a real Alertmanager whose only receiver is OpsKnight."""
    binary = alertmanager_binary
    token, _ = make_integration(session, make_service(session), "prometheus")
    config = tmp_path / "alertmanager.yml"
    config.write_text(_config(f"{live_api}/api/webhooks/prometheus", token))
    storage = tmp_path / "am-data"
    storage.mkdir()
    port = _free_port()
    log = tmp_path / "alertmanager.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.path={storage}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=debug"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        def ready():
            if proc.poll() is not None:
                pytest.fail(f"Alertmanager exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
            try:
                return httpx.get(f"{base}/-/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        _wait_for(ready, "Alertmanager to be ready", timeout=15, log=log)
        yield base, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_real_alertmanager_opens_and_resolves_one_incident_per_fingerprint(alertmanager):
    base, log = alertmanager
    started = datetime.now(UTC) - timedelta(minutes=1)
    alerts = [
        {"labels": {"alertname": "OpsKnightBinaryTest", "instance": instance, "severity": "critical", "job": "node"},
         "annotations": {"summary": f"disk almost full on {instance}"},
         "startsAt": _iso(started), "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up"}
        for instance in ("db-01:9100", "db-02:9100")
    ]
    posted = httpx.post(f"{base}/api/v2/alerts", json=alerts, timeout=5)
    assert posted.status_code == 200, posted.text

    # Alertmanager's own fingerprints for the alerts it holds.
    firing = httpx.get(f"{base}/api/v2/alerts", timeout=5).json()
    assert len(firing) == 2
    fingerprints = {a["fingerprint"] for a in firing}
    assert len(fingerprints) == 2

    def opened():
        found = rows(Incident)
        return found if len(found) == 2 else None

    incidents = _wait_for(opened, "two incidents from Alertmanager", log=log)
    assert {i.dedup_key for i in incidents} == fingerprints  # Alertmanager's fingerprint is the dedup key
    assert all(i.status == "triggered" for i in incidents)
    assert {i.title for i in incidents} == {"disk almost full on db-01:9100", "disk almost full on db-02:9100"}
    assert len({i.number for i in incidents}) == 2
    received = rows(Alert)
    assert all(a.source == "prometheus" and a.action == "trigger" for a in received)
    raw = next(a.raw for a in received if a.raw is not None)  # the request's body, kept once
    assert raw["receiver"] == "opsknight" and raw["version"] == "4"  # Alertmanager's body

    # Ending the alerts (endsAt in the past) makes Alertmanager send them resolved (send_resolved: true).
    ended = datetime.now(UTC) - timedelta(seconds=1)
    for alert in alerts:
        alert["endsAt"] = _iso(ended)
    posted = httpx.post(f"{base}/api/v2/alerts", json=alerts, timeout=5)
    assert posted.status_code == 200, posted.text

    def resolved():
        found = rows(Incident)
        return found if found and all(i.status == "resolved" for i in found) else None

    incidents = _wait_for(resolved, "Alertmanager to resolve both incidents", log=log)
    assert len(incidents) == 2 and {i.dedup_key for i in incidents} == fingerprints
    assert all(i.resolved_by_source == "prometheus" and i.resolved_at is not None for i in incidents)
    assert all(i.alert_count >= 2 for i in incidents)  # one firing + one resolved alert at least
    resolves = [a for a in rows(Alert) if a.action == "resolve"]
    assert {a.dedup_key for a in resolves} == fingerprints
    assert httpx.get(f"{base}/api/v2/alerts", timeout=5).json() == []  # nothing active any more
