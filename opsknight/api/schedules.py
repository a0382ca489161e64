"""Read-only schedule API: who is on call at an instant, the final schedule over a range, and iCal feeds.

* ``GET /api/v1/schedules/{id}/oncall?at=`` and ``GET /api/v1/schedules/{id}/final?start=&end=&layers=`` need an
  API key (any role: ``Reader``). Times are ISO 8601 *with* an offset or ``Z``; a naive time is refused (400),
  since "09:00" means a different instant in every zone. Answers are in UTC (``...Z``).
* ``GET /api/ical/schedules/{token}.ics`` and ``GET /api/ical/users/{token}.ics``: the secret URL is the
  credential (see ``opsknight.engine.ical``); an unknown or replaced token is a 404.

Every error on these routes, including 401/403 from the ``Reader`` dependency and query-parameter validation,
comes out as ``{"error": {"code", "message", "fields"}}`` (the route class below; global handlers untouched).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Response
from sqlmodel import Session, select

from opsknight.api.deps import Reader
from opsknight.api.errors import ApiError, ErrorShapedRoute
from opsknight.db import session_scope
from opsknight.engine import clock, ical, oncall
from opsknight.engine.schedule_store import load_spec
from opsknight.models import ScheduleLayer, User

log = logging.getLogger(__name__)

DEFAULT_RANGE = timedelta(days=7)
_TICK = timedelta(microseconds=1)
_MAX_ID = 2**31 - 1
# An unencoded "+" in a query string arrives as a space: "2026-03-29T03:00:00 02:00" meant "+02:00".
_SPACED_OFFSET = re.compile(r"^(.*\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d(?::?\d\d)?)$")


router = APIRouter(tags=["schedules"], route_class=ErrorShapedRoute)


# --- helpers -------------------------------------------------------------------------------------------------------


def iso(value: datetime) -> str:
    """UTC ISO 8601 with a ``Z``."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_instant(raw: str, field: str) -> datetime:
    """An aware datetime from ISO 8601 text; ApiError(400) for anything else, naive times included."""
    text = raw.strip()
    if m := _SPACED_OFFSET.match(text):
        text = f"{m[1]}+{m[2]}"
    example = "e.g. 2026-03-29T01:30:00Z or 2026-03-29T03:30:00+02:00"
    try:
        if len(text) > 64:
            raise ValueError
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "invalid_datetime", f"{field} is not an ISO 8601 date-time ({example})",
                       [f"{field}: not an ISO 8601 date-time"]) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ApiError(400, "naive_datetime",
                       f"{field} has no UTC offset: add 'Z' or an offset such as +02:00 ({example}); "
                       "a time without one names a different instant in every time zone",
                       [f"{field}: missing UTC offset"])
    if not 2 <= value.year <= 9998:  # keeps every range and margin computed from it inside datetime's years
        raise ApiError(400, "invalid_datetime", f"{field} is out of range (years 2 to 9998)",
                       [f"{field}: out of range"])
    return value.astimezone(UTC)


def _check_id(schedule_id: int) -> None:
    if not 1 <= schedule_id <= _MAX_ID:
        raise _no_schedule(schedule_id)


def _no_schedule(schedule_id: int) -> ApiError:
    return ApiError(404, "not_found", f"Schedule {schedule_id} does not exist")


def _spec(db: Session, schedule_id: int, start: datetime, end: datetime) -> oncall.ScheduleSpec:
    try:
        spec = load_spec(db, schedule_id, start, end)
    except ValueError as exc:  # malformed stored data (e.g. a restriction): a server-side problem, not the caller's
        log.error("schedule %s cannot be evaluated: %s", schedule_id, exc)
        raise ApiError(500, "invalid_schedule", f"Schedule {schedule_id} cannot be evaluated: {exc}") from None
    if spec is None:
        raise _no_schedule(schedule_id)
    return spec


def _users(db: Session, user_ids: tuple[int, ...]) -> list[dict]:
    rows = {u.id: u for u in db.exec(select(User).where(User.id.in_(user_ids))).all()} if user_ids else {}
    return [{"id": uid, "name": rows[uid].name, "email": rows[uid].email} for uid in user_ids if uid in rows]


def block_json(block: oncall.Block) -> dict:
    return {"start": iso(block.start), "end": iso(block.end), "user_ids": list(block.user_ids),
            "gap": not block.user_ids}


# --- API-key endpoints ---------------------------------------------------------------------------------------------


@router.get("/api/v1/schedules/{schedule_id}/oncall", summary="Who is on call at an instant")
def get_oncall(schedule_id: int, principal: Reader, at: str | None = None) -> dict:
    _check_id(schedule_id)
    instant = parse_instant(at, "at") if at is not None else clock.now().astimezone(UTC)
    with session_scope() as db:
        spec = _spec(db, schedule_id, instant, instant + _TICK)
        user_ids = oncall.on_call_at(spec, instant)
        users = _users(db, user_ids)
    return {"schedule_id": schedule_id, "at": iso(instant), "user_ids": list(user_ids), "users": users,
            "gap": not user_ids}


@router.get("/api/v1/schedules/{schedule_id}/final", summary="The final schedule over a range")
def get_final(schedule_id: int, principal: Reader, start: str | None = None, end: str | None = None,
              layers: bool = False) -> dict:
    _check_id(schedule_id)
    lo = parse_instant(start, "start") if start is not None else None
    hi = parse_instant(end, "end") if end is not None else None
    if lo is None:
        lo = hi - DEFAULT_RANGE if hi is not None else clock.now().astimezone(UTC)
    if hi is None:
        hi = lo + DEFAULT_RANGE
    if lo >= hi:
        raise ApiError(400, "invalid_range", f"start must be before end ({iso(lo)} >= {iso(hi)})",
                       ["end: must be after start"])
    if hi - lo > oncall.MAX_RANGE:
        raise ApiError(400, "range_too_long",
                       f"The range is too long: at most {oncall.MAX_RANGE.days} days at a time",
                       [f"end: at most {oncall.MAX_RANGE.days} days after start"])
    with session_scope() as db:
        spec = _spec(db, schedule_id, lo, hi)
        time_zone = spec.time_zone
        body = {"schedule_id": schedule_id, "time_zone": time_zone, "start": iso(lo), "end": iso(hi),
                "blocks": [block_json(b) for b in oncall.final_blocks(spec, lo, hi)]}
        if layers:
            names = dict(db.exec(select(ScheduleLayer.id, ScheduleLayer.name)
                                 .where(ScheduleLayer.schedule_id == schedule_id)).all())
            body["layers"] = [{"id": layer.id, "name": names.get(layer.id, ""),
                               "blocks": [block_json(b) for b in oncall.layer_blocks(spec, layer, lo, hi)]}
                              for layer in spec.layers]
    return body


# --- iCal feeds (the token in the URL is the credential) -----------------------------------------------------------

_ICS_HEADERS = {"Cache-Control": "private, max-age=300", "Referrer-Policy": "no-referrer",
                "X-Robots-Tag": "noindex"}


def _ics(body: bytes) -> Response:
    return Response(body, media_type="text/calendar; charset=utf-8", headers=_ICS_HEADERS)


def _unknown_feed() -> ApiError:
    return ApiError(404, "not_found", "Unknown calendar link (it may have been replaced by a new one)")


@router.get("/api/ical/schedules/{token}.ics", response_class=Response, summary="iCal feed of a schedule (secret URL)")
@router.head("/api/ical/schedules/{token}.ics", response_class=Response, include_in_schema=False)
def schedule_feed(token: str) -> Response:
    with session_scope() as db:
        schedule = ical.schedule_for_ical_token(db, token)
        if schedule is None:
            raise _unknown_feed()
        body = _feed(ical.schedule_calendar, db, schedule.id)
    return _ics(body)


@router.get("/api/ical/users/{token}.ics", response_class=Response,
            summary="iCal feed of a user's on-call shifts on all schedules (secret URL)")
@router.head("/api/ical/users/{token}.ics", response_class=Response, include_in_schema=False)
def user_feed(token: str) -> Response:
    with session_scope() as db:
        user = ical.user_for_ical_token(db, token)
        if user is None:
            raise _unknown_feed()
        body = _feed(ical.user_calendar, db, user.id)
    return _ics(body)


def _feed(build, db: Session, row_id: int) -> bytes:
    try:
        return build(db, row_id, clock.now())
    except ValueError as exc:
        log.error("calendar feed cannot be built: %s", exc)
        raise ApiError(500, "invalid_schedule", f"The calendar cannot be built: {exc}") from None
