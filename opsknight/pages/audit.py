"""Audit log page (admins): who changed what and when, newest first, filtered by actor, entity type, action and
days (UTC), a page at a time. Reads through `opsknight.admin.audit_log`, like the REST API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import reflex as rx

from opsknight.admin import AdminError, Invalid, audit_log
from opsknight.components.layout import signed_in
from opsknight.components.forms import plain_select
from opsknight.permissions import Permission
from opsknight.state.admin_call import admin_call
from opsknight.state.auth import AuthState
from opsknight.state.guard import guarded

PAGE_SIZE = 50
CHANGES_SHOWN = 300  # characters of the changes JSON in the table


@dataclass
class AuditRow:
    id: int
    at: str
    actor: str
    action: str
    entity: str
    changes: str


@dataclass
class Choice:
    value: str
    label: str


def _row(entry: dict) -> AuditRow:
    actor = entry["actor"]
    who = actor["name"] or (f"API key {actor['api_key_id']}" if actor["api_key_id"] else "system")
    if actor["name"] and actor["api_key_id"]:
        who += " (API key)"
    changes = json.dumps(entry["changes"], ensure_ascii=False, separators=(", ", ": "))
    at = datetime.fromisoformat(entry["at"]).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return AuditRow(entry["id"], at, who, entry["action"], f"{entry['entity_type']} {entry['entity_id']}",
                    changes if len(changes) <= CHANGES_SHOWN else changes[:CHANGES_SHOWN] + "…")


def _day_start(text: str, field: str, days_after: int = 0) -> str | None:
    """A form's "YYYY-MM-DD" as the UTC instant that day (or `days_after` days later) starts."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{field}: not a date", [f"{field}: not a date"]) from None
    return (datetime.combine(day, time(), UTC) + timedelta(days=days_after)).isoformat()


class AuditState(AuthState):
    entries: list[AuditRow] = []
    next_cursor: int = 0  # 0: no more pages
    actors: list[Choice] = []
    entity_types: list[str] = []
    filters: dict[str, str] = {}
    error: str = ""

    async def _fetch(self, cursor: int | None) -> None:
        f = self.filters
        query = {"actor_user_id": f.get("actor") or None, "entity_type": f.get("entity_type") or None,
                 "action": f.get("action", "").strip() or None, "since": _day_start(f.get("since", ""), "since"),
                 "until": _day_start(f.get("until", ""), "until", days_after=1), "limit": PAGE_SIZE,
                 "cursor": cursor}
        data, next_cursor = await admin_call(audit_log.query, query)
        self.entries = ([] if cursor is None else self.entries) + [_row(e) for e in data]
        self.next_cursor = next_cursor or 0

    @rx.event
    @guarded(Permission.READ_AUDIT)
    async def load(self):
        choices = await admin_call(audit_log.filter_choices)
        self.actors = [Choice(str(a["user_id"]), f"{a['name']} ({a['email']})") for a in choices["actors"]]
        self.entity_types = choices["entity_types"]
        self.filters, self.error = {}, ""
        await self._fetch(None)

    @rx.event
    @guarded(Permission.READ_AUDIT)
    async def apply_filters(self, form: dict):
        self.filters = {k: str(v) for k, v in form.items()}
        self.error = ""
        try:
            await self._fetch(None)
        except AdminError as exc:
            self.entries, self.next_cursor, self.error = [], 0, exc.message

    @rx.event
    @guarded(Permission.READ_AUDIT)
    async def load_more(self):
        if self.next_cursor:
            await self._fetch(self.next_cursor)


# --- the page ------------------------------------------------------------------------------------------------------

def _filters() -> rx.Component:
    return rx.form(
        rx.hstack(
            plain_select(rx.el.option("Anyone", value=""),
                         rx.foreach(AuditState.actors, lambda a: rx.el.option(a.label, value=a.value)),
                         name="actor", id="filter-actor"),
            plain_select(rx.el.option("Any entity", value=""),
                         rx.foreach(AuditState.entity_types, lambda t: rx.el.option(t, value=t)),
                         name="entity_type", id="filter-entity-type"),
            rx.input(name="action", placeholder="Action, e.g. team.create", id="filter-action"),
            rx.text("From", size="2"), rx.input(name="since", type="date", id="filter-since"),
            rx.text("to", size="2"), rx.input(name="until", type="date", id="filter-until"),
            rx.text("(UTC)", size="1", color_scheme="gray"),
            rx.button(rx.icon("filter", size=16), "Filter", type="submit", id="apply-filters"),
            wrap="wrap", align="center",
        ),
        on_submit=AuditState.apply_filters, reset_on_submit=False,
    )


def _table() -> rx.Component:
    def row(entry: AuditRow) -> rx.Component:
        return rx.table.row(
            rx.table.cell(entry.at, white_space="nowrap"),
            rx.table.cell(entry.actor),
            rx.table.cell(rx.code(entry.action)),
            rx.table.cell(entry.entity),
            rx.table.cell(rx.text(entry.changes, size="1", font_family="monospace", word_break="break-all")),
            class_name="audit-row",
        )

    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                       ("Time", "Actor", "Action", "Entity", "Changes")])),
        rx.table.body(rx.foreach(AuditState.entries, row)),
        width="100%", id="audit-table",
    )


def _content() -> rx.Component:
    return rx.vstack(
        _filters(),
        rx.cond(AuditState.error != "", rx.callout(AuditState.error, icon="triangle-alert", color_scheme="red",
                                                   role="alert", id="audit-error", width="100%")),
        _table(),
        rx.cond(AuditState.entries.length() == 0, rx.text("No entries match.", color_scheme="gray")),
        rx.cond(AuditState.next_cursor != 0, rx.button("Older entries", on_click=AuditState.load_more,
                                                       variant="soft", id="audit-more")),
        spacing="3", width="100%",
    )


@signed_in
def audit_page() -> rx.Component:
    return rx.vstack(
        rx.heading("Audit log", size="7", id="page-title"),
        rx.cond(AuthState.is_admin, _content(),
                rx.callout("Only admins can read the audit log.", icon="lock", id="audit-admin-only")),
        spacing="4", width="100%",
    )
