"""Small form pieces every page shares: a labelled field, native selects (their value always reaches the form
data, and tests drive them with select_option), and the callouts that show an AdminError."""

from __future__ import annotations

import reflex as rx

_SELECT_STYLE = {"height": "32px", "padding": "0 8px", "border_radius": "6px", "width": "100%",
                 "border": f"1px solid {rx.color('gray', 7)}", "background": rx.color("gray", 1)}


def native_select(name: str, options: list[tuple[str, str]] | rx.Var, default: str | rx.Var = "", *,
                  none_label: str | None = None, id: str | None = None) -> rx.Component:
    """A plain <select> in a form. `options`: (value, label) pairs, or a Var of choices with `id` and `name`;
    `none_label` adds an empty first option."""
    first = [rx.el.option(none_label, value="")] if none_label is not None else []
    if isinstance(options, rx.Var):
        items = [rx.foreach(options, lambda c: rx.el.option(c.name, value=c.id))]
    else:
        items = [rx.el.option(label, value=value) for value, label in options]
    return rx.el.select(*first, *items, name=name, default_value=default, id=id or name, style=_SELECT_STYLE)


def plain_select(*options: rx.Component, **props) -> rx.Component:
    """A styled <select> from ready-made options, for picks handled by an event rather than a form (Radix's
    select cannot reset itself after each pick inside a `foreach`)."""
    return rx.el.select(*options, style=_SELECT_STYLE, **props)


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
