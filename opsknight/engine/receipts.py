"""Web push receipts: the service worker reports when it showed a page's notification and when the person tapped
it (or one of its buttons). The delivery row keeps the times; the incident's timeline says it in words ("Push
shown on Pixel 8"), so the people watching know the page reached a screen — what no provider receipt can say for
web push. A receipt may come twice (a retried fetch); only the first of each kind counts.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from opsknight.engine.dispatch import person_name, timeline
from opsknight.models import ContactMethod, Delivery, TimelineKind

EVENTS = ("displayed", "acted")


class ReceiptError(ValueError):
    """The receipt names no push page. The message is safe to show."""


def record(db: Session, delivery_id: int, event: str, action: str, now: datetime) -> int | None:
    """Record one receipt inside the caller's transaction; returns the incident id when something changed."""
    if event not in EVENTS:
        raise ReceiptError(f"event must be one of {', '.join(EVENTS)}")
    delivery = db.exec(select(Delivery).where(Delivery.id == delivery_id).with_for_update()).first()
    if delivery is None or delivery.channel != "push":
        raise ReceiptError("No push page has this receipt")
    contact = db.get(ContactMethod, delivery.contact_method_id) if delivery.contact_method_id else None
    device = (contact.label if contact and contact.label else "a browser")[:100]
    who = person_name(db, delivery.user_id)
    if event == "displayed" and delivery.displayed_at is None:
        delivery.displayed_at, delivery.shown_by = now, None
        message = f"Push shown to {who} on {device}"
    elif event == "acted" and delivery.acted_at is None:
        delivery.displayed_at = delivery.displayed_at or now  # a tap proves it was shown
        delivery.acted_at, delivery.shown_by = now, None
        message = f"{who} tapped the push on {device}" + (f" ({action[:40]})" if action else "")
    else:
        return None
    db.add(delivery)
    timeline(db, delivery.incident_id, TimelineKind.NOTIFIED, now, message,
             {"delivery_id": delivery.id, "receipt": event}, actor_user_id=delivery.user_id, source="push")
    return delivery.incident_id
