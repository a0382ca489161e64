"""Contact methods and notification rules: one set of functions for a user's own (profile) and anyone's (admin).

Writes are allowed to an admin, or to the user themselves with OWN_PROFILE; reads to anyone who can read.
Addresses are normalized here, once: E.164 phone numbers (`phonenumbers`), lower-case emails, Slack member ids,
https push endpoints with their keys. Dispatch trusts what is stored.
"""

from __future__ import annotations

import os
import re
from typing import Literal
from urllib.parse import urlsplit

import phonenumbers
from pydantic import Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from opsknight import accounts
from opsknight.accounts import Principal
from opsknight.admin import Conflict, Invalid, NotFound, audit, authorize, parse
from opsknight.admin.fields import Input
from opsknight.models import ContactMethod, NotificationRule, User
from opsknight.permissions import Permission

MAX_ID = 2**31 - 1
SLACK_MEMBER_ID = re.compile(r"^[UW][A-Z0-9]{2,31}$")
ContactKind = Literal["email", "sms", "whatsapp", "slack", "push"]
_B64URL = r"^[A-Za-z0-9_\-]+={0,2}$"
# The push services browsers subscribe with. Anything else is refused: the server POSTs to a push endpoint (every
# page and every test message), so an arbitrary URL would let any user make it call hosts inside the network.
PUSH_SERVICES = ("fcm.googleapis.com", "push.services.mozilla.com", "notify.windows.com", "push.apple.com")


class PushKeys(Input):
    """A browser push subscription's keys (`PushSubscription.toJSON().keys`)."""

    p256dh: str = Field(min_length=16, max_length=200, pattern=_B64URL)
    auth: str = Field(min_length=8, max_length=100, pattern=_B64URL)


class ContactMethodCreate(Input):
    kind: ContactKind
    address: str = Field(min_length=1, max_length=2048, description="email, +E.164 phone, Slack member id "
                                                                    "(U…), or the push endpoint URL")
    label: str = Field(default="", max_length=100)
    enabled: bool = True
    push_keys: PushKeys | None = Field(default=None, description="required for kind=push")


class ContactMethodUpdate(Input):
    address: str | None = Field(default=None, min_length=1, max_length=2048)
    label: str | None = Field(default=None, max_length=100)
    enabled: bool | None = None
    push_keys: PushKeys | None = None


FALLTHROUGH = "web push only: if the device has not shown the notification within this many seconds (asleep, " \
              "offline, Do Not Disturb), the next rule runs at once"


class NotificationRuleCreate(Input):
    contact_method_id: int = Field(ge=1, le=MAX_ID)
    delay_minutes: int = Field(default=0, ge=0, le=1440, description="minutes after the user is first paged")
    urgency: Literal["high", "low", "any"] = "any"
    fallthrough_seconds: int | None = Field(default=None, ge=5, le=3600, description=FALLTHROUGH)


class NotificationRuleUpdate(Input):
    contact_method_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    delay_minutes: int | None = Field(default=None, ge=0, le=1440)
    urgency: Literal["high", "low", "any"] | None = None
    fallthrough_seconds: int | None = Field(default=None, ge=5, le=3600, description=FALLTHROUGH + " (null: never)")


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(f"{field}: {message}", [f"{field}: {message}"])


def _phone(text: str) -> str:
    example = "use the international format with the country code, e.g. +14155552671"
    if not text.startswith("+"):
        raise _invalid("address", example)
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise _invalid("address", example) from None
    if not phonenumbers.is_valid_number(number):
        raise _invalid("address", f"{text} is not a valid phone number ({example})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_address(kind: str, address: str, push_keys: PushKeys | None = None) -> tuple[str, dict | None]:
    """The stored form of an address of `kind`, and the push keys to keep with it; Invalid naming `address`."""
    address = address.strip()
    if kind == "email":
        try:
            return accounts.normalize_email(address), None
        except accounts.AccountError:
            raise _invalid("address", "not a valid email address") from None
    if kind in ("sms", "whatsapp"):
        return _phone(address.removeprefix("whatsapp:").replace(" ", "").replace("-", "")), None
    if kind == "slack":
        if not SLACK_MEMBER_ID.match(address):
            raise _invalid("address", "a Slack member ID such as U024BE7LH (Slack profile → ⋮ → Copy member ID)")
        return address, None
    try:
        parts = urlsplit(address)
        host = parts.hostname or ""
    except ValueError:
        raise _invalid("address", "a push subscription endpoint (an https URL)") from None
    if any(address.startswith(origin + "/") for origin in _test_push_services()):  # tests: a local fake push service
        pass
    elif parts.scheme != "https" or not host:
        raise _invalid("address", "a push subscription endpoint (an https URL)")
    elif not any(host == known or host.endswith("." + known) for known in PUSH_SERVICES):
        raise _invalid("address", f"not a known browser push service ({', '.join(PUSH_SERVICES)})")
    if push_keys is None:
        raise _invalid("push_keys", "a push subscription needs its p256dh and auth keys")
    return address, push_keys.model_dump()


def _test_push_services() -> list[str]:
    """OPSKNIGHT_EXTRA_PUSH_SERVICES: origins of local push services the tests run (never in production)."""
    if os.environ.get("OPSKNIGHT_ENV", "development") == "production":
        return []
    return [origin.rstrip("/") for origin in os.environ.get("OPSKNIGHT_EXTRA_PUSH_SERVICES", "").split(",") if origin]


def display_address(contact: ContactMethod) -> str:
    return display(contact.kind, contact.address)


def display(kind: str, address: str) -> str:
    """What lists show of an address: push endpoints are long capability URLs, so only their host."""
    if kind == "push":
        return f"{urlsplit(address).hostname} (browser)"
    return address


def contact_json(contact: ContactMethod) -> dict:
    return {"id": contact.id, "user_id": contact.user_id, "kind": contact.kind, "label": contact.label,
            "address": display_address(contact), "enabled": contact.enabled, "verified": contact.verified,
            "created_at": contact.created_at.isoformat()}


def rule_json(rule: NotificationRule, kind: str) -> dict:
    return {"id": rule.id, "user_id": rule.user_id, "contact_method_id": rule.contact_method_id,
            "contact_method_kind": kind, "delay_minutes": rule.delay_minutes, "urgency": rule.urgency,
            "fallthrough_seconds": rule.fallthrough_seconds, "created_at": rule.created_at.isoformat()}


def _fallthrough_fits(contact: ContactMethod, seconds: int | None) -> None:
    if seconds is not None and contact.kind != "push":
        raise _invalid("fallthrough_seconds", "only a web push rule can go on when its notification is not shown")


def authorize_for(actor: Principal | None, user_id: int) -> Principal:
    """Changing a user's contact methods or rules: an admin, or the user themselves with OWN_PROFILE."""
    if actor is not None and actor.user_id == user_id:
        return authorize(actor, Permission.OWN_PROFILE)
    return authorize(actor, Permission.CONFIGURE)


def _user(db: Session, user_id: int) -> User:
    user = db.get(User, user_id) if 1 <= user_id <= MAX_ID else None
    if user is None:
        raise NotFound(f"No user {user_id}")
    return user


def _contact(db: Session, user_id: int, contact_id: int) -> ContactMethod:
    contact = db.get(ContactMethod, contact_id) if 1 <= contact_id <= MAX_ID else None
    if contact is None or contact.user_id != user_id:
        raise NotFound(f"No contact method {contact_id} for user {user_id}")
    return contact


def _flush_unique(db: Session, row, message: str) -> None:
    try:
        with db.begin_nested():
            db.add(row)
            db.flush()
    except IntegrityError:
        raise Conflict(message) from None


def _audit_view(contact: ContactMethod) -> dict:
    return {"user_id": contact.user_id, "kind": contact.kind, "address": display_address(contact),
            "label": contact.label, "enabled": contact.enabled}


# --- contact methods -----------------------------------------------------------------------------------------


def list_contact_methods(db: Session, actor: Principal | None, user_id: int) -> list[ContactMethod]:
    authorize(actor, Permission.READ)
    _user(db, user_id)
    return list(db.exec(select(ContactMethod).where(ContactMethod.user_id == user_id).order_by(ContactMethod.id)))


def last_pages(db: Session, actor: Principal | None, user_id: int) -> dict[int, tuple]:
    """Per contact method of the user: (when a page last went out on it, when a push there was last shown)."""
    from sqlalchemy import func

    from opsknight.models import Delivery

    authorize(actor, Permission.READ)
    rows = db.exec(select(Delivery.contact_method_id, func.max(Delivery.sent_at), func.max(Delivery.displayed_at))
                   .where(Delivery.user_id == user_id, Delivery.contact_method_id.is_not(None))
                   .group_by(Delivery.contact_method_id)).all()
    return {contact_id: (sent, shown) for contact_id, sent, shown in rows}


def get_contact_method(db: Session, actor: Principal | None, user_id: int, contact_id: int) -> ContactMethod:
    authorize(actor, Permission.READ)
    return _contact(db, user_id, contact_id)


def create_contact_method(db: Session, actor: Principal | None, user_id: int,
                          data: dict | ContactMethodCreate) -> ContactMethod:
    body = parse(ContactMethodCreate, data)
    authorize_for(actor, user_id)
    _user(db, user_id)
    address, keys = normalize_address(body.kind, body.address, body.push_keys)
    contact = ContactMethod(user_id=user_id, kind=body.kind, address=address, push_subscription=keys,
                            label=body.label.strip(), enabled=body.enabled)
    _flush_unique(db, contact, f"This user already has the {body.kind} contact method {address}")
    audit.record(db, actor, "contact_method.create", "contact_method", contact.id, _audit_view(contact))
    return contact


class PushSubscriptionIn(Input):
    """What a browser's push.js sends: `PushSubscription.toJSON()`, a name for the device, and whether this is the
    person turning push on here (`enable`) or the app re-sending what it has (renewals only)."""

    model_config = {"extra": "ignore"}  # toJSON() carries expirationTime and, in some browsers, more

    class Subscription(Input):
        model_config = {"extra": "ignore"}
        endpoint: str = Field(min_length=1, max_length=2048)
        keys: PushKeys

    subscription: Subscription
    device: str = Field(default="", max_length=100)
    previous_endpoint: str | None = Field(default=None, max_length=2048)
    enable: bool = False


def save_push_subscription(db: Session, actor: Principal | None,
                           data: dict | PushSubscriptionIn) -> tuple[ContactMethod | None, bool]:
    """Store this browser's subscription as one of the actor's push contact methods.

    - The same endpoint (or the previous one it names: the push service renewed it) is updated, keys only: a name
      the person gave the device stays.
    - Only `enable` (the person tapping "Enable push on this device") creates one — never the app re-sending its
      subscription when it opens, or a device someone deleted would come back — and takes the endpoint from any
      other user it was stored for (a shared browser: pages go to who enabled it last). A new device also gets a
      rule paging it at once when the user has rules (otherwise no rule would use it).
    Returns (contact method or None when there was nothing to renew, whether it is new)."""
    body = parse(PushSubscriptionIn, data)
    actor = authorize(actor, Permission.OWN_PROFILE)
    address, keys = normalize_address("push", body.subscription.endpoint, body.subscription.keys)
    endpoints = [address] + ([body.previous_endpoint] if body.previous_endpoint else [])
    stored = db.exec(select(ContactMethod).where(ContactMethod.kind == "push",
                                                 ContactMethod.address.in_(endpoints))).all()
    mine = next((c for c in stored if c.user_id == actor.user_id and c.address == address), None) or \
        next((c for c in stored if c.user_id == actor.user_id), None)
    if mine is not None:
        before = _audit_view(mine)
        mine.address, mine.push_subscription = address, keys
        db.add(mine)
        db.flush()
        if before != _audit_view(mine):
            audit.record(db, actor, "contact_method.update", "contact_method", mine.id,
                         audit.changes_between(before, _audit_view(mine)))
        return mine, False
    if not body.enable:
        return None, False
    for other in stored:  # this browser was another user's device: it is this one's now
        audit.record(db, actor, "contact_method.delete", "contact_method", other.id, _audit_view(other))
        db.delete(other)
    db.flush()
    label = " ".join(body.device.split())[:100] or "Browser"
    contact = ContactMethod(user_id=actor.user_id, kind="push", address=address, push_subscription=keys, label=label)
    _flush_unique(db, contact, "This device is stored already")
    audit.record(db, actor, "contact_method.create", "contact_method", contact.id, _audit_view(contact))
    if db.exec(select(NotificationRule.id).where(NotificationRule.user_id == actor.user_id).limit(1)).first():
        rule = NotificationRule(user_id=actor.user_id, contact_method_id=contact.id, urgency="any", delay_minutes=0)
        _flush_unique(db, rule, DUPLICATE_RULE)
        audit.record(db, actor, "notification_rule.create", "notification_rule", rule.id, _rule_view(rule))
    return contact, True


def forget_push_subscription(db: Session, actor: Principal | None, endpoint: str) -> bool:
    """Signing out on a browser: its subscription stops paging this user there."""
    actor = authorize(actor, Permission.OWN_ACCOUNT)
    found = db.exec(select(ContactMethod).where(ContactMethod.user_id == actor.user_id, ContactMethod.kind == "push",
                                                ContactMethod.address == endpoint)).first()
    if found is None:
        return False
    audit.record(db, actor, "contact_method.delete", "contact_method", found.id, _audit_view(found))
    db.delete(found)
    return True


def update_contact_method(db: Session, actor: Principal | None, user_id: int, contact_id: int,
                          data: dict | ContactMethodUpdate) -> ContactMethod:
    body = parse(ContactMethodUpdate, data)
    authorize_for(actor, user_id)
    contact = _contact(db, user_id, contact_id)
    before = _audit_view(contact)
    if body.address is not None:
        contact.address, keys = normalize_address(contact.kind, body.address, body.push_keys)
        contact.push_subscription = keys
        contact.verified = False  # a new address has not been confirmed by anyone
    if body.label is not None:
        contact.label = body.label.strip()
    if body.enabled is not None:
        contact.enabled = body.enabled
    _flush_unique(db, contact, f"This user already has the {contact.kind} contact method {contact.address}")
    audit.record(db, actor, "contact_method.update", "contact_method", contact.id,
                 audit.changes_between(before, _audit_view(contact)))
    return contact


def delete_contact_method(db: Session, actor: Principal | None, user_id: int, contact_id: int) -> None:
    """Delete it and (by cascade) the rules that use it; deliveries keep the address they were sent to."""
    authorize_for(actor, user_id)
    contact = _contact(db, user_id, contact_id)
    audit.record(db, actor, "contact_method.delete", "contact_method", contact.id, _audit_view(contact))
    db.delete(contact)
    db.flush()


# --- notification rules --------------------------------------------------------------------------------------


def list_rules(db: Session, actor: Principal | None, user_id: int) -> list[tuple[NotificationRule, str]]:
    """The user's rules with their contact method's kind, by delay."""
    authorize(actor, Permission.READ)
    _user(db, user_id)
    return list(db.exec(select(NotificationRule, ContactMethod.kind)
                        .join(ContactMethod, ContactMethod.id == NotificationRule.contact_method_id)
                        .where(NotificationRule.user_id == user_id)
                        .order_by(NotificationRule.delay_minutes, NotificationRule.id)))


def _rule(db: Session, user_id: int, rule_id: int) -> NotificationRule:
    rule = db.get(NotificationRule, rule_id) if 1 <= rule_id <= MAX_ID else None
    if rule is None or rule.user_id != user_id:
        raise NotFound(f"No notification rule {rule_id} for user {user_id}")
    return rule


def _own_contact(db: Session, user_id: int, contact_id: int) -> ContactMethod:
    contact = db.get(ContactMethod, contact_id)
    if contact is None or contact.user_id != user_id:
        raise _invalid("contact_method_id", "not one of this user's contact methods")
    return contact


def _rule_view(rule: NotificationRule) -> dict:
    return {"user_id": rule.user_id, "contact_method_id": rule.contact_method_id, "urgency": rule.urgency,
            "delay_minutes": rule.delay_minutes, "fallthrough_seconds": rule.fallthrough_seconds}


DUPLICATE_RULE = "The same rule exists already (it would page twice)"


def create_rule(db: Session, actor: Principal | None, user_id: int,
                data: dict | NotificationRuleCreate) -> tuple[NotificationRule, str]:
    body = parse(NotificationRuleCreate, data)
    authorize_for(actor, user_id)
    _user(db, user_id)
    contact = _own_contact(db, user_id, body.contact_method_id)
    _fallthrough_fits(contact, body.fallthrough_seconds)
    rule = NotificationRule(user_id=user_id, contact_method_id=contact.id, urgency=body.urgency,
                            delay_minutes=body.delay_minutes, fallthrough_seconds=body.fallthrough_seconds)
    _flush_unique(db, rule, DUPLICATE_RULE)
    audit.record(db, actor, "notification_rule.create", "notification_rule", rule.id, _rule_view(rule))
    return rule, contact.kind


def update_rule(db: Session, actor: Principal | None, user_id: int, rule_id: int,
                data: dict | NotificationRuleUpdate) -> tuple[NotificationRule, str]:
    body = parse(NotificationRuleUpdate, data)
    authorize_for(actor, user_id)
    rule = _rule(db, user_id, rule_id)
    before = _rule_view(rule)
    if body.contact_method_id is not None:
        rule.contact_method_id = _own_contact(db, user_id, body.contact_method_id).id
    if body.delay_minutes is not None:
        rule.delay_minutes = body.delay_minutes
    if body.urgency is not None:
        rule.urgency = body.urgency
    if "fallthrough_seconds" in body.model_fields_set:
        rule.fallthrough_seconds = body.fallthrough_seconds
    _fallthrough_fits(db.get(ContactMethod, rule.contact_method_id), rule.fallthrough_seconds)
    _flush_unique(db, rule, DUPLICATE_RULE)
    audit.record(db, actor, "notification_rule.update", "notification_rule", rule.id,
                 audit.changes_between(before, _rule_view(rule)))
    return rule, db.get(ContactMethod, rule.contact_method_id).kind


def delete_rule(db: Session, actor: Principal | None, user_id: int, rule_id: int) -> None:
    authorize_for(actor, user_id)
    rule = _rule(db, user_id, rule_id)
    audit.record(db, actor, "notification_rule.delete", "notification_rule", rule.id, _rule_view(rule))
    db.delete(rule)
    db.flush()
