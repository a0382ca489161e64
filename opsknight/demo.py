"""`opsknight seed-demo`: a small but realistic organisation to explore the product with.

Two teams, six people, three services with integrations, a weekly rotation with an
override, a two-step escalation policy, and incidents in every state. Running it twice is refused rather
than duplicating everything.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from opsknight import accounts, security
from opsknight.engine import clock
from opsknight.engine.numbers import next_incident_number
from opsknight.models import (
    EscalationPolicy, EscalationStep, EscalationStepTarget, Incident, IncidentStatus, Integration, Role, Schedule,
    ScheduleLayer, ScheduleLayerMember, ScheduleOverride, Service, SourceType, TargetType, Team, TeamMembership,
    TimelineEvent, Urgency,
)

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
    return (f"seeded the demo organisation: {len(users)} users, 2 teams, {len(services)} services, 1 schedule, "
            f"1 escalation policy, {len(examples)} incidents.\nSign in as {users[0].email} with the demo password.")
