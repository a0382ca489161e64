"""How a grouped batch's raw bodies follow its alerts when the batch is applied in two parts."""

from opsknight.engine.ingest import _split_bodies


def test_split_inside_a_request_gives_it_to_both_sides():
    assert _split_bodies([(2, b"a"), (3, b"b"), (1, b"c")], 3) == ([(2, b"a"), (1, b"b")], [(2, b"b"), (1, b"c")])


def test_split_between_requests_and_requests_without_alerts():
    assert _split_bodies([(2, b"a"), (0, b"x"), (1, b"b")], 2) == ([(2, b"a")], [(1, b"b")])
    assert _split_bodies([(1, b"a")], 1) == ([(1, b"a")], [])
