"""/users: everyone with their role and status; admins invite, edit, disable or enable people and edit their
contact methods."""

from __future__ import annotations

import reflex as rx

from opsknight.admin.fields import known_time_zones
from opsknight.components.forms import error_callout, field, native_select
from opsknight.components.layout import signed_in
from opsknight.state.auth import AuthState
from opsknight.state.people import CONTACT_KINDS, ROLES, ContactRow, UserRow
from opsknight.state.users import UsersState


def _status(row: UserRow) -> rx.Component:
    return rx.cond(row.status == "active", rx.badge("active", color_scheme="green", variant="soft"),
                   rx.badge("disabled", color_scheme="gray", variant="soft"))


def _disable_button(row: UserRow) -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(rx.button("Disable", size="1", variant="soft", color_scheme="red",
                                          id=f"disable-user-{row.id}")),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Disable user?"),
            rx.alert_dialog.description(
                f"{row.name} is signed out everywhere, their API keys are revoked, and they are no longer paged."),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button("Disable", color_scheme="red", id="confirm-disable-user",
                                                 on_click=UsersState.set_disabled(row.id, True))),
                justify="end", spacing="3", margin_top="16px",
            ),
        ),
    )


def _actions(row: UserRow) -> rx.Component:
    return rx.hstack(
        rx.button("Edit", size="1", variant="soft", on_click=UsersState.open_edit(row.id), id=f"edit-user-{row.id}"),
        rx.button("Contact methods", size="1", variant="soft", on_click=UsersState.open_contacts(row.id),
                  id=f"contacts-user-{row.id}"),
        rx.cond(row.status == "active", _disable_button(row),
                rx.button("Enable", size="1", variant="soft", color_scheme="green",
                          on_click=UsersState.set_disabled(row.id, False), id=f"enable-user-{row.id}")),
        spacing="2",
    )


def _row(row: UserRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.name, weight="medium")),
        rx.table.cell(row.email),
        rx.table.cell(rx.badge(row.role, variant="outline")),
        rx.table.cell(_status(row)),
        rx.table.cell(row.time_zone),
        rx.table.cell(rx.cond(row.can_sign_in, "yes", rx.text("no password yet", color_scheme="amber", size="2"))),
        rx.table.cell(rx.cond(AuthState.is_admin, _actions(row))),
        id=f"user-row-{row.id}",
    )


def _table() -> rx.Component:
    headers = ["Name", "Email", "Role", "Status", "Time zone", "Can sign in", ""]
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(rx.foreach(UsersState.users, _row)),
        width="100%", variant="surface", id="users-table",
    )


def _create_form() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Invite a user", size="4"),
                rx.hstack(
                    field("Name", rx.input(name="name", max_length=200, width="100%", id="new-user-name")),
                    field("Email", rx.input(name="email", type="email", max_length=254, width="100%",
                                            id="new-user-email")),
                    field("Role", native_select("role", ROLES, "responder", id="new-user-role")),
                    spacing="3", width="100%",
                ),
                field("First password (optional)",
                      rx.input(name="password", type="password", auto_complete="new-password", width="100%",
                               id="new-user-password"),
                      "Without one the user can be paged, but cannot sign in until you set a password."),
                error_callout(UsersState.create_error, "user-form-error"),
                rx.button("Create user", type="submit", id="user-create"),
                spacing="3", width="100%",
            ),
            on_submit=UsersState.create,
            reset_on_submit=False,
        ),
        width="100%", max_width="720px",
    )


_ZONES = [(zone, zone) for zone in known_time_zones()]


def _edit_dialog() -> rx.Component:
    editing = UsersState.editing
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Edit ", editing.name),
            rx.form(
                rx.vstack(
                    field("Name", rx.input(name="name", default_value=editing.name, max_length=200, width="100%",
                                           id="edit-user-name")),
                    field("Role", native_select("role", ROLES, editing.role, id="edit-user-role")),
                    field("Time zone", native_select("time_zone", _ZONES, editing.time_zone, id="edit-user-tz")),
                    field("New password (optional)", rx.input(name="password", type="password",
                                                               auto_complete="new-password", width="100%",
                                                               id="edit-user-password"),
                          "Setting one signs the user out everywhere."),
                    error_callout(UsersState.edit_error, "edit-user-error"),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", type="button", variant="soft", color_scheme="gray")),
                        rx.button("Save", type="submit", id="edit-user-save"),
                        justify="end", spacing="3", width="100%",
                    ),
                    spacing="3",
                ),
                on_submit=UsersState.save_edit,
                reset_on_submit=False,
            ),
        ),
        open=UsersState.edit_open,
        on_open_change=UsersState.close_edit,
    )


def _contact_row(row: ContactRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.badge(row.kind, variant="soft")),
        rx.table.cell(row.address),
        rx.table.cell(row.label),
        rx.table.cell(rx.button("Delete", size="1", variant="soft", color_scheme="red",
                                on_click=UsersState.delete_user_contact(row.id), id=f"delete-user-contact-{row.id}")),
    )


def _contacts_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Contact methods of ", UsersState.contacts_user.name),
            rx.vstack(
                rx.cond(
                    UsersState.user_contacts.length() > 0,
                    rx.table.root(rx.table.body(rx.foreach(UsersState.user_contacts, _contact_row)), width="100%",
                                  size="1", id="user-contacts-table"),
                    rx.text("None: this user cannot be paged.", color_scheme="red", size="2"),
                ),
                rx.form(
                    rx.hstack(
                        field("Kind", native_select("kind", CONTACT_KINDS, "email", id="user-contact-kind")),
                        field("Address", rx.input(name="address", max_length=320, width="100%",
                                                  id="user-contact-address")),
                        field("Label", rx.input(name="label", max_length=100, width="100%", id="user-contact-label")),
                        rx.button("Add", type="submit", id="user-contact-add"),
                        spacing="2", align="end", width="100%",
                    ),
                    on_submit=UsersState.add_user_contact,
                    reset_on_submit=False,  # a refused address stays there to be corrected
                ),
                error_callout(UsersState.contacts_error, "user-contact-error"),
                rx.hstack(rx.dialog.close(rx.button("Done", variant="soft", id="user-contacts-done")), justify="end",
                          width="100%"),
                spacing="3", width="100%",
            ),
            max_width="720px",
        ),
        open=UsersState.contacts_open,
        on_open_change=UsersState.close_contacts,
    )


@signed_in
def users_page() -> rx.Component:
    return rx.vstack(
        rx.heading("Users", size="7", id="page-title"),
        error_callout(UsersState.list_error, "users-error"),
        _table(),
        rx.cond(AuthState.is_admin, rx.fragment(_create_form(), _edit_dialog(), _contacts_dialog())),
        spacing="5", width="100%",
    )
