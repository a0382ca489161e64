"""The app's backend as `opsknight serve` runs it, without the frontend build: for the live-path tests and
bench/live.py, whose clients speak Reflex's websocket protocol (`tests/reflex_client.py`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


class BackendDidNotStart(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_backend(env_overrides: dict[str, str], log_path: Path, workers: int | None = 1):
    """The app's backend only (no frontend build): `python -m opsknight.web_server run --env prod --backend-only`.
    `workers`: granian worker processes (None: Reflex's own choice, 2 x cores + 1 with Redis)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSKNIGHT_", "REFLEX_"))}
    bin_dir = str(Path(sys.executable).parent)
    env.update(PATH=f"{bin_dir}:{env.get('PATH', '')}", REFLEX_USE_NPM="1", REFLEX_TELEMETRY_ENABLED="false",
               OPSKNIGHT_PORT=str(port), OPSKNIGHT_BASE_URL=base, REFLEX_BACKEND_ONLY="true",
               OPSKNIGHT_BCRYPT_ROUNDS="4", **env_overrides)
    if workers is not None:
        env["GRANIAN_WORKERS"] = str(workers)
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "opsknight.web_server", "run", "--env", "prod",
                                 "--backend-only", "--backend-port", str(port), "--backend-host", "127.0.0.1"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process_group(proc)
            raise BackendDidNotStart(log_path.read_text()[-4000:])
        time.sleep(0.3)
    return proc, base


def stop_process_group(proc) -> None:
    """Stop a process started with start_new_session=True, and everything it started (granian's workers)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass
