"""The few SQL expressions analytics needs that PostgreSQL and SQLite spell differently, one construct each.

PostgreSQL is the real target: `percentile_cont`, `EXTRACT(EPOCH ...)` and per-row `AT TIME ZONE` (DST-correct,
the zone may be a column). The embedded SQLite default has none of these, so `register_sqlite_functions` (run by
`db.make_engine` on every new SQLite connection) adds small Python functions with the same semantics, and each
construct below compiles to one or the other. The queries in `engine.analytics` are written once against these.

SQLite stores our timestamps as UTC text without an offset ("2026-03-08 06:59:00.000000"), which is what the
functions parse.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class percentile(FunctionElement):
    """`percentile(fraction, expr)`: the aggregate `percentile_cont(fraction) WITHIN GROUP (ORDER BY expr)`
    (linear interpolation between the two nearest values; NULLs ignored; NULL over no rows)."""

    type = sa.Float()
    inherit_cache = True
    name = "percentile"

    def __init__(self, fraction: float, expr):
        # A literal, not a bind: it is part of the statement's cache key and PostgreSQL sees a constant.
        super().__init__(sa.literal_column(repr(float(fraction))), expr)


class seconds_between(FunctionElement):
    """`seconds_between(start, end)`: `end - start` in seconds (float); NULL when either is NULL."""

    type = sa.Float()
    inherit_cache = True
    name = "seconds_between"


class local_hour(FunctionElement):
    """`local_hour(ts, zone)`: the hour (0-23) of the instant `ts` on the wall clock of IANA zone `zone`."""

    type = sa.Integer()
    inherit_cache = True
    name = "local_hour"


class local_date(FunctionElement):
    """`local_date(ts, zone)`: the calendar date of the instant `ts` in IANA zone `zone` (a date on PostgreSQL,
    'YYYY-MM-DD' text on SQLite: callers use `str()` of it)."""

    type = sa.String()
    inherit_cache = True
    name = "local_date"


def _args(element, compiler, **kw) -> list[str]:
    return [compiler.process(clause, **kw) for clause in element.clauses]


@compiles(percentile, "postgresql")
def _percentile_pg(element, compiler, **kw):
    fraction, expr = _args(element, compiler, **kw)
    return f"percentile_cont({fraction}) WITHIN GROUP (ORDER BY {expr})"


@compiles(seconds_between, "postgresql")
def _seconds_pg(element, compiler, **kw):
    start, end = _args(element, compiler, **kw)
    return f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS DOUBLE PRECISION)"


@compiles(local_hour, "postgresql")
def _hour_pg(element, compiler, **kw):
    ts, zone = _args(element, compiler, **kw)
    return f"CAST(EXTRACT(HOUR FROM ({ts} AT TIME ZONE {zone})) AS INTEGER)"


@compiles(local_date, "postgresql")
def _date_pg(element, compiler, **kw):
    ts, zone = _args(element, compiler, **kw)
    return f"CAST(({ts} AT TIME ZONE {zone}) AS DATE)"


@compiles(percentile, "sqlite")
def _percentile_sqlite(element, compiler, **kw):
    fraction, expr = _args(element, compiler, **kw)
    return f"ok_percentile({expr}, {fraction})"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element, compiler, **kw):
    return "ok_seconds_between({}, {})".format(*_args(element, compiler, **kw))


@compiles(local_hour, "sqlite")
def _hour_sqlite(element, compiler, **kw):
    return "ok_local_hour({}, {})".format(*_args(element, compiler, **kw))


@compiles(local_date, "sqlite")
def _date_sqlite(element, compiler, **kw):
    return "ok_local_date({}, {})".format(*_args(element, compiler, **kw))


# --- SQLite: the same semantics in Python ----------------------------------------------------------------------


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).replace(tzinfo=UTC)


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont over `values`: position fraction * (n - 1), linear between neighbours."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class _Percentile:
    def __init__(self):
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, value, fraction):
        self.fraction = float(fraction)
        if value is not None:
            self.values.append(float(value))

    def finalize(self):
        return percentile_cont(self.values, self.fraction)


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if start is None or end is None:
        return None
    return (_instant(end) - _instant(start)).total_seconds()


def _local(ts: str | None, zone: str | None) -> datetime | None:
    # ZoneInfo caches zones itself; an unknown zone raises, as PostgreSQL's AT TIME ZONE would.
    return None if ts is None or zone is None else _instant(ts).astimezone(ZoneInfo(zone))


def register_sqlite_functions(dbapi_conn) -> None:
    """Add the functions the constructs above compile to on SQLite (deterministic: usable in any clause)."""
    dbapi_conn.create_aggregate("ok_percentile", 2, _Percentile)
    dbapi_conn.create_function("ok_seconds_between", 2, _seconds_between, deterministic=True)
    dbapi_conn.create_function("ok_local_hour", 2, lambda ts, zone: None if (t := _local(ts, zone)) is None
                               else t.hour, deterministic=True)
    dbapi_conn.create_function("ok_local_date", 2, lambda ts, zone: None if (t := _local(ts, zone)) is None
                               else t.date().isoformat(), deterministic=True)
