"""Pieces the incident pages share: status and urgency badges, the live indicator, the keyboard help."""

from __future__ import annotations

import reflex as rx
from reflex.components.core.banner import has_connection_errors

STATUS_COLORS = {"triggered": "red", "acknowledged": "amber", "resolved": "green"}


def status_badge(status: rx.Var) -> rx.Component:
    return rx.badge(status, color_scheme=rx.match(status, ("triggered", "red"), ("acknowledged", "amber"), "green"),
                    variant="solid", size="2", text_transform="capitalize", class_name="status-badge")


def urgency_badge(urgency: rx.Var) -> rx.Component:
    return rx.badge(rx.cond(urgency == "high", "High", "Low"),
                    color_scheme=rx.cond(urgency == "high", "red", "gray"), variant="soft", size="1")


def live_indicator(updated_at: rx.Var) -> rx.Component:
    """"Live" while the socket is up; "Reconnecting…" while it is not (the page resyncs when it is back)."""
    return rx.cond(
        has_connection_errors,
        rx.hstack(rx.box(width="8px", height="8px", border_radius="50%", background=rx.color("amber", 9)),
                  rx.text("Reconnecting…", size="1", color_scheme="amber"), align="center", spacing="1",
                  id="live-indicator", data_live="false"),
        rx.hstack(rx.box(width="8px", height="8px", border_radius="50%", background=rx.color("green", 9),
                         class_name="live-dot"),
                  rx.text("Live", size="1", color_scheme="green"),
                  rx.cond(updated_at != "", rx.text("· ", updated_at, size="1", color_scheme="gray")),
                  align="center", spacing="1", id="live-indicator", data_live="true"),
    )


SHORTCUTS = (("j / k", "next / previous incident"), ("o or Enter", "open the incident"),
             ("a", "acknowledge"), ("r", "resolve"), ("/", "search"), ("?", "these keys"))


def shortcuts_dialog() -> rx.Component:
    """Opened by `?` (assets/shortcuts.js clicks the hidden trigger)."""
    return rx.dialog.root(
        rx.dialog.trigger(rx.button("Keyboard shortcuts", id="shortcuts-open", display="none")),
        rx.dialog.content(
            rx.dialog.title("Keyboard shortcuts"),
            rx.vstack(*[rx.hstack(rx.code(keys), rx.text(what, size="2"), spacing="3") for keys, what in SHORTCUTS],
                      spacing="2"),
            rx.dialog.close(rx.button("Close", variant="soft", margin_top="16px")),
            max_width="360px",
        ),
    )
