"""The on-call timeline: one row per day in the viewer's time zone, a coloured bar per shift, gaps in red.

``day_rows`` is pure geometry (blocks from ``engine.oncall`` -> rows of bars with percentage offsets); ``timeline``
draws them. A day row runs from local midnight to the next local midnight, so a DST day is 23 or 25 hours wide
and a bar's width is its share of that day. Every bar carries ``data-user`` (user ids, comma-separated; empty
for a gap), ``data-start``/``data-end`` (the piece in this row) and ``data-block-start``/``data-block-end`` (the
whole block), all ISO 8601 UTC, so tests can compare the drawing with the API.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import reflex as rx

from opsknight.engine import oncall

PALETTE = ("indigo", "teal", "amber", "violet", "cyan", "pink", "grass", "orange", "blue", "plum", "brown", "crimson")
GAP_COLOR = "red"


@dataclasses.dataclass
class Bar:
    dom_id: str
    left: str
    width: str
    label: str
    user: str  # comma-separated user ids; "" = nobody on call
    start: str
    end: str
    block_start: str
    block_end: str
    color: str
    gap: bool
    title: str


@dataclasses.dataclass
class DayRow:
    label: str
    bars: list[Bar]


@dataclasses.dataclass
class TimelineView:
    key: str
    title: str
    rows: list[DayRow]


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def color_of(user_ids: tuple[int, ...]) -> str:
    """A stable colour per person (the same user is the same colour in every row and every timeline)."""
    if not user_ids:
        return f"var(--{GAP_COLOR}-9)"
    return f"var(--{PALETTE[user_ids[0] % len(PALETTE)]}-9)"


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The instant a local day begins (zoneinfo's reading; consecutive days always meet, even across DST)."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def window(first_day: date, days: int, time_zone: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(time_zone)
    return day_start(first_day, tz), day_start(first_day + timedelta(days=days), tz)


def day_rows(blocks: list[oncall.Block], names: dict[int, str], key: str, first_day: date, days: int,
             time_zone: str) -> list[DayRow]:
    """``blocks`` (covering the window of ``first_day`` + ``days`` in ``time_zone``) cut into one row per day."""
    tz = ZoneInfo(time_zone)
    rows = []
    for n in range(days):
        day = first_day + timedelta(days=n)
        lo, hi = day_start(day, tz), day_start(day + timedelta(days=1), tz)
        length = (hi - lo).total_seconds()
        bars = []
        for block in blocks:
            s, e = max(block.start, lo), min(block.end, hi)
            if s >= e:
                continue
            who = ", ".join(names.get(u, f"user {u}") for u in block.user_ids) or "Nobody on call"
            local = f"{block.start.astimezone(tz):%a %d %b %H:%M} → {block.end.astimezone(tz):%a %d %b %H:%M}"
            bars.append(Bar(
                dom_id=f"bar-{key}-{int(s.timestamp())}", left=f"{(s - lo).total_seconds() / length * 100:.4f}%",
                width=f"{(e - s).total_seconds() / length * 100:.4f}%", label=who,
                user=",".join(str(u) for u in block.user_ids), start=_iso(s), end=_iso(e),
                block_start=_iso(block.start), block_end=_iso(block.end), color=color_of(block.user_ids),
                gap=not block.user_ids, title=f"{who}: {local}"))
        rows.append(DayRow(label=f"{day:%a %d %b}", bars=bars))
    return rows


# --- drawing -------------------------------------------------------------------------------------------------------


def _bar(bar: Bar) -> rx.Component:
    return rx.box(
        rx.text(bar.label, size="1", weight="medium", color="white", truncate=True, padding_x="4px"),
        id=bar.dom_id, class_name=rx.cond(bar.gap, "timeline-bar timeline-gap", "timeline-bar"),
        position="absolute", left=bar.left, width=bar.width, top="2px", bottom="2px", background=bar.color,
        border_radius="3px", overflow="hidden", display="flex", align_items="center", title=bar.title,
        data_user=bar.user, data_start=bar.start, data_end=bar.end, data_block_start=bar.block_start,
        data_block_end=bar.block_end, data_gap=rx.cond(bar.gap, "true", "false"),
        border_left=f"1px solid {rx.color('gray', 1)}",
    )


def _row(row: DayRow) -> rx.Component:
    return rx.hstack(
        rx.text(row.label, size="1", color_scheme="gray", width="96px", min_width="96px"),
        rx.box(rx.foreach(row.bars, _bar), position="relative", height="26px", width="100%",
               background=rx.color("gray", 3), border_radius="4px"),
        spacing="2", align="center", width="100%",
    )


def _hours_axis() -> rx.Component:
    ticks = [rx.text(f"{h:02d}:00", size="1", color_scheme="gray", position="absolute", left=f"{h / 24 * 100}%")
             for h in (0, 6, 12, 18)]
    return rx.hstack(rx.box(width="96px", min_width="96px"), rx.box(*ticks, position="relative", height="16px",
                                                                     width="100%"), spacing="2", width="100%")


def timeline(view: TimelineView, start: rx.Var, end: rx.Var) -> rx.Component:
    """One timeline (the final schedule or a layer) with its window as ``data-start``/``data-end``."""
    return rx.box(
        rx.text(view.title, weight="bold", size="2", margin_bottom="4px"),
        _hours_axis(),
        rx.vstack(rx.foreach(view.rows, _row), spacing="1", width="100%"),
        id="timeline-" + view.key, class_name="timeline", data_timeline=view.key, data_start=start, data_end=end,
        width="100%",
    )
