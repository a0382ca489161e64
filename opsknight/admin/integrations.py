"""Integrations of a service: create (the token is returned once, only its digest is kept), rename, enable or
disable, rotate the token, set or clear the HMAC secret, options, delete — each change audited. Reads never
include the token digest or the HMAC secret (`has_hmac_secret` says whether there is one).

`snippet()` renders the copy-paste configuration for each sender, with the URLs the webhook routes serve
(`opsknight/api/webhooks/`).
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlmodel import Session, select

from opsknight import integrations
from opsknight.accounts import Principal
from opsknight.admin import Invalid, NotFound, audit, authorize, parse
from opsknight.admin.fields import Name
from opsknight.admin.services import load as load_service
from opsknight.config import settings
from opsknight.engine import clock
from opsknight.models import Integration, SourceType
from opsknight.permissions import Permission

GROUPING_SOURCES = frozenset({SourceType.PROMETHEUS, SourceType.GRAFANA})  # Alertmanager-shaped payloads
HeartbeatInterval = Annotated[int, Field(ge=30, le=30 * 86400, description="seconds without a ping")]
# Printable ASCII without spaces: the secret is typed into other tools' settings and used as HMAC key bytes.
HmacSecret = Annotated[str, StringConstraints(min_length=16, max_length=255, pattern=r"^[\x21-\x7e]+$")]


class IntegrationOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    group_by: Literal["fingerprint", "group_key"] = Field(
        "fingerprint", description="Alertmanager/Grafana: one incident per alert (fingerprint) or per group")


class IntegrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source_type: Literal["prometheus", "grafana", "datadog", "events_v2", "generic", "heartbeat"]
    name: Name | None = None
    heartbeat_interval_seconds: HeartbeatInterval | None = None
    options: IntegrationOptions | None = None
    with_hmac_secret: bool = Field(False, description="generate an HMAC secret, returned once")


class IntegrationUpdate(BaseModel):
    """Only the fields sent change; `hmac_secret: null` removes the signature requirement."""

    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    enabled: bool | None = None
    hmac_secret: HmacSecret | None = None
    options: IntegrationOptions | None = None
    heartbeat_interval_seconds: HeartbeatInterval | None = None


def new_hmac_secret() -> str:
    return secrets.token_hex(32)


def endpoint(integration: Integration, base_url: str | None = None) -> str:
    """The URL this integration's sender posts to."""
    base = (base_url or settings().base_url).rstrip("/")
    if integration.source_type == SourceType.EVENTS_V2:
        return f"{base}/api/v2/enqueue"
    if integration.source_type == SourceType.HEARTBEAT:
        return f"{base}/api/webhooks/heartbeat/{integration.id}"
    return f"{base}/api/webhooks/{integration.source_type}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def view(integration: Integration) -> dict[str, Any]:
    """What reads show of an integration: never the token digest nor the HMAC secret."""
    return {
        "id": integration.id, "service_id": integration.service_id, "name": integration.name,
        "source_type": integration.source_type, "enabled": integration.enabled,
        "token_prefix": integration.token_prefix, "has_hmac_secret": bool(integration.hmac_secret),
        "options": dict(integration.options or {}),
        "heartbeat_interval_seconds": integration.heartbeat_interval_seconds,
        "endpoint": endpoint(integration), "last_heartbeat_at": _iso(integration.last_heartbeat_at),
        "last_used_at": _iso(integration.last_used_at), "created_at": _iso(integration.created_at),
    }


def snapshot(integration: Integration) -> dict[str, Any]:
    """The audited fields (the secret only as "changed"; audit masks it)."""
    return {"name": integration.name, "enabled": integration.enabled, "options": dict(integration.options or {}),
            "heartbeat_interval_seconds": integration.heartbeat_interval_seconds,
            "hmac_secret": integration.hmac_secret, "has_hmac_secret": bool(integration.hmac_secret)}


def load(db: Session, integration_id: int, *, lock: bool = False) -> Integration:
    query = select(Integration).where(Integration.id == integration_id)
    integration = db.exec(query.with_for_update(key_share=True) if lock else query).first()
    if integration is None:
        raise NotFound(f"No integration {integration_id}")
    return integration


def _check_fits(source_type: str, options: IntegrationOptions | None, interval: int | None) -> None:
    problems = []
    if options is not None and source_type not in GROUPING_SOURCES:
        problems.append("options: only prometheus and grafana integrations take options")
    if source_type == SourceType.HEARTBEAT and interval is None:
        problems.append("heartbeat_interval_seconds: a heartbeat integration needs an interval (30 s or more)")
    if source_type != SourceType.HEARTBEAT and interval is not None:
        problems.append("heartbeat_interval_seconds: only heartbeat integrations have an interval")
    if problems:
        raise Invalid("; ".join(problems), problems)


def list_integrations(db: Session, actor: Principal | None, service_id: int) -> list[dict[str, Any]]:
    authorize(actor, Permission.READ)
    load_service(db, service_id)
    rows = db.exec(select(Integration).where(Integration.service_id == service_id).order_by(Integration.id)).all()
    return [view(i) for i in rows]


def get_integration(db: Session, actor: Principal | None, integration_id: int) -> dict[str, Any]:
    authorize(actor, Permission.READ)
    return view(load(db, integration_id))


def _with_token(integration: Integration, token: str) -> dict[str, Any]:
    return {**view(integration), "token": token,
            "snippet": snippet(integration.source_type, settings().base_url, token, integration.id,
                               signed=bool(integration.hmac_secret))}


def create_integration(db: Session, actor: Principal | None, service_id: int,
                       data: dict | IntegrationCreate) -> dict[str, Any]:
    """Create an integration; the answer carries its token and config snippet (and generated HMAC secret) once."""
    body = parse(IntegrationCreate, data)
    actor = authorize(actor, Permission.CONFIGURE)
    _check_fits(body.source_type, body.options, body.heartbeat_interval_seconds)
    service = load_service(db, service_id)
    try:
        token, row = integrations.create_integration(
            db, service, source_type=body.source_type, name=body.name or "", with_hmac=body.with_hmac_secret,
            options=body.options.model_dump() if body.options else None,
            heartbeat_interval_seconds=body.heartbeat_interval_seconds)
    except integrations.IntegrationError as exc:
        raise Invalid(str(exc)) from None
    audit.record(db, actor, "integration.create", "integration", row.id,
                 {"service_id": service.id, "source_type": row.source_type,
                  **audit.changes_between({}, snapshot(row))})
    answer = _with_token(row, token)
    if row.hmac_secret:
        answer["hmac_secret"] = row.hmac_secret
    return answer


def update_integration(db: Session, actor: Principal | None, integration_id: int,
                       data: dict | IntegrationUpdate) -> dict[str, Any]:
    body = parse(IntegrationUpdate, data)
    actor = authorize(actor, Permission.CONFIGURE)
    sent = body.model_fields_set
    nulls = [f"{name}: must not be null" for name in ("name", "enabled")
             if name in sent and getattr(body, name) is None]
    if nulls:
        raise Invalid("; ".join(nulls), nulls)
    integration = load(db, integration_id, lock=True)
    options = body.options if "options" in sent else None
    interval = body.heartbeat_interval_seconds if "heartbeat_interval_seconds" in sent else None
    if options is not None or interval is not None:
        _check_fits(integration.source_type, options, interval or integration.heartbeat_interval_seconds)
    if "heartbeat_interval_seconds" in sent and interval is None and integration.source_type == SourceType.HEARTBEAT:
        raise Invalid("heartbeat_interval_seconds: a heartbeat integration needs an interval",
                      ["heartbeat_interval_seconds: must not be null"])
    before = snapshot(integration)
    if "name" in sent:
        integration.name = body.name
    if "enabled" in sent:
        if body.enabled and not integration.enabled and integration.source_type == SourceType.HEARTBEAT:
            # Start the interval afresh: pings missed while it was disabled must not open an incident at once.
            integration.last_heartbeat_at = clock.now()
        integration.enabled = body.enabled
    if "hmac_secret" in sent:
        integration.hmac_secret = body.hmac_secret
    if "options" in sent:
        integration.options = options.model_dump() if options else {}
    if interval is not None:
        integration.heartbeat_interval_seconds = interval
    changes = audit.changes_between(before, snapshot(integration))
    if changes:
        db.add(integration)
        db.flush()
        audit.record(db, actor, "integration.update", "integration", integration.id, changes)
    return view(integration)


def rotate_token(db: Session, actor: Principal | None, integration_id: int) -> dict[str, Any]:
    """Replace the token (the old one stops working at once); the answer carries the new one, once."""
    actor = authorize(actor, Permission.CONFIGURE)
    integration = load(db, integration_id, lock=True)
    old_prefix = integration.token_prefix
    token = integrations.rotate_token(db, integration)
    audit.record(db, actor, "integration.rotate_token", "integration", integration.id,
                 {"token": "rotated", "token_prefix": [old_prefix, integration.token_prefix]})
    return _with_token(integration, token)


def delete_integration(db: Session, actor: Principal | None, integration_id: int) -> None:
    actor = authorize(actor, Permission.CONFIGURE)
    integration = load(db, integration_id, lock=True)
    before = {"service_id": integration.service_id, "source_type": integration.source_type, **snapshot(integration)}
    db.delete(integration)
    db.flush()
    audit.record(db, actor, "integration.delete", "integration", integration_id, audit.changes_between(before, {}))


# --- configuration snippets ----------------------------------------------------------------------------------------

_DATADOG_PAYLOAD = {
    "alert_id": "$ALERT_ID", "alert_cycle_key": "$ALERT_CYCLE_KEY", "alert_transition": "$ALERT_TRANSITION",
    "alert_priority": "$ALERT_PRIORITY", "title": "$ALERT_TITLE", "body": "$EVENT_MSG", "hostname": "$HOSTNAME",
    "link": "$LINK", "tags": "$TAGS", "date": "$DATE", "org": {"id": "$ORG_ID", "name": "$ORG_NAME"},
}


def _alertmanager(url: str, token: str) -> str:
    return f"""# alertmanager.yml: add this receiver and route alerts to it (route: {{receiver: opsknight}})
receivers:
  - name: opsknight
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization:
            credentials: {token}
"""


def _grafana(url: str, token: str) -> str:
    return f"""Grafana: Alerting > Contact points > Add contact point > Integration: Webhook
  URL:                                {url}
  HTTP Method:                        POST
  Authorization Header - Scheme:      Bearer
  Authorization Header - Credentials: {token}

# or provision it (provisioning/alerting/opsknight.yaml):
apiVersion: 1
contactPoints:
  - orgId: 1
    name: opsknight
    receivers:
      - uid: opsknight
        type: webhook
        settings:
          url: {url}
          httpMethod: POST
          authorization_scheme: Bearer
          authorization_credentials: {token}
"""


def _datadog(url: str, token: str) -> str:
    headers = json.dumps({"Authorization": f"Bearer {token}"})
    payload = json.dumps(_DATADOG_PAYLOAD, indent=2)
    return f"""Datadog: Integrations > Webhooks > New webhook
  URL:            {url}
  Custom Headers: {headers}
  Payload:
{payload}

Then mention @webhook-<name> in your monitors' messages.
"""


def _events_v2(url: str, token: str) -> str:
    event = json.dumps({"routing_key": token, "event_action": "trigger", "dedup_key": "db-01/disk",
                        "payload": {"summary": "Disk 93% full on db-01", "source": "db-01", "severity": "critical"}})
    return f"""PagerDuty Events API v2 compatible
  Events URL:  {url}
  Routing key: {token}

curl -sS -X POST {url} -H 'Content-Type: application/json' \\
  -d '{event}'
"""


def _generic(url: str, token: str) -> str:
    alert = json.dumps({"summary": "Disk 93% full on db-01", "severity": "critical", "action": "trigger",
                        "dedup_key": "db-01/disk", "source": "db-01"})
    return f"""curl -sS -X POST {url} \\
  -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\
  -d '{alert}'
# "action": "resolve" with the same dedup_key resolves it; send an array to post up to 100 alerts at once.
"""


def _heartbeat(url: str, token: str) -> str:
    ping = f"{url}?token={token}"
    return f"""Ping URL (GET or POST), at least once per interval:
  {ping}

# crontab: every 5 minutes
*/5 * * * * curl -fsS '{ping}' > /dev/null
"""


def _signing_note(source_type: str) -> str:
    if source_type in (SourceType.PROMETHEUS, SourceType.DATADOG):
        return ("\n# This integration requires an HMAC signature, which this sender cannot add: clear the secret, or "
                "sign through a proxy (X-OpsKnight-Signature: sha256=<hex HMAC-SHA256 of the body>).\n")
    if source_type == SourceType.GRAFANA:
        return ("\n# Signed: in the contact point's optional settings, HMAC Signature > Secret = this integration's "
                "HMAC secret\n# (header X-Grafana-Alerting-Signature, timestamp header "
                "X-Grafana-Alerting-Signature-Timestamp).\n")
    return ("\n# Signed: add -H \"X-OpsKnight-Signature: sha256=$(printf %s \"$BODY\" | openssl dgst -sha256 -hmac "
            "\"$HMAC_SECRET\" -r | cut -d' ' -f1)\"\n# where $BODY is exactly the body you send.\n")


_RENDERERS = {SourceType.PROMETHEUS: _alertmanager, SourceType.GRAFANA: _grafana, SourceType.DATADOG: _datadog,
              SourceType.EVENTS_V2: _events_v2, SourceType.GENERIC: _generic, SourceType.HEARTBEAT: _heartbeat}


def snippet(source_type: str, base_url: str, token: str, integration_id: int, *, signed: bool = False) -> str:
    """Copy-paste configuration for the sender of `source_type`, posting to `base_url` with `token`; `signed`:
    the integration has an HMAC secret, so say how to sign (never the secret itself)."""
    url = endpoint(Integration(id=integration_id, source_type=source_type), base_url)
    text = _RENDERERS[SourceType(source_type)](url, token)
    return text + _signing_note(source_type) if signed else text
