"""Integrations: the per-service endpoints monitors post to. Store functions shared by the UI, API and CLI."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from opsknight import security
from opsknight.db import session_scope
from opsknight.engine import clock
from opsknight.engine.ingest import SERVICE_FIELDS, SERVICES
from opsknight.models import Integration, Service, SourceType


class IntegrationError(ValueError):
    """A request about integrations that cannot be honoured; the message is safe to show."""


def create_integration(
    db: Session, service: Service, *, source_type: str, name: str = "", with_hmac: bool = False,
    options: dict | None = None, heartbeat_interval_seconds: int | None = None,
) -> tuple[str, Integration]:
    """Create an integration; returns (token shown once, row). The token is stored only as its digest."""
    if source_type not in {s.value for s in SourceType}:
        raise IntegrationError(f"source type must be one of {', '.join(s.value for s in SourceType)}")
    if source_type == SourceType.HEARTBEAT and not (heartbeat_interval_seconds and heartbeat_interval_seconds >= 30):
        raise IntegrationError("a heartbeat integration needs an interval of at least 30 seconds")
    token = security.new_integration_token()
    row = Integration(service_id=service.id, name=(name or f"{source_type} for {service.name}")[:100],
                      source_type=source_type, token_digest=security.token_digest(token),
                      token_prefix=security.display_prefix(token),
                      hmac_secret=secrets.token_hex(32) if with_hmac else None, enabled=True,
                      options=dict(options or {}), heartbeat_interval_seconds=heartbeat_interval_seconds,
                      created_at=clock.now())
    db.add(row)
    db.flush()
    return token, row


def rotate_token(db: Session, integration: Integration) -> str:
    """Replace the token; the old one stops working at once."""
    token = security.new_integration_token()
    integration.token_digest = security.token_digest(token)
    integration.token_prefix = security.display_prefix(token)
    db.add(integration)
    db.flush()
    return token


# The webhook hot path's one query: the integration and what ingest reads of its service.
_SELECT_FOR_INGEST = (
    select(Integration.__table__, *[SERVICES.c[k].label(f"service__{k}") for k in SERVICE_FIELDS])
    .join_from(Integration.__table__, SERVICES, SERVICES.c.id == Integration.__table__.c.service_id)
    .where(Integration.__table__.c.token_digest == bindparam("digest")))


def find_for_ingest(db: Session, token: str) -> tuple[SimpleNamespace, SimpleNamespace] | None:
    """The token's integration (enabled or not) and what ingest reads of its service, by digest, compared in
    constant time. Plain attribute bags, not ORM rows: this is the webhook hot path (see `engine.ingest`)."""
    if not token or len(token) > 256 or not token.isascii():
        return None
    row = db.connection().execute(_SELECT_FOR_INGEST, {"digest": security.token_digest(token)}).first()
    if row is None or not security.digests_match(row.token_digest, token):
        return None
    values = dict(row._mapping)
    service = {k.removeprefix("service__"): values.pop(k) for k in list(values) if k.startswith("service__")}
    return SimpleNamespace(**values), SimpleNamespace(**service)


def record_ping(db: Session, integration_id: int, now) -> None:
    db.connection().execute(update(Integration.__table__).where(Integration.__table__.c.id == integration_id)
                            .values(last_heartbeat_at=now))


_TOUCH_EVERY_SECONDS = 60.0
_last_touched: dict[int, float] = {}


def touch_last_used(integration_id: int) -> None:
    """Record that an integration was used, at most once a minute per process, off the ingest transaction
    (updating the row inside it would serialize every concurrent alert of that integration on its lock)."""
    mono = time.monotonic()
    if mono - _last_touched.get(integration_id, -_TOUCH_EVERY_SECONDS) < _TOUCH_EVERY_SECONDS:
        return
    _last_touched[integration_id] = mono
    now = clock.now()
    try:
        with session_scope() as db:
            db.exec(update(Integration).where(
                Integration.id == integration_id,
                or_(Integration.last_used_at.is_(None), Integration.last_used_at < now - timedelta(minutes=1)),
            ).values(last_used_at=now))
    except SQLAlchemyError:  # bookkeeping only; never fail an accepted alert over it
        pass


def forget_touches() -> None:
    """Forget this process's touch memo (tests reset the database under it)."""
    _last_touched.clear()
