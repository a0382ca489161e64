"""/incidents/[incident_id]: what the paged person opens. Status and the big Acknowledge first (reachable without
scrolling on a phone), then the alerts, the timeline, and the rest of the actions."""

from __future__ import annotations

import reflex as rx

from opsknight.components.incidents import live_indicator, status_badge, urgency_badge
from opsknight.components.layout import signed_in
from opsknight.state.auth import AuthState
from opsknight.state.incident import IncidentState as S

SNOOZES = ((60, "1 h"), (240, "4 h"), (480, "8 h"), (1440, "24 h"))


def _select(name: str, choices, label: str, prefix: str = "", id: str | None = None) -> rx.Component:
    return rx.el.select(rx.el.option(label, value=""),
                        rx.foreach(choices, lambda c: rx.el.option(c.name, value=prefix + c.id)),
                        name=name, id=id or f"select-{name}", class_name="ok-select", required=True)


def _header() -> rx.Component:
    i = S.incident
    return rx.vstack(
        rx.hstack(rx.link(rx.hstack(rx.icon("arrow-left", size=16), "Incidents", spacing="1", align="center"),
                          href="/incidents", size="2"),
                  rx.spacer(), live_indicator(S.updated_at), width="100%", align="center"),
        rx.hstack(status_badge(i.status), urgency_badge(i.urgency),
                  rx.text("#", i.number, color_scheme="gray", weight="medium"), spacing="2", align="center",
                  wrap="wrap"),
        rx.heading(i.title, size="6", id="page-title", class_name="incident-title"),
        rx.text(i.service, rx.cond(i.team != "", " · " + i.team, ""), " · opened ", i.created, " (", i.age, ")",
                size="2", color_scheme="gray"),
        rx.text(S.status_detail, size="2", weight="medium", id="incident-status-line"),
        rx.cond(i.assignee != "", rx.text("Assigned: ", i.assignee, size="2", id="incident-assignee")),
        rx.cond(S.merged_into != "", rx.callout(rx.text("Merged into ", rx.link(S.merged_into,
                                                                                 href="/incidents/" + S.merged_into_id.to_string())),
                                                icon="merge", color_scheme="gray", size="1")),
        spacing="2", width="100%",
        class_name=rx.cond(S.flash, "flash", ""),
    )


def _primary_actions() -> rx.Component:
    """Acknowledge first and biggest; resolve beside it."""
    i = S.incident
    return rx.cond(
        AuthState.can_act & (i.status != "resolved"),
        rx.flex(
            rx.cond(i.status == "triggered",
                    rx.button(rx.icon("check", size=22), "Acknowledge", size="4", color_scheme="amber",
                              on_click=S.acknowledge, id="incident-ack", class_name="thumb", flex="1 1 160px")),
            rx.dialog.root(
                rx.dialog.trigger(rx.button(rx.icon("circle-check-big", size=20), "Resolve", size="4",
                                            color_scheme="green", variant="soft", id="incident-resolve",
                                            class_name="thumb", flex="1 1 140px")),
                rx.dialog.content(
                    rx.dialog.title("Resolve #", i.number),
                    rx.form(rx.vstack(
                        rx.text_area(name="note", placeholder="Resolution note (optional): what fixed it?",
                                     id="resolve-note", rows="3", width="100%"),
                        rx.hstack(rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray",
                                                            type="button")),
                                  rx.dialog.close(rx.button("Resolve", color_scheme="green", type="submit",
                                                            id="resolve-confirm")),
                                  justify="end", spacing="3", width="100%"),
                        spacing="3"), on_submit=S.resolve, reset_on_submit=True),
                    max_width="440px",
                ),
            ),
            gap="8px", width="100%", wrap="wrap", id="primary-actions",
        ),
    )


def _more_actions() -> rx.Component:
    i = S.incident
    return rx.cond(
        AuthState.can_act & (i.status != "resolved"),
        rx.card(rx.vstack(
            rx.heading("Actions", size="3"),
            rx.text("Snooze", size="2", weight="medium"),
            rx.flex(*[rx.button(label, variant="soft", on_click=S.snooze(minutes), id=f"snooze-{minutes}",
                                class_name="thumb") for minutes, label in SNOOZES],
                    rx.form(rx.hstack(rx.input(name="minutes", placeholder="min", type="number", min="1",
                                               max="10080", width="80px", id="snooze-minutes"),
                                      rx.button("Snooze", variant="soft", type="submit", id="snooze-custom")),
                            on_submit=S.snooze_custom, reset_on_submit=True),
                    gap="8px", wrap="wrap"),
            rx.flex(
                rx.button(rx.icon("arrow-up-right", size=16), "Escalate now", variant="soft", color_scheme="red",
                          on_click=S.escalate, id="escalate-now"),
                rx.button(rx.icon("gauge", size=16),
                          rx.cond(i.urgency == "high", "Make low urgency", "Make high urgency"), variant="soft",
                          on_click=S.change_urgency(rx.cond(i.urgency == "high", "low", "high")), id="toggle-urgency"),
                gap="8px", wrap="wrap"),
            rx.form(rx.flex(_select("user_id", S.users, "Reassign to…"),
                            rx.button("Reassign", variant="soft", type="submit", id="reassign-submit"),
                            gap="8px", wrap="wrap", align="center"), on_submit=S.reassign, reset_on_submit=True),
            rx.form(rx.flex(
                rx.el.select(rx.el.option("Add responder…", value=""),
                             rx.el.optgroup(rx.foreach(S.users, lambda c: rx.el.option(c.name, value="user:" + c.id)),
                                            label="People"),
                             rx.el.optgroup(rx.foreach(S.schedules,
                                                       lambda c: rx.el.option(c.name, value="schedule:" + c.id)),
                                            label="On call in a schedule"),
                             rx.el.optgroup(rx.foreach(S.policies, lambda c: rx.el.option(
                                 c.name, value="escalation_policy:" + c.id)), label="Escalation policy (first step)"),
                             name="target", id="select-responder", class_name="ok-select", required=True),
                rx.button(rx.icon("user-plus", size=16), "Page them", variant="soft", type="submit",
                          id="add-responder-submit"),
                gap="8px", wrap="wrap", align="center"), on_submit=S.add_responder, reset_on_submit=True),
            rx.form(rx.flex(_select("into_id", S.open_incidents, "Merge into…", id="select-merge"),
                            rx.button(rx.icon("merge", size=16), "Merge", variant="soft", color_scheme="gray",
                                      type="submit", id="merge-submit"),
                            gap="8px", wrap="wrap", align="center"), on_submit=S.merge, reset_on_submit=True),
            spacing="3", width="100%"), width="100%", id="more-actions"),
    )


PUBLIC_STAGES = ("investigating", "identified", "monitoring", "resolved")


def _public_update(update) -> rx.Component:
    return rx.vstack(
        rx.hstack(rx.badge(update.status, variant="soft", color_scheme="blue"),
                  rx.text(update.when, rx.cond(update.author != "", " · " + update.author, ""), size="1",
                          color_scheme="gray"), spacing="2", align="center", wrap="wrap"),
        rx.text(update.body, size="2", white_space="pre-wrap", word_break="break-word"),
        spacing="1", width="100%", class_name="public-update")


def _status_page() -> rx.Component:
    """Public updates: what customers read on /status, separate from the team's notes."""
    return rx.card(rx.vstack(
        rx.hstack(rx.icon("megaphone", size=18), rx.heading("Status page", size="3"), rx.spacer(),
                  rx.link("Open /status", href="/status", is_external=True, size="2"), align="center", width="100%"),
        rx.cond(~S.on_status_page, rx.text(
            "No status page component shows this service, so updates are kept here but not published.",
            size="2", color_scheme="gray", id="not-on-status-page")),
        rx.cond(S.public_title != "", rx.text("Public title: ", rx.text.strong(S.public_title), size="2")),
        rx.cond(S.public_updates.length() == 0, rx.text("No public update yet.", size="2", color_scheme="gray")),
        rx.vstack(rx.foreach(S.public_updates, _public_update), spacing="3", width="100%", id="public-updates"),
        rx.cond(AuthState.can_act, rx.form(rx.vstack(
            rx.el.select(*[rx.el.option(stage.capitalize(), value=stage) for stage in PUBLIC_STAGES],
                         name="status", id="public-status", class_name="ok-select"),
            rx.input(name="public_title", placeholder="Public title (optional: else named after the components)",
                     id="public-title", max_length=200, width="100%"),
            rx.text_area(name="body", placeholder="What customers should know (no internal details)",
                         id="public-body", rows="3", width="100%", required=True),
            rx.button(rx.icon("send", size=16), "Post public update", type="submit", variant="soft",
                      id="public-submit"),
            spacing="2", width="100%", align="end"), on_submit=S.post_public_update, reset_on_submit=True,
            width="100%")),
        spacing="3", width="100%"), width="100%", id="status-page-card")


def _pairs(title: str, items) -> rx.Component:
    return rx.cond(items.length() > 0, rx.vstack(
        rx.text(title, size="1", weight="bold", color_scheme="gray"),
        rx.flex(rx.foreach(items, lambda kv: rx.badge(kv.key, "=", kv.value, variant="surface", size="1",
                                                      white_space="normal", word_break="break-all")),
                gap="4px", wrap="wrap"), spacing="1", width="100%"))


def _alert(alert) -> rx.Component:
    return rx.card(rx.vstack(
        rx.hstack(rx.badge(alert.action, variant="soft"), rx.text(alert.received, size="1", color_scheme="gray"),
                  rx.text(alert.source, size="1", color_scheme="gray"), wrap="wrap", spacing="2"),
        rx.text(alert.summary, size="2", weight="medium", word_break="break-word"),
        _pairs("Labels", alert.labels),
        _pairs("Annotations", alert.annotations),
        rx.cond(alert.links.length() > 0, rx.flex(rx.foreach(alert.links, lambda link: rx.link(
            rx.icon("external-link", size=14), link.key, href=link.value, is_external=True, size="2")),
            gap="12px", wrap="wrap")),
        rx.cond(alert.raw != "", rx.el.details(
            rx.el.summary("Raw payload", style={"cursor": "pointer", "font-size": "13px"}),
            rx.hstack(rx.button(rx.icon("copy", size=14), "Copy", size="1", variant="soft",
                                on_click=[rx.set_clipboard(alert.raw), rx.toast.success("Copied")])),
            rx.el.pre(alert.raw, class_name="raw-payload"),  # plain: a highlighter is 100s of KB on a phone
        )),
        spacing="2", width="100%"), width="100%", class_name="alert-card")


def _alerts() -> rx.Component:
    return rx.vstack(
        rx.heading("Alerts ", rx.badge(S.alert_total, variant="soft", radius="full"), size="4"),
        rx.foreach(S.alerts, _alert),
        rx.cond(S.alert_total > S.alerts.length(),
                rx.text("Showing the newest ", S.alerts.length(), " of ", S.alert_total, " (all in the API).",
                        size="1", color_scheme="gray")),
        spacing="2", width="100%", id="incident-alerts")


def _entry(entry) -> rx.Component:
    return rx.cond(
        ~S.notes_only | entry.is_note,
        rx.hstack(
            rx.icon(entry.icon, size=16, color=rx.color("gray", 10), flex_shrink="0", margin_top="3px"),
            rx.vstack(rx.text(entry.message, size="2", word_break="break-word", white_space="pre-wrap"),
                      rx.text(entry.day, " ", entry.at, " · ", entry.ago, size="1", color_scheme="gray"),
                      spacing="0", min_width="0"),
            spacing="2", align="start", width="100%", class_name="timeline-entry", data_kind=entry.kind),
    )


def _timeline() -> rx.Component:
    return rx.vstack(
        rx.flex(rx.heading("Timeline", size="4"), rx.spacer(),
                rx.el.label(rx.switch(checked=S.notes_only, on_change=S.set_notes_only, id="notes-only"),
                            rx.text("Notes only", size="2"),
                            style={"display": "flex", "gap": "6px", "align_items": "center"}),
                width="100%", align="center"),
        rx.cond(AuthState.can_act, rx.form(rx.vstack(
            rx.text_area(name="body", placeholder="Add a note for the team…", id="note-body", rows="2",
                         width="100%", required=True),
            rx.button(rx.icon("message-square", size=16), "Add note", type="submit", variant="soft", id="note-submit"),
            spacing="2", width="100%", align="end"), on_submit=S.add_note, reset_on_submit=True, width="100%")),
        rx.vstack(rx.foreach(S.timeline, _entry), spacing="3", width="100%", id="incident-timeline"),
        spacing="3", width="100%")


def _body() -> rx.Component:
    return rx.vstack(
        _header(),
        _primary_actions(),
        rx.grid(
            rx.vstack(_alerts(), _timeline(), spacing="5", width="100%", min_width="0"),
            rx.vstack(_more_actions(), _status_page(), spacing="4", width="100%", min_width="0"),
            columns=rx.breakpoints(initial="1", md="3fr 2fr"), gap="20px", width="100%",
        ),
        spacing="4", width="100%",
    )


@signed_in
def incident_page() -> rx.Component:
    return rx.box(
        rx.window_event_listener(on_visibility_change=S.on_visibility),
        rx.cond(
            S.missing != "",
            rx.center(rx.vstack(rx.heading("Incident not found", size="6"), rx.text(S.missing, color_scheme="gray"),
                                rx.link("Back to incidents", href="/incidents"), align="center"),
                      padding_y="64px", id="incident-missing"),
            rx.cond(S.loaded, _body(),
                    rx.vstack(rx.skeleton(height="32px", width="60%"), rx.skeleton(height="56px", width="100%"),
                              rx.skeleton(height="200px", width="100%"), spacing="3", width="100%")),
        ),
        width="100%",
    )
