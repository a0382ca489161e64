"""The public status page, for anyone, signed in or not: ``/status`` (server-rendered HTML, no script), the Atom
feed ``/status/history.atom``, and Atlassian Statuspage's public JSON (``/api/v2/summary.json``, ``status.json``,
``components.json``, ``incidents.json``, ``incidents/unresolved.json``) — the shape status widgets and
aggregators already read.

Every answer comes from the cached snapshot (``api.status_cache``): no database read and no rendering per
request once a process holds the current copy, and the common case answers on the event loop without a thread
hop or a Redis call (``status_cache.fast``), from an ASGI middleware ahead of FastAPI's routing. ``ETag`` lets a
reloading browser get a 304; bodies are gzipped once per copy. The JSON may be read from any origin (it is
public), so it says so (CORS).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import jinja2
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from opsknight.api import status_cache
from opsknight.engine import status_page
from opsknight.engine.status_snapshot import PAST_DAYS

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


ROUTES = {  # path -> (body name, renderer, media type, readable from any origin)
    "/status": ("html", render_html, b"text/html; charset=utf-8", False),
    "/status/history.atom": ("atom", render_atom, b"application/atom+xml; charset=utf-8", False),
    "/api/v2/summary.json": ("summary", DOCUMENTS["summary"], b"application/json", True),
    "/api/v2/status.json": ("status", DOCUMENTS["status"], b"application/json", True),
    "/api/v2/components.json": ("components", DOCUMENTS["components"], b"application/json", True),
    "/api/v2/incidents.json": ("incidents", DOCUMENTS["incidents"], b"application/json", True),
    "/api/v2/incidents/unresolved.json": ("unresolved", DOCUMENTS["unresolved"], b"application/json", True),
}


class StatusPage:
    """ASGI middleware that answers the status page's paths before FastAPI routes anything (added last in
    `create_api`, so it runs first): the page is read by everyone at the worst moment, and FastAPI's request
    machinery would cost more than the answer itself. Anything else passes through untouched."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].rstrip("/") not in ROUTES:
            return await self.app(scope, receive, send)
        name, render, media_type, public_api = ROUTES[scope["path"].rstrip("/")]
        headers = [(b"cache-control", b"no-cache"), (b"vary", b"accept-encoding")]  # revalidate: changes show
        if public_api:
            headers.append((b"access-control-allow-origin", b"*"))
        if scope["method"] not in ("GET", "HEAD"):
            return await _send(send, 405, headers + [(b"allow", b"GET, HEAD")], b"")
        try:
            copy = status_cache.fast() or await run_in_threadpool(status_cache.current)
            body = copy.bodies.get(name) or await run_in_threadpool(copy.body, name, render)
        except SQLAlchemyError:  # no copy anywhere and the database is down: say so, do not crash
            return await _send(send, 503, headers + [(b"retry-after", b"5")], b"The status page is unavailable.")
        asked = dict(scope["headers"])
        headers += [(b"etag", body.etag.encode()), (b"content-type", media_type)]
        if asked.get(b"if-none-match") == body.etag.encode():
            return await _send(send, 304, headers, b"")
        content = body.plain
        if b"gzip" in asked.get(b"accept-encoding", b""):
            content = body.gzipped
            headers.append((b"content-encoding", b"gzip"))
        await _send(send, 200, headers, b"" if scope["method"] == "HEAD" else content, len(content))


async def _send(send, status: int, headers: list[tuple[bytes, bytes]], body: bytes, length: int | None = None):
    length = len(body) if length is None else length
    await send({"type": "http.response.start", "status": status,
                "headers": headers + [(b"content-length", str(length).encode())]})
    await send({"type": "http.response.body", "body": body})
