"""Route constants and the navigation the signed-in shell shows. Pages other issues add register here."""

from __future__ import annotations

from dataclasses import dataclass

LOGIN = "/login"
HOME = "/"


@dataclass(frozen=True)
class NavItem:
    label: str
    route: str
    icon: str
    ready: bool  # False: the page is planned but not built yet; the nav shows it greyed out


NAV = (
    NavItem("Incidents", HOME, "siren", True),
    NavItem("On call", "/oncall", "phone-call", False),
    NavItem("Services", "/services", "server", False),
    NavItem("Escalation policies", "/escalation-policies", "list-ordered", False),
    NavItem("Schedules", "/schedules", "calendar-days", True),
    NavItem("Users & teams", "/users", "users", False),
    NavItem("Audit log", "/audit", "scroll-text", False),
    NavItem("My profile", "/profile", "circle-user", False),
)


def safe_next(target: str | None) -> str:
    """A post-login redirect target that stays on this site (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return HOME
    if target.startswith(LOGIN):
        return HOME
    return target
