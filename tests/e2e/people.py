"""Steps the profile and users e2e tests share: sign in and out through the form, invite a user as the admin."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD


def dismiss_push_prompt(page) -> None:
    """At phone widths the app offers, once and after a moment, to turn on push, in a bar over the bottom of the
    page: whenever it is in the way of an action, answer "Not now" (a check for it at one moment races it)."""
    page.add_locator_handler(page.locator("#push-prompt"), lambda *_: page.click("#push-prompt-later"))


def sign_in(page, email: str, password: str) -> None:
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#sign-in")
    expect(page.locator("#page-title")).to_be_visible()


def sign_out(page) -> None:
    page.click("#logout-button")
    expect(page).to_have_url(re.compile(r"/login"))


def invite(page, name: str, email: str, password: str, role: str = "responder") -> None:
    """As the signed-in admin, create a user with a first password on /users."""
    page.goto("/users")
    page.fill("#new-user-name", name)
    page.fill("#new-user-email", email)
    page.select_option("#new-user-role", role)
    page.fill("#new-user-password", password)
    page.click("#user-create")
    expect(page.locator("#users-table tr", has_text=email)).to_be_visible()


def admin_invites(page, name: str, email: str, password: str) -> None:
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    invite(page, name, email, password)
    sign_out(page)
