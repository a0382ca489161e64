"""Start the real app (production build, one port) once per run and drive it with Debian's Chromium.

The app runs as in production on PostgreSQL + Redis: `opsknight serve` (several web worker processes sharing UI
state in Redis), an `opsknight worker` and the `opsknight scheduler` — the live path across processes is what
the dashboard tests check. (The embedded default's live path is checked by tests/integration/test_live_feed.py.)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis

from tests.dbutil import fresh_pg_database, redis_available, services_required, skip_or_fail
from tests.live_server import stop_process_group

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]
ADMIN_EMAIL = "admin@e2e.example.com"
ADMIN_PASSWORD = "e2e-admin-password"
ROOT = Path(__file__).resolve().parents[2]
E2E_REDIS_URL = os.environ.get("OPSKNIGHT_E2E_REDIS_URL", "redis://127.0.0.1:6379/12")  # flushed by the run
SCREENSHOTS = ROOT / "tests" / "e2e" / "screenshots"  # git-ignored: what each new page looks like, 1280 and 375 px
_APP_ENV: dict[str, str] = {}  # the app's OPSKNIGHT_* settings, for run_cli


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("OPSKNIGHT_", "REFLEX_"))}


@pytest.fixture(scope="session")
def app_data_dir(tmp_path_factory) -> Path:
    """The app's data directory (generated keys, logs)."""
    return tmp_path_factory.mktemp("e2e-data")


def run_cli(data_dir: Path, *args: str) -> str:
    """Run an `opsknight` command against the app's database and return what it printed."""
    env = _clean_env() | _APP_ENV | {"OPSKNIGHT_DATA_DIR": str(data_dir), "OPSKNIGHT_BCRYPT_ROUNDS": "4"}
    done = subprocess.run([str(Path(sys.executable).parent / "opsknight"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


def _start(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    with open(log_path, "w") as log:
        return subprocess.Popen([str(Path(sys.executable).parent / "opsknight"), *args], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture(scope="session")
def push_service():
    """A local web push service the app's pywebpush sends to (a real one needs the browser vendor's servers): it
    checks the VAPID signature against the app's key and the headers, and decrypts each push."""
    from opsknight.engine import vapid
    from tests.fakes.push import PushFake

    private, public = vapid.generate_vapid_keys()
    with PushFake(vapid_public_key=public) as fake:
        fake.vapid_private_key = private
        yield fake


@pytest.fixture(scope="session")
def app_server(app_data_dir, push_service):
    """The app as in production: PostgreSQL + Redis, several web processes, a worker and the scheduler."""
    if not redis_available(E2E_REDIS_URL):
        skip_or_fail(f"Redis is not reachable at {E2E_REDIS_URL}")
    redis.Redis.from_url(E2E_REDIS_URL).flushdb()
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    data_dir = app_data_dir
    bin_dir = str(Path(sys.executable).parent)
    with fresh_pg_database("oke2e") as db_url:
        _APP_ENV.update(OPSKNIGHT_DATABASE_URL=db_url, OPSKNIGHT_REDIS_URL=E2E_REDIS_URL)
        env = _clean_env() | _APP_ENV
        env.update(
            PATH=f"{bin_dir}:{env.get('PATH', '')}", REFLEX_USE_NPM="1", REFLEX_TELEMETRY_ENABLED="false",
            OPSKNIGHT_PORT=str(port), OPSKNIGHT_BASE_URL=base_url, OPSKNIGHT_DATA_DIR=str(data_dir),
            OPSKNIGHT_ADMIN_EMAIL=ADMIN_EMAIL, OPSKNIGHT_ADMIN_PASSWORD=ADMIN_PASSWORD, OPSKNIGHT_BCRYPT_ROUNDS="4",
            OPSKNIGHT_VAPID_PRIVATE_KEY=push_service.vapid_private_key, OPSKNIGHT_VAPID_SUBJECT="mailto:oncall@example.com",
            OPSKNIGHT_EXTRA_PUSH_SERVICES=push_service.url,
        )
        log_path = data_dir / "server.log"
        procs = [_start(["serve", "--host", "127.0.0.1"], env, log_path)]
        try:
            deadline = time.monotonic() + 600  # a first build on a cold npm cache takes minutes
            while True:
                if procs[0].poll() is not None:
                    pytest.fail(f"the app exited early:\n{log_path.read_text()[-4000:]}")
                try:
                    if httpx.get(f"{base_url}/api/health", timeout=2).status_code == 200 and \
                            httpx.get(f"{base_url}/login/", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"the app did not start in time:\n{log_path.read_text()[-4000:]}")
                time.sleep(1)
            # Migrated by serve: now the worker (pages) and the scheduler (timers, the reconciler).
            procs.append(_start(["worker"], env, data_dir / "worker.log"))
            procs.append(_start(["scheduler"], env, data_dir / "scheduler.log"))
            yield base_url
        finally:
            for proc in reversed(procs):
                stop_process_group(proc)
            _APP_ENV.clear()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, app_server):
    context = browser.new_context(base_url=app_server)
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()
