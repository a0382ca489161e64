"""Plain factory functions for tests: each makes one row with sensible defaults and commits."""

from __future__ import annotations

import itertools
import secrets
from datetime import datetime

from sqlmodel import Session

from opsknight import integrations
from opsknight.models import EscalationPolicy, EscalationStep, EscalationStepTarget, Integration, Service

_seq = itertools.count(1)


def make_policy(db: Session, *, steps: list[list[tuple[str, int]]] | None = None, repeat_count: int = 0) -> EscalationPolicy:
    policy = EscalationPolicy(name=f"policy-{next(_seq)}", repeat_count=repeat_count)
    db.add(policy)
    db.flush()
    for position, targets in enumerate(steps or []):
        step = EscalationStep(policy_id=policy.id, position=position, delay_minutes=5)
        db.add(step)
        db.flush()
        for target_type, target_id in targets:
            db.add(EscalationStepTarget(step_id=step.id, target_type=target_type, target_id=target_id))
    db.commit()
    return policy


def make_service(db: Session, *, policy: EscalationPolicy | None = None, urgency_from_severity: bool = True,
                 default_urgency: str = "high", maintenance_until: datetime | None = None) -> Service:
    service = Service(name=f"service-{next(_seq)}", escalation_policy_id=policy.id if policy else None,
                      urgency_from_severity=urgency_from_severity, default_urgency=default_urgency,
                      maintenance_until=maintenance_until)
    db.add(service)
    db.commit()
    return service


def make_integration(db: Session, service: Service, source_type: str = "prometheus", **kwargs) -> tuple[str, Integration]:
    token, row = integrations.create_integration(db, service, source_type=source_type, **kwargs)
    db.commit()
    return token, row


def api_headers(db: Session, role: str, *, scopes: tuple[str, ...] = ("read", "write"), email: str | None = None) -> dict:
    """`Authorization` headers for a new user of `role` holding an API key with `scopes`."""
    from opsknight import accounts

    user = accounts.create_user(db, email=email or f"{role}-{'-'.join(scopes)}-{secrets.token_hex(3)}@example.com",
                                name=role.title(), role=role, password="pw-long-enough")
    key, _ = accounts.create_api_key(db, user, name="test", scopes=scopes)
    db.commit()
    return {"Authorization": f"Bearer {key}"}
