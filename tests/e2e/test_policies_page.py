"""Build an escalation policy in the browser: two steps with user targets, the refusal of a step without targets,
a reorder, the same policy as the REST API reports it, and its deletion refused once a service uses it."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, run_cli
from tests.e2e.test_login import _sign_in

ADMIN_TARGET = f"User: Administrator ({ADMIN_EMAIL})"
DANA_TARGET = "User: Dana Oncall (dana@e2e.example.com)"


def test_build_two_step_policy_see_refusal_reorder_and_read_it_back(page, app_server, app_data_dir):
    run_cli(app_data_dir, "create-user", "--email", "dana@e2e.example.com", "--name", "Dana Oncall")
    key = run_cli(app_data_dir, "create-api-key", "--email", ADMIN_EMAIL, "--name", "e2e policies")

    page.goto("/escalation-policies")
    _sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    expect(page.locator("#page-title")).to_have_text("Escalation policies")
    page.click("#new-policy")
    page.fill("#policy-name", "Checkout e2e")
    page.select_option("#step-0-add-target", label=ADMIN_TARGET)
    expect(page.locator("#step-0-targets")).to_contain_text("Administrator")
    page.fill("#step-0-delay", "5")
    page.click("#add-step")
    expect(page.locator(".policy-step")).to_have_count(2)

    page.click("#save-policy")  # step 2 has nobody to page yet
    expect(page.locator("#step-1-error")).to_contain_text("Step 2 has no targets")
    expect(page.locator("#policy-error")).to_contain_text("Step 2 has no targets")

    page.select_option("#step-1-add-target", label=DANA_TARGET)
    page.fill("#step-1-delay", "10")
    page.click("#step-1-up")
    expect(page.locator("#step-0-targets")).to_contain_text("Dana Oncall")
    expect(page.locator("#step-1-targets")).to_contain_text("Administrator")
    page.click("#save-policy")
    expect(page.locator("#policy-notice")).to_contain_text("Saved 'Checkout e2e'")
    expect(page.locator("#policy-error")).to_have_count(0)

    api = httpx.Client(base_url=f"{app_server}/api/v1", headers={"Authorization": f"Bearer {key}"})
    [listed] = [p for p in api.get("/escalation-policies").json()["data"] if p["name"] == "Checkout e2e"]
    policy = api.get(f"/escalation-policies/{listed['id']}").json()
    assert [(s["position"], s["delay_minutes"], [t["name"] for t in s["targets"]]) for s in policy["steps"]] == \
        [(0, 10, ["Dana Oncall"]), (1, 5, ["Administrator"])]

    run_cli(app_data_dir, "create-service", "--name", "Checkout web", "--policy", "Checkout e2e")
    page.reload()
    expect(page.locator(f"#policy-{listed['id']}")).to_have_text("Checkout e2e")
    expect(page.locator("#policies-table")).to_contain_text("Checkout web")  # "used by"
    page.click(f"#policy-{listed['id']}")  # opened again from the list, as saved
    expect(page.locator("#policy-name")).to_have_value("Checkout e2e")
    expect(page.locator("#step-0-delay")).to_have_value("10")
    page.click("#delete-policy")
    expect(page.locator("#policy-error")).to_contain_text("still used by services: Checkout web")
    assert api.get(f"/escalation-policies/{listed['id']}").status_code == 200
