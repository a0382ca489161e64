"""The sign-in page."""

from __future__ import annotations

import reflex as rx

from opsknight.state.login import LoginState


def login_page() -> rx.Component:
    return rx.center(
        rx.card(
            rx.form(
                rx.vstack(
                    rx.hstack(rx.icon("shield", size=28), rx.heading("Sign in to OpsKnight", size="6"),
                              align="center", spacing="2"),
                    rx.text("Email", size="2", weight="medium"),
                    rx.input(name="email", type="email", placeholder="you@example.com", auto_complete="username",
                             required=True, width="100%", size="3", id="email"),
                    rx.text("Password", size="2", weight="medium"),
                    rx.input(name="password", type="password", auto_complete="current-password", required=True,
                             width="100%", size="3", id="password"),
                    rx.cond(LoginState.error != "",
                            rx.callout(LoginState.error, icon="triangle-alert", color_scheme="red", role="alert",
                                       width="100%", id="login-error")),
                    rx.button("Sign in", type="submit", loading=LoginState.busy, width="100%", size="3",
                              id="sign-in"),
                    spacing="3", width="100%",
                ),
                on_submit=LoginState.submit,
                reset_on_submit=False,
            ),
            width="min(420px, 92vw)", size="4",
        ),
        height="100vh",
        background=rx.color("gray", 2),
    )
