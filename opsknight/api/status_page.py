"""The public status page, for anyone, signed in or not: ``/status`` (server-rendered HTML, no script), the Atom
feed ``/status/history.atom``, and Atlassian Statuspage's public JSON (``/api/v2/summary.json``, ``status.json``,
``components.json``, ``incidents.json``, ``incidents/unresolved.json``) — the shape status widgets and
aggregators already read.

Every answer comes from the cached snapshot (``api.status_cache``): no database read and no rendering per
request once a process holds the current copy. ``ETag`` lets a reloading browser get a 304. The JSON may be read
from any origin (it is public), so it says so (CORS).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import jinja2
from fastapi import APIRouter, Request, Response

from opsknight.api import status_cache
from opsknight.engine import status_page
from opsknight.engine.status_snapshot import PAST_DAYS

router = APIRouter(tags=["status page"])

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,  # component names, public titles and updates are typed by people: always escaped
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters["when"] = lambda value: (
    datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%-d %b %Y, %H:%M UTC") if value else "")

ATOM = "http://www.w3.org/2005/Atom"


def _unresolved(data: dict[str, Any]) -> list[dict]:
    return [i for i in data["incidents"] if i["status"] != "resolved"]


def render_html(data: dict[str, Any]) -> bytes:
    statuses = [c["status"] for c in data["components"]]
    return _templates.get_template("status.html").render(
        page=data["page"], status=data["status"], components=data["components"], history=data["history"],
        active=_unresolved(data), past=[i for i in data["incidents"] if i["status"] == "resolved"],
        past_days=PAST_DAYS, labels=status_page.DAY_LABELS, worst=status_page.worst(statuses),
    ).encode()


def _json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


DOCUMENTS = {
    "summary": lambda d: _json({"page": d["page"], "components": d["components"], "incidents": _unresolved(d),
                                "scheduled_maintenances": [], "status": d["status"]}),
    "status": lambda d: _json({"page": d["page"], "status": d["status"]}),
    "components": lambda d: _json({"page": d["page"], "components": d["components"]}),
    "incidents": lambda d: _json({"page": d["page"], "incidents": d["incidents"]}),
    "unresolved": lambda d: _json({"page": d["page"], "incidents": _unresolved(d)}),
}


def render_atom(data: dict[str, Any]) -> bytes:
    """Incident history as Atom: one entry per incident, its updates as the content (ElementTree escapes)."""
    feed = ET.Element("feed", xmlns=ATOM)
    ET.SubElement(feed, "id").text = data["page"]["url"]
    ET.SubElement(feed, "title").text = f"{data['page']['name']} incident history"
    ET.SubElement(feed, "updated").text = data["page"]["updated_at"]
    ET.SubElement(feed, "link", href=data["page"]["url"], rel="alternate", type="text/html")
    for incident in data["incidents"]:
        entry = ET.SubElement(feed, "entry")
        ET.SubElement(entry, "id").text = incident["shortlink"]
        ET.SubElement(entry, "title").text = f"{incident['name']} ({incident['status']})"
        ET.SubElement(entry, "updated").text = incident["updated_at"]
        ET.SubElement(entry, "published").text = incident["created_at"]
        ET.SubElement(entry, "link", href=incident["shortlink"], rel="alternate", type="text/html")
        lines = [f"{u['status'].capitalize()} ({u['created_at']}): {u['body']}" for u in incident["incident_updates"]]
        ET.SubElement(entry, "content", type="text").text = "\n\n".join(lines) or incident["status"].capitalize()
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _answer(request: Request, name: str, render, media_type: str, public_api: bool = False) -> Response:
    body, etag = status_cache.current().body(name, render)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}  # revalidate each time: a change shows on reload
    if public_api:
        headers["Access-Control-Allow-Origin"] = "*"
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@router.get("/status", include_in_schema=False)
def status_html(request: Request) -> Response:
    return _answer(request, "html", render_html, "text/html; charset=utf-8")


@router.get("/status/history.atom", include_in_schema=False)
def status_feed(request: Request) -> Response:
    return _answer(request, "atom", render_atom, "application/atom+xml; charset=utf-8")


def _json_route(path: str, name: str, summary: str) -> None:
    def route(request: Request) -> Response:
        return _answer(request, name, DOCUMENTS[name], "application/json", public_api=True)

    router.add_api_route(path, route, methods=["GET"], summary=summary, name=f"status_{name}")


_json_route("/api/v2/summary.json", "summary", "Status page summary: page, components, unresolved incidents, status")
_json_route("/api/v2/status.json", "status", "Status page overall status")
_json_route("/api/v2/components.json", "components", "Status page components")
_json_route("/api/v2/incidents.json", "incidents", "The 50 most recent public incidents")
_json_route("/api/v2/incidents/unresolved.json", "unresolved", "Unresolved public incidents")
