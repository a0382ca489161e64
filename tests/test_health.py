"""GET /api/health and GET /metrics on the FastAPI app that the Reflex app mounts."""

from __future__ import annotations

from fastapi.testclient import TestClient

from opsknight.api import create_api


def test_health_reports_database_and_redis(pg):
    body = TestClient(create_api()).get("/api/health").json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["redis"]["ok"]
    assert body["database"]["latency_ms"] >= 0


def test_health_is_503_when_redis_is_down(pg, monkeypatch):
    from opsknight.config import reset_settings

    monkeypatch.setenv("OPSKNIGHT_REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    reset_settings()
    from opsknight import broker

    broker.reset_redis()
    response = TestClient(create_api()).get("/api/health")
    assert response.status_code == 503
    assert response.json()["redis"] == {"ok": False, "error": "ConnectionError", "latency_ms": response.json()["redis"]["latency_ms"]}
    assert response.json()["database"]["ok"]


def test_metrics_is_prometheus_text(sqlite):
    response = TestClient(create_api()).get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "python_info" in response.text
