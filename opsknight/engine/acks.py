"""Acknowledge links for email and push: signed, expiring, single-use.

A link carries `<delivery id>.<expiry>.<HMAC>` signed with OPSKNIGHT_SECRET_KEY, so it needs no table of its
own; using it inserts `ack-used:<delivery id>` into app_kv, whose primary key makes the second use fail.
Disabling a user marks every link of theirs that may still be live the same way (`revoke_links_of`), so it stays
dead even if the user is enabled again.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from opsknight.config import settings
from opsknight.engine import clock
from opsknight.models import AppKV, Delivery

LIFETIME = timedelta(hours=24)
_USED = "ack-used:"
REVOKED = "revoked"  # the app_kv value of a link ended by disabling its user (a used one holds the time of use)


def _sign(message: str) -> str:
    return hmac.new(settings().secret_key.encode(), message.encode(), hashlib.sha256).hexdigest()[:32]


# A receipt token is signed for another purpose than an acknowledge token: one cannot stand in for the other.
# (Acknowledge tokens sign the bare message, as they always have: links already sent stay valid.)
ACK, RECEIPT = "", "receipt:"


def make_token(delivery_id: int, now: datetime, purpose: str = ACK) -> str:
    message = f"{delivery_id}.{int((now + LIFETIME).timestamp())}"
    return f"{message}.{_sign(purpose + message)}"


def _verified(token: str, now: datetime, purpose: str, what: str) -> int:
    """The delivery id a genuine, unexpired token of `purpose` names; raises AckLinkError."""
    try:
        delivery_id, expires, signature = token.split(".")
        delivery_id_int, expires_int = int(delivery_id), int(expires)
    except ValueError:
        raise AckLinkError(f"This {what} is malformed") from None
    # `compare_digest` raises on a non-ASCII str rather than answering: such a signature is simply wrong.
    if not signature.isascii() or not hmac.compare_digest(signature, _sign(f"{purpose}{delivery_id}.{expires}")):
        raise AckLinkError(f"This {what} is not valid", status=403 if purpose == RECEIPT else 410)
    if now.timestamp() > expires_int:
        raise AckLinkError(f"This {what} has expired" + ("; open the incident instead" if purpose == ACK else ""))
    return delivery_id_int


@dataclass(frozen=True)
class Links:
    """A page's links: acknowledge (POST; also what the service worker posts), the acknowledge page a tap opens
    where notifications have no buttons (iOS, Firefox), and where the service worker reports receipts."""

    ack_url: str
    ack_page_url: str
    receipt_url: str


def links(delivery: Delivery) -> Links:
    now, base = clock.now(), settings().base_url
    token = make_token(delivery.id, now)
    return Links(ack_url=f"{base}/api/ack/{token}", ack_page_url=f"{base}/ack/{token}",
                 receipt_url=f"{base}/api/push/receipts/{make_token(delivery.id, now, RECEIPT)}")


def receipt_delivery_id(token: str, now: datetime) -> int:
    """The delivery a receipt token names, if it is genuine and not expired (receipts may come more than once)."""
    return _verified(token, now, RECEIPT, "receipt token")


class AckLinkError(ValueError):
    """The link is malformed, forged, expired, used already or revoked (410), or its user may not act (403). The
    message is safe to show."""

    def __init__(self, message: str, status: int = 410):
        super().__init__(message)
        self.status = status


def redeem(db: Session, token: str, now: datetime) -> Delivery:
    """Check a token and mark it used (inside the caller's transaction); returns its delivery."""
    delivery_id_int = _verified(token, now, ACK, "acknowledge link")
    delivery = db.get(Delivery, delivery_id_int)
    if delivery is None:
        raise AckLinkError("This acknowledge link is not valid")
    try:
        with db.begin_nested():
            db.add(AppKV(key=f"{_USED}{delivery_id_int}", value=now.isoformat()))
            db.flush()
    except IntegrityError:
        mark = db.get(AppKV, f"{_USED}{delivery_id_int}")
        if mark is not None and mark.value == REVOKED:
            raise AckLinkError("This acknowledge link is no longer valid") from None
        raise AckLinkError("This acknowledge link was used already") from None
    return delivery


def revoke_links_of(db: Session, user_id: int, now: datetime) -> int:
    """End every acknowledge link sent to this user that may still be live, inside the caller's transaction.
    A link is signed when its page goes out, which may be long after the delivery row was written (a delayed
    rule, pacing, retries): every delivery sent within LIFETIME, or not sent yet, counts. Returns how many were
    ended."""
    cutoff = now - LIFETIME - timedelta(minutes=5)
    ids = db.exec(select(Delivery.id).where(Delivery.user_id == user_id, or_(
        Delivery.sent_at >= cutoff, Delivery.sent_at.is_(None), Delivery.created_at >= cutoff))).all()
    ended = 0
    for delivery_id in ids:
        try:  # one by one: a link redeemed at this very moment must not fail the disable
            with db.begin_nested():
                db.add(AppKV(key=f"{_USED}{delivery_id}", value=REVOKED))
                db.flush()
            ended += 1
        except IntegrityError:
            pass  # used already, or revoked before
    return ended
