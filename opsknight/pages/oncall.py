"""/oncall: "My on call", read one-handed on a phone at 3 a.m. The answer to "am I on call, until when?" comes
first and big; then the brief for the current (or next) shift, my shifts, and everyone's, all as cards."""

from __future__ import annotations

import reflex as rx

from opsknight.components.incidents import status_badge, urgency_badge
from opsknight.components.layout import signed_in
from opsknight.state.oncall import OnCallState as S
from opsknight.state.oncall_views import BlockRow, BriefIncident, NowRow, ScheduleCard, ShiftCard


def _card(*children, **props) -> rx.Component:
    return rx.box(rx.vstack(*children, spacing="2", width="100%"), padding="12px 14px", border_radius="10px",
                  background=rx.color("gray", 2), border=f"1px solid {rx.color('gray', 5)}", width="100%", **props)


def _section(title: str, *children, **props) -> rx.Component:
    return rx.vstack(rx.heading(title, size="5"), *children, spacing="2", width="100%", **props)


def _messages() -> rx.Component:
    return rx.fragment(
        rx.cond(S.error != "", rx.callout(S.error, icon="triangle_alert", color_scheme="red", id="oncall-error",
                                          width="100%")),
        rx.cond(S.notice != "", rx.callout(S.notice, icon="check", color_scheme="green", id="oncall-notice",
                                           width="100%")),
    )


# --- the answer ---------------------------------------------------------------------------------------------------


def _now_row(row: NowRow) -> rx.Component:
    return rx.text(rx.text.strong(row.label), " ", row.detail, size="3", class_name="now-row")


def _answer() -> rx.Component:
    return rx.box(
        rx.vstack(
            rx.hstack(
                rx.icon(rx.cond(S.on_call, "phone-call", "moon"), size=36,
                        color=rx.cond(S.on_call, rx.color("green", 11), rx.color("gray", 11))),
                rx.heading(rx.cond(S.on_call, "You're on call", "You're not on call"),
                           size=rx.breakpoints(initial="7", sm="8"),
                           id="oncall-answer"),
                align="center", spacing="3",
            ),
            rx.cond(S.until != "", rx.text(S.until, size="6", weight="bold", id="oncall-until")),
            rx.cond((S.until == "") & (S.next_shift != ""),
                    rx.text("Next shift: ", rx.text.strong(S.next_shift), size="4", id="oncall-next")),
            rx.cond((S.until == "") & (S.next_shift == ""),
                    rx.text("No shift in the next 14 days.", size="4", id="oncall-next")),
            rx.foreach(S.now_schedules, _now_row),
            rx.cond(S.now_policies.length() > 0, rx.vstack(
                rx.text("Escalation policies that would page you now", size="2", color_scheme="gray"),
                rx.foreach(S.now_policies, _now_row), spacing="1", id="oncall-policies")),
            spacing="2", width="100%",
        ),
        padding="16px", border_radius="12px", width="100%", id="oncall-now",
        data_on_call=rx.cond(S.on_call, "true", "false"),
        background=rx.cond(S.on_call, rx.color("green", 3), rx.color("gray", 3)),
        border=rx.cond(S.on_call, f"2px solid {rx.color('green', 8)}", f"1px solid {rx.color('gray', 6)}"),
    )


# --- the brief ----------------------------------------------------------------------------------------------------


def _incident(row: BriefIncident) -> rx.Component:
    return rx.link(
        rx.box(
            rx.hstack(status_badge(row.status), urgency_badge(row.urgency),
                      rx.text("#", row.number, size="2", color_scheme="gray"), spacing="2", align="center"),
            rx.text(row.title, size="3", weight="bold", class_name="incident-title"),
            rx.text(row.service, rx.cond(row.note != "", " · " + row.note, ""), size="2", color_scheme="gray"),
            class_name="incident-row", width="100%",
        ),
        href="/incidents/" + row.id.to_string(), underline="none", color="inherit", width="100%",
        class_name="brief-incident", data_incident=row.id,
    )


def _brief() -> rx.Component:
    return _section(
        "Brief",
        _card(
            rx.text(S.brief_title, weight="bold", size="3", id="brief-title"),
            rx.cond(S.brief_when != "", rx.text(S.brief_when, size="2", color_scheme="gray")),
            rx.text("Open incidents that can page you", size="2", weight="medium"),
            rx.cond(S.brief_incidents.length() > 0,
                    rx.vstack(rx.foreach(S.brief_incidents, _incident), spacing="2", width="100%",
                              id="brief-incidents"),
                    rx.text("None. Quiet so far.", size="2", color_scheme="gray", id="brief-incidents-empty")),
            rx.cond(S.brief_more > 0, rx.link("and ", S.brief_more, " more on the incidents page",
                                              href="/incidents", size="2")),
            rx.text("Snoozes ending during this shift", size="2", weight="medium"),
            rx.cond(S.brief_snoozes.length() > 0,
                    rx.vstack(rx.foreach(S.brief_snoozes, _incident), spacing="2", width="100%",
                              id="brief-snoozes"),
                    rx.text("None.", size="2", color_scheme="gray", id="brief-snoozes-empty")),
        ),
        id="brief",
    )


# --- my shifts ----------------------------------------------------------------------------------------------------


def _give_away(shift: ShiftCard) -> rx.Component:
    """Admins pick a colleague and give the shift; a responder sees the control disabled (the reason is said once,
    above the list: the rule is the overrides' own — only admins put someone else on call)."""
    enabled = rx.cond(
        shift.colleagues.length() > 0,
        rx.flex(
            rx.el.select(rx.el.option("Give to…", value=""),
                         rx.foreach(shift.colleagues, lambda c: rx.el.option(c.label, value=c.value)),
                         value=shift.pick, on_change=lambda v: S.pick_colleague(shift.key, v),
                         class_name="ok-select give-to", aria_label="Colleague to give this shift to",
                         flex="1 1 140px"),
            rx.button(rx.icon("gift", size=16), "Give this shift away", on_click=S.give_shift(shift.key),
                      variant="soft", class_name="thumb give-away", flex="1 1 auto"),
            gap="8px", wrap="wrap", width="100%"),
        rx.text("Nobody else is in this schedule's rotations.", size="1", color_scheme="gray"),
    )
    disabled = rx.button(rx.icon("gift", size=14), "Give this shift away", disabled=True, variant="soft", size="1",
                         class_name="give-away", title=S.give_away_reason)
    return rx.cond(S.can_give_away, enabled, disabled)


def _shift(shift: ShiftCard) -> rx.Component:
    return _card(
        rx.hstack(rx.text(shift.schedule, weight="bold", size="4"), rx.spacer(),
                  rx.cond(shift.current, rx.badge("Now", color_scheme="green", size="2")), width="100%",
                  align="center"),
        rx.text(shift.when, size="3", class_name="shift-when"),
        rx.text(shift.relative, " · ", shift.duration, size="2", color_scheme="gray"),
        rx.cond(S.can_take, _give_away(shift)),
        class_name="shift-card", data_schedule=shift.schedule_id, data_start=shift.start, data_end=shift.end,
    )


def _shifts() -> rx.Component:
    return _section(
        "Your shifts · next 14 days",
        rx.text("Times in ", S.viewer_tz, size="1", color_scheme="gray"),
        rx.cond(S.can_take & ~S.can_give_away & (S.shifts.length() > 0),
                rx.callout(S.give_away_reason, icon="info", color_scheme="gray", size="1",
                           class_name="give-away-reason", width="100%")),
        rx.cond(S.shifts.length() > 0,
                rx.vstack(rx.foreach(S.shifts, _shift), spacing="2", width="100%"),
                rx.text("You have no shift in the next 14 days.", size="2", color_scheme="gray",
                        id="shifts-empty")),
        id="shifts", data_start=S.window_start, data_end=S.window_end,
    )


# --- everyone -----------------------------------------------------------------------------------------------------


def _block(card: ScheduleCard, block: BlockRow) -> rx.Component:
    return rx.flex(
        rx.vstack(rx.text(block.who, weight="medium", size="2", color=rx.cond(block.gap, rx.color("red", 11), None)),
                  rx.text(block.when, size="1", color_scheme="gray"), spacing="0", min_width="0", flex="1 1 160px"),
        rx.cond(block.mine, rx.badge("You", color_scheme="green"),
                rx.cond(S.can_take, rx.button("Take this shift", size="2", variant="outline",
                                              on_click=S.take_shift(card.id, block.start),
                                              class_name="thumb take-shift"))),
        align="center", gap="8px", wrap="wrap", width="100%", padding_y="4px", class_name="block-row",
        data_user=block.user_id, data_start=block.start, data_end=block.end,
        border_top=f"1px solid {rx.color('gray', 4)}",
    )


def _schedule(card: ScheduleCard) -> rx.Component:
    return _card(
        rx.flex(rx.link(card.name, href="/schedules/" + card.id.to_string(), weight="bold", size="4"),
                rx.spacer(),
                rx.badge(card.on_call, color_scheme=rx.cond(card.gap, "red", rx.cond(card.mine, "green", "gray")),
                         size="2", class_name="on-call-now"),
                align="center", gap="8px", wrap="wrap", width="100%"),
        rx.text("Next: ", card.next_change, size="2", color_scheme="gray", class_name="next-handoff"),
        rx.cond(card.error != "", rx.text(card.error, size="2", color_scheme="red")),
        rx.el.details(
            rx.el.summary("Next 14 days", style={"cursor": "pointer", "padding": "6px 0", "font-size": "14px"}),
            rx.foreach(card.blocks, lambda block: _block(card, block)),
            width="100%",
        ),
        class_name="schedule-card", data_schedule=card.id,
    )


def _everyone() -> rx.Component:
    return _section("Who's on call", rx.vstack(rx.foreach(S.everyone, _schedule), spacing="2", width="100%"),
                    id="everyone")


@signed_in
def oncall_page() -> rx.Component:
    return rx.vstack(
        rx.heading("On call", size="6", id="page-title"),
        _messages(),
        rx.cond(S.loaded,
                rx.vstack(_answer(), _brief(), _shifts(), _everyone(), spacing="5", width="100%"),
                rx.vstack(*[rx.skeleton(height="96px", width="100%") for _ in range(3)], width="100%")),
        spacing="3", width="100%", max_width="760px",
    )
