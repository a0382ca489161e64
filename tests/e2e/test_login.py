"""Sign in as the bootstrap admin, see the shell, sign out, and be turned away when not signed in."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD


def _sign_in(page, email: str, password: str) -> None:
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#sign-in")


def test_signed_out_visitor_is_sent_to_login(page):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/?\?next=(%2F|/)$"))
    expect(page.get_by_role("heading", name="Sign in to OpsKnight")).to_be_visible()


def test_after_sign_in_the_visitor_lands_on_the_page_they_asked_for(page):
    page.goto("/escalation-policies")
    expect(page).to_have_url(re.compile(r"/login/?\?next="))
    _sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    expect(page).to_have_url(re.compile(r"/escalation-policies/?$"))


def test_wrong_password_is_refused(page):
    page.goto("/login")
    _sign_in(page, ADMIN_EMAIL, "not-the-password")
    expect(page.locator("#login-error")).to_contain_text("Wrong email or password")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))


def test_admin_signs_in_sees_shell_and_signs_out(page):
    page.goto("/")
    _sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    expect(page.locator("#page-title")).to_have_text("Incidents")
    expect(page.locator("#signed-in-name")).to_have_text("Administrator")
    expect(page.get_by_text("Escalation policies")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "opsknight_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert "opsknight_session" not in page.evaluate("document.cookie")  # no page script can read it

    page.click("#logout-button")
    expect(page).to_have_url(re.compile(r"/login"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))

    # The old token was revoked on the server: putting the cookie back does not sign anyone in.
    page.context.add_cookies([cookie])
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))


def test_the_websocket_accepts_only_this_sites_origin(app_server):
    handshake = f"{app_server}/_event/?EIO=4&transport=polling"
    assert httpx.get(handshake, headers={"Origin": app_server}, timeout=10).status_code == 200
    assert httpx.get(handshake, headers={"Origin": "https://evil.example"}, timeout=10).status_code in (400, 403)
