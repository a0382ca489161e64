"""The phone app without an app store, in Chromium against the production app (PostgreSQL + Redis, web processes,
a worker): the manifest and icons an install needs, the service worker controlling the page, subscribing from
"Enable push on this device", a real pywebpush request to a local push service (VAPID, headers and the
decrypted body checked by tests/fakes/push.py), that push delivered to the service worker over the Chrome
DevTools Protocol, the notification it shows, its receipt, and its Acknowledge button acknowledging the incident.

Headless Chromium cannot subscribe to a real push service (that needs the browser vendor's servers): an init
script stands in for `PushManager.subscribe`, returning a subscription whose endpoint and keys belong to the
local push service.
"""

from __future__ import annotations

import json
import re
import time
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN_EMAIL, run_cli
from tests.e2e.people import sign_in

STUB_PUSH_MANAGER = """
(() => {
  const fake = %s;
  let current = null;
  const bytes = (b64) => {
    const s = atob((b64 + "===".slice((b64.length + 3) %% 4)).replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(s, (c) => c.charCodeAt(0)).buffer;
  };
  const make = () => ({
    endpoint: fake.endpoint, expirationTime: null, options: {},
    getKey: (name) => bytes(fake.keys[name]),
    toJSON: () => ({endpoint: fake.endpoint, expirationTime: null, keys: fake.keys}),
    unsubscribe: async () => { current = null; return true; },
  });
  PushManager.prototype.subscribe = async function (options) {
    window.__subscribedWith = options && options.applicationServerKey ? options.applicationServerKey.byteLength : 0;
    current = make();
    return current;
  };
  PushManager.prototype.getSubscription = async function () { return current; };
})();
"""


@pytest.fixture(scope="module")
def paged(app_server, app_data_dir):
    """A responder who can sign in, and a service whose policy pages them; an admin key for the API."""
    suffix = uuid.uuid4().hex[:6]
    email = f"pager-{suffix}@e2e.example.com"
    run_cli(app_data_dir, "create-user", "--email", email, "--name", f"Pat {suffix}", "--role", "responder",
            "--password", "e2e-password-123")
    key = run_cli(app_data_dir, "create-api-key", "--email", ADMIN_EMAIL, "--name", f"e2e push {suffix}")
    api = httpx.Client(base_url=app_server, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    user = next(u for u in api.get("/api/v1/users", params={"limit": 200}).json()["data"] if u["email"] == email)
    policy = api.post("/api/v1/escalation-policies", json={"name": f"push {suffix}", "steps": [
        {"delay_minutes": 5, "targets": [{"type": "user", "id": user["id"]}]}]}).json()
    service = api.post("/api/v1/services", json={"name": f"payments-{suffix}",
                                                 "escalation_policy_id": policy["id"]}).json()
    token = api.post(f"/api/v1/services/{service['id']}/integrations",
                     json={"source_type": "generic", "name": "e2e"}).json()["token"]
    yield {"base": app_server, "email": email, "user": user, "token": token, "api": api,
           "service": service["name"]}
    api.close()


def test_the_manifest_has_what_an_install_needs_and_its_icons_load(app_server):
    response = httpx.get(f"{app_server}/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()
    assert manifest["name"] and manifest["short_name"] and manifest["start_url"].startswith("/")
    assert manifest["scope"] == "/" and manifest["display"] == "standalone"
    assert manifest["theme_color"] and manifest["background_color"]
    sizes = {(icon["sizes"], icon.get("purpose", "any")) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"] + [{"src": "/icons/apple-touch-icon.png"}]:
        image = httpx.get(app_server + icon["src"])
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG\r\n\x1a\n"), icon["src"]
        if "sizes" in icon:  # a PNG's width is bytes 16-20 of its IHDR
            assert int.from_bytes(image.content[16:20], "big") == int(icon["sizes"].split("x")[0])
    page = httpx.get(f"{app_server}/login/").text
    assert 'rel="manifest"' in page and 'rel="apple-touch-icon"' in page and 'name="theme-color"' in page


def test_subscribe_then_a_page_is_pushed_shown_receipted_and_acknowledged_from_the_notification(
        browser, paged, push_service):
    subscription = push_service.subscription(f"e2e-{uuid.uuid4().hex[:8]}")
    context = browser.new_context(base_url=paged["base"], viewport={"width": 412, "height": 915},
                                  user_agent="Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
                                             "(KHTML, like Gecko) Chrome/130.0 Mobile Safari/537.36")
    context.grant_permissions(["notifications"], origin=paged["base"])
    context.add_init_script(STUB_PUSH_MANAGER % json.dumps(subscription))
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        sign_in(page, paged["email"], "e2e-password-123")
        page.goto("/")
        # The service worker registers on every page and controls the app at the root scope.
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30_000)  # clients.claim()
        assert page.evaluate("navigator.serviceWorker.controller.scriptURL").endswith("/sw.js")

        page.goto("/profile")
        if page.locator("#push-prompt-later").count():  # the one-time phone prompt; the profile button instead
            page.click("#push-prompt-later")
        page.click("#push-enable")
        expect(page.locator("#push-status")).to_contain_text("Push is on for this device (Pixel 8 (Chrome))")
        assert page.evaluate("window.__subscribedWith") == 65  # the VAPID public key: an uncompressed P-256 point
        expect(page.locator("#contacts-table")).to_contain_text("Pixel 8")

        summary = f"Card payments failing {uuid.uuid4().hex[:6]}"
        alert = httpx.post(f"{paged['base']}/api/webhooks/generic", headers={"Authorization": f"Bearer {paged['token']}"},
                           json={"summary": summary, "severity": "critical"}, timeout=30)
        assert alert.status_code == 202
        [pushed] = push_service.expect(1, timeout=30)  # pywebpush, from the worker: VAPID verified, body decrypted
        payload = pushed.info["payload"]
        assert pushed.info["urgency"] == "high" and pushed.info["topic"] == payload["tag"]
        assert pushed.info["ttl"] > 0 and payload["body"] == summary
        incident_id = payload["incident_id"]

        cdp = context.new_cdp_session(page)
        registrations = []
        cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
        cdp.send("ServiceWorker.enable")
        deadline = time.monotonic() + 10
        while not registrations and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        [registration] = [r for r in registrations if r["scopeURL"] == paged["base"] + "/" and not r["isDeleted"]]
        cdp.send("ServiceWorker.deliverPushMessage", {"origin": paged["base"] + "/",
                                                      "registrationId": registration["registrationId"],
                                                      "data": json.dumps(payload)})
        shown = page.wait_for_function("""() => navigator.serviceWorker.ready
            .then(r => r.getNotifications())
            .then(list => list.length ? list.map(n => ({title: n.title, tag: n.tag, body: n.body,
                                                         interaction: n.requireInteraction,
                                                         actions: n.actions.map(a => a.action)})) : null)""",
                                       polling=200).json_value()
        [notification] = shown
        assert notification["title"].startswith(f"#{payload['incident_number']} HIGH · ")
        assert notification["tag"] == f"incident-{incident_id}" and notification["body"] == summary
        assert notification["interaction"] is True and notification["actions"] == ["acknowledge", "open"]

        def timeline() -> str:
            return json.dumps(paged["api"].get(f"/api/v1/incidents/{incident_id}").json()["timeline"])

        deadline = time.monotonic() + 10
        while "Push shown to Pat" not in timeline() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "Push shown to Pat" in timeline() and "on Pixel 8 (Chrome)" in timeline()  # the receipt arrived

        [worker] = [w for w in context.service_workers if w.url.endswith("/sw.js")]
        # A script-made event is not trusted, so its waitUntil() throws; the handler's work has started by then.
        worker.evaluate("""() => self.registration.getNotifications().then(([n]) => {
            self.dispatchEvent(new NotificationEvent("notificationclick", {notification: n, action: "acknowledge"}));
        })""")
        deadline = time.monotonic() + 10
        while paged["api"].get(f"/api/v1/incidents/{incident_id}").json()["status"] != "acknowledged" \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        incident = paged["api"].get(f"/api/v1/incidents/{incident_id}").json()
        assert incident["status"] == "acknowledged" and incident["acknowledged_via"] == "push"
        replaced = page.wait_for_function("""() => navigator.serviceWorker.ready.then(r => r.getNotifications())
            .then(list => list.length && list[0].title === "Acknowledged" ? list[0].tag : null)""",
                                          polling=200).json_value()
        assert replaced == f"incident-{incident_id}"  # the same notification, now "Acknowledged"
        assert "tapped the push on Pixel 8 (Chrome) (acknowledge)" in timeline()

        # Signing out on this browser stops Pat's pages coming here (someone else may sign in next).
        contacts = f"/api/v1/users/{paged['user']['id']}/contact-methods"
        assert [c["kind"] for c in paged["api"].get(contacts).json()["data"]] == ["push"]
        page.goto("/profile")
        expect(page.locator("#contacts-table")).to_contain_text(re.compile(r"last page .*, shown"))
        page.click("#menu-button")  # a phone: the account menu is in the drawer
        page.locator("#mobile-menu #logout-button").click()
        expect(page).to_have_url(re.compile(r"/login"))
        assert paged["api"].get(contacts).json()["data"] == []
    finally:
        context.close()


def test_the_acknowledge_page_acts_once_on_a_tap_never_on_opening(browser, paged, push_service):
    summary = f"Search down {uuid.uuid4().hex[:6]}"
    users = paged["api"]
    contacts = f"/api/v1/users/{paged['user']['id']}/contact-methods"
    for earlier in users.get(contacts).json()["data"]:  # one device for this test: a browser without buttons
        users.delete(f"{contacts}/{earlier['id']}")
    sub = push_service.subscription(f"e2e-page-{uuid.uuid4().hex[:8]}")
    stored = users.post(contacts, json={
        "kind": "push", "address": sub["endpoint"], "label": "Firefox on Linux", "push_keys": sub["keys"]})
    assert stored.status_code == 201, stored.text
    alert = httpx.post(f"{paged['base']}/api/webhooks/generic", headers={"Authorization": f"Bearer {paged['token']}"},
                       json={"summary": summary, "severity": "critical"}, timeout=30)
    assert alert.status_code == 202
    [pushed] = push_service.expect(1, timeout=30)
    payload = pushed.info["payload"]
    context = browser.new_context(base_url=paged["base"], viewport={"width": 375, "height": 740})
    try:
        page = context.new_page()
        page.goto(payload["ack_page_url"].removeprefix(paged["base"]))  # signed out, as from a lock screen
        button = page.locator("#ack")
        expect(button).to_be_visible()
        assert button.bounding_box()["height"] >= 44
        incident = users.get(f"/api/v1/incidents/{payload['incident_id']}").json()
        assert incident["status"] == "triggered"  # opening the page acknowledged nothing
        button.click()
        expect(page.get_by_text(re.compile(r"Incident #\d+ acknowledged"))).to_be_visible()
        page.go_back()
        page.locator("#ack").click()
        expect(page.get_by_text("This acknowledge link was used already")).to_be_visible()
    finally:
        context.close()
        users.delete(f"{contacts}/{stored.json()['id']}")


def test_a_phone_is_asked_once_after_sign_in(browser, paged):
    context = browser.new_context(base_url=paged["base"], viewport={"width": 375, "height": 740})
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        sign_in(page, paged["email"], "e2e-password-123")
        expect(page.locator("#push-prompt")).to_be_visible()  # permission not asked yet: offer it, from a tap
        page.click("#push-prompt-later")
        expect(page.locator("#push-prompt")).to_have_count(0)
        page.reload()
        expect(page.locator("#page-title")).to_be_visible()
        page.wait_for_timeout(1500)
        expect(page.locator("#push-prompt")).to_have_count(0)  # once only
    finally:
        context.close()
