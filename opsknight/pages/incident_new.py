"""/incidents/new: open an incident by hand (service, title, urgency, description); it pages like an alert."""

from __future__ import annotations

import reflex as rx

from opsknight.components.forms import error_callout, field
from opsknight.components.layout import signed_in
from opsknight.state.incident_new import NewIncidentState as S


@signed_in
def new_incident_page() -> rx.Component:
    return rx.vstack(
        rx.link(rx.hstack(rx.icon("arrow-left", size=16), "Incidents", spacing="1", align="center"),
                          href="/incidents", size="2"),
        rx.heading("New incident", size="7", id="page-title"),
        rx.text("It pages the service's escalation policy like an alert would.", color_scheme="gray", size="2"),
        rx.card(rx.form(rx.vstack(
            field("Service", rx.el.select(rx.el.option("Choose a service…", value=""),
                                          rx.foreach(S.services, lambda c: rx.el.option(c.name, value=c.id)),
                                          name="service_id", id="new-service", class_name="ok-select",
                                          required=True)),
            field("Title", rx.input(name="title", placeholder="What is wrong?", id="new-title", required=True,
                                    max_length=1024, size="3", width="100%")),
            field("Urgency", rx.radio_group(["high", "low"], name="urgency", default_value="high", direction="row",
                                            id="new-urgency"), "High pages at once and escalates; low may wait for "
                  "quiet hours to end."),
            field("Description", rx.text_area(name="description", placeholder="Details for the responders",
                                              id="new-description", rows="4", width="100%", max_length=5000)),
            error_callout(S.error, "new-incident-error"),
            rx.button("Open incident and page", type="submit", size="3", loading=S.busy, id="new-submit",
                      class_name="thumb"),
            spacing="4", width="100%"), on_submit=S.submit, reset_on_submit=False), width="100%",
            max_width="640px"),
        spacing="4", width="100%",
    )
