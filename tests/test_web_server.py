"""`opsknight serve` runs `reflex run` with web server settings Reflex does not pass (opsknight/web_server.py)."""

from __future__ import annotations

import inspect

import granian.server


def test_the_granian_server_reflex_builds_gets_our_settings(monkeypatch):
    from opsknight import web_server

    monkeypatch.setattr(granian.server, "Server", granian.server.Server)  # undone after the test
    web_server.tune_granian()
    server = granian.server.Server("opsknight.opsknight:app", factory=True, workers=3)  # what Reflex passes
    assert server.backpressure == web_server.CONNECTIONS_PER_WORKER  # not 1024 // 3
    assert server.backlog == web_server.BACKLOG
    assert server.http1_settings.header_read_timeout == web_server.HEADER_READ_MS
    assert server.respawn_failed_workers is True
    assert server.workers == 3  # Reflex's own arguments still win


def test_reflex_still_builds_its_granian_server_where_the_patch_reaches_it():
    """The patch replaces `granian.server.Server`; it works only while Reflex looks it up there when it starts
    the backend. A Reflex upgrade that changes this must fail here, not silently drop the settings."""
    from reflex.utils import exec as reflex_exec

    source = inspect.getsource(reflex_exec.run_granian_backend_prod)
    assert "from granian.server import Server" in source
