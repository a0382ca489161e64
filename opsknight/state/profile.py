"""My profile's state: contact methods with test messages, notification rules, time zone and quiet hours,
password, sessions and personal API keys. Every change goes through `opsknight.admin.profile`/`contacts`."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import reflex as rx

from opsknight.admin import AdminError, contacts, profile
from opsknight.db import session_scope
from opsknight.permissions import Permission
from opsknight.state.auth import AuthState, go
from opsknight.state.admin_call import admin_call, attempt
from opsknight.state.guard import actor, guarded
from opsknight.state.people import ContactRow, contact_row, contact_values, when


@dataclasses.dataclass
class RuleRow:
    id: int = 0
    contact: str = ""  # "SMS +14155552671"
    delay_minutes: int = 0
    urgency: str = ""
    fallthrough_seconds: int = 0  # push: not shown within this many seconds -> the next rule at once (0: never)


@dataclasses.dataclass
class SessionRow:
    id: int = 0
    started: str = ""
    last_seen: str = ""
    ip: str = ""
    user_agent: str = ""
    current: bool = False


@dataclasses.dataclass
class KeyRow:
    id: int = 0
    name: str = ""
    prefix: str = ""
    scopes: str = ""
    created: str = ""
    last_used: str = ""


@dataclasses.dataclass
class Snapshot:
    """Everything the page shows, read in one transaction."""

    name: str
    time_zone: str
    quiet_hours: dict | None
    contacts: list[ContactRow]
    rules: list[RuleRow]
    sessions: list[SessionRow]
    keys: list[KeyRow]


def _snapshot(principal, token: str) -> Snapshot:
    with session_scope() as db:
        user = profile.me(db, principal)
        methods = contacts.list_contact_methods(db, principal, user.id)
        last = contacts.last_pages(db, principal, user.id)
        by_id = {c.id: f"{c.kind} {contacts.display_address(c)}" for c in methods}
        rules = [RuleRow(r.id, by_id.get(r.contact_method_id, kind), r.delay_minutes, r.urgency,
                         r.fallthrough_seconds or 0)
                 for r, kind in contacts.list_rules(db, principal, user.id)]
        sessions = [profile.session_json(s, token) for s in profile.list_sessions(db, principal)]
        keys = [profile.api_key_json(k) for k in profile.list_api_keys(db, principal)]
        return Snapshot(
            user.name, user.time_zone, user.quiet_hours,
            [contact_row(contacts.contact_json(c), last.get(c.id)) for c in methods],
            rules,
            [SessionRow(s["id"], when(s["created_at"]), when(s["last_seen_at"]), s["ip"], s["user_agent"][:80],
                        s["current"]) for s in sessions],
            [KeyRow(k["id"], k["name"], k["prefix"], ", ".join(k["scopes"]), when(k["created_at"]),
                    when(k["last_used_at"])) for k in keys],
        )


def _change_password(principal, values: dict, token: str) -> int:
    with session_scope() as db:
        return profile.change_password(db, principal, values, current_token=token)


def _settings_values(form: dict[str, Any]) -> dict[str, Any]:
    quiet = {"start": form.get("quiet_start", ""), "end": form.get("quiet_end", "")} \
        if form.get("quiet_enabled") in ("on", "true", True) else None  # Reflex sends a ticked box as True
    return {"name": form.get("name", ""), "time_zone": form.get("time_zone", ""), "quiet_hours": quiet}


class ProfileState(AuthState):
    loaded: bool = False
    name: str = ""
    time_zone: str = "UTC"
    quiet_enabled: bool = False
    quiet_start: str = "22:00"
    quiet_end: str = "07:00"
    contacts: list[ContactRow] = []
    rules: list[RuleRow] = []
    sessions: list[SessionRow] = []
    api_keys: list[KeyRow] = []
    contact_error: str = ""
    test_result: str = ""
    test_error: str = ""
    rule_error: str = ""
    settings_error: str = ""
    settings_saved: str = ""
    password_error: str = ""
    password_saved: str = ""
    key_error: str = ""
    new_key: str = ""  # a key just created, shown once; cleared by the next load or "I have copied it"

    @rx.var
    def can_edit(self) -> bool:
        return self.user_role in ("responder", "admin")

    async def _refresh(self) -> None:
        found = await asyncio.to_thread(_snapshot, actor(), self._session_token())
        self.name, self.time_zone = found.name, found.time_zone
        self.quiet_enabled = found.quiet_hours is not None
        if found.quiet_hours:
            self.quiet_start, self.quiet_end = found.quiet_hours["start"], found.quiet_hours["end"]
        self.contacts, self.rules = found.contacts, found.rules
        self.sessions, self.api_keys = found.sessions, found.keys

    @rx.event
    @guarded(Permission.READ)
    async def load(self):
        # Forms take their defaults when they mount: unmount them until the values are in.
        self.loaded = False
        self.new_key = ""
        self.contact_error = self.test_result = self.test_error = self.rule_error = ""
        self.settings_error = self.settings_saved = self.password_error = self.password_saved = self.key_error = ""
        yield
        await self._refresh()
        self.loaded = True

    # --- contact methods and rules ---------------------------------------------------------------------------

    @rx.event
    @guarded(Permission.OWN_PROFILE)
    async def add_contact(self, form: dict):
        principal = actor()
        if not await attempt(self, "contact_error", contacts.create_contact_method, principal.user_id,
                             contact_values(form)):
            return
        await self._refresh()
        return rx.toast.success("Contact method added")

    @rx.event
    @guarded(Permission.OWN_PROFILE)
    async def set_contact_enabled(self, contact_id: int, enabled: bool):
        principal = actor()
        if not await attempt(self, "contact_error", contacts.update_contact_method, principal.user_id, contact_id,
                             {"enabled": enabled}):
            return
        await self._refresh()

    @rx.event
    @guarded(Permission.OWN_PROFILE)
    async def delete_contact(self, contact_id: int):
        principal = actor()
        if not await attempt(self, "contact_error", contacts.delete_contact_method, principal.user_id, contact_id):
            return
        await self._refresh()

    @rx.event
    @guarded(Permission.OWN_PROFILE)
    async def send_test(self, contact_id: int):
        principal = actor()
        self.test_result = self.test_error = ""
        yield
        try:
            await asyncio.to_thread(profile.send_test_message, principal, principal.user_id, contact_id)
        except AdminError as exc:
            self.test_error = exc.message
            return
        self.test_result = "Test message sent. Check that it arrived."

    @rx.event
    @guarded(Permission.OWN_PROFILE)
    async def add_rule(self, form: dict):
        principal = actor()
        values = {"contact_method_id": form.get("contact_method_id") or 0,
                  "delay_minutes": form.get("delay_minutes") or 0, "urgency": form.get("urgency", "any"),
                  "fallthrough_seconds": form.get("fallthrough_seconds") or None}
        if not await attempt(self, "rule_error", contacts.create_rule, principal.user_id, values):
            return
        await self._refresh()

    @rx.event
    @guarded(Permission.OWN_PROFILE)
    async def delete_rule(self, rule_id: int):
        principal = actor()
        if not await attempt(self, "rule_error", contacts.delete_rule, principal.user_id, rule_id):
            return
        await self._refresh()

    # --- settings and password --------------------------------------------------------------------------------

    @rx.event
    @guarded(Permission.OWN_PROFILE)
    async def save_settings(self, form: dict):
        self.settings_saved = ""
        try:
            user = await admin_call(profile.update_profile, _settings_values(form))
        except AdminError as exc:
            self.settings_error = exc.message
            return
        self.settings_error = ""
        self.settings_saved = "Saved."
        self.user_name = self.name = user.name

    @rx.event
    @guarded(Permission.OWN_ACCOUNT)
    async def change_password(self, form: dict):
        self.password_saved = ""
        if form.get("new_password", "") != form.get("confirm_password", ""):
            self.password_error = "The new passwords do not match."
            return
        values = {"current_password": form.get("current_password", ""), "new_password": form.get("new_password", "")}
        try:
            ended = await asyncio.to_thread(_change_password, actor(), values, self._session_token())
        except AdminError as exc:
            self.password_error = exc.message
            return
        self.password_error = ""
        others = f" {ended} other session{'s' if ended != 1 else ''} signed out." if ended else ""
        self.password_saved = "Password changed." + others
        await self._refresh()

    # --- sessions ----------------------------------------------------------------------------------------------

    @rx.event
    @guarded(Permission.OWN_ACCOUNT)
    async def end_session(self, session_id: int):
        try:
            await admin_call(profile.end_session, session_id)
        except AdminError as exc:
            return rx.toast.error(exc.message)
        await self._refresh()

    @rx.event
    @guarded(Permission.OWN_ACCOUNT)
    async def sign_out_everywhere(self):
        await admin_call(profile.sign_out_everywhere)
        self._clear()
        return go("/api/session/end")

    # --- API keys ------------------------------------------------------------------------------------------------

    @rx.event
    @guarded(Permission.OWN_PROFILE)
    async def create_key(self, form: dict):
        scopes = ["read", "write"] if form.get("scopes") == "read,write" else ["read"]
        try:
            key, _ = await admin_call(profile.create_api_key, {"name": form.get("name", ""), "scopes": scopes})
        except AdminError as exc:
            self.key_error = exc.message
            return
        self.key_error = ""
        self.new_key = key
        await self._refresh()

    @rx.event
    @guarded(Permission.READ)
    async def forget_new_key(self):
        self.new_key = ""

    @rx.event
    @guarded(Permission.OWN_PROFILE)
    async def revoke_key(self, key_id: int):
        if not await attempt(self, "key_error", profile.revoke_api_key, key_id):
            return
        await self._refresh()
        return rx.toast.success("API key revoked")
