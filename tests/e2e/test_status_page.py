"""The public status page in Chromium, against the app on PostgreSQL + Redis with several web processes: an admin
links a component to a service; a webhook on that service turns it red on /status (after a reload: the cache was
invalidated, not timed out) and a resolve turns it back; a responder's public update appears; summary.json says
what the page says; a signed-out visitor reads /status and reaches nothing else. Screenshots at 1280 and 375 px."""

from __future__ import annotations

import re
import time
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, SCREENSHOTS, run_cli
from tests.e2e.people import dismiss_push_prompt, sign_in
from tests.e2e.test_incidents_live import PHONE, fits_the_screen, shoot

PHONE_SIZE = (PHONE["width"], PHONE["height"])
VISIBLE_WITHIN = 2.0  # seconds: the status page's promise (api.status_cache rebuilds at most every 250 ms)
INTERNAL = "disk 97% on pg-primary-7.internal"


@pytest.fixture(scope="module")
def world(app_server, app_data_dir):
    suffix = uuid.uuid4().hex[:6]
    service = f"payments-{suffix}"
    run_cli(app_data_dir, "create-service", "--name", service)
    printed = run_cli(app_data_dir, "create-integration", "--service", service, "--type", "generic")
    token = re.search(r"okt_[A-Za-z0-9_-]{28}", printed).group(0)
    email = f"status-responder-{suffix}@e2e.example.com"
    run_cli(app_data_dir, "create-user", "--email", email, "--name", "Status Responder", "--role", "responder",
            "--password", "e2e-password-123")
    viewer = f"status-viewer-{suffix}@e2e.example.com"
    run_cli(app_data_dir, "create-user", "--email", viewer, "--name", "Status Viewer", "--role", "viewer",
            "--password", "e2e-password-123")
    return {"base": app_server, "token": token, "service": service, "component": f"Payments {suffix}",
            "responder": email, "viewer": viewer, "key": f"disk-{suffix}"}


def alert(world, action: str = "trigger") -> None:
    response = httpx.post(f"{world['base']}/api/webhooks/generic", headers={"Authorization": f"Bearer {world['token']}"},
                          json={"summary": INTERNAL, "severity": "critical", "dedup_key": world["key"],
                                "action": action}, timeout=30)
    assert response.status_code == 202, response.text


def component_state(page, name: str) -> str | None:
    return page.locator("section.component", has_text=name).get_attribute("data-status")


def reload_until(page, check, within: float = VISIBLE_WITHIN) -> float:
    """Reload /status until `check()` holds; how long it took (a reload is what a reader does: no live socket)."""
    started = time.monotonic()
    while True:
        page.goto("/status")
        if check():
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"not visible within {within} s")
        time.sleep(0.1)


def matching_summary(page, base: str) -> dict:
    """summary.json, once it says what /status shows: each web process answers from its own copy, and a copy may
    lag another by a moment (api.status_cache: SYNC_SECONDS), so a page and a JSON read a few ms apart can come
    from copies a change apart. Within VISIBLE_WITHIN they agree."""
    started = time.monotonic()
    while True:
        summary = httpx.get(f"{base}/api/v2/summary.json", timeout=10).json()
        page.goto("/status")
        shown = {c["name"]: page.locator("section.component", has_text=c["name"]).get_attribute("data-status")
                 for c in summary["components"]}
        if shown == {c["name"]: c["status"] for c in summary["components"]} \
                and summary["status"]["description"] == page.locator("#overall").inner_text() \
                and [i["name"] for i in summary["incidents"]] == page.locator(
                    "article.incident:not([data-status='resolved']) .name").all_inner_texts():
            return summary
        if time.monotonic() - started > VISIBLE_WITHIN:
            raise AssertionError(f"summary.json and /status still differ after {VISIBLE_WITHIN} s: {summary}")
        time.sleep(0.1)


def test_an_alert_turns_the_component_red_a_public_update_shows_and_resolving_clears_it(browser, world):
    admin_context = browser.new_context(base_url=world["base"])
    public_context = browser.new_context(base_url=world["base"])
    phone_context = browser.new_context(base_url=world["base"], viewport=PHONE)
    try:
        admin = admin_context.new_page()
        sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        admin.goto("/status-page")
        admin.fill("#new-component-name", world["component"])
        admin.fill("#new-component-description", "Card payments and refunds")
        admin.locator("label", has_text=world["service"]).locator("input[type=checkbox]").first.check()
        admin.click("#create-component")
        card = admin.locator(".status-component", has_text=world["component"])
        expect(card).to_be_visible()
        expect(card).to_contain_text(world["service"])
        shoot(admin, "status-admin-1280")

        public = public_context.new_page()
        public.goto("/status")
        expect(public.locator("section.component", has_text=world["component"])).to_have_attribute(
            "data-status", "operational")

        alert(world)
        took = reload_until(public, lambda: component_state(public, world["component"]) == "major_outage")
        print(f"red on /status {took:.2f} s after the webhook's answer")
        incident = public.locator("article.incident", has_text=world["component"]).first
        expect(incident).to_contain_text("investigating")
        expect(public.locator("body")).not_to_contain_text(INTERNAL)  # the internal title never goes public

        summary = matching_summary(public, world["base"])
        assert any(c["status"] == "major_outage" for c in summary["components"])

        responder = phone_context.new_page()
        dismiss_push_prompt(responder)
        sign_in(responder, world["responder"], "e2e-password-123")
        incident_id = summary["incidents"][0]["id"]
        responder.goto(f"/incidents/{incident_id}")
        responder.select_option("#public-status", "identified")
        responder.fill("#public-title", "Card payments failing")
        responder.fill("#public-body", "A storage node filled up; we are moving traffic away from it.")
        responder.click("#public-submit")
        expect(responder.locator("#public-updates")).to_contain_text("moving traffic away")
        responder.locator("#status-page-card").scroll_into_view_if_needed()
        assert fits_the_screen(responder)
        responder.locator("#status-page-card").screenshot(path=str(SCREENSHOTS / "status-incident-card-375.png"))
        reload_until(public, lambda: "moving traffic away" in public.locator("article.incident").first.inner_text())
        expect(public.locator("article.incident").first).to_contain_text("Card payments failing")
        expect(public.locator("article.incident").first).to_contain_text("identified")
        public.set_viewport_size({"width": 1280, "height": 900})
        shoot(public, "status-public-incident-1280")
        phone = phone_context.new_page()
        phone.goto("/status")
        assert fits_the_screen(phone)
        shoot(phone, "status-public-incident-375")

        responder.click("#incident-resolve")
        responder.click("#resolve-confirm")
        expect(responder.locator("#incident-status-line")).to_contain_text("Resolved")
        reload_until(public, lambda: component_state(public, world["component"]) == "operational")
        expect(public.locator("#overall")).to_have_text("All Systems Operational")
        past = public.locator("article.incident", has_text="Card payments failing")
        expect(past).to_contain_text("resolved")
        admin.set_viewport_size(PHONE)
        admin.goto("/status-page")
        expect(admin.locator(".status-component", has_text=world["component"])).to_be_visible()
        assert fits_the_screen(admin)
        shoot(admin, "status-admin-375")
    finally:
        for context in (admin_context, public_context, phone_context):
            context.close()


def test_a_signed_out_visitor_reads_the_status_page_and_nothing_else(page, world):
    page.goto("/status")
    expect(page.locator("h1")).to_be_visible()
    expect(page.locator("#overall")).to_be_visible()
    for private in ("/incidents", "/status-page", "/analytics", "/oncall"):
        page.goto(private)
        expect(page).to_have_url(re.compile(r"/login"))
    assert httpx.get(f"{world['base']}/api/v1/status-page/components", timeout=10).status_code == 401
    assert httpx.get(f"{world['base']}/api/v2/components.json", timeout=10).status_code == 200


def test_a_viewer_reads_the_new_pages_and_is_offered_nothing_to_change(browser, world):
    """The status page admin page, analytics, on call and an incident's status card, as a viewer, at 1280 and
    375 px: everything readable, no control a viewer may not use (the server refuses them anyway)."""
    alert(world)  # an incident of the linked service to open
    incident_id = httpx.get(f"{world['base']}/api/v2/incidents.json", timeout=10).json()["incidents"][0]["id"]
    for width, height in ((1280, 900), PHONE_SIZE):
        context = browser.new_context(base_url=world["base"], viewport={"width": width, "height": height})
        try:
            page = context.new_page()
            dismiss_push_prompt(page)
            sign_in(page, world["viewer"], "e2e-password-123")
            page.goto("/status-page")
            expect(page.locator(".status-component").first).to_be_visible()
            for control in ("#create-component-card", "[id^=edit-component-]", "[id^=remove-component-]"):
                expect(page.locator(control)).to_have_count(0)
            page.goto(f"/incidents/{incident_id}")
            expect(page.locator("#status-page-card")).to_be_visible()
            expect(page.locator("#public-submit")).to_have_count(0)
            expect(page.locator("#incident-ack")).to_have_count(0)
            for path, ready in (("/status-page", ".status-component"), ("/analytics", "#stat-incidents"),
                                ("/oncall", "#page-title"), (f"/incidents/{incident_id}", "#status-page-card")):
                page.goto(path)
                expect(page.locator(ready).first).to_be_visible()
                assert fits_the_screen(page), f"{path} sticks out at {width} px"
                name = path.strip("/").split("/")[0]
                shoot(page, f"viewer-{name}-{width}")
        finally:
            context.close()
