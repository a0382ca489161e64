"""An admin manages services in the browser: create (with validation errors shown), add a Prometheus integration
and see its token and Alertmanager snippet once, rotate it, and delete — refused while an incident is open."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

ALERTMANAGER = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "alertmanager-firing.json").read_text())


def _sign_in(page) -> None:
    page.goto("/login")
    page.fill("#email", ADMIN_EMAIL)
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#sign-in")
    expect(page.locator("#signed-in-name")).to_be_visible()


def _create_service(page, name: str) -> None:
    page.fill("#new-name", name)
    page.click("#service-create")


def _post_alert(page, token: str) -> int:
    return page.request.post("/api/webhooks/prometheus", data=json.dumps(ALERTMANAGER),
                             headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}).status


def test_admin_creates_a_service_adds_an_integration_rotates_and_deletes(page):
    _sign_in(page)
    page.get_by_role("link", name="Services").click()
    expect(page.locator("#page-title")).to_have_text("Services")

    _create_service(page, "   ")
    expect(page.locator("#service-form-error")).to_contain_text("name")

    _create_service(page, "Storefront")
    expect(page).to_have_url(re.compile(r"/services/\d+/?$"))
    expect(page.locator("#page-title")).to_have_text("Storefront")

    # A Prometheus integration (the default source): the token and the Alertmanager snippet, shown once.
    page.click("#integration-create")
    token = page.locator("#integration-token").inner_text()
    assert token.startswith("okt_") and len(token) == 32
    snippet = page.locator("#integration-snippet")
    expect(snippet).to_contain_text("webhook_configs:")
    expect(snippet).to_contain_text(f"credentials: {token}")
    expect(snippet).to_contain_text("/api/webhooks/prometheus")
    page.click("#reveal-done")
    expect(page.locator("#integration-token")).to_have_count(0)
    expect(page.locator("#integrations-table")).to_contain_text(token[:12])
    assert _post_alert(page, token) == 202

    # Rotate: a new token is shown; the old one stops working.
    page.locator("#integrations-table").get_by_role("button", name="Rotate token").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Rotate token").click()
    new_token = page.locator("#integration-token").inner_text()
    assert new_token.startswith("okt_") and new_token != token
    expect(page.locator("#integration-snippet")).to_contain_text(new_token)
    page.click("#reveal-done")
    assert _post_alert(page, token) == 401
    assert _post_alert(page, new_token) == 202

    # Back on the list: the incident is counted, a duplicate name is refused, and delete is refused while open.
    page.get_by_role("link", name="Services").first.click()
    row = page.locator("#services-table tr", has_text="Storefront")
    expect(row).to_contain_text("Active")
    _create_service(page, "storefront")
    expect(page.locator("#service-form-error")).to_contain_text("exists already")
    row.get_by_role("button", name="Delete").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete").click()
    expect(page.locator("#service-delete-error")).to_contain_text("open incident")
    expect(row).to_be_visible()

    # A service without incidents is deleted, from its own page.
    _create_service(page, "Scratch")
    expect(page.locator("#page-title")).to_have_text("Scratch")
    page.click("#delete-service")
    page.click("#delete-service-confirm")
    expect(page).to_have_url(re.compile(r"/services/?$"))
    expect(page.locator("#services-table")).to_contain_text("Storefront")
    expect(page.locator("#services-table")).not_to_contain_text("Scratch")


def test_admin_edits_settings_maintenance_and_integration_options(page):
    _sign_in(page)
    page.goto("/services")
    _create_service(page, "Search")
    expect(page.locator("#page-title")).to_have_text("Search")

    # Edit dialog: a validation error is shown in the dialog, then a good save updates the page.
    page.click("#edit-service")
    page.fill("#edit-name", "")
    page.click("#service-edit-save")
    expect(page.locator("#service-edit-error")).to_contain_text("name")
    page.fill("#edit-name", "Search API")
    page.select_option("#edit-urgency", "low")
    page.uncheck("#edit-from-severity")
    page.click("#service-edit-save")
    expect(page.locator("#page-title")).to_have_text("Search API")
    expect(page.get_by_text("always low")).to_be_visible()

    # Maintenance: start now, end it; a window that ends before it starts is refused with the reason.
    page.click("#start-maintenance")
    expect(page.locator("#maintenance-status")).to_contain_text("In maintenance")
    page.click("#end-maintenance")
    expect(page.locator("#maintenance-status")).to_contain_text("No maintenance window")
    page.fill("#maintenance-start", "2031-01-02T10:00")
    page.fill("#maintenance-until", "2031-01-01T10:00")
    page.click("#schedule-maintenance")
    expect(page.locator("#maintenance-error")).to_contain_text("after the start")
    page.fill("#maintenance-until", "2031-01-02T12:00")
    page.click("#schedule-maintenance")
    expect(page.locator("#maintenance-status")).to_contain_text("Scheduled")

    # A heartbeat needs an interval; with one, its ping URL is shown once.
    page.select_option("#integration-source", "heartbeat")
    page.click("#integration-create")
    expect(page.locator("#integration-error")).to_contain_text("interval")
    page.fill("#integration-interval", "300")
    page.click("#integration-create")
    expect(page.locator("#integration-snippet")).to_contain_text("/api/webhooks/heartbeat/")
    page.click("#reveal-done")
    table = page.locator("#integrations-table")
    expect(table).to_contain_text("every 300 s")

    # Rename it, disable and enable it, require an HMAC signature (its secret is shown once), then remove it.
    table.get_by_role("button", name="Edit").click()
    page.fill("#integration-edit-name", "Nightly backup")
    page.fill("#integration-edit-interval", "900")
    page.click("#integration-edit-save")
    expect(table).to_contain_text("Nightly backup")
    expect(table).to_contain_text("every 900 s")
    table.get_by_role("button", name="Disable").click()
    expect(table).to_contain_text("Disabled")
    table.get_by_role("button", name="Enable").click()
    expect(table).to_contain_text("Enabled")
    table.get_by_role("button", name="Require HMAC").click()
    expect(page.locator("#integration-hmac-secret")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    page.click("#reveal-done")
    expect(table).to_contain_text("HMAC")
    table.get_by_role("button", name="Remove HMAC").click()
    expect(table.get_by_role("button", name="Require HMAC")).to_be_visible()

    table.get_by_role("button", name="Delete integration").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete integration").click()
    expect(page.get_by_text("No integrations yet")).to_be_visible()
