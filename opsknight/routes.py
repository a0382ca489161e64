"""Route constants and the navigation the signed-in shell shows. Pages other issues add register here."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

LOGIN = "/login"
HOME = "/"
INCIDENTS = "/incidents"
USERS = "/users"
PROFILE = "/profile"
ANALYTICS = "/analytics"
STATUS_ADMIN = "/status-page"  # the components; the public page itself is /status (plain HTML, api.status_page)


@dataclass(frozen=True)
class NavItem:
    label: str
    route: str
    icon: str
    ready: bool  # False: the page is planned but not built yet; the nav shows it greyed out


NAV = (
    NavItem("Incidents", INCIDENTS, "siren", True),
    NavItem("On call", "/oncall", "phone-call", True),
    NavItem("Services", "/services", "server", True),
    NavItem("Escalation policies", "/escalation-policies", "list-ordered", True),
    NavItem("Schedules", "/schedules", "calendar-days", True),
    NavItem("Users", USERS, "users", True),
    NavItem("Teams", "/teams", "users-round", True),
    NavItem("Status page", STATUS_ADMIN, "radio-tower", True),
    NavItem("Analytics", ANALYTICS, "chart-column", True),
    NavItem("Audit log", "/audit", "scroll-text", True),
    NavItem("My profile", PROFILE, "circle-user", True),
)


def login_url(next_path: str | None) -> str:
    """The sign-in page, coming back to `next_path` afterwards."""
    return f"{LOGIN}?next={quote(next_path or HOME)}"


def safe_next(target: str | None) -> str:
    """A post-login redirect target that stays on this site (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return HOME
    if target.startswith(LOGIN):
        return HOME
    return target
