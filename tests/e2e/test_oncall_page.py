"""/oncall in the browser, as a responder in a rotation: the shifts the page lists are exactly their blocks in
/api/v1/schedules/{id}/final over the same 14 days; the brief lists an incident a policy paging that schedule has
open; the give-away control is disabled for a responder with the reason; "Take this shift" on a colleague's block
creates the override, which the schedule's page then lists. Screenshots at 375x812 and 1280x800 go to /tmp/shots."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN_EMAIL, run_cli
from tests.e2e.people import dismiss_push_prompt, sign_in

pytestmark = pytest.mark.e2e

RESPONDER = "rae-oncall@e2e.example.com"
COLLEAGUE = "col-oncall@e2e.example.com"
PASSWORD = "e2e-oncall-password"
SHOTS = Path("/tmp/shots")
SHIFTS_JS = "els => els.map(e => ({schedule: e.dataset.schedule, start: e.dataset.start, end: e.dataset.end}))"


@pytest.fixture(scope="module")
def setup(app_server, app_data_dir) -> dict:
    ids = {}
    for email, name in ((RESPONDER, "Rae Oncall"), (COLLEAGUE, "Col Oncall")):
        out = run_cli(app_data_dir, "create-user", "--email", email, "--name", name, "--role", "responder",
                      "--password", PASSWORD, "--time-zone", "Europe/Berlin")
        ids[name] = int(re.search(r"#(\d+)", out)[1])
    key = run_cli(app_data_dir, "create-api-key", "--email", ADMIN_EMAIL, "--name", "e2e oncall").strip()
    api = httpx.Client(base_url=app_server, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    # Daily in New York (the viewer is in Berlin), Rae then Col, from the day before yesterday: both have shifts.
    first = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    schedule = _created(api.post("/api/v1/schedules", json={
        "name": "E2E on call rota", "time_zone": "America/New_York",
        "layers": [{"name": "Days", "rotation_unit": "day", "rotation_length": 1, "rotation_start": first,
                    "handoff_time": "09:00", "members": [ids["Rae Oncall"], ids["Col Oncall"]]}]}))
    policy = _created(api.post("/api/v1/escalation-policies", json={
        "name": "E2E on call policy", "steps": [{"delay_minutes": 5, "targets": [{"type": "schedule",
                                                                                   "id": schedule}]}]}))
    service = _created(api.post("/api/v1/services", json={"name": "E2E on call service",
                                                          "escalation_policy_id": policy}))
    incident = _created(api.post("/api/v1/incidents", json={"service_id": service, "title": "Disk full on db-1"}))
    return {"ids": ids, "api": api, "schedule": schedule, "incident": incident}


def _created(response: httpx.Response) -> int:
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _shot(page, name: str, width: int, height: int) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": width, "height": height})
    page.wait_for_timeout(300)  # let the layout settle at the new width
    page.screenshot(path=str(SHOTS / f"oncall-{name}-{width}.png"), full_page=True)


def _listed_shifts(page, schedule_id: int) -> list[tuple[str, str]]:
    cards = page.eval_on_selector_all("#shifts .shift-card", SHIFTS_JS)
    return [(c["start"], c["end"]) for c in cards if c["schedule"] == str(schedule_id)]


def _final_shifts(setup: dict, page, user_id: int) -> list[tuple[str, str]]:
    window = page.locator("#shifts")
    start, end = window.get_attribute("data-start"), window.get_attribute("data-end")
    assert datetime.fromisoformat(end) - datetime.fromisoformat(start) == timedelta(days=14)
    response = setup["api"].get(f"/api/v1/schedules/{setup['schedule']}/final", params={"start": start, "end": end})
    assert response.status_code == 200, response.text
    return [(b["start"], b["end"]) for b in response.json()["blocks"] if user_id in b["user_ids"]]


def test_my_shifts_match_final_and_taking_a_shift_shows_on_the_schedule(page, setup):
    rae, col, schedule_id = setup["ids"]["Rae Oncall"], setup["ids"]["Col Oncall"], setup["schedule"]
    dismiss_push_prompt(page)
    sign_in(page, RESPONDER, PASSWORD)
    page.goto("/oncall")
    expect(page.locator("#page-title")).to_have_text("On call")
    expect(page.locator("#oncall-answer")).to_be_visible()
    expect(page.locator("#shifts .shift-card").first).to_be_visible()

    listed = _listed_shifts(page, schedule_id)
    assert listed and listed == _final_shifts(setup, page, rae)
    on_call_now = page.locator("#oncall-now").get_attribute("data-on-call") == "true"
    expect(page.locator("#oncall-answer")).to_have_text("You're on call" if on_call_now else "You're not on call")

    brief = page.locator("#brief-incidents")
    expect(brief.locator(f".brief-incident[data-incident='{setup['incident']}']")).to_contain_text("Disk full on db-1")
    give = page.locator("#shifts .shift-card .give-away").first
    expect(give).to_be_disabled()
    expect(page.locator("#shifts .give-away-reason")).to_contain_text("ask a colleague")

    _shot(page, "top", 375, 812)
    card = page.locator(f"#everyone .schedule-card[data-schedule='{schedule_id}']")
    card.locator("summary").click()
    _shot(page, "everyone", 375, 812)
    _shot(page, "desktop", 1280, 800)

    # A colleague's block that has not started yet: taken whole, so the override is exactly that block.
    window_start = page.locator("#shifts").get_attribute("data-start")
    block = card.locator(f".block-row[data-user='{col}']:not([data-start='{window_start}'])").first
    start, end = block.get_attribute("data-start"), block.get_attribute("data-end")
    block.locator(".take-shift").click()
    expect(page.locator("#oncall-notice")).to_contain_text("You are on call on E2E on call rota")
    expect(page.locator("#oncall-notice")).to_be_visible()
    listed = _listed_shifts(page, schedule_id)
    assert listed == _final_shifts(setup, page, rae)
    taken = (datetime.fromisoformat(start), datetime.fromisoformat(end))
    assert any(datetime.fromisoformat(s) <= taken[0] and taken[1] <= datetime.fromisoformat(e) for s, e in listed)
    final = setup["api"].get(f"/api/v1/schedules/{schedule_id}/final", params={"start": start, "end": end}).json()
    assert [b["user_ids"] for b in final["blocks"]] == [[rae]]

    page.goto(f"/schedules/{schedule_id}")
    expect(page.locator("#page-title")).to_have_text("E2E on call rota")
    row = page.locator("#overrides-table .override-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Rae Oncall")
    expect(row).to_contain_text("Col Oncall")

    # Whoever has the rota right now, after taking the block under way (if it is Col's) Rae is on call: the big
    # answer says so, with until when.
    page.goto("/oncall")
    card = page.locator(f"#everyone .schedule-card[data-schedule='{schedule_id}']")
    expect(card).to_be_visible()
    if page.locator("#oncall-now").get_attribute("data-on-call") != "true":
        card.locator("summary").click()
        card.locator(".block-row").first.locator(".take-shift").click()
        expect(page.locator("#oncall-notice")).to_contain_text("You are on call on E2E on call rota")
    expect(page.locator("#oncall-answer")).to_have_text("You're on call")
    expect(page.locator("#oncall-until")).to_contain_text("until")
    _shot(page, "on-call", 375, 812)
