"""The Python halves of analytics' SQLite functions and the page's formatting: PostgreSQL's percentile_cont
semantics (linear interpolation between the nearest ranks) and durations as people read them."""

from __future__ import annotations

import pytest

from opsknight.engine.analytics_sql import percentile_cont
from opsknight.state.analytics import duration


@pytest.mark.parametrize("values, fraction, expected", [
    ([], 0.5, None),
    ([7.0], 0.9, 7.0),
    ([30, 45, 60, 120, 300, 900], 0.5, 90.0),  # position 2.5: halfway between 60 and 120
    ([30, 45, 60, 120, 300, 900], 0.9, 600.0),  # position 4.5
    ([900, 300], 0.9, 840.0),  # unsorted input; position 0.9 -> 300 + 0.9 * 600
    ([1, 2, 3, 4], 0.0, 1.0),
    ([1, 2, 3, 4], 1.0, 4.0),
])
def test_percentile_cont(values, fraction, expected):
    found = percentile_cont(values, fraction)
    assert found is None if expected is None else found == pytest.approx(expected)


@pytest.mark.parametrize("seconds, text", [
    (None, "—"), (0, "0 s"), (59.4, "59 s"), (90, "1 min 30 s"), (3599, "59 min 59 s"), (3600, "1 h 0 min"),
    (5400, "1 h 30 min"), (86400 + 4 * 3600 + 59, "1 d 4 h"),
])
def test_duration(seconds, text):
    assert duration(seconds) == text
