"""The audit log page shows a policy's creation, newest first, and filters by entity type."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, run_cli
from tests.e2e.test_login import _sign_in


def test_policy_creation_is_in_the_audit_log(page, app_server, app_data_dir):
    key = run_cli(app_data_dir, "create-api-key", "--email", ADMIN_EMAIL, "--name", "e2e audit")
    created = httpx.post(f"{app_server}/api/v1/escalation-policies", headers={"Authorization": f"Bearer {key}"},
                         json={"name": "Audited e2e", "steps": [{"delay_minutes": 5, "targets": [
                             {"type": "user", "id": 1}]}]})  # user 1: the bootstrap admin, created at start-up
    assert created.status_code == 201, created.text

    page.goto("/audit")
    _sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    expect(page.locator("#page-title")).to_have_text("Audit log")
    newest = page.locator(".audit-row").first
    expect(newest).to_contain_text("escalation_policy.create")
    expect(newest).to_contain_text("Administrator (API key)")
    expect(newest).to_contain_text("Audited e2e")

    page.select_option("#filter-entity-type", "escalation_policy")
    page.fill("#filter-action", "escalation_policy.create")
    page.click("#apply-filters")
    expect(page.locator(".audit-row").first).to_contain_text(f"escalation_policy {created.json()['id']}")
    for row in page.locator(".audit-row").all():
        expect(row).to_contain_text("escalation_policy.create")
