"""The signed-in shell: sidebar navigation, the user's menu, and the login guard around page content."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from opsknight import routes
from opsknight.state.auth import AuthState


def _nav_item(item: routes.NavItem) -> rx.Component:
    row = rx.hstack(rx.icon(item.icon, size=18), rx.text(item.label, size="2"), spacing="3", align="center",
                    padding_x="12px", padding_y="8px", border_radius="8px", width="100%")
    if not item.ready:
        return rx.box(row, opacity="0.45", title="Coming soon", cursor="not-allowed")
    return rx.link(row, href=item.route, underline="none", color_scheme="gray", high_contrast=True,
                   _hover={"background": rx.color("gray", 3)}, border_radius="8px", width="100%")


def sidebar() -> rx.Component:
    return rx.vstack(
        rx.hstack(rx.icon("shield", size=22, color=rx.color("accent", 9)), rx.heading("OpsKnight", size="4"),
                  align="center", spacing="2", padding="12px"),
        rx.vstack(*[_nav_item(item) for item in routes.NAV], spacing="1", width="100%"),
        rx.spacer(),
        rx.vstack(
            rx.text(AuthState.user_name, weight="bold", size="2", id="signed-in-name"),
            rx.text(AuthState.user_email, size="1", color_scheme="gray"),
            rx.badge(AuthState.user_role, variant="soft"),
            rx.button(rx.icon("log-out", size=16), "Sign out", on_click=AuthState.logout, variant="soft",
                      color_scheme="gray", width="100%", id="logout-button"),
            spacing="2", padding="12px", width="100%",
        ),
        width="240px", min_width="240px", height="100vh", position="sticky", top="0",
        border_right=f"1px solid {rx.color('gray', 5)}", background=rx.color("gray", 2),
    )


def signed_in(page: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
    """Wrap a page in the shell; nothing of it renders until the server has confirmed the session."""

    def wrapped() -> rx.Component:
        return rx.cond(
            AuthState.is_authenticated,
            rx.hstack(sidebar(), rx.box(page(), padding="24px", width="100%"), spacing="0", align="start"),
            rx.center(rx.spinner(size="3"), height="100vh"),
        )

    wrapped.__name__ = page.__name__
    return wrapped
