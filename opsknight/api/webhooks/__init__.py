"""Inbound alert endpoints: one router per sender family, sharing `common`."""

from opsknight.api.webhooks import alerting, events_v2, heartbeat

routers = (alerting.router, events_v2.router, heartbeat.router)
