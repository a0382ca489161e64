"""Rows the profile and users pages show (plain dataclasses built from the admin layer's JSON views), and the
contact-method form's fields as the admin layer takes them."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

CONTACT_KINDS = [("email", "Email"), ("sms", "SMS"), ("whatsapp", "WhatsApp"), ("slack", "Slack")]
ROLES = [("responder", "Responder"), ("viewer", "Viewer"), ("admin", "Admin")]
URGENCIES = [("any", "Any urgency"), ("high", "High urgency"), ("low", "Low urgency")]


def when(value: str | None, missing: str = "never") -> str:
    """An ISO timestamp from the admin layer as "2026-11-27 14:00 UTC" (`missing` when there is none)."""
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M UTC") if value else missing


@dataclasses.dataclass
class UserRow:
    id: int = 0
    name: str = ""
    email: str = ""
    role: str = ""
    status: str = ""
    time_zone: str = ""
    can_sign_in: bool = False


def user_row(view: dict[str, Any]) -> UserRow:
    return UserRow(view["id"], view["name"], view["email"], view["role"], view["status"], view["time_zone"],
                   view["can_sign_in"])


@dataclasses.dataclass
class ContactRow:
    id: int = 0
    kind: str = ""
    label: str = ""
    address: str = ""
    enabled: bool = True
    last_page: str = ""  # "last page 2026-12-06 03:12 UTC, shown" ("" when none yet)


def contact_row(view: dict[str, Any], last: tuple | None = None) -> ContactRow:
    sent, shown = last or (None, None)
    last_page = f"last page {when(sent.isoformat())}" if sent else ""
    if sent and view["kind"] == "push":
        last_page += ", shown" if shown and shown >= sent else ", not shown yet"
    return ContactRow(view["id"], view["kind"], view["label"], view["address"], view["enabled"], last_page)


def contact_values(form: dict[str, Any]) -> dict[str, Any]:
    return {"kind": form.get("kind", ""), "address": form.get("address", ""), "label": form.get("label", "")}
