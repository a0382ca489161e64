"""/incidents/[incident_id]: one incident, live — what every page, SMS, email and push links to.

Loads only what the page shows (`admin.incident_views.get_incident`). Re-reads when a live batch names this
incident (or resyncs), when the tab comes back into view, and on every socket (re)connect.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import reflex as rx

from opsknight.admin import AdminError, NotFound, incident_views
from opsknight.admin import incidents as incident_admin
from opsknight.admin import status_page as status_admin
from opsknight.permissions import Permission
from opsknight.live.pages import LivePage
from opsknight.state.admin_call import admin_call
from opsknight.state.auth import AuthState
from opsknight.state.guard import actor, guarded
from opsknight.state.incident_views import Choice, IncidentRow, act, choices, incident_row, local, now, relative

_ID = re.compile(r"[1-9][0-9]{0,9}")
RAW_SHOWN = 20_000  # characters of a raw payload the page carries (the API has it whole)


@dataclasses.dataclass
class KeyValue:
    key: str = ""
    value: str = ""


@dataclasses.dataclass
class AlertView:
    id: int = 0
    summary: str = ""
    action: str = ""
    severity: str = ""
    source: str = ""
    received: str = ""
    labels: list[KeyValue] = dataclasses.field(default_factory=list)
    annotations: list[KeyValue] = dataclasses.field(default_factory=list)
    links: list[KeyValue] = dataclasses.field(default_factory=list)  # key: text, value: href
    raw: str = ""


@dataclasses.dataclass
class TimelineEntry:
    at: str = ""  # "03:12:05" in the viewer's zone
    day: str = ""  # "Sun 06 Dec"
    ago: str = ""
    kind: str = ""
    message: str = ""
    icon: str = "circle"
    is_note: bool = False


ICONS = {"triggered": "siren", "alert": "bell", "acknowledged": "check", "resolved": "circle-check-big",
         "snoozed": "alarm-clock-off", "escalated": "arrow-up-right", "reassigned": "user-round-pen",
         "notified": "send", "delivery": "send", "delivery_failed": "triangle-alert", "note": "message-square",
         "nobody_on_call": "user-x", "maintenance": "wrench", "policy_applied": "list-ordered",
         "urgency_changed": "gauge", "responders_added": "user-plus", "merged": "merge",
         "status_update": "megaphone"}


@dataclasses.dataclass
class PublicUpdate:
    """One public update as the incident page lists it."""

    status: str = ""
    body: str = ""
    when: str = ""
    author: str = ""


def _pairs(mapping: dict[str, Any]) -> list[KeyValue]:
    def text(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value)

    return [KeyValue(str(k), text(v)[:2000]) for k, v in list(mapping.items())[:100]]


def _alert(view: dict[str, Any], time_zone: str) -> AlertView:
    raw = json.dumps(view["raw"], indent=2, ensure_ascii=False) if view["raw"] is not None else ""
    return AlertView(id=view["id"], summary=view["summary"], action=view["action"], severity=view["severity"] or "",
                     source=view["source"], received=local(view["received_at"], time_zone, "%a %d %b %H:%M:%S"),
                     labels=_pairs(view["labels"]), annotations=_pairs(view["annotations"]),
                     links=[KeyValue(link.get("text") or link["href"], link["href"]) for link in view["links"]
                            if str(link["href"]).startswith(("https://", "http://"))],
                     raw=raw[:RAW_SHOWN])


def _incident_and_public_updates(db, principal, incident_id: int) -> tuple[dict, dict]:
    """What the page shows, read in one transaction: the incident, and its public updates."""
    return (incident_views.get_incident(db, principal, incident_id),
            status_admin.list_status_updates(db, principal, incident_id))


async def _merge_targets() -> list[Choice]:
    found = await admin_call(incident_views.list_incidents, incident_views.IncidentFilter(view="open"), limit=200,
                             with_counts=False)
    return [Choice(str(r["id"]), f"#{r['number']} {r['title'][:80]}") for r in found.rows]


class IncidentState(LivePage, AuthState):
    incident: IncidentRow = IncidentRow()
    missing: str = ""
    status_detail: str = ""
    acknowledged_by: str = ""
    resolved_by: str = ""
    merged_into: str = ""  # "#43" when merged
    merged_into_id: int = 0
    snoozed_until: str = ""
    alert_total: int = 0
    alerts: list[AlertView] = []
    timeline: list[TimelineEntry] = []
    notes_only: bool = False
    users: list[Choice] = []
    schedules: list[Choice] = []
    policies: list[Choice] = []
    open_incidents: list[Choice] = []
    loaded: bool = False
    updated_at: str = ""
    flash: bool = False
    public_title: str = ""
    public_updates: list[PublicUpdate] = []
    on_status_page: bool = False

    def _incident_id(self) -> int | None:
        last = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        return int(last) if _ID.fullmatch(last) and int(last) < 2**31 else None

    async def _reload(self) -> None:
        principal = actor()
        incident_id = self._incident_id()
        try:
            if incident_id is None:
                raise NotFound("No such incident")
            detail, public = await admin_call(_incident_and_public_updates, incident_id)
        except AdminError as exc:
            self.missing, self.loaded = exc.message, True
            return
        at, zone = now(), principal.time_zone
        before = self.incident.status
        self.missing = ""
        self.incident = incident_row(detail, zone, at)
        self.flash = self.loaded and before != self.incident.status
        self.status_detail = self.incident.status_line
        self.acknowledged_by = detail.get("acknowledged_by_name") or ""
        self.resolved_by = detail.get("resolved_by_name") or detail.get("resolved_by_source") or ""
        merged = detail.get("merged_into")
        self.merged_into, self.merged_into_id = (f"#{merged['number']}", merged["id"]) if merged else ("", 0)
        self.snoozed_until = local(detail.get("snoozed_until"), zone, "%a %d %b %H:%M")
        self.alert_total = detail["alert_total"]
        self.alerts = [_alert(a, zone) for a in detail["alerts"]]
        self.timeline = [TimelineEntry(at=local(e["at"], zone, "%H:%M:%S"), day=local(e["at"], zone, "%a %d %b"),
                                       ago=relative(e["at"], at), kind=e["kind"], message=e["message"],
                                       icon=ICONS.get(e["kind"], "circle"), is_note=e["kind"] == "note")
                         for e in reversed(detail["timeline"])]
        self.public_title, self.on_status_page = public["public_title"] or "", public["on_status_page"]
        self.public_updates = [PublicUpdate(u["status"], u["body"], local(u["created_at"], zone, "%a %d %b %H:%M"),
                                            u["author_name"] or "") for u in reversed(public["updates"])]
        self.updated_at = local(at.isoformat(), principal.time_zone, "%H:%M:%S")
        self.loaded = True

    @rx.event
    @guarded(Permission.READ)
    async def load(self):
        self._follow_live()
        self.loaded, self.incident = False, IncidentRow()
        await self._reload()
        if self.can_act and not self.missing:
            found = await choices()
            self.users, self.schedules, self.policies = found["users"], found["schedules"], found["policies"]
            targets = await _merge_targets()
            self.open_incidents = [c for c in targets if c.id != str(self.incident.id)]

    async def _on_live(self, version: int, changed: set[int] | None) -> None:
        if self.loaded and (changed is None or self.incident.id in changed):
            await self._reload()

    @rx.event
    @guarded(Permission.READ)
    async def on_visibility(self, hidden: bool):
        if not hidden and self.loaded:
            await self._reload()

    @rx.event
    @guarded(Permission.READ)
    async def set_notes_only(self, on: bool):
        self.notes_only = bool(on)

    async def _do(self, fn, *args, done: str):
        toast, _ = await act(fn, self.incident.id, *args, done=done)
        await self._reload()
        return toast

    @rx.event
    @guarded(Permission.ACT_ON_INCIDENTS)
    async def acknowledge(self):
        return await self._do(incident_admin.acknowledge, done="Acknowledged: paging stopped")

    @rx.event
    @guarded(Permission.ACT_ON_INCIDENTS)
    async def resolve(self, form: dict):
        return await self._do(incident_admin.resolve, {"note": str(form.get("note", ""))}, done="Resolved")

    @rx.event
    @guarded(Permission.ACT_ON_INCIDENTS)
    async def snooze(self, minutes: int):
        return await self._do(incident_admin.snooze, {"minutes": minutes},
                              done=f"Snoozed for {minutes // 60} h" if minutes % 60 == 0 else f"Snoozed {minutes} min")

    @rx.event
    @guarded(Permission.ACT_ON_INCIDENTS)
    async def snooze_custom(self, form: dict):
        raw = str(form.get("minutes", "")).strip()
        if not raw.isdigit():
            return rx.toast.error("Snooze for a whole number of minutes (1 to 10080)")
        return await self._do(incident_admin.snooze, {"minutes": int(raw)}, done=f"Snoozed {raw} min")

    @rx.event
    @guarded(Permission.ACT_ON_INCIDENTS)
    async def escalate(self):
        return await self._do(incident_admin.escalate, done="Escalated: the next step is being paged")

    @rx.event
    @guarded(Permission.ACT_ON_INCIDENTS)
    async def reassign(self, form: dict):
        return await self._do(incident_admin.reassign, {"user_id": str(form.get("user_id", "")) or 0},
                              done="Reassigned: they are being paged")

    @rx.event
    @guarded(Permission.ACT_ON_INCIDENTS)
    async def add_responder(self, form: dict):
        kind, _, target = str(form.get("target", "")).partition(":")
        return await self._do(incident_admin.add_responders, {"target_type": kind, "target_id": target or 0},
                              done="Responders paged")

    @rx.event
    @guarded(Permission.ACT_ON_INCIDENTS)
    async def change_urgency(self, urgency: str):
        return await self._do(incident_admin.change_urgency, {"urgency": urgency}, done=f"Urgency is now {urgency}")

    @rx.event
    @guarded(Permission.ACT_ON_INCIDENTS)
    async def add_note(self, form: dict):
        return await self._do(incident_admin.add_note, {"body": str(form.get("body", ""))}, done="Note added")

    @rx.event
    @guarded(Permission.ACT_ON_INCIDENTS)
    async def merge(self, form: dict):
        return await self._do(incident_admin.merge, {"into_id": str(form.get("into_id", "")) or 0},
                              done="Merged: its alerts moved, and it is resolved")

    @rx.event
    @guarded(Permission.ACT_ON_INCIDENTS)
    async def post_public_update(self, form: dict):
        data = {"status": str(form.get("status", "")), "body": str(form.get("body", ""))}
        if str(form.get("public_title", "")).strip():
            data["public_title"] = str(form["public_title"])
        try:
            await admin_call(status_admin.post_status_update, self.incident.id, data)
        except AdminError as exc:
            return rx.toast.error(exc.message)
        await self._reload()
        return rx.toast.success("Posted to the status page")
