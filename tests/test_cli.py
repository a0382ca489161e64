"""The `opsknight` command, run as a real subprocess against a fresh PostgreSQL database."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, create_engine, func, select

from opsknight import accounts
from opsknight.engine import clock, status_snapshot
from opsknight.models import Incident, IncidentStatus, Integration, Role, Team, User
from tests.dbutil import fresh_pg_database

OPSKNIGHT = str(Path(sys.executable).parent / "opsknight")


@pytest.fixture(scope="module")
def cli_db():
    with fresh_pg_database("okcli") as url:
        yield url


def run(args, url, tmp_path, **extra_env):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSKNIGHT_")}
    env.update(OPSKNIGHT_DATABASE_URL=url, OPSKNIGHT_DATA_DIR=str(tmp_path), OPSKNIGHT_BCRYPT_ROUNDS="4", **extra_env)
    return subprocess.run([OPSKNIGHT, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", ["migrate", "create-user", "create-api-key", "create-service",
                                     "create-integration", "worker", "scheduler", "seed-demo", "serve"])
def test_every_command_has_help(command, tmp_path):
    result = run([command, "--help"], "sqlite:///x.db", tmp_path)
    assert result.returncode == 0 and "usage: opsknight" in result.stdout


def test_migrate_create_user_and_api_key(cli_db, tmp_path):
    assert run(["migrate"], cli_db, tmp_path).returncode == 0
    created = run(["create-user", "--email", "Ops@Example.com", "--name", "Ops", "--role", "admin", "--password",
                   "a good password"], cli_db, tmp_path)
    assert created.returncode == 0, created.stderr
    assert "ops@example.com (admin)" in created.stdout

    key = run(["create-api-key", "--email", "ops@example.com", "--name", "terraform", "--scopes", "read"],
              cli_db, tmp_path)
    assert key.returncode == 0, key.stderr
    printed = key.stdout.strip()
    assert printed.startswith("okk_") and "shown only once" in key.stderr
    with Session(create_engine(cli_db)) as db:
        principal = accounts.principal_for_api_key(db, printed)
        assert principal.email == "ops@example.com" and principal.role == Role.ADMIN and principal.scopes == ("read",)


def test_refusals_are_one_line_not_tracebacks(cli_db, tmp_path):
    assert run(["migrate"], cli_db, tmp_path).returncode == 0
    dup = run(["create-user", "--email", "dup@example.com", "--name", "D"], cli_db, tmp_path)
    assert dup.returncode == 0
    again = run(["create-user", "--email", "dup@example.com", "--name", "D"], cli_db, tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr
    nokey = run(["create-api-key", "--email", "ghost@example.com", "--name", "x"], cli_db, tmp_path)
    assert nokey.returncode == 2 and "no user with email" in nokey.stderr
    bad = run(["migrate"], "postgresql://nohost", tmp_path)
    assert bad.returncode == 2 and "OPSKNIGHT_DATABASE_URL" in bad.stderr and "Traceback" not in bad.stderr
    worker = run(["worker"], cli_db, tmp_path)
    assert worker.returncode == 2 and "needs OPSKNIGHT_REDIS_URL" in worker.stderr


def test_seed_demo_creates_a_realistic_org_once(cli_db, tmp_path):
    assert run(["migrate"], cli_db, tmp_path).returncode == 0
    seeded = run(["seed-demo"], cli_db, tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    with Session(create_engine(cli_db)) as db:
        assert db.exec(select(func.count()).select_from(Team)).one() >= 2
        assert db.exec(select(func.count()).select_from(Integration)).one() >= 3
        statuses = set(db.exec(select(Incident.status)).all())
        assert statuses == {IncidentStatus.TRIGGERED, IncidentStatus.ACKNOWLEDGED, IncidentStatus.RESOLVED}
        ada = db.exec(select(User).where(User.email == "ada@demo.opsknight.dev")).one()
        assert accounts.authenticate(db, ada.email, "demo-password") is not None
        # weeks of history: the status page's bars and the analytics have something to show
        weeks_ago = clock.now() - timedelta(days=21)
        assert db.exec(select(func.count()).select_from(Incident).where(Incident.created_at < weeks_ago)).one() > 50
        page = status_snapshot.load(db, clock.now(), "http://demo", "Status")
        assert [c["name"] for c in page["components"]] == ["Checkout", "Billing", "Public API", "Database"]
        assert page["components"][0]["status"] == "major_outage"  # the open high-urgency checkout incident
        assert page["incidents"][0]["name"] == "Some card payments fail"
        bad_days = [d for d in page["history"][page["components"][0]["id"]]["days"] if d["status"] != "operational"]
        assert len(bad_days) > 10
    again = run(["seed-demo"], cli_db, tmp_path)
    assert again.returncode == 2 and "already there" in again.stderr


def test_create_service_and_integration_prints_a_working_token(cli_db, tmp_path):
    assert run(["migrate"], cli_db, tmp_path).returncode == 0
    assert run(["create-service", "--name", "Checkout"], cli_db, tmp_path).returncode == 0
    made = run(["create-integration", "--service", "Checkout", "--type", "prometheus"], cli_db, tmp_path)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("okt_") and len(token) == 32 and "/api/webhooks/prometheus" in made.stderr
    with Session(create_engine(cli_db)) as db:
        from opsknight import integrations

        integration, _service = integrations.find_for_ingest(db, token)
        assert integration.source_type == "prometheus"
    bad = run(["create-integration", "--service", "Checkout", "--type", "heartbeat"], cli_db, tmp_path)
    assert bad.returncode == 2 and "interval" in bad.stderr
    missing = run(["create-integration", "--service", "Nope", "--type", "generic"], cli_db, tmp_path)
    assert missing.returncode == 2 and "no service named" in missing.stderr
