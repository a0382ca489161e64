"""Sign in as the bootstrap admin, see the shell, sign out, and be turned away when not signed in."""

from __future__ import annotations

import base64
import os
import re
import socket

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


def _websocket_upgrade_status(base_url: str, origin: str) -> int:
    """The status line of a websocket handshake on Reflex's event endpoint, sent with `origin`."""
    host, port = base_url.removeprefix("http://").split(":")
    request = (f"GET /_event/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
               f"Sec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request.encode())
        return int(conn.recv(1024).split(b" ", 2)[1])


def test_the_websocket_accepts_only_this_sites_origin(app_server):
    assert _websocket_upgrade_status(app_server, app_server) == 101
    assert _websocket_upgrade_status(app_server, "https://evil.example") != 101
