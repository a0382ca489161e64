"""Start the real app (production build, one port) once per run and drive it with Debian's Chromium."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.dbutil import services_required

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]
ADMIN_EMAIL = "admin@e2e.example.com"
ADMIN_PASSWORD = "e2e-admin-password"
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_data_dir(tmp_path_factory) -> Path:
    """The app's data directory (its SQLite database): tests may run `opsknight` commands against it."""
    return tmp_path_factory.mktemp("e2e-data")


@pytest.fixture(scope="session")
def app_server(app_data_dir):
    """The app as `make run` starts it: SQLite + in-process Redis + worker thread, with a bootstrap admin."""
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    data_dir = app_data_dir
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSKNIGHT_")}
    bin_dir = str(Path(sys.executable).parent)
    env.update(
        PATH=f"{bin_dir}:{env.get('PATH', '')}", REFLEX_USE_NPM="1", REFLEX_TELEMETRY_ENABLED="false",
        OPSKNIGHT_PORT=str(port), OPSKNIGHT_BASE_URL=base_url, OPSKNIGHT_DATA_DIR=str(data_dir),
        OPSKNIGHT_ADMIN_EMAIL=ADMIN_EMAIL, OPSKNIGHT_ADMIN_PASSWORD=ADMIN_PASSWORD, OPSKNIGHT_BCRYPT_ROUNDS="4",
    )
    log_path = data_dir / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([str(Path(bin_dir) / "opsknight"), "serve", "--host", "127.0.0.1"], cwd=ROOT,
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 600  # a first build on a cold npm cache takes minutes
        while True:
            if proc.poll() is not None:
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
        yield base_url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


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
