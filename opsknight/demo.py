"""`opsknight seed-demo`: a small but realistic organisation to explore the product with.

Two teams, six people, three services with integrations, a weekly rotation with an
override, a two-step escalation policy, incidents in every state, six weeks of history (incidents with their
alert, pages, acknowledgements and resolutions, some at night: what analytics and the status page's bars show)
and a status page with four components and public updates. Running it twice is refused rather than duplicating
everything.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from opsknight import accounts, security
from opsknight.engine import clock
from opsknight.engine.numbers import next_incident_number
from opsknight.models import (
    Alert, Delivery, DeliveryStatus, EscalationPolicy, EscalationStep, EscalationStepTarget, Incident, IncidentStatus,
    Integration, Role, Schedule, ScheduleLayer, ScheduleLayerMember, ScheduleOverride, Service, SourceType,
    StatusPageComponent, StatusPageComponentService, StatusUpdate, TargetType, Team, TeamMembership, TimelineEvent,
    Urgency, User,
)

HISTORY_DAYS = 42
HISTORY_TITLES = {
    "Checkout API": ["HighErrorRate: checkout 5xx above 2%", "Checkout p99 latency above 800 ms",
                     "Payment provider timeouts", "Card tokenizer pod crash-looping"],
    "Billing worker": ["Invoice batch slower than usual", "Billing queue depth above 10k", "PDF renderer OOM"],
    "Postgres primary": ["Replication lag above 30s on pg-2", "Disk 90% full on pg-1", "Too many connections"],
}

DEMO_MARKER = "Payments"  # the first team; its presence means the demo was seeded already

PEOPLE = [
    ("ada@demo.opsknight.dev", "Ada Lovelace", Role.ADMIN, "Europe/London"),
    ("grace@demo.opsknight.dev", "Grace Hopper", Role.RESPONDER, "America/New_York"),
    ("linus@demo.opsknight.dev", "Linus Park", Role.RESPONDER, "Asia/Seoul"),
    ("margaret@demo.opsknight.dev", "Margaret Hamilton", Role.RESPONDER, "America/Los_Angeles"),
    ("ken@demo.opsknight.dev", "Ken Okafor", Role.RESPONDER, "Africa/Lagos"),
    ("viv@demo.opsknight.dev", "Viv Observer", Role.VIEWER, "Asia/Kolkata"),
]


def seed(db: Session, *, password: str) -> str:
    """Create the demo organisation; returns a summary of what was created and how to sign in."""
    from opsknight.cli import CommandError

    if db.exec(select(Team).where(Team.name == DEMO_MARKER)).first():
        raise CommandError("the demo data is already there (team 'Payments' exists)")
    now = clock.now()
    users = [accounts.create_user(db, email=e, name=n, role=r, password=password, time_zone=tz)
             for e, n, r, tz in PEOPLE]
    payments, platform = Team(name="Payments", description="Checkout and billing"), Team(
        name="Platform", description="Databases, queues and the network")
    db.add_all([payments, platform])
    db.flush()
    for user in users[:3]:
        db.add(TeamMembership(team_id=payments.id, user_id=user.id))
    for user in users[2:5]:
        db.add(TeamMembership(team_id=platform.id, user_id=user.id))

    schedule = Schedule(name="Payments primary", time_zone="Europe/London", team_id=payments.id,
                        description="Weekly rotation, handoff Monday 09:00 London time")
    db.add(schedule)
    db.flush()
    london = ZoneInfo("Europe/London")
    local = now.astimezone(london)
    monday = datetime.combine((local - timedelta(days=local.weekday() + 14)).date(), time(9, 0), london)
    layer = ScheduleLayer(schedule_id=schedule.id, name="Weekly", position=0, rotation_start=monday.astimezone(now.tzinfo),
                          rotation_unit="week", rotation_length=1, handoff_time="09:00")
    db.add(layer)
    db.flush()
    for position, user in enumerate(users[:3]):
        db.add(ScheduleLayerMember(layer_id=layer.id, user_id=user.id, position=position))
    db.add(ScheduleOverride(schedule_id=schedule.id, user_id=users[3].id, replaces_user_id=None,
                            starts_at=now + timedelta(days=2), ends_at=now + timedelta(days=2, hours=12),
                            created_by_id=users[0].id))

    policy = EscalationPolicy(name="Payments critical", description="On-call first, then the team lead",
                              repeat_count=2)
    db.add(policy)
    db.flush()
    step0 = EscalationStep(policy_id=policy.id, position=0, delay_minutes=5)
    step1 = EscalationStep(policy_id=policy.id, position=1, delay_minutes=15)
    db.add_all([step0, step1])
    db.flush()
    db.add(EscalationStepTarget(step_id=step0.id, target_type=TargetType.SCHEDULE, target_id=schedule.id))
    db.add(EscalationStepTarget(step_id=step1.id, target_type=TargetType.USER, target_id=users[0].id))
    db.add(EscalationStepTarget(step_id=step1.id, target_type=TargetType.TEAM, target_id=payments.id))

    services = [Service(name=name, description=desc, team_id=team.id, escalation_policy_id=policy.id)
                for name, desc, team in [("Checkout API", "Takes customers' money", payments),
                                         ("Billing worker", "Monthly invoices", payments),
                                         ("Postgres primary", "The main database", platform)]]
    db.add_all(services)
    db.flush()
    for service, source in zip(services, [SourceType.PROMETHEUS, SourceType.EVENTS_V2, SourceType.GRAFANA]):
        token = security.new_token(security.INTEGRATION_TOKEN_PREFIX)
        db.add(Integration(service_id=service.id, name=f"{source} for {service.name}", source_type=source,
                           token_digest=security.token_digest(token), token_prefix=security.display_prefix(token)))

    examples = [
        (services[0], "HighErrorRate: checkout 5xx above 5%", IncidentStatus.TRIGGERED, Urgency.HIGH, 40),
        (services[2], "Replication lag above 30s on pg-2", IncidentStatus.ACKNOWLEDGED, Urgency.HIGH, 95),
        (services[1], "Invoice batch slower than usual", IncidentStatus.TRIGGERED, Urgency.LOW, 180),
        (services[0], "Payment provider timeouts", IncidentStatus.RESOLVED, Urgency.HIGH, 60 * 26),
    ]
    for service, title, status, urgency, minutes_ago in examples:
        started = now - timedelta(minutes=minutes_ago)
        incident = Incident(number=next_incident_number(db), title=title, status=status, urgency=urgency,
                            dedup_key=f"demo-{title.lower().replace(' ', '-')[:40]}", service_id=service.id,
                            created_at=started, last_alert_at=started, updated_at=started)
        if status != IncidentStatus.TRIGGERED:
            incident.acknowledged_at, incident.acknowledged_by_id = started + timedelta(minutes=3), users[1].id
            incident.acknowledged_via = "web"
        if status == IncidentStatus.RESOLVED:
            incident.resolved_at, incident.resolved_by_id = started + timedelta(minutes=50), users[1].id
        db.add(incident)
        db.flush()
        db.add(TimelineEvent(incident_id=incident.id, kind="triggered", at=started, source="demo",
                             message=f"Triggered: {title}"))
    history = _history(db, now, services, users)
    _status_page(db, now, services, users)
    return (f"seeded the demo organisation: {len(users)} users, 2 teams, {len(services)} services, 1 schedule, "
            f"1 escalation policy, {len(examples)} open or recent incidents and {history} over {HISTORY_DAYS} days "
            f"of history, 4 status page components.\nSign in as {users[0].email} with the demo password.")


def _history(db: Session, now: datetime, services: list[Service], users: list[User]) -> int:
    """Resolved incidents over the last HISTORY_DAYS days (fixed seed: the same history every time): a few a
    day, more on the noisy checkout, some at night; each with its alert, a page to the responder on call (one in
    five escalated to the admin), an acknowledgement and a resolution."""
    rng = random.Random(42)
    responders = users[1:5]
    count = 0
    for day in range(HISTORY_DAYS, 0, -1):
        for service, per_day in zip(services, (4, 1, 2), strict=True):
            for _ in range(rng.randint(0, per_day)):
                started = now - timedelta(days=day, minutes=rng.randint(0, 24 * 60 - 1))
                high = rng.random() < 0.6
                acked = started + timedelta(seconds=rng.choice((40, 90, 150, 240, 420, 900, 1800)))
                resolved = acked + timedelta(minutes=rng.choice((5, 12, 25, 40, 75, 150, 300)))
                who = rng.choice(responders)
                title = rng.choice(HISTORY_TITLES[service.name])
                incident = Incident(number=next_incident_number(db), title=title, status=IncidentStatus.RESOLVED,
                                    urgency=Urgency.HIGH if high else Urgency.LOW,
                                    dedup_key=f"demo-history-{count}", service_id=service.id, created_at=started,
                                    last_alert_at=started, updated_at=resolved, acknowledged_at=acked,
                                    acknowledged_by_id=who.id, acknowledged_via=rng.choice(("push", "web", "slack")),
                                    resolved_at=resolved, resolved_by_id=who.id)
                db.add(incident)
                db.flush()
                source = {"Checkout API": "prometheus", "Billing worker": "events_v2"}.get(service.name, "grafana")
                db.add(Alert(incident_id=incident.id, source=source, action="trigger", dedup_key=incident.dedup_key,
                             summary=title, severity="critical" if high else "warning",
                             payload={"summary": title}, received_at=started))
                pages = [(who, 0, started + timedelta(seconds=5))]
                if rng.random() < 0.2:  # nobody answered the first step in time
                    pages.append((users[0], 1, started + timedelta(minutes=5)))
                for person, step, sent in pages:
                    db.add(Delivery(incident_id=incident.id, user_id=person.id, channel="push", target="demo device",
                                    status=DeliveryStatus.SENT, idempotency_key=f"demo:{incident.id}:{step}",
                                    escalation_step=step, created_at=sent, sent_at=sent))
                db.add(TimelineEvent(incident_id=incident.id, kind="triggered", at=started, source="demo",
                                     message=f"Triggered: {title}"))
                count += 1
    return count


def _status_page(db: Session, now: datetime, services: list[Service], users: list[User]) -> None:
    """Four components (one reflects two services), and public updates on the open checkout outage and on the
    most recent resolved high-urgency checkout incident."""
    checkout, billing, database = services
    for position, (name, description, linked) in enumerate([
            ("Checkout", "Paying for an order", [checkout]), ("Billing", "Invoices and receipts", [billing]),
            ("Public API", "api.example.com", [checkout, database]), ("Database", "Where everything lives",
                                                                       [database])]):
        component = StatusPageComponent(name=name, description=description, position=position,
                                        created_at=now - timedelta(days=HISTORY_DAYS + 1))
        db.add(component)
        db.flush()
        db.add_all([StatusPageComponentService(component_id=component.id, service_id=s.id) for s in linked])
    open_outage = db.exec(select(Incident).where(Incident.service_id == checkout.id,
                                                 Incident.status == IncidentStatus.TRIGGERED)).first()
    recent = db.exec(select(Incident).where(Incident.service_id == checkout.id, Incident.urgency == Urgency.HIGH,
                                            Incident.status == IncidentStatus.RESOLVED)
                     .order_by(Incident.created_at.desc())).first()
    if open_outage is not None:
        open_outage.public_title = "Some card payments fail"
        db.add(StatusUpdate(incident_id=open_outage.id, status="investigating", author_id=users[1].id,
                            body="Some customers cannot pay by card. We are looking into it.",
                            created_at=open_outage.created_at + timedelta(minutes=6)))
    if recent is not None:
        recent.public_title = "Slow checkout"
        for minutes, stage, body in ((8, "identified", "A payment provider answers slowly; we are moving traffic."),
                                     (20, "monitoring", "Traffic moved; checkout is fast again. We keep watching."),
                                     (45, "resolved", "Checkout has been fast for 25 minutes. Sorry for the wait.")):
            db.add(StatusUpdate(incident_id=recent.id, status=stage, author_id=users[1].id, body=body,
                                created_at=recent.created_at + timedelta(minutes=minutes)))
