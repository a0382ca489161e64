"""Reflex configuration. OpsKnight's own settings live in opsknight/config.py (OPSKNIGHT_* variables).

OpsKnight always serves the frontend and the backend on one port (OPSKNIGHT_PORT, default 3000), so the
API/websocket URL is the site's own base URL and the websocket only accepts that origin.
"""

import os

import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

_port = int(os.environ.get("OPSKNIGHT_PORT", "3000"))
_base_url = os.environ.get("OPSKNIGHT_BASE_URL", f"http://localhost:{_port}").rstrip("/")
_origins = {_base_url}
if "://localhost" in _base_url or "://127.0.0.1" in _base_url:  # a local run answers to both names
    _origins |= {f"http://localhost:{_port}", f"http://127.0.0.1:{_port}"}

# A backend-only run (`reflex run --backend-only` with REFLEX_BACKEND_ONLY=true: the live-path tests and
# bench/live.py, which speak the websocket protocol and need no frontend build) must name no frontend port.
_backend_only = os.environ.get("REFLEX_BACKEND_ONLY", "").lower() in ("1", "true", "yes")

config = rx.Config(
    app_name="opsknight",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    frontend_port=None if _backend_only else _port,
    backend_port=_port,
    api_url=_base_url,
    deploy_url=_base_url,
    cors_allowed_origins=sorted(_origins),
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", radius="medium"))],
    disable_plugins=[SitemapPlugin],
)
