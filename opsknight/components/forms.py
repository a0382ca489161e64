"""Small form pieces the profile and users pages share: a labelled field, a native select (its value always
reaches the form data, and tests drive it with select_option), and the callouts that show an AdminError."""

from __future__ import annotations

import reflex as rx

_SELECT_STYLE = {"height": "32px", "padding": "0 8px", "border_radius": "6px", "width": "100%",
                 "border": f"1px solid {rx.color('gray', 7)}", "background": rx.color("gray", 1)}


def native_select(name: str, options: list[tuple[str, str]], default: str | rx.Var = "", *,
                  id: str | None = None) -> rx.Component:
    """A plain <select>; `options` are (value, label) pairs."""
    return rx.el.select(*[rx.el.option(label, value=value) for value, label in options], name=name,
                        default_value=default, id=id or name, style=_SELECT_STYLE)


def field(label: str, control: rx.Component, hint: str = "") -> rx.Component:
    hints = [rx.text(hint, size="1", color_scheme="gray")] if hint else []
    return rx.vstack(rx.text(label, size="2", weight="medium"), control, *hints, spacing="1", width="100%")


def error_callout(message: rx.Var, id: str) -> rx.Component:
    return rx.cond(message != "", rx.callout(message, icon="triangle-alert", color_scheme="red", role="alert",
                                             width="100%", id=id))


def success_callout(message: rx.Var, id: str) -> rx.Component:
    return rx.cond(message != "", rx.callout(message, icon="circle-check", color_scheme="green", role="status",
                                             width="100%", id=id))


def checkbox(name: str, label: str, default: bool | rx.Var = False, *, id: str | None = None) -> rx.Component:
    """A native checkbox ("on" in the form data when ticked, absent otherwise)."""
    return rx.el.label(
        rx.el.input(type="checkbox", name=name, default_checked=default, id=id or name),
        rx.text(label, size="2", as_="span"),
        style={"display": "flex", "gap": "6px", "align_items": "center"},
    )


def section(title: str, *children: rx.Component, id: str) -> rx.Component:
    return rx.card(rx.vstack(rx.heading(title, size="4"), *children, spacing="3", width="100%"), width="100%",
                   id=id)
