"""A live HTTP server for the API (uvicorn in a thread, same FastAPI app the product mounts) and helpers."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from opsknight import db
from opsknight.api import create_api

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def client(pg) -> TestClient:
    return TestClient(create_api())


@pytest.fixture
def live_api(pg):
    """Base URL of a real HTTP server for the API, for tests that need true concurrency or real senders."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_api(), host="127.0.0.1", port=port, log_level="warning",
                                           backlog=2048, limit_concurrency=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def count(model, *where) -> int:
    with Session(db.engine()) as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()


def rows(model, *where, order_by=None) -> list:
    with Session(db.engine(), expire_on_commit=False) as s:
        query = select(model).where(*where)
        if order_by is not None:
            query = query.order_by(order_by)
        return list(s.exec(query).all())
