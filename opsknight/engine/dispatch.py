"""Who gets what on which channel: delivery rows with idempotency keys, and the send of one delivery.

`enter_position` runs inside the incident's locked transaction when it reaches an escalation step: it works out
the people (users, schedules -> whoever is on call now, teams -> members), writes one delivery row per planned
message under a unique idempotency key, moves the incident's timer, and returns the jobs to enqueue after
commit. `send` runs one delivery: checks it is still wanted, paces and bundles per destination, calls the
channel adapter outside any transaction, and records the outcome on the delivery and the timeline.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from opsknight.engine import escalation, notify_plan, pacing
from opsknight.engine.channels.base import Channel, Destination, Page, PermanentError, RetryableError
from opsknight.engine.escalation import Position
from opsknight.models import (
    ContactMethod, Delivery, DeliveryStatus, Incident, IncidentStatus, NotificationRule, Service, TeamMembership,
    TimelineEvent, TimelineKind, User, UserStatus,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
NOBODY_RETRY = timedelta(minutes=2)  # how soon to look again when an escalation found nobody at all
EARLY = timedelta(seconds=1)  # RQ may start a timed job up to a second early (whole-second timestamps)
# A "sending" row older than this was lost with its worker: retry it. Fault drills shorten it.
SEND_LEASE = timedelta(seconds=int(os.environ.get("OPSKNIGHT_SEND_LEASE_SECONDS", "120")))
# One metric for every way a page can find nobody; alert on any increase.
NOBODY_PAGED = Counter("opsknight_paging_nobody_total", "Times paging found nobody to page, by reason", ["reason"])
DELIVERIES = Counter("opsknight_deliveries_total", "Delivery outcomes by channel", ["channel", "outcome"])


@dataclass(frozen=True)
class JobSpec:
    """A job to enqueue after the transaction that decided it commits."""

    func: str  # "send_delivery" | "escalate"
    args: tuple
    job_id: str
    at: datetime


def send_job(delivery: Delivery) -> JobSpec:
    """The job that sends `delivery` when it is due. The id names the attempt and the due time, so a deferral
    (pacing) or a retry never reuses the id of the job that is running right now."""
    due = int(delivery.next_attempt_at.timestamp()) if delivery.next_attempt_at else 0
    return JobSpec("send_delivery", (delivery.id,), f"deliver-{delivery.id}-a{delivery.attempts}-t{due}",
                   delivery.next_attempt_at)


def push_unseen_job(delivery: Delivery) -> JobSpec:
    """The check, at `shown_by`, that a push was shown (see `jobs.push_unseen`)."""
    return JobSpec("push_unseen", (delivery.id,), f"push-unseen-{delivery.id}", delivery.shown_by)


def escalate_job(incident: Incident) -> JobSpec:
    stamp = int(incident.next_escalation_at.timestamp())
    return JobSpec("escalate", (incident.id,), f"escalate-{incident.id}-g{incident.escalation_generation}-{stamp}",
                   incident.next_escalation_at)


def person_name(db: Session, user_id: int | None) -> str:
    user = db.get(User, user_id) if user_id else None
    return user.name if user else "someone"


def timeline(db: Session, incident_id: int, kind: str, now: datetime, message: str, data: dict | None = None,
             actor_user_id: int | None = None, source: str = "opsknight") -> None:
    db.add(TimelineEvent(incident_id=incident_id, kind=kind, at=now, source=source, message=message[:2000],
                         data=data, actor_user_id=actor_user_id))


# --- who -------------------------------------------------------------------------------------------------


def resolve_targets(db: Session, targets: list[dict], now: datetime, problems: list[str] | None = None) -> list[User]:
    """Active users a step's targets mean right now, in target order, each once.

    A broken target (a deleted or malformed schedule) is reported in `problems` and skipped, so the other
    targets of the step are still paged.
    """
    problems = [] if problems is None else problems
    ids: list[int] = []
    for target in targets:
        kind, target_id = target.get("type"), int(target.get("id", 0))
        if kind == "user":
            ids.append(target_id)
        elif kind == "schedule":
            from opsknight.engine import schedule_store  # the schedule math's I/O edge

            try:
                ids.extend(schedule_store.oncall_user_ids(db, target_id, now))
            except LookupError:  # deleted after the policy was frozen
                problems.append(f"schedule {target_id} no longer exists")
            except ValueError as exc:  # a malformed schedule must not stop the rest of the step
                problems.append(f"schedule {target_id} cannot be evaluated: {exc}")
        elif kind == "team":
            ids.extend(db.exec(select(TeamMembership.user_id).where(TeamMembership.team_id == target_id)
                               .order_by(TeamMembership.id)).all())
    unique = list(dict.fromkeys(ids))
    if not unique:
        return []
    users = {u.id: u for u in db.exec(select(User).where(User.id.in_(unique), User.status == UserStatus.ACTIVE))}
    return [users[i] for i in unique if i in users]


def _plan_for(db: Session, user: User, urgency: str, now: datetime) -> list[notify_plan.PlannedSend]:
    contacts = db.exec(select(ContactMethod).where(ContactMethod.user_id == user.id)).all()
    rules = db.exec(select(NotificationRule).where(NotificationRule.user_id == user.id)).all()
    return notify_plan.plan(
        [notify_plan.ContactInfo(c.id, c.kind, c.enabled) for c in contacts],
        [notify_plan.RuleInfo(r.id, r.contact_method_id, r.urgency, r.delay_minutes) for r in rules],
        urgency, now, user.time_zone, user.quiet_hours,
    )


def page_users(db: Session, incident: Incident, users: list[User], now: datetime, tag: str,
               responder_request: bool = False, urgency: str | None = None) -> list[JobSpec]:
    """Write the deliveries for `users` at this point of the escalation; returns their send jobs.

    `tag` names the occasion inside the idempotency key (step and repeat, a reassignment, a responder request),
    so the same occasion never writes a delivery twice, however often the job runs. A `responder_request` page
    goes out while the incident is open, acknowledged or not (see `claim`). `urgency` plans the pages for another
    urgency than the incident's (a responder request is always high).
    """
    jobs, summary = [], []
    contacts = {c.id: c for c in db.exec(select(ContactMethod).where(
        ContactMethod.user_id.in_([u.id for u in users] or [-1])))}
    for user in users:
        try:
            sends = _plan_for(db, user, urgency or incident.urgency, now)
        except Exception as exc:  # one person's broken settings must not stop the others' pages
            log.exception("cannot plan pages for user %s", user.id)
            sends = []
            timeline(db, incident.id, TimelineKind.NOBODY_ON_CALL, now,
                     f"{user.name}'s notification settings cannot be used ({type(exc).__name__})", {"user_id": user.id})
        if not sends:
            timeline(db, incident.id, TimelineKind.NOBODY_ON_CALL, now,
                     f"{user.name} has no usable contact method and cannot be paged", {"user_id": user.id})
            NOBODY_PAGED.labels("no_contact_method").inc()
            continue
        summary.append(f"{user.name} ({', '.join(s.channel for s in sends)})")
        for send in sends:
            contact = contacts[send.contact_method_id]
            key = f"{incident.id}:g{incident.escalation_generation}:{tag}:u{user.id}:{send.channel}:{send.key}"
            delivery = Delivery(incident_id=incident.id, user_id=user.id, contact_method_id=contact.id,
                                channel=send.channel, target=contact.address, status=DeliveryStatus.PENDING,
                                idempotency_key=key[:255], escalation_generation=incident.escalation_generation,
                                escalation_step=incident.escalation_step, created_at=now,
                                next_attempt_at=send.send_at, responder_request=responder_request,
                                notification_rule_id=send.rule_id)
            try:
                with db.begin_nested():
                    db.add(delivery)
                    db.flush()
            except IntegrityError:
                continue  # written by an earlier run of this job
            jobs.append(send_job(delivery))
    if summary:
        timeline(db, incident.id, TimelineKind.NOTIFIED, now, "Paging " + "; ".join(summary),
                 {"tag": tag, "user_ids": [u.id for u in users]})
    return jobs


def enter_position(db: Session, incident: Incident, start: Position, now: datetime) -> list[JobSpec]:
    """Move the (locked) incident to `start`, skipping steps that resolve to nobody; page; set the timer."""
    snapshot = incident.escalation_policy_snapshot or {}
    for position in escalation.positions_from(snapshot, start, incident.urgency):
        problems: list[str] = []
        users = resolve_targets(db, escalation.step_targets(snapshot, position), now, problems)
        for problem in problems:
            log.warning("incident %s: %s", incident.id, problem)
            timeline(db, incident.id, TimelineKind.NOBODY_ON_CALL, now, f"Escalation target skipped: {problem}")
        label = f"step {position.step + 1}" + (f" (repeat {position.repeat})" if position.repeat else "")
        if not users:
            NOBODY_PAGED.labels("empty_step").inc()
            timeline(db, incident.id, TimelineKind.NOBODY_ON_CALL, now,
                     f"Escalation {label} resolves to nobody; skipping it", {"step": position.step})
            continue
        incident.escalation_step, incident.escalation_repeat = position.step, position.repeat
        incident.next_escalation_at = escalation.escalation_due(snapshot, position, incident.urgency, now)
        incident.updated_at = now
        db.add(incident)
        if position != start or start != escalation.FIRST:
            timeline(db, incident.id, TimelineKind.ESCALATED, now, f"Escalated to {label}",
                     {"step": position.step, "repeat": position.repeat})
        jobs = page_users(db, incident, users, now, f"s{position.step}r{position.repeat}")
        if incident.next_escalation_at is not None:
            jobs.append(escalate_job(incident))
        return jobs
    # Nobody now does not mean nobody later (a schedule gap ends, someone joins the team): look again soon,
    # loudly, for as long as the incident stays unacknowledged.
    incident.next_escalation_at = now + NOBODY_RETRY if snapshot.get("steps") else None
    db.add(incident)
    NOBODY_PAGED.labels("policy_pages_nobody").inc()
    timeline(db, incident.id, TimelineKind.NOBODY_ON_CALL, now,
             "Nobody could be paged: no remaining escalation step resolves to anyone"
             + (f"; looking again in {NOBODY_RETRY.seconds // 60} minutes" if incident.next_escalation_at else ""),
             {"policy": snapshot.get("name")})
    return [escalate_job(incident)] if incident.next_escalation_at else []


# --- send ------------------------------------------------------------------------------------------------


@dataclass
class Claim:
    """A delivery claimed for sending, with what the adapter needs."""

    delivery_id: int
    channel: str
    destination: Destination
    page: Page
    bundled_ids: list[int]


def _last_sent(db: Session, channel: str, target: str, since: datetime) -> datetime | None:
    return db.exec(select(func.max(Delivery.sent_at)).where(
        Delivery.channel == channel, Delivery.target == target, Delivery.sent_at >= since)).one()


def _no_longer_paging(incident: Incident, delivery: Delivery) -> bool:
    """An escalation page is moot once the incident is acknowledged or its escalation restarted; a responder
    request (someone asked this person to help) only once the incident is resolved."""
    if delivery.responder_request:
        return incident.status == IncidentStatus.RESOLVED
    return incident.status != IncidentStatus.TRIGGERED or incident.escalation_generation != delivery.escalation_generation


PUSH_TTL_MIN = timedelta(minutes=1)
PUSH_TTL_MAX = timedelta(hours=1)


def push_ttl(incident: Incident, now: datetime) -> int:
    """Seconds a push service may hold this page for an offline device: until the escalation moves on (a page the
    next step has superseded is noise), within 1 minute to 1 hour."""
    left = (incident.next_escalation_at - now) if incident.next_escalation_at else PUSH_TTL_MAX
    return int(min(max(left, PUSH_TTL_MIN), PUSH_TTL_MAX).total_seconds())


def claim(db: Session, delivery_id: int, now: datetime, base_url: str, links_for) -> Claim | JobSpec | str:
    """Decide one delivery inside a transaction: a Claim to send now, a JobSpec to try later, or a reason."""
    delivery = db.exec(select(Delivery).where(Delivery.id == delivery_id).with_for_update(skip_locked=True)).first()
    if delivery is None:
        return "locked-or-missing"
    if delivery.status not in (DeliveryStatus.PENDING, DeliveryStatus.SENDING):
        return f"already-{delivery.status}"
    if delivery.status == DeliveryStatus.SENDING:
        if delivery.next_attempt_at > now:
            return "in-flight"
        _release_bundle(db, delivery.id)  # its worker died mid-send: what rode along goes back to waiting
    incident = db.get(Incident, delivery.incident_id)
    if _no_longer_paging(incident, delivery):
        delivery.status, delivery.error = DeliveryStatus.SUPPRESSED, f"incident {incident.status} before this page"
        db.add(delivery)
        DELIVERIES.labels(delivery.channel, "suppressed").inc()
        return "suppressed"
    if delivery.next_attempt_at and delivery.next_attempt_at > now + EARLY:
        return "not-due"
    unwanted = _no_longer_wanted(db, delivery)
    if unwanted:
        delivery.status, delivery.error = DeliveryStatus.SUPPRESSED, unwanted
        db.add(delivery)
        DELIVERIES.labels(delivery.channel, "suppressed").inc()
        return "suppressed"
    held = pacing.held_until(delivery.channel, _last_sent(db, delivery.channel, delivery.target,
                                                          now - pacing.window(delivery.channel)), now + EARLY)
    if held is not None:
        delivery.next_attempt_at = held
        db.add(delivery)
        return send_job(delivery)
    contact = db.get(ContactMethod, delivery.contact_method_id) if delivery.contact_method_id else None
    bundled = _bundle(db, delivery, now)
    if delivery.channel == "push" and delivery.shown_by is None and delivery.attempts == 0:
        # "Not shown within N s": counted from the first try, so a push service answering 5xx for minutes (the
        # send retries) cannot hold the next rule back.
        rule = db.get(NotificationRule, delivery.notification_rule_id) if delivery.notification_rule_id else None
        if rule is not None and rule.fallthrough_seconds:
            delivery.shown_by = now + timedelta(seconds=rule.fallthrough_seconds)
    delivery.status, delivery.attempts = DeliveryStatus.SENDING, delivery.attempts + 1
    delivery.next_attempt_at = now + SEND_LEASE
    db.add(delivery)
    service = db.get(Service, incident.service_id)
    services = {service.name} | {db.get(Service, db.get(Incident, d.incident_id).service_id).name for d in bundled}
    links = links_for(delivery)
    repage = delivery.channel == "push" and db.exec(select(Delivery.id).where(  # the notification alerts again
        Delivery.incident_id == incident.id, Delivery.user_id == delivery.user_id, Delivery.channel == "push",
        Delivery.id != delivery.id, Delivery.status == DeliveryStatus.SENT).limit(1)).first() is not None
    page = Page(incident_id=incident.id, incident_number=incident.number, title=incident.title,
                # A responder request was planned as high urgency (page_users): it is sent as one too.
                urgency="high" if delivery.responder_request else incident.urgency, status=incident.status,
                service_name=service.name,
                incident_url=f"{base_url}/incidents/{incident.id}", ack_url=links.ack_url,
                ack_page_url=links.ack_page_url, receipt_url=links.receipt_url,
                ttl_seconds=push_ttl(incident, now), repage=repage,
                bundled_count=len(bundled), dedup_key=incident.dedup_key,
                extra={"bundle_text": pacing.bundle_text(len(bundled), services)})
    destination = Destination(kind=delivery.channel, address=delivery.target,
                              push_keys=(contact.push_subscription or {}).get("keys", contact.push_subscription)
                              if contact and delivery.channel == "push" else None)
    return Claim(delivery.id, delivery.channel, destination, page, [d.id for d in bundled])


def _no_longer_wanted(db: Session, delivery: Delivery) -> str | None:
    """Why a page planned earlier (a delayed rule) must not go out now: its user was disabled, or the contact
    method switched off, since it was planned."""
    user = db.get(User, delivery.user_id) if delivery.user_id else None
    if user is not None and user.status != UserStatus.ACTIVE:
        return "user disabled before this page"
    contact = db.get(ContactMethod, delivery.contact_method_id) if delivery.contact_method_id else None
    if contact is not None and not contact.enabled:
        return "contact method disabled before this page"
    return None


def _bundle(db: Session, delivery: Delivery, now: datetime) -> list[Delivery]:
    """Other due pages for the same destination and channel: this message carries them."""
    others = db.exec(select(Delivery).where(
        Delivery.channel == delivery.channel, Delivery.target == delivery.target, Delivery.id != delivery.id,
        Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now + pacing.window(delivery.channel),
    ).with_for_update(skip_locked=True)).all()
    bundled = []
    for other in others:
        incident = db.get(Incident, other.incident_id)
        if incident.status != IncidentStatus.TRIGGERED:
            continue
        other.status, other.error = DeliveryStatus.SUPPRESSED, f"bundled into delivery {delivery.id}"
        other.bundled_into_id = delivery.id
        db.add(other)
        timeline(db, other.incident_id, TimelineKind.NOTIFIED, now,
                 f"Bundled into a {delivery.channel} page about incident #{db.get(Incident, delivery.incident_id).number}",
                 {"delivery_id": other.id, "bundled_into": delivery.id})
        bundled.append(other)
    return bundled


def deliver(claimed: Claim, channels: dict[str, Channel]) -> tuple[str, str | None, Exception | None]:
    """Call the adapter (no transaction open). Returns (outcome, provider_id, error)."""
    channel = channels.get(claimed.channel)
    if channel is None:
        return "failed", None, PermanentError(f"the {claimed.channel} channel is not configured")
    try:
        return "sent", channel.send(claimed.destination, claimed.page), None
    except RetryableError as exc:
        return "retry", None, exc
    except PermanentError as exc:
        return "failed", None, exc
    except Exception as exc:  # an adapter bug must not lose the page: treat as retryable
        log.exception("channel %s raised unexpectedly", claimed.channel)
        return "retry", None, RetryableError(f"{type(exc).__name__}: {exc}")


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    """Exponential backoff (5 s, 10 s, 20 s, ... capped at 5 min), never sooner than the provider asked."""
    delay = min(300.0, 5.0 * 2 ** max(0, attempts - 1))
    return timedelta(seconds=max(delay, retry_after or 0))


def record(db: Session, claimed: Claim, outcome: str, provider_id: str | None, error: Exception | None,
           now: datetime) -> list[JobSpec]:
    """Store the outcome of a send; returns the follow-up jobs: a retry when one is due, the check that a push
    was shown when its rule asks for one, the user's next rule at once when a push failed for good."""
    delivery = db.exec(select(Delivery).where(Delivery.id == claimed.delivery_id).with_for_update()).one()
    who = person_name(db, delivery.user_id)
    DELIVERIES.labels(delivery.channel, outcome).inc()
    follow_up: list[JobSpec] = []
    if outcome == "sent":
        delivery.status, delivery.provider_id, delivery.sent_at, delivery.error = (
            DeliveryStatus.SENT, (provider_id or "")[:255], now, None)
        delivery.next_attempt_at = None
        extra = f" (+{len(claimed.bundled_ids)} bundled)" if claimed.bundled_ids else ""
        timeline(db, delivery.incident_id, TimelineKind.NOTIFIED, now,
                 f"Sent {delivery.channel} to {who}{extra}", {"delivery_id": delivery.id, "provider_id": provider_id})
    elif outcome == "retry" and delivery.attempts < MAX_ATTEMPTS:
        wait = backoff(delivery.attempts, getattr(error, "retry_after", None))
        delivery.status, delivery.error, delivery.next_attempt_at = DeliveryStatus.PENDING, str(error)[:1000], now + wait
        timeline(db, delivery.incident_id, TimelineKind.DELIVERY_FAILED, now,
                 f"{delivery.channel} to {who} failed (attempt {delivery.attempts}, retrying in "
                 f"{int(wait.total_seconds())} s): {error}", {"delivery_id": delivery.id})
        follow_up.append(send_job(delivery))
        _release_bundle(db, claimed.delivery_id)
    else:
        delivery.status, delivery.error, delivery.next_attempt_at = DeliveryStatus.FAILED, str(error)[:1000], None
        timeline(db, delivery.incident_id, TimelineKind.DELIVERY_FAILED, now,
                 f"{delivery.channel} to {who} failed for good after {delivery.attempts} attempt(s): {error}",
                 {"delivery_id": delivery.id})
        if isinstance(error, PermanentError) and error.gone and delivery.contact_method_id:
            gone = db.get(ContactMethod, delivery.contact_method_id)
            if gone is not None and gone.address == delivery.target:  # not one re-subscribed meanwhile
                db.delete(gone)
        _release_bundle(db, claimed.delivery_id)
        if delivery.channel == "push":
            delivery.shown_by = None  # what its check would do, done now
            follow_up += hurry_next(db, delivery, now, f"Push to {who} failed")
    if delivery.shown_by is not None:  # sent or retrying: check at its deadline that it was shown
        follow_up.append(push_unseen_job(delivery))
    db.add(delivery)
    return follow_up


def hurry_next(db: Session, delivery: Delivery, now: datetime, why: str) -> list[JobSpec]:
    """This page will not reach its person (a push failed, or was not shown in time): their next rule for the same
    page, waiting for its delay, goes out now instead. Web push cannot break through Do Not Disturb; the SMS after
    it must not wait its full delay for nothing."""
    incident = db.get(Incident, delivery.incident_id)
    if incident is None or _no_longer_paging(incident, delivery):
        return []
    same_page = (Delivery.incident_id == delivery.incident_id, Delivery.user_id == delivery.user_id,
                 Delivery.escalation_generation == delivery.escalation_generation, Delivery.id != delivery.id)
    reached = db.exec(select(Delivery.id).where(*same_page, Delivery.channel == "push",
                                                Delivery.displayed_at.is_not(None)).limit(1)).first()
    under_way = db.exec(select(Delivery.id).where(  # brought forward already (another of their devices), or due
        *same_page, Delivery.channel != "push", Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]),
        Delivery.next_attempt_at <= now).limit(1)).first()
    if reached is not None or under_way is not None:
        return []  # another of their devices showed this page, or the next rule is on its way: one at a time
    nxt = db.exec(select(Delivery).where(
        *same_page, Delivery.status == DeliveryStatus.PENDING, Delivery.attempts == 0, Delivery.next_attempt_at > now,
    ).order_by(Delivery.next_attempt_at, Delivery.id).with_for_update()).first()
    if nxt is None:
        return []
    was = nxt.next_attempt_at
    nxt.next_attempt_at = now
    db.add(nxt)
    timeline(db, incident.id, TimelineKind.NOTIFIED, now,
             f"{why}: their {nxt.channel} goes out now instead of in {max(1, round((was - now).total_seconds() / 60))}"
             " min", {"delivery_id": nxt.id, "after_delivery_id": delivery.id})
    return [send_job(nxt)]


def _release_bundle(db: Session, carrier_id: int) -> None:
    """The carrier page did not go out: the pages bundled into it go back to waiting for their own send."""
    for other in db.exec(select(Delivery).where(Delivery.bundled_into_id == carrier_id,
                                                Delivery.status == DeliveryStatus.SUPPRESSED)).all():
        other.status, other.error, other.bundled_into_id = DeliveryStatus.PENDING, None, None
        db.add(other)
