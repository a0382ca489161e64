"""Response analytics: one SQL aggregate per figure, over a window of time and a filter. No Python loops over rows.

Definitions (the page's help text says the same):

* **Window**: [start, end) — two UTC instants, the midnights that begin the `from` and `to` calendar days in the
  viewer's time zone (`admin.analytics` works them out). An incident belongs to the window by `created_at`;
  incidents merged into another (`merged_into_id IS NOT NULL`) are left out: they were folded into the survivor.
* **Filter**: team (the service's `team_id`), service, urgency (high/low) — always applied through the incident.
* **MTTA** = acknowledged_at − created_at over the acknowledged incidents; **MTTR** = resolved_at − created_at over
  the resolved ones: count, median and p90 in seconds, `percentile_cont` semantics (linear interpolation).
* **Escalation rate**: the share of the window's incidents that paged beyond the first escalation step, i.e. that
  have a delivery row with `escalation_step > 0` that is not a responder request. Why this signal: dispatch writes
  one delivery row per person and channel under a unique key exactly when the incident *reaches* a step that
  resolves to people, and stamps it with that step. The incident's own `escalation_step` is overwritten (a snooze
  or re-trigger goes back to step 0), and timeline `escalated` events also mark snooze restarts, "policy
  exhausted" and skipped empty steps, with the step only inside JSON. A responder request carries whatever step
  the incident was at, so it says nothing about escalating. The row counts whether or not it was sent: an
  acknowledgement between the escalation and a delayed notification rule suppresses the send, but the first step
  still did not answer in time.
* **Noisiest services**: incidents created in the window and alerts received in the window, per service.
  **Noisiest alert sources**: alerts (`alerts.source`) received in the window, per source.
* **Per person**: a *page* is one (incident, escalation generation, escalation step) for which the person got at
  least one delivery with `sent_at` set — every channel of one step is one page, responder requests count — and
  its time is the first `sent_at`. Pages belong to the window by that time (the load fell on the person then,
  whenever the incident began), including pages for incidents later merged (they woke someone all the same).
  *Sleep-hour interruptions*: pages whose time is in [22:00, 07:00) on the wall clock of the person's
  `users.time_zone`, converted per row (DST-correct). *Incidents acknowledged*: the window's incidents with
  `acknowledged_by_id` = the person.

Every function takes a Session and a `Scope` and returns plain rows (dicts), ready for JSON and CSV.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from opsknight.engine.analytics_sql import local_date, local_hour, percentile, seconds_between
from opsknight.models import Alert, Delivery, Incident, Service, Team, User

TOP = 10  # rows of the "noisiest" tables
# A page's deliveries go out within minutes of each other (rule delays, retries); reading deliveries from this long
# before the window finds a page's first send, so a page that started before the window is not counted in it.
PAGE_LOOKBACK = timedelta(days=1)
SLEEP_FROM, SLEEP_UNTIL = 22, 7  # [22:00, 07:00) local time


@dataclass(frozen=True)
class Scope:
    """What to aggregate: [start, end) in UTC, the zone days are counted in, and the filter."""

    start: datetime
    end: datetime
    time_zone: str
    first_day: date
    days: int
    team_id: int | None = None
    service_id: int | None = None
    urgency: str | None = None


def _filtered(scope: Scope, incident_id=None) -> list:
    """The filter as conditions on the incident: on `incidents` itself, or (`incident_id`: a column of alerts or
    deliveries) on the incident that row belongs to. The team goes through a subquery on services."""

    def of(column):
        if incident_id is None:
            return column
        # A correlated scalar subquery, not a join: PostgreSQL probes incidents' primary key once per row of the
        # window, where a join is planned as a hash over every incident ever stored (a Seq Scan growing forever).
        return select(column).where(Incident.id == incident_id).scalar_subquery()

    conditions = []
    if scope.service_id is not None:
        conditions.append(of(Incident.service_id) == scope.service_id)
    if scope.team_id is not None:
        conditions.append(of(Incident.service_id).in_(select(Service.id).where(Service.team_id == scope.team_id)))
    if scope.urgency is not None:
        conditions.append(of(Incident.urgency) == scope.urgency)
    return conditions


def _in_window(scope: Scope) -> list:
    return [Incident.created_at >= scope.start, Incident.created_at < scope.end, Incident.merged_into_id.is_(None),
            *_filtered(scope)]


def _seconds(value) -> float | None:
    # Rounded to the millisecond: both backends then give the same figure (float noise aside).
    return None if value is None else round(float(value), 3)


def _percent(part: int, whole: int) -> float | None:
    return None if not whole else round(100.0 * part / whole, 1)


def summary(db: Session, scope: Scope) -> dict:
    """Incidents, MTTA and MTTR (count, median, p90), and how many escalated past the first step."""
    mtta = seconds_between(Incident.created_at, Incident.acknowledged_at)
    mttr = seconds_between(Incident.created_at, Incident.resolved_at)
    # A scalar subquery per incident (not EXISTS): PostgreSQL runs it as an index probe on deliveries(incident_id)
    # for each incident of the window, where an EXISTS may be planned as a hash over every delivery ever made.
    highest_step = (select(sa.func.max(Delivery.escalation_step))
                    .where(Delivery.incident_id == Incident.id, Delivery.responder_request.is_(False))
                    .scalar_subquery())
    row = db.exec(select(
        sa.func.count(),
        sa.func.count(Incident.acknowledged_at), percentile(0.5, mtta), percentile(0.9, mtta),
        sa.func.count(Incident.resolved_at), percentile(0.5, mttr), percentile(0.9, mttr),
        sa.func.count().filter(highest_step > 0),
    ).where(*_in_window(scope))).one()
    incidents, acked, mtta_p50, mtta_p90, resolved, mttr_p50, mttr_p90, escalated = row
    return {"incidents": incidents, "acknowledged": acked, "mtta_median_s": _seconds(mtta_p50),
            "mtta_p90_s": _seconds(mtta_p90), "resolved": resolved, "mttr_median_s": _seconds(mttr_p50),
            "mttr_p90_s": _seconds(mttr_p90), "escalated": escalated,
            "escalation_percent": _percent(escalated, incidents)}


def daily(db: Session, scope: Scope) -> list[dict]:
    """Incidents per calendar day of the viewer's zone (high and low urgency), every day of the window listed."""
    days = (select(local_date(Incident.created_at, scope.time_zone).label("day"), Incident.urgency)
            .where(*_in_window(scope)).subquery())
    # Grouped outside: PostgreSQL would not match `GROUP BY` to the select list's expression with its own bind.
    found = db.exec(select(days.c.day, sa.func.count(), sa.func.count().filter(days.c.urgency == "high"),
                           sa.func.count().filter(days.c.urgency == "low"))
                    .group_by(days.c.day)).all()
    counts = {str(day): (total, high, low) for day, total, high, low in found}
    out = []
    for offset in range(scope.days):  # the calendar, not the data: days without incidents show as zeros
        day = (scope.first_day + timedelta(days=offset)).isoformat()
        total, high, low = counts.get(day, (0, 0, 0))
        out.append({"day": day, "incidents": total, "high": high, "low": low})
    return out


def services(db: Session, scope: Scope) -> list[dict]:
    """The services with the most incidents (then alerts) in the window."""
    incidents = (select(Incident.service_id.label("service_id"), sa.func.count().label("incidents"),
                        sa.literal_column("0").label("alerts"))
                 .where(*_in_window(scope)).group_by(Incident.service_id))
    service_of_alert = select(Incident.service_id).where(Incident.id == Alert.incident_id).scalar_subquery()
    received = (select(service_of_alert.label("service_id"))
                .where(Alert.received_at >= scope.start, Alert.received_at < scope.end,
                       *_filtered(scope, Alert.incident_id)).subquery())
    alerts = select(received.c.service_id, sa.literal_column("0"), sa.func.count()).group_by(received.c.service_id)
    both = sa.union_all(incidents, alerts).subquery()
    total_incidents, total_alerts = sa.func.sum(both.c.incidents), sa.func.sum(both.c.alerts)
    rows = db.exec(select(Service.id, Service.name, Team.name, total_incidents, total_alerts)
                   .select_from(both).join(Service, Service.id == both.c.service_id)
                   .join(Team, Team.id == Service.team_id, isouter=True)
                   .group_by(Service.id, Service.name, Team.name)
                   .order_by(total_incidents.desc(), total_alerts.desc(), Service.name).limit(TOP)).all()
    return [{"service_id": sid, "service": name, "team": team or "", "incidents": int(inc), "alerts": int(al)}
            for sid, name, team, inc, al in rows]


def sources(db: Session, scope: Scope) -> list[dict]:
    """The alert sources that sent the most alerts in the window (and on how many incidents)."""
    alerts = sa.func.count()
    query = (select(Alert.source, alerts, sa.func.count(sa.distinct(Alert.incident_id)))
             .where(Alert.received_at >= scope.start, Alert.received_at < scope.end,
                    *_filtered(scope, Alert.incident_id)))
    rows = db.exec(query.group_by(Alert.source).order_by(alerts.desc(), Alert.source).limit(TOP)).all()
    return [{"source": source, "alerts": count, "incidents": incidents} for source, count, incidents in rows]


def people(db: Session, scope: Scope) -> list[dict]:
    """Per person: pages received (and how many in sleep hours), incidents acknowledged."""
    page_query = (select(Delivery.user_id, sa.func.min(Delivery.sent_at).label("paged_at"))
                  .where(Delivery.sent_at >= scope.start - PAGE_LOOKBACK, Delivery.sent_at < scope.end,
                         Delivery.user_id.is_not(None), *_filtered(scope, Delivery.incident_id)))
    pages = (page_query.group_by(Delivery.user_id, Delivery.incident_id, Delivery.escalation_generation,
                                 Delivery.escalation_step)
             .having(sa.func.min(Delivery.sent_at) >= scope.start).subquery())
    hour = local_hour(pages.c.paged_at, User.time_zone)
    per_page = (select(pages.c.user_id.label("user_id"), sa.func.count().label("pages"),
                       sa.func.count().filter(sa.or_(hour >= SLEEP_FROM, hour < SLEEP_UNTIL)).label("sleep"),
                       sa.literal_column("0").label("acks"))
                .select_from(pages).join(User, User.id == pages.c.user_id).group_by(pages.c.user_id))
    acks = (select(Incident.acknowledged_by_id, sa.literal_column("0"), sa.literal_column("0"), sa.func.count())
            .where(*_in_window(scope), Incident.acknowledged_by_id.is_not(None))
            .group_by(Incident.acknowledged_by_id))
    both = sa.union_all(per_page, acks).subquery()
    n_pages, n_sleep, n_acks = sa.func.sum(both.c.pages), sa.func.sum(both.c.sleep), sa.func.sum(both.c.acks)
    rows = db.exec(select(User.id, User.name, User.email, User.time_zone, n_pages, n_sleep, n_acks)
                   .select_from(both).join(User, User.id == both.c.user_id)
                   .group_by(User.id, User.name, User.email, User.time_zone)
                   .order_by(n_pages.desc(), n_sleep.desc(), n_acks.desc(), User.name)).all()
    return [{"user_id": uid, "name": name, "email": email, "time_zone": zone, "pages": int(paged),
             "sleep_hour_pages": int(sleep), "sleep_hour_percent": _percent(int(sleep), int(paged)),
             "incidents_acknowledged": int(acked)}
            for uid, name, email, zone, paged, sleep, acked in rows]
