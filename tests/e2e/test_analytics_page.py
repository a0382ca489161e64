"""/analytics in Chromium: a service's incidents arrive by webhook and are acknowledged and resolved over the REST
API; the page, filtered to that service, shows the same figures as `/api/v1/analytics`, and each downloaded CSV
is the table on screen (formula-guarded) and the API's CSV. Screenshots at 1280x800 and 375x812 go to
/tmp/shots/analytics-*.png; on a phone nothing sticks out past the screen's edge."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.sync_api import expect

from opsknight.state.analytics import duration
from tests.e2e.conftest import _APP_ENV, ADMIN_EMAIL, ADMIN_PASSWORD, run_cli
from tests.e2e.people import dismiss_push_prompt, sign_in
from tests.e2e.test_incidents_live import fits_the_screen

SHOTS = Path("/tmp/shots")


def _seed(base: str, data_dir) -> dict:
    """A service with three incidents (one re-triggered: four alerts), one acknowledged, one resolved."""
    suffix = uuid.uuid4().hex[:6]
    key = run_cli(data_dir, "create-api-key", "--email", ADMIN_EMAIL, "--name", f"e2e analytics {suffix}")
    api = {"Authorization": f"Bearer {key}"}
    name = f"analytics-{suffix}"
    run_cli(data_dir, "create-service", "--name", name)
    printed = run_cli(data_dir, "create-integration", "--service", name, "--type", "generic")
    token = re.search(r"okt_[A-Za-z0-9_-]{28}", printed).group(0)
    for severity, key_suffix in (("critical", "0"), ("warning", "1"), ("critical", "2"), ("critical", "0")):
        sent = httpx.post(f"{base}/api/webhooks/generic", headers={"Authorization": f"Bearer {token}"}, timeout=30,
                          json={"summary": f"{name} {key_suffix}", "severity": severity,
                                "dedup_key": f"{name}-{key_suffix}"})
        assert sent.status_code == 202, sent.text
    incidents = httpx.get(f"{base}/api/v1/incidents", params={"q": name}, headers=api).json()["data"]
    assert len(incidents) == 3 and {i["service"]["name"] for i in incidents} == {name}
    service = incidents[0]["service"]
    by_title = {i["title"]: i["id"] for i in incidents}
    for action, title in (("acknowledge", f"{name} 0"), ("resolve", f"{name} 1")):
        done = httpx.post(f"{base}/api/v1/incidents/{by_title[title]}/{action}", headers=api, json={})
        assert done.status_code == 200, done.text
    _pages_for_the_admin(list(by_title.values()))
    return {"api": api, "service": name, "service_id": service["id"]}


def _pages_for_the_admin(incident_ids: list[int]) -> None:
    """Two pages to the admin (user 1, in UTC), one at 03:00: written straight into the app's database, because
    the e2e app has no channel that could really page (its one fake is a push service, which needs a browser's
    subscription). The rows are what dispatch writes for a sent SMS."""
    from sqlalchemy import create_engine, text

    now = datetime.now(UTC)
    night = now.replace(hour=3, minute=0, second=0, microsecond=0)
    night -= timedelta(days=1) if night > now else timedelta(0)
    engine = create_engine(_APP_ENV["OPSKNIGHT_DATABASE_URL"])
    with engine.begin() as conn:
        for n, (incident_id, sent_at) in enumerate(zip(incident_ids, (night, now))):
            conn.execute(text(
                "INSERT INTO deliveries (incident_id, user_id, channel, target, status, attempts, idempotency_key,"
                " escalation_generation, escalation_step, created_at, sent_at, responder_request)"
                " VALUES (:i, 1, 'sms', '+15550000000', 'sent', 1, :key, 1, 0, :t, :t, false)"),
                {"i": incident_id, "key": f"e2e-analytics-{incident_id}-{n}", "t": sent_at})
    engine.dispose()


def _table(page, name: str) -> list[list[str]]:
    return [row.locator("td").all_inner_texts() for row in page.locator(f"#table-{name} .analytics-row").all()]


def _download(page, name: str) -> str:
    with page.expect_download() as info:
        page.click(f"#download-{name}")
    return Path(info.value.path()).read_bytes().decode()  # bytes: read_text() would turn CRLF into LF


def test_the_page_shows_the_apis_figures_and_downloads_each_table(browser, app_server, app_data_dir):
    world = _seed(app_server, app_data_dir)
    query = {"service_id": world["service_id"]}
    expected = httpx.get(f"{app_server}/api/v1/analytics", params=query, headers=world["api"]).json()
    assert expected["summary"]["incidents"] == 3 and expected["summary"]["acknowledged"] >= 1

    context = browser.new_context(base_url=app_server, viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
        page.goto("/analytics")
        expect(page.locator("#page-title")).to_have_text("Analytics")
        expect(page.locator("#stat-incidents")).to_be_visible()
        page.select_option("#filter-service", str(world["service_id"]))
        page.click("#apply-filters")
        summary = expected["summary"]
        expect(page.locator("#stat-incidents .stat-value")).to_have_text("3")
        expect(page.locator("#stat-incidents")).to_contain_text(
            f"{summary['acknowledged']} acknowledged, {summary['resolved']} resolved")
        expect(page.locator("#stat-mtta .stat-value")).to_have_text(duration(summary["mtta_median_s"]))
        expect(page.locator("#stat-mttr .stat-value")).to_have_text(duration(summary["mttr_median_s"]))
        expect(page.locator("#stat-escalated .stat-value")).to_have_text("0 %")
        expect(page.locator("#table-services .analytics-row")).to_have_count(1)
        assert _table(page, "services") == [[str(world["service_id"]), world["service"], "", "3", "4"]]
        assert _table(page, "sources") == [["generic", "4", "3"]]  # alerts.source: the integration's type
        assert _table(page, "people") == [["1", "Administrator", ADMIN_EMAIL, "UTC", "2", "1", "50.0", "1"]]
        expect(page.locator("#chart-daily .recharts-bar-rectangle").first).to_be_attached()
        expect(page.locator("#chart-people .recharts-bar-rectangle").first).to_be_attached()

        for name in ("daily", "people", "services", "sources"):
            text = _download(page, name)
            rows = list(csv.reader(io.StringIO(text)))
            on_screen = [[("'" + c if c[:1] in "=+-@" and c else c) for c in row] for row in _table(page, name)]
            assert rows[1:] == on_screen, name  # the table, cell for cell (a formula-like cell guarded)
            api_csv = httpx.get(f"{app_server}/api/v1/analytics/{name}.csv", params=query, headers=world["api"])
            assert text == api_csv.text, name
        summary_csv = list(csv.DictReader(io.StringIO(_download(page, "summary"))))
        assert summary_csv == [{k: "" if v is None else str(v) for k, v in summary.items()}]

        page.click("#analytics-help summary")
        expect(page.locator("#analytics-help")).to_contain_text("between 22:00 and 07:00")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "analytics-1280.png"), full_page=True)
    finally:
        context.close()


def test_bad_dates_show_a_message_and_a_phone_fits(browser, app_server):
    context = browser.new_context(base_url=app_server, viewport={"width": 375, "height": 812})
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        dismiss_push_prompt(page)
        sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
        page.goto("/analytics")
        expect(page.locator("#stat-incidents")).to_be_visible()
        page.wait_for_timeout(800)  # charts size themselves after the first paint; the push prompt shows up
        assert fits_the_screen(page)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "analytics-375.png"), full_page=True)
        page.fill("#filter-from", "2026-05-01")
        page.fill("#filter-to", "2026-04-01")
        page.click("#apply-filters")
        expect(page.locator("#analytics-error")).to_contain_text("from must be before to")
    finally:
        context.close()
