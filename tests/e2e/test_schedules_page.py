"""Build a schedule in the browser and check what the timeline draws against the API's /final for the same window:
two people on a daily rotation (saved after a preview), an override added on the page, the gap before the
rotation starts drawn in red, and the 2-week view. The viewer's own time zone (Asia/Kolkata, +05:30) differs
from the schedule's (Europe/Berlin) on purpose: day rows are the viewer's days, handoffs the schedule's."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import run_cli

pytestmark = pytest.mark.e2e

VIEWER = "tz-admin@e2e.example.com"
PASSWORD = "e2e-tz-admin-password"
VIEWER_TZ = ZoneInfo("Asia/Kolkata")
SCHEDULE_TZ = ZoneInfo("Europe/Berlin")
BARS_JS = """els => els.map(e => ({user: e.dataset.user, start: e.dataset.start, end: e.dataset.end,
    blockStart: e.dataset.blockStart, blockEnd: e.dataset.blockEnd, gap: e.dataset.gap}))"""
# The gap bar's colour, next to the colour var(--red-9) gives a fresh element in the same theme.
RED_JS = """el => { const probe = document.createElement('div'); probe.style.background = 'var(--red-9)';
    el.parentElement.appendChild(probe); const red = getComputedStyle(probe).backgroundColor; probe.remove();
    return [getComputedStyle(el).backgroundColor, red]; }"""


@pytest.fixture(scope="module")
def setup(app_server, app_data_dir) -> dict:
    ids = {}
    for email, name, role in ((VIEWER, "Tz Admin", "admin"), ("alice@e2e.example.com", "Alice E2E", "responder"),
                              ("bob@e2e.example.com", "Bob E2E", "responder")):
        out = run_cli(app_data_dir, "create-user", "--email", email, "--name", name, "--role", role,
                   "--password", PASSWORD, "--time-zone", "Asia/Kolkata")
        ids[name] = int(re.search(r"#(\d+)", out)[1])
    key = run_cli(app_data_dir, "create-api-key", "--email", VIEWER, "--name", "e2e schedules").strip()
    return {"ids": ids, "api": {"Authorization": f"Bearer {key}"}, "base": app_server}


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _bars(page, key: str = "final") -> list[dict]:
    return page.eval_on_selector_all(f"#timeline-{key} .timeline-bar", BARS_JS)


def _drawn_blocks(bars: list[dict]) -> set[tuple[str, str, str]]:
    return {(b["blockStart"], b["blockEnd"], b["user"]) for b in bars}


def _api_blocks(setup: dict, schedule_id: int, start: str, end: str) -> set[tuple[str, str, str]]:
    response = httpx.get(f"{setup['base']}/api/v1/schedules/{schedule_id}/final", headers=setup["api"],
                         params={"start": start, "end": end}, timeout=30)
    assert response.status_code == 200, response.text
    return {(b["start"], b["end"], ",".join(str(u) for u in b["user_ids"])) for b in response.json()["blocks"]}


def _window(page) -> tuple[str, str]:
    final = page.locator("#timeline-final")
    return final.get_attribute("data-start"), final.get_attribute("data-end")


def _assert_timeline_matches_api(page, setup: dict, schedule_id: int, days: int) -> list[dict]:
    start, end = _window(page)
    assert datetime.fromisoformat(start).astimezone(VIEWER_TZ).time().isoformat() == "00:00:00"  # viewer's midnight
    assert datetime.fromisoformat(end) - datetime.fromisoformat(start) == timedelta(days=days)  # no DST in Kolkata
    bars = _bars(page)
    assert _drawn_blocks(bars) == _api_blocks(setup, schedule_id, start, end)
    pieces = sorted((b["start"], b["end"]) for b in bars)  # the bars tile the window: no hole, no overlap
    assert pieces[0][0] == start and pieces[-1][1] == end
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:], strict=False))
    return bars


def test_build_a_schedule_and_see_its_timeline(page, setup):
    alice, bob = setup["ids"]["Alice E2E"], setup["ids"]["Bob E2E"]
    page.goto("/login")
    page.fill("#email", VIEWER)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    expect(page.locator("#page-title")).to_have_text("Incidents")

    page.goto("/schedules")
    expect(page.locator("#page-title")).to_have_text("Schedules")
    page.fill("#new-schedule-name", "E2E primary")
    page.fill("#new-schedule-tz", "Europe/Berlin")
    page.click("#create-schedule")
    expect(page).to_have_url(re.compile(r"/schedules/\d+/?$"))
    schedule_id = int(re.search(r"/schedules/(\d+)", page.url)[1])
    expect(page.locator("#page-title")).to_have_text("E2E primary")
    expect(page.locator("#timeline-final .timeline-gap")).to_have_count(7)  # no layers yet: all gap, a bar a day

    # One daily layer, Alice then Bob, handing off at 09:00 Berlin time from tomorrow on.
    page.click("#add-layer")
    first_day = (datetime.now(UTC) + timedelta(days=1)).astimezone(SCHEDULE_TZ).date()
    page.select_option("#layer-0-unit", "day")
    for selector, value in (("#layer-0-name", "Daily"), ("#layer-0-length", "1"),
                            ("#layer-0-start", first_day.isoformat()), ("#layer-0-handoff", "09:00")):
        page.locator(selector).fill(value)
        page.locator(selector).blur()
    page.click("#save-layers")  # nobody in the rotation yet: refused, and the page says why
    expect(page.locator("#schedule-error")).to_contain_text("layers.0.members")
    page.select_option("#layer-0-add-member", str(alice))
    page.select_option("#layer-0-add-member", str(bob))
    expect(page.locator("#layer-0-members .member-name")).to_have_text(["1. Alice E2E", "2. Bob E2E"])

    page.click("#preview-layers")
    expect(page.locator("#preview-banner")).to_be_visible()
    expect(page.locator(f"#timeline-final .timeline-bar[data-user='{alice}']").first).to_be_visible()
    previewed = _drawn_blocks(_bars(page))

    page.click("#save-layers")
    expect(page.locator("#schedule-notice")).to_have_text("Layers saved.")
    expect(page.locator("#preview-banner")).to_have_count(0)
    bars = _assert_timeline_matches_api(page, setup, schedule_id, 7)
    assert _drawn_blocks(bars) == previewed  # the preview showed exactly what was saved
    first_handoff = datetime.combine(first_day, datetime.min.time().replace(hour=9), SCHEDULE_TZ).astimezone(UTC)
    alice_block = next(b for b in bars if b["user"] == str(alice))
    assert alice_block["blockStart"] == _iso(first_handoff)
    assert {b["user"] for b in _bars(page, "layer-0")} == {"", str(alice), str(bob)}

    # Before the rotation starts nobody is on call: a red gap bar.
    gap = page.locator("#timeline-final .timeline-bar").first
    assert gap.get_attribute("data-gap") == "true" and gap.get_attribute("data-user") == ""
    colour, red = gap.evaluate(RED_JS)
    assert colour == red, (colour, red)

    # The day after tomorrow, 10:00-12:00 of the viewer's time (inside one shift), the other person takes over.
    day = (datetime.now(VIEWER_TZ) + timedelta(days=2)).date()
    start = datetime.combine(day, datetime.min.time().replace(hour=10), VIEWER_TZ).astimezone(UTC)
    on_call = httpx.get(f"{setup['base']}/api/v1/schedules/{schedule_id}/oncall", headers=setup["api"],
                        params={"at": _iso(start)}, timeout=30).json()["user_ids"]
    taker = bob if on_call == [alice] else alice
    page.select_option("#override-user", str(taker))
    page.locator("#override-start").fill(f"{day.isoformat()}T10:00")
    page.locator("#override-end").fill(f"{day.isoformat()}T12:00")
    page.click("#add-override")
    expect(page.locator("#schedule-notice")).to_have_text("Override added.")
    expect(page.locator("#overrides-table .override-row")).to_have_count(1)
    bars = _assert_timeline_matches_api(page, setup, schedule_id, 7)
    assert (_iso(start), _iso(start + timedelta(hours=2)), str(taker)) in _drawn_blocks(bars)

    page.click("#weeks-2")
    expect(page.locator("#timeline-final .timeline-bar").last).to_have_attribute(
        "data-end", _iso(datetime.fromisoformat(_window(page)[0]) + timedelta(days=14)))
    _assert_timeline_matches_api(page, setup, schedule_id, 14)
