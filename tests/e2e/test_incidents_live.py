"""The responder's pages in Chromium, against the app on PostgreSQL + Redis with several web processes, a worker
and the scheduler: the live dashboard in two browsers at once, the incident page's actions, filters, merge, add
responder, a viewer, the notification link after sign-in, the keyboard, catching up after a lost connection,
and a phone-sized run. Screenshots of each new page at 1280 and 375 px go to tests/e2e/screenshots/
(git-ignored)."""

from __future__ import annotations

import re
import time
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, SCREENSHOTS, run_cli
from tests.e2e.people import sign_in

PHONE = {"width": 375, "height": 740}
LIVE_SECONDS = 2.0  # the browser test's bound; bench/live.py measures the real spread (p95 ~0.25 s)


@pytest.fixture(scope="module")
def world(app_server, app_data_dir):
    """A service with a generic integration, and a responder and a viewer who can sign in."""
    suffix = uuid.uuid4().hex[:6]
    run_cli(app_data_dir, "create-service", "--name", f"checkout-{suffix}")
    printed = run_cli(app_data_dir, "create-integration", "--service", f"checkout-{suffix}", "--type", "generic")
    token = re.search(r"okt_[A-Za-z0-9_-]{28}", printed).group(0)
    people = {}
    for role in ("responder", "viewer"):
        email = f"{role}-{suffix}@e2e.example.com"
        run_cli(app_data_dir, "create-user", "--email", email, "--name", f"{role.title()} {suffix}", "--role", role,
                "--password", "e2e-password-123")
        people[role] = email
    return {"base": app_server, "token": token, "service": f"checkout-{suffix}", **people}


def alert(world, summary: str, **extra) -> None:
    response = httpx.post(f"{world['base']}/api/webhooks/generic", headers={"Authorization": f"Bearer {world['token']}"},
                          json={"summary": summary, "severity": "critical", **extra}, timeout=30)
    assert response.status_code == 202, response.text


def row(page, text: str):
    return page.locator(".incident-row", has_text=text)


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def fits_the_screen(page) -> bool:
    """Nothing sticks out past the right edge (measured on every element: the page hides horizontal overflow, so
    the document's own scroll width would not tell)."""
    return page.evaluate("""() => {
        const width = window.innerWidth;
        return [...document.querySelectorAll('body *')].every(el => {
            const box = el.getBoundingClientRect();
            if (box.width === 0 || box.height === 0) return true;
            for (let p = el.parentElement; p; p = p.parentElement) {  // inside a box that scrolls sideways itself
                const style = getComputedStyle(p);
                if (['auto', 'scroll'].includes(style.overflowX) && p.scrollWidth > p.clientWidth) return true;
            }
            return box.right <= width + 1;
        });
    }""")


def test_two_dashboards_see_a_webhook_and_an_acknowledgement_without_reload(browser, world):
    contexts = [browser.new_context(base_url=world["base"]), browser.new_context(base_url=world["base"],
                                                                                 viewport=PHONE)]
    try:
        admin, responder = (context.new_page() for context in contexts)
        sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        sign_in(responder, world["responder"], "e2e-password-123")
        for page in (admin, responder):
            page.goto("/incidents")
            expect(page.locator("#live-indicator")).to_have_attribute("data-live", "true")
        summary = f"Card payments failing {uuid.uuid4().hex[:6]}"
        sent = time.monotonic()
        alert(world, summary)
        for page in (admin, responder):
            expect(row(page, summary)).to_be_visible(timeout=LIVE_SECONDS * 1000)
        print(f"both dashboards showed the webhook's incident {time.monotonic() - sent:.2f} s after its 2xx")
        expect(row(admin, summary)).to_have_class(re.compile("flash"))  # the new row is highlighted

        row(responder, summary).locator("[data-action=ack]").click()  # on the phone: the row's big Ack
        expect(responder.locator("[data-sonner-toast]", has_text="Acknowledged")).to_be_visible()
        expect(row(admin, summary)).to_have_attribute("data-status", "acknowledged", timeout=LIVE_SECONDS * 1000)
        expect(row(admin, summary)).to_contain_text("Responder")  # who acknowledged it
        assert fits_the_screen(responder)
        shoot(admin, "dashboard-1280")
        shoot(responder, "dashboard-375")
    finally:
        for context in contexts:
            context.close()


def test_filters_search_and_tabs(page, world):
    marker = uuid.uuid4().hex[:6]
    alert(world, f"Disk full on db-{marker}", severity="warning")
    alert(world, f"Replica lag on db-{marker}")
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto("/incidents")
    page.fill("#incident-search", f"db-{marker}")
    expect(page.locator(".incident-row")).to_have_count(2)
    page.select_option("#filter-urgency", "low")
    expect(page.locator(".incident-row")).to_have_count(1)
    expect(page.locator(".incident-row")).to_contain_text("Disk full")
    page.select_option("#filter-urgency", "")
    row(page, "Replica lag").locator("[data-action=ack]").click()
    page.click("#tab-acknowledged")
    expect(page.locator(".incident-row")).to_have_count(1)
    expect(page.locator(".incident-row")).to_contain_text("Replica lag")
    page.click("#tab-triggered")
    expect(page.locator(".incident-row")).to_have_count(1)
    page.fill("#incident-search", f"nothing-{marker}")
    expect(page.locator("#incident-list-empty")).to_be_visible()


def test_the_incident_page_acts_and_shows_it_on_the_timeline(page, world):
    summary = f"Checkout 502s {uuid.uuid4().hex[:6]}"
    alert(world, summary, details={"labels": {"region": "eu-1"}},
          links=[{"href": "https://grafana.example.com/d/checkout", "text": "Dashboard"}])
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto("/incidents")
    row(page, summary).locator(".incident-open").click()
    expect(page).to_have_url(re.compile(r"/incidents/\d+/?$"))
    expect(page.locator("#page-title")).to_have_text(summary)
    expect(page.locator("#incident-alerts")).to_contain_text("region=eu-1")
    expect(page.get_by_role("link", name="Dashboard")).to_have_attribute("href", "https://grafana.example.com/d/checkout")
    page.click("text=Raw payload")
    expect(page.locator(".raw-payload")).to_contain_text('"region": "eu-1"')
    shoot(page, "incident-1280")

    page.fill("#note-body", "Rolling back release 42")
    page.click("#note-submit")
    expect(page.locator("#incident-timeline")).to_contain_text("Rolling back release 42")
    page.click("#toggle-urgency")
    expect(page.locator("#incident-timeline")).to_contain_text("Urgency changed from high to low")
    page.click("#snooze-60")
    expect(page.locator("#incident-status-line")).to_contain_text("snoozed until")
    page.click("#notes-only")
    expect(page.locator(".timeline-entry")).to_have_count(1)
    page.click("#notes-only")
    page.click("#incident-resolve")
    page.fill("#resolve-note", "Release 42 rolled back")
    page.click("#resolve-confirm")
    expect(page.locator(".status-badge").first).to_have_text(re.compile("resolved", re.I))
    expect(page.locator("#incident-timeline")).to_contain_text("Release 42 rolled back")
    expect(page.locator("#incident-ack")).to_have_count(0)


def test_merge_and_add_responder(page, world, app_data_dir):
    marker = uuid.uuid4().hex[:6]
    alert(world, f"API latency {marker}")
    alert(world, f"API errors {marker}")
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto("/incidents")
    page.fill("#incident-search", marker)
    row(page, f"API errors {marker}").locator(".incident-open").click()
    expect(page.locator("#page-title")).to_have_text(f"API errors {marker}")
    viewer_name = f"Viewer {world['viewer'].split('-')[1].split('@')[0]}"
    page.select_option("#select-responder", label=viewer_name)  # the viewer has no contact method at all
    page.click("#add-responder-submit")
    expect(page.locator("[data-sonner-toast]", has_text=f"Nobody could be paged: {viewer_name}")).to_be_visible()
    key = run_cli(app_data_dir, "create-api-key", "--email", ADMIN_EMAIL, "--name", f"e2e responder {marker}")
    headers = {"Authorization": f"Bearer {key}"}
    people = httpx.get(f"{world['base']}/api/v1/users", params={"role": "responder", "limit": 200}, headers=headers,
                       timeout=30).json()["data"]
    responder = next(p for p in people if p["email"] == world["responder"])
    added = httpx.post(f"{world['base']}/api/v1/users/{responder['id']}/contact-methods", headers=headers,
                       json={"kind": "email", "address": world["responder"]}, timeout=30)
    assert added.status_code == 201, added.text
    page.select_option("#select-responder", label=responder["name"])
    page.click("#add-responder-submit")
    expect(page.locator("#incident-timeline")).to_contain_text(f"asked {responder['name']} to help")

    target = page.locator("#select-merge option", has_text=f"API latency {marker}").get_attribute("value")
    page.select_option("#select-merge", target)
    page.click("#merge-submit")
    expect(page.locator(".status-badge").first).to_have_text(re.compile("resolved", re.I))
    expect(page.get_by_text("Merged into", exact=False).first).to_be_visible()
    page.goto(f"/incidents/{target}")
    expect(page.locator("#incident-timeline")).to_contain_text(f"API errors {marker}")
    expect(page.locator("#incident-alerts")).to_contain_text(f"API errors {marker}")  # the alert moved here


def test_a_viewer_reads_but_gets_no_actions(page, world):
    summary = f"Search index stale {uuid.uuid4().hex[:6]}"
    alert(world, summary)
    sign_in(page, world["viewer"], "e2e-password-123")
    page.goto("/incidents")
    expect(row(page, summary)).to_be_visible()
    expect(row(page, summary).locator("[data-action=ack]")).to_have_count(0)
    shoot(page, "dashboard-viewer-1280")
    row(page, summary).locator(".incident-open").click()
    expect(page.locator("#page-title")).to_have_text(summary)
    expect(page.locator("#incident-ack")).to_have_count(0)
    expect(page.locator("#more-actions")).to_have_count(0)
    shoot(page, "incident-viewer-1280")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)
    assert fits_the_screen(page)
    shoot(page, "incident-viewer-375")
    page.goto("/incidents")
    expect(row(page, summary)).to_be_visible()
    assert fits_the_screen(page)
    shoot(page, "dashboard-viewer-375")


def test_the_notification_link_lands_on_the_incident_after_sign_in_on_a_phone(browser, world, app_data_dir):
    summary = f"Payments down {uuid.uuid4().hex[:6]}"
    alert(world, summary)
    key = run_cli(app_data_dir, "create-api-key", "--email", ADMIN_EMAIL, "--name", f"e2e link {summary}",
                  "--scopes", "read")
    found = httpx.get(f"{world['base']}/api/v1/incidents", params={"q": summary},
                      headers={"Authorization": f"Bearer {key}"}, timeout=30)
    incident_id = found.json()["data"][0]["id"]
    context = browser.new_context(base_url=world["base"], viewport=PHONE)
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(f"/incidents/{incident_id}")  # what the SMS, email, Slack message and push link to
        expect(page).to_have_url(re.compile(r"/login"))
        page.fill("#email", world["responder"])
        page.fill("#password", "e2e-password-123")
        page.click("#sign-in")
        expect(page).to_have_url(re.compile(rf"/incidents/{incident_id}/?$"))
        ack = page.locator("#incident-ack")
        expect(ack).to_be_visible()
        box = ack.bounding_box()
        assert box["y"] + box["height"] <= PHONE["height"], "Acknowledge must be reachable without scrolling"
        assert box["height"] >= 44  # thumb-sized
        assert fits_the_screen(page)
        shoot(page, "incident-375")
        ack.click()
        expect(page.locator(".status-badge").first).to_have_text(re.compile("acknowledged", re.I))
    finally:
        context.close()


def test_every_page_fits_a_phone_and_the_shell_folds_into_a_menu(browser, world):
    context = browser.new_context(base_url=world["base"], viewport=PHONE)
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
        expect(page.locator("#sidebar")).to_be_hidden()
        too_wide = []
        for route in ("/incidents", "/incidents/new", "/services", "/escalation-policies", "/schedules", "/users",
                      "/teams", "/audit", "/profile"):
            page.goto(route)
            expect(page.locator("#page-title")).to_be_visible()
            page.wait_for_timeout(300)
            if not fits_the_screen(page):
                too_wide.append((route, page.evaluate("document.documentElement.scrollWidth")))
            shoot(page, "phone" + route.replace("/", "-"))
        assert too_wide == []
        page.click("#menu-button")
        expect(page.locator("#mobile-menu")).to_be_visible()
        page.locator("#mobile-menu").get_by_text("Services").click()
        expect(page).to_have_url(re.compile(r"/services/?$"))
        page.goto("/no-such-page")
        expect(page.locator("#not-found")).to_be_visible()
        shoot(page, "not-found-375")
    finally:
        context.close()


def test_new_incident_by_hand_pages_like_an_alert(page, world):
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto("/incidents/new")
    page.select_option("#new-service", label=world["service"])
    page.fill("#new-title", "Customers report blank checkout page")
    page.fill("#new-description", "Three tickets in ten minutes")
    shoot(page, "new-incident-1280")
    page.click("#new-submit")
    expect(page).to_have_url(re.compile(r"/incidents/\d+/?$"))
    expect(page.locator("#page-title")).to_have_text("Customers report blank checkout page")
    expect(page.locator("#incident-timeline")).to_contain_text("Triggered")
    page.goto("/no-such-page")
    expect(page.locator("#not-found")).to_be_visible()
    shoot(page, "not-found-1280")


def test_keyboard_moves_opens_and_acknowledges(page, world):
    marker = uuid.uuid4().hex[:6]
    alert(world, f"Queue backlog {marker} A")
    alert(world, f"Queue backlog {marker} B")
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto("/incidents")
    expect(row(page, f"{marker} A")).to_be_visible()
    page.keyboard.press("/")  # search
    expect(page.locator("#incident-search")).to_be_focused()
    page.keyboard.type(marker)
    expect(page.locator(".incident-row")).to_have_count(2)
    page.locator("#page-title").click()  # leave the field: keys in a field are typing, not shortcuts
    page.keyboard.press("j")
    page.keyboard.press("j")
    focused = page.locator(".incident-row.kbd-focus")
    expect(focused).to_have_count(1)
    expect(focused).to_contain_text(f"{marker} A")  # newest first: B, then A
    page.keyboard.press("a")
    expect(row(page, f"{marker} A")).to_have_attribute("data-status", "acknowledged")
    expect(row(page, f"{marker} B")).to_have_attribute("data-status", "triggered")
    page.keyboard.press("?")
    expect(page.get_by_role("dialog")).to_contain_text("Keyboard shortcuts")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    page.keyboard.press("k")
    page.keyboard.press("o")
    expect(page.locator("#page-title")).to_have_text(f"Queue backlog {marker} B")


def test_a_dashboard_that_lost_its_connection_catches_up_when_it_is_back(page, world):
    """A phone that slept or lost its network misses the batches of that time: it says it is reconnecting, and
    once back it re-reads its view at once (not at the next periodic resync, up to 30 s later)."""
    summary = f"Cache evictions {uuid.uuid4().hex[:6]}"
    sign_in(page, world["responder"], "e2e-password-123")
    page.goto("/incidents")
    indicator = page.locator("#live-indicator")
    expect(indicator).to_have_attribute("data-live", "true")
    page.context.set_offline(True)
    try:
        expect(indicator).to_have_attribute("data-live", "false", timeout=20_000)
        alert(world, summary)  # while the page cannot hear of it
        page.wait_for_timeout(LIVE_SECONDS * 1000)
        expect(row(page, summary)).to_have_count(0)
    finally:
        page.context.set_offline(False)
    expect(indicator).to_have_attribute("data-live", "true", timeout=30_000)
    expect(row(page, summary)).to_be_visible(timeout=LIVE_SECONDS * 1000)
