"""The timeline's geometry: blocks cut into day rows of the viewer's zone, DST days 23/25 hours wide, gaps red."""

from __future__ import annotations

from datetime import UTC, date, datetime

from opsknight.components.timeline import color_of, day_rows, window
from opsknight.engine.oncall import Block


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


NAMES = {1: "Ada", 2: "Bob"}


def test_window_is_local_midnight_to_midnight():
    assert window(date(2026, 3, 29), 1, "Europe/Berlin") == (utc("2026-03-28 23:00"), utc("2026-03-29 22:00"))
    assert window(date(2026, 3, 2), 7, "Asia/Kolkata") == (utc("2026-03-01 18:30"), utc("2026-03-08 18:30"))


def test_a_block_over_midnight_is_split_and_keeps_its_whole_extent():
    start, end = window(date(2026, 3, 2), 2, "UTC")
    blocks = [Block(start, utc("2026-03-02 12:00"), ()), Block(utc("2026-03-02 12:00"), utc("2026-03-03 06:00"), (1,)),
              Block(utc("2026-03-03 06:00"), end, (2,))]
    first, second = day_rows(blocks, NAMES, "final", date(2026, 3, 2), 2, "UTC")

    assert first.label == "Mon 02 Mar" and [b.label for b in first.bars] == ["Nobody on call", "Ada"]
    gap, ada = first.bars
    assert (gap.left, gap.width, gap.gap, gap.user, gap.color) == ("0.0000%", "50.0000%", True, "", "var(--red-9)")
    assert (ada.left, ada.width, ada.user, ada.start, ada.end) == (
        "50.0000%", "50.0000%", "1", "2026-03-02T12:00:00Z", "2026-03-03T00:00:00Z")
    assert (ada.block_start, ada.block_end) == ("2026-03-02T12:00:00Z", "2026-03-03T06:00:00Z")
    assert [(b.label, b.left, b.width, b.block_start) for b in second.bars] == [
        ("Ada", "0.0000%", "25.0000%", "2026-03-02T12:00:00Z"), ("Bob", "25.0000%", "75.0000%", "2026-03-03T06:00:00Z")]
    assert ada.dom_id == "bar-final-1772452800" and ada.color == color_of((1,)) != color_of((2,))


def test_dst_days_are_23_and_25_hours_wide():
    spring = day_rows([Block(utc("2026-03-28 23:00"), utc("2026-03-29 10:00"), (1,)),
                       Block(utc("2026-03-29 10:00"), utc("2026-03-29 22:00"), (2,))],
                      NAMES, "l", date(2026, 3, 29), 1, "Europe/Berlin")[0]
    assert [(b.left, b.width) for b in spring.bars] == [("0.0000%", "47.8261%"), ("47.8261%", "52.1739%")]  # 11/23
    autumn = day_rows([Block(utc("2026-10-24 22:00"), utc("2026-10-25 23:00"), (1,))],
                      NAMES, "l", date(2026, 10, 25), 1, "Europe/Berlin")[0]
    assert [(b.left, b.width) for b in autumn.bars] == [("0.0000%", "100.0000%")]
    assert window(date(2026, 10, 25), 1, "Europe/Berlin") == (utc("2026-10-24 22:00"), utc("2026-10-25 23:00"))


def test_several_people_in_one_block_are_named_together():
    start, end = window(date(2026, 3, 2), 1, "UTC")
    [row] = day_rows([Block(start, end, (2, 1))], NAMES, "final", date(2026, 3, 2), 1, "UTC")
    assert [(b.label, b.user) for b in row.bars] == [("Bob, Ada", "2,1")]
