"""The `opsknight` command: migrate, create-user, create-api-key, create-service, create-integration, worker,
scheduler, seed-demo, serve.

Configuration errors and refused requests print one clear line and exit 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import secrets
import sys

from opsknight.config import PROJECT_ROOT, ConfigError, settings

log = logging.getLogger("opsknight")


class CommandError(Exception):
    """A command could not do what was asked; the message says why."""


def _setup_logging() -> None:
    logging.basicConfig(level=settings().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def cmd_migrate(args: argparse.Namespace) -> None:
    from opsknight import migrate

    migrate.upgrade(revision=args.revision)
    print(f"database is at revision {args.revision}")


def cmd_vapid_keys(args: argparse.Namespace) -> None:
    """Print this installation's VAPID public key (browsers subscribe with it)."""
    from opsknight.db import session_scope
    from opsknight.engine import vapid

    with session_scope() as db:
        public = vapid.public_key_for(vapid.stored_private_key(db))
    print(public)
    print("# the applicationServerKey browsers subscribe with; OPSKNIGHT_VAPID_PRIVATE_KEY (or the generated one "
          "in the database) is its private half. Rotating it ends every subscription: see README, "
          "'Install on your phone'.", file=sys.stderr)


def cmd_create_user(args: argparse.Namespace) -> None:
    from opsknight import accounts
    from opsknight.db import session_scope

    password = args.password
    if password is None and args.prompt_password:
        password = getpass.getpass("Password: ")
    try:
        with session_scope() as db:
            user = accounts.create_user(db, email=args.email, name=args.name, role=args.role, password=password,
                                        time_zone=args.time_zone)
            print(f"created user #{user.id} {user.email} ({user.role})")
    except accounts.AccountError as exc:
        raise CommandError(str(exc)) from None


def cmd_create_api_key(args: argparse.Namespace) -> None:
    from sqlmodel import select

    from opsknight import accounts
    from opsknight.db import session_scope
    from opsknight.models import User

    scopes = tuple(s.strip() for s in args.scopes.split(",") if s.strip())
    try:
        with session_scope() as db:
            user = db.exec(select(User).where(User.email == accounts.normalize_email(args.email))).first()
            if user is None:
                raise CommandError(f"no user with email {args.email}")
            key, row = accounts.create_api_key(db, user, name=args.name, scopes=scopes)
    except accounts.AccountError as exc:
        raise CommandError(str(exc)) from None
    print(key)
    print(f"# API key '{row.name}' for {user.email} (scopes: {','.join(scopes)}). It is shown only once.",
          file=sys.stderr)


def cmd_create_service(args: argparse.Namespace) -> None:
    from sqlmodel import select

    from opsknight.db import session_scope
    from opsknight.models import EscalationPolicy, Service

    with session_scope() as db:
        if db.exec(select(Service).where(Service.name == args.name)).first():
            raise CommandError(f"a service named {args.name!r} exists already")
        policy = None
        if args.policy:
            policy = db.exec(select(EscalationPolicy).where(EscalationPolicy.name == args.policy)).first()
            if policy is None:
                raise CommandError(f"no escalation policy named {args.policy!r}")
        service = Service(name=args.name, description=args.description, escalation_policy_id=policy and policy.id)
        db.add(service)
        db.flush()
        print(f"created service #{service.id} {service.name!r}")


def cmd_create_integration(args: argparse.Namespace) -> None:
    from sqlmodel import select

    from opsknight import integrations
    from opsknight.db import session_scope
    from opsknight.models import Service

    options = {"group_by": "group_key"} if args.group_by == "group_key" else {}
    try:
        with session_scope() as db:
            service = db.exec(select(Service).where(Service.name == args.service)).first()
            if service is None:
                raise CommandError(f"no service named {args.service!r}")
            token, row = integrations.create_integration(
                db, service, source_type=args.type, name=args.name or "", with_hmac=args.hmac, options=options,
                heartbeat_interval_seconds=args.heartbeat_interval)
    except integrations.IntegrationError as exc:
        raise CommandError(str(exc)) from None
    print(token)
    base = settings().base_url
    path = {"events_v2": "/api/v2/enqueue", "heartbeat": f"/api/webhooks/heartbeat/{row.id}"}.get(
        args.type, f"/api/webhooks/{args.type}")
    extra = f"; HMAC secret: {row.hmac_secret}" if row.hmac_secret else ""
    print(f"# {args.type} integration #{row.id} for {service.name!r}: POST {base}{path} with "
          f"'Authorization: Bearer <token>'{extra}. The token is shown only once.", file=sys.stderr)


def cmd_worker(args: argparse.Namespace) -> None:
    from opsknight import broker

    if settings().embedded_redis:
        raise CommandError("opsknight worker needs OPSKNIGHT_REDIS_URL (the embedded default runs its worker "
                           "inside the web process)")
    import time

    import redis
    from sqlalchemy.exc import SQLAlchemyError

    from opsknight.engine import jobs, reconciler

    _setup_logging()
    jobs.channel_registry()  # build the provider clients now (and refuse a half-configured channel at start)
    names = args.queues.split(",") if args.queues else list(broker.QUEUE_NAMES)
    while True:
        # RQ's worker gives up when Redis vanishes at the wrong moment; a paging worker comes back by itself.
        try:
            reconciler.reconcile()  # every (re)start rebuilds lost work at once, before waiting for the scheduler
            worker = broker.PagingWorker([broker.queue(n) for n in names], connection=broker.redis_conn())
            worker.work(with_scheduler=True, logging_level=settings().log_level, burst=args.burst)
            return
        except (redis.RedisError, SQLAlchemyError) as exc:
            log.warning("Redis or PostgreSQL unavailable for the worker (restarting it in 1 s): %s", exc)
            time.sleep(1)


def cmd_scheduler(args: argparse.Namespace) -> None:
    from opsknight import broker
    from opsknight.engine import recurring

    if settings().embedded_redis:
        raise CommandError("opsknight scheduler needs OPSKNIGHT_REDIS_URL (the embedded default schedules "
                           "inside the web process)")
    _setup_logging()
    recurring.run_scheduler(broker.redis_conn(), interval=args.interval)


def cmd_seed_demo(args: argparse.Namespace) -> None:
    from opsknight import demo
    from opsknight.db import session_scope

    with session_scope() as db:
        summary = demo.seed(db, password=args.password)
    print(summary)


def cmd_serve(args: argparse.Namespace) -> None:
    """Migrate, make sure someone can sign in, print how, then run Reflex in production mode on one port."""
    from sqlmodel import select

    from opsknight import accounts, migrate
    from opsknight.db import session_scope
    from opsknight.models import Role, User

    cfg = settings()
    migrate.upgrade()
    login_hint = ""
    with session_scope() as db:
        accounts.ensure_bootstrap_admin(db, cfg)
        if db.exec(select(User.id).limit(1)).first() is None:
            password = secrets.token_urlsafe(12)
            accounts.create_user(db, email="admin@example.com", name="Administrator", role=Role.ADMIN,
                                 password=password)
            login_hint = f"Sign in as admin@example.com with password {password} (shown once; change it)."
    if not login_hint:
        login_hint = (f"Sign in as {cfg.admin_email} (OPSKNIGHT_ADMIN_PASSWORD)." if cfg.admin_email
                      else "Sign in with an existing account (opsknight create-user adds one).")
    backend = "SQLite + in-process Redis + worker thread" if cfg.embedded_redis else "PostgreSQL/Redis as configured"
    port = os.environ.get("OPSKNIGHT_PORT", "3000")
    print(f"\nOpsKnight starting on {cfg.base_url}  ({backend})\n{login_hint}\n", flush=True)
    os.environ.setdefault("REFLEX_USE_NPM", "1")
    os.environ.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
    if not cfg.embedded_redis:
        # With shared UI state in Redis, Reflex runs several web worker processes (2 x cores + 1) instead of
        # one; the embedded default keeps one process, since its Redis lives inside it.
        os.environ.setdefault("REFLEX_REDIS_URL", cfg.redis_url)
    os.chdir(PROJECT_ROOT)  # reflex finds rxconfig.py in the working directory
    # `reflex run`, with the web server settings of opsknight.web_server (Reflex offers no way to pass them).
    os.execv(sys.executable, [sys.executable, "-m", "opsknight.web_server", "run", "--env", "prod", "--single-port",
                              "--backend-port", port, "--frontend-port", port, "--backend-host", args.host])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opsknight", description="OpsKnight on-call and incident response")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("migrate", help="apply database migrations")
    p.add_argument("--revision", default="head", help="target revision (default: head)")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("vapid-keys", help="print the VAPID public key browsers subscribe to web push with")
    p.set_defaults(func=cmd_vapid_keys)

    p = sub.add_parser("create-user", help="create a user")
    p.add_argument("--email", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--role", default="responder", choices=["admin", "responder", "viewer"])
    p.add_argument("--password", help="initial password (omit to invite without one)")
    p.add_argument("--prompt-password", action="store_true", help="read the password from the terminal")
    p.add_argument("--time-zone", default="UTC", help="IANA time zone, e.g. Europe/Berlin")
    p.set_defaults(func=cmd_create_user)

    p = sub.add_parser("create-api-key", help="create a personal API key and print it once")
    p.add_argument("--email", required=True, help="the key's owner")
    p.add_argument("--name", required=True, help="what the key is for")
    p.add_argument("--scopes", default="read,write", help="read,write (default) or read")
    p.set_defaults(func=cmd_create_api_key)

    p = sub.add_parser("create-service", help="create a service (alerts arrive through its integrations)")
    p.add_argument("--name", required=True)
    p.add_argument("--description", default="")
    p.add_argument("--policy", help="name of the escalation policy that pages for it")
    p.set_defaults(func=cmd_create_service)

    p = sub.add_parser("create-integration", help="create a service integration and print its token once")
    p.add_argument("--service", required=True, help="service name")
    p.add_argument("--type", required=True,
                   choices=["prometheus", "grafana", "datadog", "events_v2", "generic", "heartbeat"])
    p.add_argument("--name", help="display name")
    p.add_argument("--hmac", action="store_true", help="require an HMAC-SHA256 body signature")
    p.add_argument("--group-by", choices=["fingerprint", "group_key"], default="fingerprint",
                   help="Alertmanager/Grafana: one incident per alert (default) or per group")
    p.add_argument("--heartbeat-interval", type=int, help="heartbeat: seconds without a ping before an incident")
    p.set_defaults(func=cmd_create_integration)

    p = sub.add_parser("worker", help="run an RQ worker (needs OPSKNIGHT_REDIS_URL)")
    p.add_argument("--queues", default="", help="comma-separated queue names (default: urgent,default)")
    p.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("scheduler", help="run the recurring-job scheduler (needs OPSKNIGHT_REDIS_URL)")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between scheduler polls")
    p.set_defaults(func=cmd_scheduler)

    p = sub.add_parser("seed-demo", help="fill the database with a realistic demo organisation")
    p.add_argument("--password", default="demo-password", help="password for every demo user")
    p.set_defaults(func=cmd_seed_demo)

    p = sub.add_parser("serve", help="migrate and run the web app (production mode, one port)")
    p.add_argument("--host", default="0.0.0.0")
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings()
        args.func(args)
    except (ConfigError, CommandError) as exc:
        print(f"opsknight: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
