"""/profile: how I am paged (contact methods with a test button, notification rules), my time zone and quiet
hours, my password, where I am signed in, and my API keys."""

from __future__ import annotations

import reflex as rx

from opsknight.admin.fields import known_time_zones
from opsknight.components.forms import checkbox, error_callout, field, native_select, section, success_callout
from opsknight.components.layout import signed_in
from opsknight.state.people import CONTACT_KINDS, URGENCIES
from opsknight.state.profile import KeyRow, ProfileState, RuleRow, SessionRow


def _table(headers: list[str], rows: rx.Var, render, empty: str, id: str) -> rx.Component:
    return rx.cond(
        rows.length() > 0,
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(rx.foreach(rows, render)),
            width="100%", variant="surface", size="1", id=id,
        ),
        rx.text(empty, color_scheme="gray", size="2"),
    )


# --- contact methods ------------------------------------------------------------------------------------------------


def _contact_row(row) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.badge(row.kind, variant="soft")),
        rx.table.cell(row.address),
        rx.table.cell(row.label, rx.cond(row.last_page != "", rx.text(row.last_page, size="1", color_scheme="gray"))),
        rx.table.cell(rx.switch(checked=row.enabled, disabled=~ProfileState.can_edit,
                                on_change=lambda on: ProfileState.set_contact_enabled(row.id, on))),
        rx.table.cell(rx.cond(ProfileState.can_edit, rx.hstack(
            rx.button("Send test", size="1", variant="soft", on_click=ProfileState.send_test(row.id),
                      id=f"test-contact-{row.id}"),
            rx.button("Delete", size="1", variant="soft", color_scheme="red",
                      on_click=ProfileState.delete_contact(row.id), id=f"delete-contact-{row.id}"),
            spacing="2"))),
        id=f"contact-row-{row.id}",
    )


def _contact_form() -> rx.Component:
    return rx.form(
        rx.hstack(
            field("Kind", native_select("kind", CONTACT_KINDS, "email", id="contact-kind")),
            field("Address", rx.input(name="address", placeholder="you@example.com, +14155552671, U024BE7LH",
                                      max_length=320, width="100%", id="contact-address")),
            field("Label", rx.input(name="label", placeholder="work phone", max_length=100, width="100%",
                                    id="contact-label")),
            rx.button("Add", type="submit", id="contact-add"),
            spacing="3", align="end", width="100%",
        ),
        on_submit=ProfileState.add_contact,
        reset_on_submit=False,
    )


def _push_device() -> rx.Component:
    """assets/push.js does the work: permission from this tap, subscribe, store; it writes the outcome in
    #push-status and clicks #push-refresh so the list shows the new device."""
    return rx.vstack(
        rx.hstack(rx.button(rx.icon("bell-ring", size=16), "Enable push on this device", id="push-enable",
                            variant="soft", class_name="thumb"),
                  rx.button("refresh", id="push-refresh", on_click=ProfileState.load, display="none"),
                  spacing="2"),
        rx.text("", id="push-status", size="2", role="status"),
        rx.text("On an iPhone (iOS 16.4+) add OpsKnight to the home screen first (Share → Add to Home Screen), then "
                "open it from there and enable push.", size="1", color_scheme="gray"),
        spacing="1", width="100%",
    )


def _contacts() -> rx.Component:
    return section(
        "Contact methods",
        _table(["Kind", "Address", "Label", "On", ""], ProfileState.contacts, _contact_row,
               "No contact methods yet: you cannot be paged.", "contacts-table"),
        success_callout(ProfileState.test_result, "contact-test-result"),
        error_callout(ProfileState.test_error, "contact-test-error"),
        rx.cond(ProfileState.can_edit, rx.vstack(
            _contact_form(),
            rx.text("Phone numbers in international format (+ and country code).", size="1", color_scheme="gray"),
            _push_device(),
            error_callout(ProfileState.contact_error, "contact-error"),
            spacing="2", width="100%")),
        id="contact-methods",
    )


# --- notification rules -------------------------------------------------------------------------------------------


def _rule_row(row: RuleRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.cond(row.delay_minutes == 0, "at once", f"after {row.delay_minutes} min")),
        rx.table.cell(row.contact, rx.cond(row.fallthrough_seconds > 0, rx.text(
            "next rule at once if not shown within ", row.fallthrough_seconds, " s", size="1", color_scheme="gray"))),
        rx.table.cell(row.urgency),
        rx.table.cell(rx.cond(ProfileState.can_edit, rx.button(
            "Delete", size="1", variant="soft", color_scheme="red", on_click=ProfileState.delete_rule(row.id),
            id=f"delete-rule-{row.id}"))),
    )


def _rule_form() -> rx.Component:
    contact_options = rx.foreach(ProfileState.contacts,
                                 lambda c: rx.el.option(c.kind + " " + c.address, value=c.id))
    return rx.form(
        rx.hstack(
            field("Contact method", rx.el.select(contact_options, name="contact_method_id", id="rule-contact",
                                                 style={"height": "32px", "width": "100%"})),
            field("Minutes after first page", rx.input(name="delay_minutes", type="number", min=0, max=1440,
                                                       default_value="0", width="100%", id="rule-delay")),
            field("For", native_select("urgency", URGENCIES, "any", id="rule-urgency")),
            field("Push not shown in (s)", rx.input(name="fallthrough_seconds", type="number", min=5, max=3600,
                                                     placeholder="optional", width="100%", id="rule-fallthrough")),
            rx.button("Add rule", type="submit", id="rule-add"),
            spacing="3", align="end", width="100%", wrap="wrap",
        ),
        on_submit=ProfileState.add_rule,
        reset_on_submit=False,
    )


def _rules() -> rx.Component:
    return section(
        "Notification rules",
        rx.text("When you are paged, each rule sends to one contact method after its delay, until someone "
                "acknowledges. Without rules, all your contact methods are used at once.", size="2",
                color_scheme="gray"),
        _table(["When", "Contact method", "Urgency", ""], ProfileState.rules, _rule_row, "No rules: defaults apply.",
               "rules-table"),
        rx.cond(ProfileState.can_edit & (ProfileState.contacts.length() > 0), _rule_form()),
        error_callout(ProfileState.rule_error, "rule-error"),
        id="notification-rules",
    )


# --- time zone, quiet hours, password -------------------------------------------------------------------------------

_ZONES = [(zone, zone) for zone in known_time_zones()]


def _settings_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            field("Name", rx.input(name="name", default_value=ProfileState.name, max_length=200, width="100%",
                                   id="profile-name")),
            field("Time zone", native_select("time_zone", _ZONES, ProfileState.time_zone, id="profile-time-zone"),
                  "Schedules and quiet hours use it."),
            checkbox("quiet_enabled", "Quiet hours: hold low-urgency pages until they end (high urgency always "
                     "pages)", ProfileState.quiet_enabled, id="quiet-enabled"),
            rx.hstack(
                field("From", rx.input(name="quiet_start", type="time", default_value=ProfileState.quiet_start,
                                       id="quiet-start")),
                field("Until", rx.input(name="quiet_end", type="time", default_value=ProfileState.quiet_end,
                                        id="quiet-end")),
                spacing="3",
            ),
            rx.button("Save", type="submit", id="settings-save", disabled=~ProfileState.can_edit),
            spacing="3", width="100%", max_width="520px",
        ),
        on_submit=ProfileState.save_settings,
        reset_on_submit=False,
    )


def _settings() -> rx.Component:
    return section(
        "Time zone and quiet hours",
        rx.cond(ProfileState.loaded, _settings_form(), rx.spinner()),
        error_callout(ProfileState.settings_error, "settings-error"),
        success_callout(ProfileState.settings_saved, "settings-saved"),
        id="settings",
    )


def _password() -> rx.Component:
    def secret(name: str, label: str, auto: str) -> rx.Component:
        return field(label, rx.input(name=name, type="password", auto_complete=auto, width="100%",
                                     id=name.replace("_", "-")))

    return section(
        "Password",
        rx.form(
            rx.vstack(
                secret("current_password", "Current password", "current-password"),
                secret("new_password", "New password (8 characters or more)", "new-password"),
                secret("confirm_password", "New password again", "new-password"),
                rx.button("Change password", type="submit", id="password-save"),
                spacing="3", width="100%", max_width="520px",
            ),
            on_submit=ProfileState.change_password,
            reset_on_submit=True,
        ),
        error_callout(ProfileState.password_error, "password-error"),
        success_callout(ProfileState.password_saved, "password-saved"),
        rx.text("Changing it signs you out everywhere else.", size="1", color_scheme="gray"),
        id="password",
    )


# --- sessions and API keys --------------------------------------------------------------------------------------------


def _session_row(row: SessionRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.started),
        rx.table.cell(row.last_seen),
        rx.table.cell(row.ip),
        rx.table.cell(rx.text(row.user_agent, size="1")),
        rx.table.cell(rx.cond(row.current, rx.badge("this browser", color_scheme="green"),
                              rx.button("Sign out", size="1", variant="soft",
                                        on_click=ProfileState.end_session(row.id), id=f"end-session-{row.id}"))),
    )


def _sessions() -> rx.Component:
    return section(
        "Where you are signed in",
        _table(["Signed in", "Last seen", "Address", "Browser", ""], ProfileState.sessions, _session_row,
               "No sessions.", "sessions-table"),
        rx.button(rx.icon("log-out", size=16), "Sign out everywhere", color_scheme="red", variant="soft",
                  on_click=ProfileState.sign_out_everywhere, id="sign-out-everywhere", width="fit-content"),
        id="sessions",
    )


def _key_row(row: KeyRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.name),
        rx.table.cell(rx.code(row.prefix + "…")),
        rx.table.cell(row.scopes),
        rx.table.cell(row.created),
        rx.table.cell(row.last_used),
        rx.table.cell(rx.cond(ProfileState.can_edit, rx.button(
            "Revoke", size="1", variant="soft", color_scheme="red", on_click=ProfileState.revoke_key(row.id),
            id=f"revoke-key-{row.id}"))),
        id=f"key-row-{row.id}",
    )


def _new_key() -> rx.Component:
    return rx.cond(ProfileState.new_key != "", rx.callout.root(
        rx.callout.text("Your new API key. Copy it now: it is not shown again."),
        rx.hstack(rx.code(ProfileState.new_key, id="new-api-key", style={"word_break": "break-all"}),
                  rx.button("Copy", size="1", variant="soft", on_click=rx.set_clipboard(ProfileState.new_key))),
        rx.button("I have copied it", size="1", on_click=ProfileState.forget_new_key, id="new-api-key-done",
                  width="fit-content"),
        color_scheme="amber", width="100%",
    ))


def _key_form() -> rx.Component:
    return rx.form(
        rx.hstack(
            field("Name", rx.input(name="name", placeholder="terraform", max_length=100, width="100%",
                                   id="key-name")),
            field("Access", native_select("scopes", [("read", "Read only"), ("read,write", "Read and write")],
                                          "read", id="key-scopes")),
            rx.button("Create key", type="submit", id="key-create"),
            spacing="3", align="end", width="100%",
        ),
        on_submit=ProfileState.create_key,
        reset_on_submit=True,
    )


def _api_keys() -> rx.Component:
    return section(
        "API keys",
        rx.text("A key acts as you in the REST API (Authorization: Bearer <key>).", size="2", color_scheme="gray"),
        _new_key(),
        _table(["Name", "Key", "Access", "Created", "Last used", ""], ProfileState.api_keys, _key_row,
               "No API keys.", "keys-table"),
        rx.cond(ProfileState.can_edit, _key_form()),
        error_callout(ProfileState.key_error, "key-error"),
        id="api-keys",
    )


@signed_in
def profile_page() -> rx.Component:
    return rx.vstack(
        rx.heading("My profile", size="7", id="page-title"),
        _contacts(),
        _rules(),
        _settings(),
        _password(),
        _sessions(),
        _api_keys(),
        spacing="5", width="100%", max_width="960px",
    )
