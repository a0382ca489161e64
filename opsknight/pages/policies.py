"""Escalation policies page: the list (with the services using each) and an editor for a policy's steps.

The editor keeps the form in state and saves it whole through `opsknight.admin.policies` (the same functions as
the REST API), which checks it and shows its refusals here: per step under the step, and as a summary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import reflex as rx

from opsknight.admin import AdminError, policies
from opsknight.components.layout import signed_in
from opsknight.components.forms import plain_select
from opsknight.permissions import Permission
from opsknight.state.admin_call import admin_call
from opsknight.state.auth import AuthState
from opsknight.state.guard import guarded

_STEP_FIELD = re.compile(r"^steps\.(\d+)\.[^:]*: (.*)$")
NEW_STEP_DELAY = "30"


@dataclass
class TargetRow:
    key: str  # "user:3", as the pickers and the admin layer say it
    label: str


@dataclass
class StepRow:
    delay: str
    targets: list[TargetRow] = field(default_factory=list)
    error: str = ""


@dataclass
class PolicyRow:
    id: int
    name: str
    step_count: int
    repeat_count: int
    used_by: str


def _row(policy: dict) -> PolicyRow:
    used_by = ", ".join(s["name"] for s in policy["services"]) or "—"
    return PolicyRow(policy["id"], policy["name"], policy["step_count"], policy["repeat_count"], used_by)


def _target_json(key: str) -> dict:
    kind, _, target_id = key.partition(":")
    return {"type": kind, "id": int(target_id)}


def _load_list(db, principal) -> tuple[list[dict], list[dict]]:
    data, _ = policies.list_policies(db, principal, limit=200)
    return data, policies.target_options(db, principal)


class PoliciesState(AuthState):
    policies: list[PolicyRow] = []
    options: list[TargetRow] = []
    editing: bool = False
    policy_id: int = 0  # 0: a new policy
    name: str = ""
    description: str = ""
    repeat_count: str = "0"
    escalate_low_urgency: bool = True
    steps: list[StepRow] = []
    used_by: str = ""
    error: str = ""
    notice: str = ""

    @rx.event
    @guarded(Permission.READ)
    async def load(self):
        await self._refresh()
        self.editing = False
        self.error = self.notice = ""

    async def _refresh(self) -> None:
        data, options = await admin_call(_load_list)
        self.policies = [_row(p) for p in data]
        self.options = [TargetRow(o["key"], o["label"]) for o in options]

    def _open(self, policy: dict | None) -> None:
        policy = policy or {"id": 0, "name": "", "description": "", "repeat_count": 0, "escalate_low_urgency": True,
                            "steps": [{"delay_minutes": int(NEW_STEP_DELAY), "targets": []}], "services": []}
        self.policy_id, self.name, self.description = policy["id"], policy["name"], policy["description"]
        self.repeat_count, self.escalate_low_urgency = str(policy["repeat_count"]), policy["escalate_low_urgency"]
        self.steps = [StepRow(str(s["delay_minutes"]), [
            TargetRow(f"{t['type']}:{t['id']}", f"{t['type'].title()}: {t['name']}") for t in s["targets"]])
            for s in policy["steps"]]
        self.used_by = ", ".join(s["name"] for s in policy["services"])
        self.error = self.notice = ""
        self.editing = True

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def new_policy(self):
        self._open(None)

    @rx.event
    @guarded(Permission.READ)
    async def open_policy(self, policy_id: int):
        try:
            self._open(await admin_call(policies.get_policy, policy_id))
        except AdminError as exc:
            self.error = exc.message

    @rx.event
    @guarded(Permission.READ)
    async def close_editor(self):
        self.editing = False
        self.error = self.notice = ""

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def set_name(self, value: str):
        self.name = value

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def set_description(self, value: str):
        self.description = value

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def set_repeat_count(self, value: str):
        self.repeat_count = value

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def set_escalate_low_urgency(self, value: bool):
        self.escalate_low_urgency = value

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def add_step(self):
        self.steps = [*self.steps, StepRow(NEW_STEP_DELAY)]

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def remove_step(self, index: int):
        self.steps = [s for i, s in enumerate(self.steps) if i != index]

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def move_step(self, index: int, delta: int):
        other = index + delta
        if 0 <= index < len(self.steps) and 0 <= other < len(self.steps):
            steps = list(self.steps)
            steps[index], steps[other] = steps[other], steps[index]
            self.steps = steps

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def set_delay(self, index: int, value: str):
        self._replace_step(index, lambda s: StepRow(value, s.targets, s.error))

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def add_target(self, index: int, key: str):
        option = next((o for o in self.options if o.key == key), None)
        if option is not None:
            self._replace_step(index, lambda s: StepRow(
                s.delay, s.targets if any(t.key == key for t in s.targets) else [*s.targets, option], ""))

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def remove_target(self, index: int, key: str):
        self._replace_step(index, lambda s: StepRow(s.delay, [t for t in s.targets if t.key != key], s.error))

    def _replace_step(self, index: int, change) -> None:
        self.steps = [change(s) if i == index else s for i, s in enumerate(self.steps)]

    def _form(self) -> dict:
        return {"name": self.name, "description": self.description, "repeat_count": self.repeat_count,
                "escalate_low_urgency": self.escalate_low_urgency,
                "steps": [{"delay_minutes": s.delay, "targets": [_target_json(t.key) for t in s.targets]}
                          for s in self.steps]}

    def _show_refusal(self, exc: AdminError) -> None:
        self.error = exc.message
        per_step: dict[int, list[str]] = {}
        for entry in exc.fields:
            match = _STEP_FIELD.match(entry)
            if match:
                per_step.setdefault(int(match.group(1)), []).append(match.group(2))
        self.steps = [StepRow(s.delay, s.targets, "; ".join(per_step.get(i, []))) for i, s in enumerate(self.steps)]

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def save(self):
        try:
            if self.policy_id:
                saved = await admin_call(policies.update_policy, self.policy_id, self._form())
            else:
                saved = await admin_call(policies.create_policy, self._form())
        except AdminError as exc:
            self._show_refusal(exc)
            return
        await self._refresh()
        self._open(saved)
        self.notice = f"Saved '{saved['name']}'. Open incidents keep the steps they started with."

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def delete(self):
        try:
            await admin_call(policies.delete_policy, self.policy_id)
        except AdminError as exc:
            self.error = exc.message
            return
        await self._refresh()
        self.editing = False
        self.notice = f"Deleted '{self.name}'."


# --- the page ------------------------------------------------------------------------------------------------------


def _callouts() -> rx.Component:
    return rx.fragment(
        rx.cond(PoliciesState.notice != "", rx.callout(PoliciesState.notice, icon="check", color_scheme="green",
                                                       id="policy-notice", width="100%")),
        rx.cond(PoliciesState.error != "", rx.callout(PoliciesState.error, icon="triangle-alert", color_scheme="red",
                                                      role="alert", id="policy-error", width="100%")),
    )


def _policy_list() -> rx.Component:
    def row(policy: PolicyRow) -> rx.Component:
        return rx.table.row(
            rx.table.row_header_cell(rx.button(policy.name, on_click=PoliciesState.open_policy(policy.id),
                                               variant="ghost", id=f"policy-{policy.id}")),
            rx.table.cell(policy.step_count),
            rx.table.cell(policy.repeat_count),
            rx.table.cell(policy.used_by),
        )

    return rx.vstack(
        rx.cond(AuthState.is_admin, rx.button(rx.icon("plus", size=16), "New policy", on_click=PoliciesState.new_policy,
                                              id="new-policy")),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                           ("Name", "Steps", "Repeats", "Used by services")])),
            rx.table.body(rx.foreach(PoliciesState.policies, row)),
            width="100%", id="policies-table",
        ),
        rx.cond(PoliciesState.policies.length() == 0, rx.text("No escalation policies yet.", color_scheme="gray")),
        spacing="3", width="100%",
    )


def _step(step: StepRow, index) -> rx.Component:
    def target(t: TargetRow) -> rx.Component:
        remove = rx.icon("x", size=12, cursor="pointer", on_click=PoliciesState.remove_target(index, t.key),
                         aria_label="Remove target")
        return rx.badge(t.label, remove, variant="soft", size="2", class_name="step-target")

    return rx.card(rx.vstack(
        rx.hstack(
            rx.heading(f"Step {index + 1}", size="3"),
            rx.spacer(),
            rx.icon_button(rx.icon("arrow-up", size=14), on_click=PoliciesState.move_step(index, -1), variant="soft",
                           size="1", disabled=index == 0, id=f"step-{index}-up", aria_label="Move step up"),
            rx.icon_button(rx.icon("arrow-down", size=14), on_click=PoliciesState.move_step(index, 1), variant="soft",
                           size="1", disabled=index == PoliciesState.steps.length() - 1, id=f"step-{index}-down",
                           aria_label="Move step down"),
            rx.icon_button(rx.icon("trash-2", size=14), on_click=PoliciesState.remove_step(index), variant="soft",
                           color_scheme="red", size="1", id=f"step-{index}-delete", aria_label="Delete step"),
            width="100%", align="center",
        ),
        rx.hstack(rx.foreach(step.targets, target), wrap="wrap", spacing="2", id=f"step-{index}-targets"),
        plain_select(
            rx.el.option("Add a user, schedule or team…", value=""),
            rx.foreach(PoliciesState.options, lambda o: rx.el.option(o.label, value=o.key)),
            value="", on_change=lambda key: PoliciesState.add_target(index, key), id=f"step-{index}-add-target",
        ),
        rx.hstack(
            rx.text("If nobody acknowledges, escalate after", size="2"),
            rx.input(value=step.delay, on_change=lambda v: PoliciesState.set_delay(index, v), type="number",
                     min=0, width="90px", id=f"step-{index}-delay"),
            rx.text("minutes", size="2"), align="center",
        ),
        rx.cond(step.error != "", rx.text(step.error, color_scheme="red", size="2", id=f"step-{index}-error")),
        spacing="3", width="100%",
    ), width="100%", class_name="policy-step")


def _editor() -> rx.Component:
    return rx.vstack(
        rx.hstack(rx.heading(rx.cond(PoliciesState.policy_id == 0, "New escalation policy", PoliciesState.name),
                             size="5"),
                  rx.spacer(),
                  rx.button("Back to the list", on_click=PoliciesState.close_editor, variant="soft",
                            color_scheme="gray", id="close-editor"), width="100%"),
        rx.cond(PoliciesState.used_by != "", rx.text("Used by services: ", PoliciesState.used_by, size="2",
                                                     id="policy-used-by")),
        rx.text("Name", size="2", weight="medium"),
        rx.input(value=PoliciesState.name, on_change=PoliciesState.set_name, width="100%", id="policy-name"),
        rx.text("Description", size="2", weight="medium"),
        rx.text_area(value=PoliciesState.description, on_change=PoliciesState.set_description, width="100%",
                     id="policy-description"),
        rx.text("Steps are paged in order; each waits its delay for an acknowledgement before the next is paged. "
                "Changes apply to new incidents: open ones keep the steps they started with.",
                size="2", color_scheme="gray"),
        rx.foreach(PoliciesState.steps, _step),
        rx.button(rx.icon("plus", size=16), "Add step", on_click=PoliciesState.add_step, variant="soft",
                  id="add-step"),
        rx.hstack(rx.text("After the last step, start over", size="2"),
                  rx.input(value=PoliciesState.repeat_count, on_change=PoliciesState.set_repeat_count, type="number",
                           min=0, max=policies.MAX_REPEATS, width="80px", id="policy-repeat"),
                  rx.text("more times", size="2"), align="center"),
        rx.hstack(rx.switch(checked=PoliciesState.escalate_low_urgency,
                            on_change=PoliciesState.set_escalate_low_urgency, id="policy-low-urgency"),
                  rx.text("Escalate low-urgency incidents too (off: they page step 1 only)", size="2"),
                  align="center"),
        rx.cond(AuthState.is_admin, rx.hstack(
            rx.button("Save", on_click=PoliciesState.save, id="save-policy"),
            rx.cond(PoliciesState.policy_id != 0,
                    rx.button("Delete policy", on_click=PoliciesState.delete, color_scheme="red", variant="soft",
                              id="delete-policy")),
            spacing="3")),
        spacing="3", width="100%", max_width="860px",
    )


@signed_in
def policies_page() -> rx.Component:
    return rx.vstack(
        rx.heading("Escalation policies", size="7", id="page-title"),
        _callouts(),
        rx.cond(PoliciesState.editing, _editor(), _policy_list()),
        spacing="4", width="100%",
    )
