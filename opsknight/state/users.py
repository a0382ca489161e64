"""The Users page's state: the list, invite, the edit dialog, disable/enable, and an admin's editor for someone
else's contact methods. Every change goes through `opsknight.admin.users`/`contacts`."""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from opsknight.admin import contacts, users
from opsknight.db import session_scope
from opsknight.permissions import Permission
from opsknight.state.auth import AuthState
from opsknight.state.admin_call import attempt
from opsknight.state.guard import actor, guarded
from opsknight.state.people import ContactRow, UserRow, contact_row, contact_values, user_row

MAX_LISTED = 500


def _users(principal) -> list[UserRow]:
    with session_scope() as db:
        page, _ = users.list_users(db, principal, limit=MAX_LISTED)
        return [user_row(users.user_json(u)) for u in page]


def _contacts(principal, user_id: int) -> list[ContactRow]:
    with session_scope() as db:
        return [contact_row(contacts.contact_json(c)) for c in contacts.list_contact_methods(db, principal, user_id)]


def _user_values(form: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    values = {"name": form.get("name", ""), "role": form.get("role", "")}
    if creating:
        values["email"] = form.get("email", "")
    else:
        values["time_zone"] = form.get("time_zone", "")
    if form.get("password"):  # empty: invite without a password / keep the current one
        values["password"] = form["password"]
    return values


class UsersState(AuthState):
    users: list[UserRow] = []
    create_error: str = ""
    list_error: str = ""
    edit_open: bool = False
    editing: UserRow = UserRow()
    edit_error: str = ""
    contacts_open: bool = False
    contacts_user: UserRow = UserRow()
    user_contacts: list[ContactRow] = []
    contacts_error: str = ""

    async def _reload(self) -> None:
        self.users = await asyncio.to_thread(_users, actor())

    def _row(self, user_id: int) -> UserRow | None:
        return next((u for u in self.users if u.id == user_id), None)

    @rx.event
    @guarded(Permission.READ)
    async def load(self):
        self.create_error = self.list_error = ""
        self.edit_open = self.contacts_open = False
        await self._reload()

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def create(self, form: dict):
        if not await attempt(self, "create_error", users.create_user, _user_values(form, creating=True)):
            return
        await self._reload()
        return rx.toast.success("User created")

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def open_edit(self, user_id: int):
        row = self._row(user_id)
        if row is not None:
            self.editing, self.edit_error, self.edit_open = row, "", True

    @rx.event
    @guarded(Permission.READ)
    async def close_edit(self, open_: bool = False):
        self.edit_open = bool(open_) and self.edit_open

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def save_edit(self, form: dict):
        if not await attempt(self, "edit_error", users.update_user, self.editing.id,
                             _user_values(form, creating=False)):
            return
        self.edit_open = False
        await self._reload()
        return rx.toast.success("User saved")

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def set_disabled(self, user_id: int, disabled: bool):
        change = users.disable_user if disabled else users.enable_user
        if not await attempt(self, "list_error", change, user_id):
            return
        await self._reload()
        return rx.toast.success("User disabled: signed out and no longer paged" if disabled else "User enabled")

    # --- someone else's contact methods ------------------------------------------------------------------------

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def open_contacts(self, user_id: int):
        row = self._row(user_id)
        if row is None:
            return
        self.user_contacts = await asyncio.to_thread(_contacts, actor(), user_id)
        self.contacts_user, self.contacts_error, self.contacts_open = row, "", True

    @rx.event
    @guarded(Permission.READ)
    async def close_contacts(self, open_: bool = False):
        self.contacts_open = bool(open_) and self.contacts_open

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def add_user_contact(self, form: dict):
        user_id = self.contacts_user.id
        if not await attempt(self, "contacts_error", contacts.create_contact_method, user_id, contact_values(form)):
            return
        self.user_contacts = await asyncio.to_thread(_contacts, actor(), user_id)

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def delete_user_contact(self, contact_id: int):
        user_id = self.contacts_user.id
        if not await attempt(self, "contacts_error", contacts.delete_contact_method, user_id, contact_id):
            return
        self.user_contacts = await asyncio.to_thread(_contacts, actor(), user_id)
