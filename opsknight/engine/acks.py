"""Acknowledge links for email and push: signed, expiring, single-use.

A link carries `<delivery id>.<expiry>.<HMAC>` signed with OPSKNIGHT_SECRET_KEY, so it needs no table of its
own; using it inserts `ack-used:<delivery id>` into app_kv, whose primary key makes the second use fail.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from opsknight.config import settings
from opsknight.engine import clock
from opsknight.models import AppKV, Delivery

LIFETIME = timedelta(hours=24)


def _sign(message: str) -> str:
    return hmac.new(settings().secret_key.encode(), message.encode(), hashlib.sha256).hexdigest()[:32]


def make_token(delivery_id: int, now: datetime) -> str:
    message = f"{delivery_id}.{int((now + LIFETIME).timestamp())}"
    return f"{message}.{_sign(message)}"


def ack_url(delivery: Delivery) -> str:
    return f"{settings().base_url}/api/ack/{make_token(delivery.id, clock.now())}"


class AckLinkError(ValueError):
    """The link is malformed, forged, expired or used already. The message is safe to show."""


def redeem(db: Session, token: str, now: datetime) -> Delivery:
    """Check a token and mark it used (inside the caller's transaction); returns its delivery."""
    try:
        delivery_id, expires, signature = token.split(".")
        delivery_id_int, expires_int = int(delivery_id), int(expires)
    except ValueError:
        raise AckLinkError("This acknowledge link is malformed") from None
    if not hmac.compare_digest(signature, _sign(f"{delivery_id}.{expires}")):
        raise AckLinkError("This acknowledge link is not valid")
    if now.timestamp() > expires_int:
        raise AckLinkError("This acknowledge link has expired; open the incident instead")
    delivery = db.get(Delivery, delivery_id_int)
    if delivery is None:
        raise AckLinkError("This acknowledge link is not valid")
    try:
        with db.begin_nested():
            db.add(AppKV(key=f"ack-used:{delivery_id_int}", value=now.isoformat()))
            db.flush()
    except IntegrityError:
        raise AckLinkError("This acknowledge link was used already") from None
    return delivery
