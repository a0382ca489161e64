"""A plain HTML select styled to sit beside Radix inputs. Used where a value must be picked from a long, dynamic
list inside a `foreach` (Radix's select cannot reset itself after each pick)."""

from __future__ import annotations

import reflex as rx

_STYLE = {"height": "32px", "padding": "0 8px", "font_size": "14px", "border_radius": "var(--radius-2)",
          "border": f"1px solid {rx.color('gray', 7)}", "background": rx.color("gray", 1), "color": "inherit"}


def native_select(*options: rx.Component, **props) -> rx.Component:
    return rx.el.select(*options, style=_STYLE, **props)
