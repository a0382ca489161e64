"""/users in Chromium: the admin invites someone (a bad email first), the new user signs in, sets up a contact
method and an API key; the admin edits their contact methods, disables them, and their open session ends."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.e2e.people import invite, sign_in, sign_out

EMAIL = "uma@e2e.example.com"
PASSWORD = "uma-first-password"


def test_invite_sign_in_then_disable_ends_the_session(browser, app_server):
    admin_context, user_context = (browser.new_context(base_url=app_server) for _ in range(2))
    admin, user = admin_context.new_page(), user_context.new_page()
    for page in (admin, user):
        page.set_default_timeout(20_000)
    try:
        sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        admin.goto("/users")
        admin.fill("#new-user-name", "Uma")
        admin.fill("#new-user-email", "uma@localhost")  # the browser accepts it; we need a domain
        admin.fill("#new-user-password", PASSWORD)
        admin.click("#user-create")
        expect(admin.locator("#user-form-error")).to_contain_text("email")
        invite(admin, "Uma", EMAIL, PASSWORD)
        sign_out(admin)

        sign_in(user, EMAIL, PASSWORD)
        user.goto("/profile")
        user.fill("#contact-address", "uma@mail.example.com")
        user.click("#contact-add")
        expect(user.locator("#contacts-table")).to_contain_text("uma@mail.example.com")
        user.fill("#key-name", "scripts")
        user.click("#key-create")
        key = user.locator("#new-api-key")
        expect(key).to_contain_text("okk_")
        prefix = key.inner_text()[:12]
        user.click("#new-api-key-done")
        expect(key).to_have_count(0)
        expect(user.locator("#keys-table")).to_contain_text(prefix)
        user.reload()
        expect(user.locator("#keys-table")).to_contain_text("scripts")
        expect(user.locator("#new-api-key")).to_have_count(0)  # shown once only

        sign_in(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
        admin.goto("/users")
        row = admin.locator("#users-table tr", has_text=EMAIL)
        row.get_by_role("button", name="Contact methods").click()
        admin.select_option("#user-contact-kind", "sms")
        admin.fill("#user-contact-address", "0170 1234567")
        admin.click("#user-contact-add")
        expect(admin.locator("#user-contact-error")).to_contain_text("international format")
        admin.fill("#user-contact-address", "+49 170 1234567")
        admin.click("#user-contact-add")
        expect(admin.locator("#user-contacts-table")).to_contain_text("+491701234567")
        admin.click("#user-contacts-done")

        row.get_by_role("button", name="Disable").click()
        admin.click("#confirm-disable-user")
        expect(row).to_contain_text("disabled")

        user.goto("/profile")
        expect(user).to_have_url(re.compile(r"/login"))
        user.fill("#email", EMAIL)
        user.fill("#password", PASSWORD)
        user.click("#sign-in")
        expect(user.locator("#login-error")).to_contain_text("Wrong email or password")

        row.get_by_role("button", name="Enable").click()
        expect(row).to_contain_text("active")
    finally:
        admin_context.close()
        user_context.close()


def _demote_other_admins(page) -> None:
    """Other tests share this app and may have made admins: make the bootstrap admin the only one."""
    while True:
        cells = [[c.inner_text() for c in row.locator("td").all()[:4]]
                 for row in page.locator("#users-table tbody tr").all()]
        others = [i for i, (_, email, role, status) in enumerate(cells)
                  if role == "admin" and email != ADMIN_EMAIL and status.lower().startswith("active")]
        if not others:
            return
        page.locator("#users-table tbody tr").nth(others[0]).get_by_role("button", name="Edit").click()
        page.select_option("#edit-user-role", "responder")
        page.click("#edit-user-save")
        expect(page.locator("#edit-user-save")).to_have_count(0)


def test_the_last_admin_cannot_demote_themselves(page):
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto("/users")
    expect(page.locator("#users-table")).to_contain_text(ADMIN_EMAIL)
    _demote_other_admins(page)
    page.locator("#edit-user-1").click()  # the bootstrap admin is the first user
    page.select_option("#edit-user-role", "viewer")
    page.click("#edit-user-save")
    expect(page.locator("#edit-user-error")).to_contain_text("At least one active admin must remain")
