"""/profile in Chromium: contact methods (a bad number first), a test message on a channel this server has not
configured, a notification rule, time zone and quiet hours, password change, API keys, sign out everywhere."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.people import admin_invites, sign_in

EMAIL = "pia@e2e.example.com"
PASSWORD = "pia-first-password"


def test_profile_main_paths(page):
    admin_invites(page, "Pia", EMAIL, PASSWORD)
    sign_in(page, EMAIL, PASSWORD)
    page.goto("/profile")
    expect(page.locator("#page-title")).to_have_text("My profile")

    page.select_option("#contact-kind", "sms")
    page.fill("#contact-address", "555-0100")
    page.click("#contact-add")
    expect(page.locator("#contact-error")).to_contain_text("international format")
    page.fill("#contact-address", "+1 415 555 2671")
    page.fill("#contact-label", "mobile")
    page.click("#contact-add")
    contacts = page.locator("#contacts-table")
    expect(contacts).to_contain_text("+14155552671")
    contacts.get_by_role("button", name="Send test").click()
    expect(page.locator("#contact-test-error")).to_contain_text("sms channel is not configured")

    page.fill("#rule-delay", "5")
    page.click("#rule-add")
    expect(page.locator("#rules-table")).to_contain_text("after 5 min")

    page.select_option("#profile-time-zone", "Europe/Berlin")
    page.check("#quiet-enabled")
    page.fill("#quiet-start", "23:00")
    page.fill("#quiet-end", "06:30")
    page.click("#settings-save")
    expect(page.locator("#settings-saved")).to_be_visible()
    page.reload()
    expect(page.locator("#profile-time-zone")).to_have_value("Europe/Berlin")
    expect(page.locator("#quiet-start")).to_have_value("23:00")

    page.fill("#current-password", "not my password")
    page.fill("#new-password", "pia-second-password")
    page.fill("#confirm-password", "pia-second-password")
    page.click("#password-save")
    expect(page.locator("#password-error")).to_contain_text("wrong password")
    page.fill("#current-password", PASSWORD)
    page.fill("#new-password", "pia-second-password")
    page.fill("#confirm-password", "pia-second-password")
    page.click("#password-save")
    expect(page.locator("#password-saved")).to_contain_text("Password changed")

    page.fill("#key-name", "grafana")
    page.click("#key-create")
    expect(page.locator("#new-api-key")).to_contain_text("okk_")
    page.locator("#keys-table tr", has_text="grafana").get_by_role("button", name="Revoke").click()
    expect(page.locator("#keys-table")).to_have_count(0)

    page.click("#sign-out-everywhere")
    expect(page).to_have_url(re.compile(r"/login"))
    page.goto("/profile")
    expect(page).to_have_url(re.compile(r"/login"))
    sign_in(page, EMAIL, "pia-second-password")
