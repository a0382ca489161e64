"""Incidents home page. The live incident feed is built by its own issue; this shows the open counts."""

from __future__ import annotations

import asyncio

import reflex as rx
from sqlmodel import func, select

from opsknight.components.layout import signed_in
from opsknight.db import session_scope
from opsknight.models import Incident
from opsknight.permissions import Permission
from opsknight.state.auth import AuthState
from opsknight.state.guard import guarded


def _open_counts() -> dict[str, int]:
    with session_scope() as db:
        rows = db.exec(select(Incident.status, func.count()).group_by(Incident.status)).all()
    return {status: count for status, count in rows}


class IncidentsState(AuthState):
    triggered: int = 0
    acknowledged: int = 0
    resolved: int = 0

    @rx.event
    @guarded(Permission.READ)
    async def load(self):
        counts = await asyncio.to_thread(_open_counts)
        self.triggered = counts.get("triggered", 0)
        self.acknowledged = counts.get("acknowledged", 0)
        self.resolved = counts.get("resolved", 0)


def _stat(label: str, value, color: str) -> rx.Component:
    return rx.card(rx.vstack(rx.text(label, size="2", color_scheme="gray"),
                             rx.heading(value, size="8", color_scheme=color), spacing="1"), min_width="180px")


@signed_in
def incidents_page() -> rx.Component:
    return rx.vstack(
        rx.heading("Incidents", size="7", id="page-title"),
        rx.hstack(_stat("Triggered", IncidentsState.triggered, "red"),
                  _stat("Acknowledged", IncidentsState.acknowledged, "amber"),
                  _stat("Resolved", IncidentsState.resolved, "green"), spacing="4", wrap="wrap"),
        spacing="5",
    )
