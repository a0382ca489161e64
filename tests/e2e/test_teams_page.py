"""Teams: create one (an empty name is refused), add the admin as a member, make them manager, see it through
the API, remove them, delete the team."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, run_cli
from tests.e2e.test_login import _sign_in


def test_admin_builds_a_team(page, app_server, app_data_dir):
    key = run_cli(app_data_dir, "create-api-key", "--email", ADMIN_EMAIL, "--name", "e2e teams")
    api = httpx.Client(base_url=f"{app_server}/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    page.goto("/teams")
    _sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    expect(page.locator("#page-title")).to_have_text("Teams")

    page.fill("#new-team-name", "   ")
    page.click("#create-team")
    expect(page.locator("#team-error")).to_contain_text("name")

    page.fill("#new-team-name", "Payments e2e")
    page.fill("#new-team-description", "Checkout and billing")
    page.click("#create-team")
    expect(page.locator("#teams-table")).to_contain_text("Payments e2e")
    [team] = [t for t in api.get("/teams").json()["data"] if t["name"] == "Payments e2e"]

    page.click(f"#team-{team['id']}")
    expect(page.locator("#team-title")).to_have_text("Payments e2e")
    page.select_option("#add-member-user", "1")  # the bootstrap admin
    page.click("#add-member")
    expect(page.locator("#members-table")).to_contain_text(ADMIN_EMAIL)
    page.select_option("#member-1-role", "manager")
    expect(page.locator("#team-notice")).to_contain_text("Role changed")
    members = api.get(f"/teams/{team['id']}/members").json()["data"]
    assert [(m["user_id"], m["role"]) for m in members] == [(1, "manager")]

    page.click("#member-1-remove")
    expect(page.locator("#members-table")).not_to_contain_text(ADMIN_EMAIL)
    page.click("#delete-team")
    expect(page.locator("#teams-table")).not_to_contain_text("Payments e2e")
    assert api.get(f"/teams/{team['id']}").status_code == 404
