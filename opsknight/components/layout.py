"""The signed-in shell: navigation, the user's menu, dark mode, and the login guard around page content.

On a wide screen the navigation is a sidebar; below the `md` breakpoint (768 px) it folds into a top bar with a
menu button that opens it as a drawer, so a page gets the whole width of a phone.
"""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from opsknight import routes
from opsknight.state.auth import AuthState


def _nav_item(item: routes.NavItem) -> rx.Component:
    row = rx.hstack(rx.icon(item.icon, size=18), rx.text(item.label, size="2"), spacing="3", align="center",
                    padding_x="12px", padding_y="10px", border_radius="8px", width="100%")
    if not item.ready:
        return rx.box(row, opacity="0.45", title="Coming soon", cursor="not-allowed")
    return rx.link(row, href=item.route, underline="none", color_scheme="gray", high_contrast=True,
                   _hover={"background": rx.color("gray", 3)}, border_radius="8px", width="100%")


def _brand() -> rx.Component:
    return rx.hstack(rx.icon("shield", size=22, color=rx.color("accent", 9)), rx.heading("OpsKnight", size="4"),
                     align="center", spacing="2")


def _account() -> rx.Component:
    return rx.vstack(
        rx.text(AuthState.user_name, weight="bold", size="2", id="signed-in-name"),
        rx.text(AuthState.user_email, size="1", color_scheme="gray"),
        rx.hstack(rx.badge(AuthState.user_role, variant="soft"), rx.spacer(),
                  rx.color_mode.button(size="1", variant="ghost", id="color-mode"), width="100%", align="center"),
        rx.button(rx.icon("log-out", size=16), "Sign out", on_click=AuthState.logout, variant="soft",
                  color_scheme="gray", width="100%", id="logout-button"),
        spacing="2", padding="12px", width="100%",
    )


def _nav() -> rx.Component:
    return rx.vstack(*[_nav_item(item) for item in routes.NAV], spacing="1", width="100%")


def sidebar() -> rx.Component:
    return rx.vstack(
        rx.box(_brand(), padding="12px"),
        _nav(),
        rx.spacer(),
        _account(),
        width="240px", min_width="240px", height="100vh", position="sticky", top="0",
        border_right=f"1px solid {rx.color('gray', 5)}", background=rx.color("gray", 2),
        display=rx.breakpoints(initial="none", md="flex"), id="sidebar",
    )


def top_bar() -> rx.Component:
    """Phones: the brand and a menu button; the menu is the sidebar's content in a drawer."""
    return rx.hstack(
        rx.drawer.root(
            rx.drawer.trigger(rx.icon_button(rx.icon("menu", size=22), variant="ghost", size="3",
                                             aria_label="Menu", id="menu-button")),
            rx.drawer.overlay(z_index="40"),
            rx.drawer.portal(rx.drawer.content(
                rx.vstack(
                    rx.hstack(_brand(), rx.spacer(), rx.drawer.close(rx.icon_button(rx.icon("x", size=20),
                                                                                    variant="ghost",
                                                                                    aria_label="Close menu")),
                              width="100%", align="center", padding="12px"),
                    rx.drawer.close(_nav()),
                    rx.spacer(),
                    _account(),
                    height="100%", width="100%", spacing="2",
                ),
                top="0", left="0", height="100%", width="80%", max_width="300px", z_index="50",
                background=rx.color("gray", 2), id="mobile-menu",
            )),
            direction="left",
        ),
        _brand(),
        rx.spacer(),
        rx.color_mode.button(size="2", variant="ghost"),
        align="center", width="100%", padding="8px 12px", position="sticky", top="0", z_index="30",
        background=rx.color("gray", 1), border_bottom=f"1px solid {rx.color('gray', 5)}",
        display=rx.breakpoints(initial="flex", md="none"), id="top-bar",
    )


def signed_in(page: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
    """Wrap a page in the shell; nothing of it renders until the server has confirmed the session."""

    def wrapped() -> rx.Component:
        return rx.cond(
            AuthState.is_authenticated,
            rx.flex(
                sidebar(),
                rx.box(top_bar(),
                       rx.box(page(), padding=rx.breakpoints(initial="12px", md="24px"), width="100%",
                              max_width="1400px"),
                       width="100%", min_width="0"),
                direction="row", align="start", width="100%",
            ),
            rx.center(rx.spinner(size="3"), height="100vh"),
        )

    wrapped.__name__ = page.__name__
    return wrapped
