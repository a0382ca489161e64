"""The audit log: who changed what, and when. Written in the same transaction as the change it describes."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session

from opsknight.accounts import Principal
from opsknight.engine import clock
from opsknight.models import AuditLog

SECRET_FIELDS = frozenset({"password", "password_hash", "token", "token_digest", "hmac_secret", "key_digest"})


def _safe(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def changes_between(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    """{"field": [old, new]} for every field that differs; secrets are named but never stored."""
    out = {}
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before != after:
            out[key] = ["***", "***"] if key in SECRET_FIELDS else [_safe(before), _safe(after)]
    return out


def record(db: Session, actor: Principal | None, action: str, entity_type: str, entity_id: Any,
           changes: dict[str, Any] | None = None, ip: str | None = None) -> AuditLog:
    """Add an audit entry for `action` ("service.create") on `entity_type` #`entity_id`."""
    clean = {k: ("***" if k in SECRET_FIELDS else v) for k, v in (changes or {}).items()}
    clean = json.loads(json.dumps(clean, default=str))  # datetimes and the like, as text
    entry = AuditLog(at=clock.now(), actor_user_id=actor.user_id if actor else None,
                     actor_api_key_id=actor.api_key_id if actor else None, action=action,
                     entity_type=entity_type, entity_id=str(entity_id), changes=clean, ip=ip)
    db.add(entry)
    return entry
