"""The page for an address that does not exist (instead of Reflex's bare "404: Page not found")."""

from __future__ import annotations

import reflex as rx


def not_found_page() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon("shield-question", size=48, color=rx.color("accent", 9)),
            rx.heading("Nothing here", size="7", id="page-title"),
            rx.text("This address does not lead to a page. If a link brought you here, the incident it named may "
                    "have a new address: look for it in the incident list.", color_scheme="gray",
                    text_align="center", max_width="420px"),
            rx.hstack(rx.link(rx.button("Open incidents", size="3"), href="/incidents"),
                      rx.link(rx.button("Home", size="3", variant="soft"), href="/"), spacing="3"),
            align="center", spacing="4", padding="24px",
        ),
        min_height="100vh", id="not-found",
    )
