"""iCalendar feeds of who is on call, behind secret URLs: one per schedule, one per user.

* **Tokens.** ``issue_*_ical_token`` hands out a new ``okc_`` token (shown once) and stores only its SHA-256
  digest in ``Schedule.ical_token_digest`` / ``User.ical_token_digest``; issuing again replaces the old token,
  which stops working at once. Lookups go by digest and confirm in constant time. A disabled user's feed is
  refused like an unknown one.
* **Window.** A feed covers the final schedule (``oncall.final_blocks``: layers and overrides) from 7 days ago to
  60 days ahead: one VEVENT per block with someone on call (gaps are not events). Blocks overlapping the window
  are shown whole, computed up to ``MARGIN`` beyond it, so an event does not shrink as the window slides.
* **Events.** DTSTART/DTEND in UTC; DTSTAMP is the ``now`` passed in (the feed is a pure function of the
  database and ``now``). UIDs are derived from the block itself (schedule, start, end, who), so the same block
  has the same UID in every fetch, and a changed block gets a new one. Events are TRANSPARENT: being on call
  does not make anyone "busy". The schedule feed titles events ``On call: <names>``; the user feed
  ``On call: <schedule name>`` (merging that user's adjacent blocks per schedule).

The caller commits after issuing a token (these functions only flush).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event
from sqlmodel import Session, select

from opsknight import security
from opsknight.engine import oncall
from opsknight.engine.schedule_store import load_spec
from opsknight.models import Schedule, ScheduleLayer, ScheduleLayerMember, ScheduleOverride, User, UserStatus

ICAL_TOKEN_PREFIX = "okc_"
PAST = timedelta(days=7)
FUTURE = timedelta(days=60)
MARGIN = timedelta(days=31)  # blocks at the window's edges keep their real extent (up to this much beyond it)
_MAX_TOKEN_LEN = 128
PRODID = "-//OpsKnight//On-call schedules//EN"


# --- tokens --------------------------------------------------------------------------------------------------------


def issue_ical_token(db: Session, row: Schedule | User) -> str:
    """A new secret feed token for a schedule or a user (replacing any earlier one); stored only as its digest."""
    token = security.new_token(ICAL_TOKEN_PREFIX)
    row.ical_token_digest = security.token_digest(token)
    db.add(row)
    db.flush()
    return token


def _by_token(db: Session, model, token: str):
    if not token or not token.startswith(ICAL_TOKEN_PREFIX) or len(token) > _MAX_TOKEN_LEN:
        return None
    row = db.exec(select(model).where(model.ical_token_digest == security.token_digest(token))).first()
    if row is None or not row.ical_token_digest or not security.digests_match(row.ical_token_digest, token):
        return None
    return row


def schedule_for_ical_token(db: Session, token: str) -> Schedule | None:
    return _by_token(db, Schedule, token)


def user_for_ical_token(db: Session, token: str) -> User | None:
    """The active user whose feed token this is (a disabled user's feed is closed)."""
    user = _by_token(db, User, token)
    return user if user is not None and user.status == UserStatus.ACTIVE else None


# --- calendars -----------------------------------------------------------------------------------------------------


def schedule_calendar(db: Session, schedule_id: int, now: datetime) -> bytes:
    """The schedule's final on-call blocks around ``now`` as an iCalendar document. LookupError if no schedule."""
    now = _instant(now)
    schedule = db.get(Schedule, schedule_id)
    if schedule is None:
        raise LookupError(f"schedule {schedule_id} does not exist")
    lo, hi = now - PAST, now + FUTURE
    spec = load_spec(db, schedule_id, lo - MARGIN, hi + MARGIN)
    blocks = [b for b in oncall.final_blocks(spec, lo - MARGIN, hi + MARGIN)
              if b.user_ids and b.start < hi and b.end > lo]
    names = _names(db, {uid for b in blocks for uid in b.user_ids})
    cal = _calendar(f"On call: {schedule.name}")
    for b in blocks:
        who = ", ".join(names.get(uid, f"user {uid}") for uid in b.user_ids)
        uid = f"oncall-schedule{schedule_id}-{_stamp(b.start)}-{_stamp(b.end)}-" \
              f"user{'.'.join(map(str, b.user_ids))}@opsknight"
        cal.add_component(_event(uid, now, b.start, b.end, f"On call: {who}",
                                 f"{schedule.name}: {who} on call"))
    return cal.to_ical()


def user_calendar(db: Session, user_id: int, now: datetime) -> bytes:
    """``user_id``'s on-call blocks on every schedule around ``now``, as iCalendar. LookupError if no user."""
    now = _instant(now)
    user = db.get(User, user_id)
    if user is None:
        raise LookupError(f"user {user_id} does not exist")
    lo, hi = now - PAST, now + FUTURE
    start, end = lo - MARGIN, hi + MARGIN
    schedule_ids = set(db.exec(select(ScheduleLayer.schedule_id).join(
        ScheduleLayerMember, ScheduleLayerMember.layer_id == ScheduleLayer.id)
        .where(ScheduleLayerMember.user_id == user_id)).all())
    schedule_ids |= set(db.exec(select(ScheduleOverride.schedule_id).where(
        ScheduleOverride.user_id == user_id, ScheduleOverride.ends_at > start,
        ScheduleOverride.starts_at < end)).all())
    schedules = db.exec(select(Schedule).where(Schedule.id.in_(schedule_ids)).order_by(Schedule.name,
                                                                                        Schedule.id)).all() \
        if schedule_ids else []
    cal = _calendar(f"On call: {user.name}")
    for schedule in schedules:
        spec = load_spec(db, schedule.id, start, end)
        for s, e in _merged(b for b in oncall.final_blocks(spec, start, end) if user_id in b.user_ids):
            if s < hi and e > lo:
                uid = f"oncall-user{user_id}-schedule{schedule.id}-{_stamp(s)}-{_stamp(e)}@opsknight"
                cal.add_component(_event(uid, now, s, e, f"On call: {schedule.name}",
                                         f"{user.name} on call for {schedule.name}"))
    return cal.to_ical()


# --- internals -----------------------------------------------------------------------------------------------------


def _instant(now: datetime) -> datetime:
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    return now.astimezone(UTC).replace(microsecond=0)


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _names(db: Session, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    return {u.id: u.name for u in db.exec(select(User).where(User.id.in_(user_ids))).all()}


def _merged(blocks: Iterable[oncall.Block]) -> list[tuple[datetime, datetime]]:
    spans: list[tuple[datetime, datetime]] = []
    for b in blocks:
        if spans and spans[-1][1] == b.start:
            spans[-1] = (spans[-1][0], b.end)
        else:
            spans.append((b.start, b.end))
    return spans


def _calendar(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")
    return cal


def _event(uid: str, now: datetime, start: datetime, end: datetime, summary: str, description: str) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", now)
    event.add("dtstart", start.astimezone(UTC))
    event.add("dtend", end.astimezone(UTC))
    event.add("summary", summary)
    event.add("description", description)
    event.add("transp", "TRANSPARENT")
    return event
