"""Coalescing live changes into feed updates (`opsknight.live.coalesce`): time is passed in."""

from __future__ import annotations

from opsknight.live.coalesce import FIRST_DELAY, MAX_IDS, MIN_INTERVAL, RESYNC_EVERY, Coalescer


def test_a_change_after_a_quiet_spell_goes_out_almost_at_once():
    c = Coalescer(last_resync=95.0)
    c.add([7], now=100.0)
    assert c.take(100.0 + FIRST_DELAY / 2) is None
    assert c.take(100.0 + FIRST_DELAY) == [7]
    assert c.take(100.5) is None  # nothing pending


def test_a_storm_of_1000_changes_a_second_becomes_a_few_updates_each_carrying_everything():
    c = Coalescer(last_resync=10.0)
    updates, t = [], 10.0
    for n in range(10_000):  # 10 s at 1,000 changes a second, one incident each
        t = 10.0 + n / 1000
        c.add([n + 1], t)
        batch = c.take(t)
        if batch is not None:
            updates.append(batch)
    while (batch := c.take(t)) is None:
        t += 0.01
    updates.append(batch)
    assert 10 / MIN_INTERVAL - 2 <= len(updates) <= 10 / MIN_INTERVAL + 2  # ~4 a second, never one per change
    for batch in updates:
        assert batch == [] or len(batch) <= MAX_IDS  # past MAX_IDS: "anything changed", every page refreshes
    assert all(batch == [] for batch in updates[1:-1])  # 250 changes per update: over the cap


def test_every_change_is_in_some_update():
    c = Coalescer(last_resync=0.0)
    sent, t = [], 0.0
    for n in range(300):
        t += 0.003
        c.add([n], t)
        if (batch := c.take(t)) is not None:
            sent.append(batch)
    while (batch := c.take(t)) is None:
        t += 0.01
    sent.append(batch)
    assert set().union(*map(set, sent)) == set(range(300))


def test_a_resync_goes_out_when_nothing_happened_for_a_while():
    c = Coalescer(last_resync=0.0)
    assert c.take(RESYNC_EVERY - 1) is None
    assert c.take(RESYNC_EVERY) == []  # [] means "anything may have changed"
    assert c.due_at() == RESYNC_EVERY * 2


def test_a_resync_goes_out_every_30_s_even_while_changes_keep_flowing():
    c = Coalescer(last_resync=0.0)
    resyncs, t = [], 0.0
    while t < 3 * RESYNC_EVERY + 1:
        t += 0.05
        c.add([1], t)  # something changes all the time
        if c.take(t) == []:
            resyncs.append(t)
    assert len(resyncs) == 3 and all(b - a >= RESYNC_EVERY for a, b in zip(resyncs, resyncs[1:]))
