"""Teams page: the teams, and for the one opened its details and members (member or manager).

Everything goes through `opsknight.admin.teams`, the functions the REST API uses; refusals show in the page.
"""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from opsknight.admin import AdminError, teams
from opsknight.components.layout import signed_in
from opsknight.components.forms import plain_select
from opsknight.permissions import Permission
from opsknight.state.admin_call import admin_call
from opsknight.state.auth import AuthState
from opsknight.state.guard import guarded


@dataclass
class TeamRow:
    id: int
    name: str
    description: str
    member_count: int


@dataclass
class MemberRow:
    user_id: int
    name: str
    email: str
    role: str


@dataclass
class Choice:
    value: str
    label: str


def _open_team(db, principal, team_id: int) -> tuple[dict, list[dict]]:
    return teams.get_team(db, principal, team_id), teams.candidates(db, principal, team_id)


class TeamsState(AuthState):
    teams: list[TeamRow] = []
    team_id: int = 0  # the team opened; 0: none
    team_name: str = ""
    team_description: str = ""
    members: list[MemberRow] = []
    candidates: list[Choice] = []
    error: str = ""
    notice: str = ""

    async def _refresh(self) -> None:
        data, _ = await admin_call(teams.list_teams, limit=200)
        self.teams = [TeamRow(t["id"], t["name"], t["description"], t["member_count"]) for t in data]

    async def _show(self, team_id: int) -> None:
        team, candidates = await admin_call(_open_team, team_id)
        self.team_id, self.team_name, self.team_description = team["id"], team["name"], team["description"]
        self.members = [MemberRow(m["user_id"], m["name"], m["email"], m["role"]) for m in team["members"]]
        self.candidates = [Choice(str(c["user_id"]), f"{c['name']} ({c['email']})") for c in candidates]

    def _clear(self) -> None:
        self.team_id, self.team_name, self.team_description, self.members, self.candidates = 0, "", "", [], []

    async def _attempt(self, work, notice: str) -> bool:
        """Run `work`, then show `notice` or the refusal; True when it went through."""
        self.error = self.notice = ""
        try:
            await work
        except AdminError as exc:
            self.error = exc.message
            return False
        self.notice = notice
        return True

    @rx.event
    @guarded(Permission.READ)
    async def load(self):
        self.error = self.notice = ""
        self._clear()
        await self._refresh()

    @rx.event
    @guarded(Permission.READ)
    async def open_team(self, team_id: int):
        await self._attempt(self._show(team_id), "")

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def create_team(self, form: dict):
        self.error = self.notice = ""
        try:
            created = await admin_call(teams.create_team, {"name": form.get("name", ""),
                                                           "description": form.get("description", "")})
        except AdminError as exc:
            self.error = exc.message
            return
        self.notice = f"Created team '{created['name']}'."
        await self._refresh()
        await self._show(created["id"])

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def save_team(self, form: dict):
        data = {"name": form.get("name", ""), "description": form.get("description", "")}
        if await self._attempt(admin_call(teams.update_team, self.team_id, data), "Saved."):
            await self._refresh()
            await self._show(self.team_id)

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def delete_team(self):
        if await self._attempt(admin_call(teams.delete_team, self.team_id), f"Deleted team '{self.team_name}'."):
            self._clear()
            await self._refresh()

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def add_member(self, form: dict):
        data = {"user_id": form.get("user_id") or 0, "role": form.get("role") or "member"}
        if await self._attempt(admin_call(teams.add_member, self.team_id, data), "Member added."):
            await self._refresh()
            await self._show(self.team_id)

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def set_role(self, user_id: int, role: str):
        if await self._attempt(admin_call(teams.set_member_role, self.team_id, user_id, {"role": role}),
                               "Role changed."):
            await self._show(self.team_id)

    @rx.event
    @guarded(Permission.CONFIGURE)
    async def remove_member(self, user_id: int):
        if await self._attempt(admin_call(teams.remove_member, self.team_id, user_id), "Member removed."):
            await self._refresh()
            await self._show(self.team_id)


# --- the page ------------------------------------------------------------------------------------------------------

def _team_list() -> rx.Component:
    def row(team: TeamRow) -> rx.Component:
        return rx.table.row(
            rx.table.row_header_cell(rx.button(team.name, on_click=TeamsState.open_team(team.id), variant="ghost",
                                               id=f"team-{team.id}")),
            rx.table.cell(team.member_count),
            rx.table.cell(team.description),
        )

    return rx.vstack(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h)
                                           for h in ("Team", "Members", "Description")])),
            rx.table.body(rx.foreach(TeamsState.teams, row)),
            width="100%", id="teams-table",
        ),
        rx.cond(AuthState.is_admin, rx.form(
            rx.hstack(rx.input(name="name", placeholder="New team name", id="new-team-name"),
                      rx.input(name="description", placeholder="Description", id="new-team-description"),
                      rx.button(rx.icon("plus", size=16), "Create team", type="submit", id="create-team"),
                      wrap="wrap"),
            on_submit=TeamsState.create_team, reset_on_submit=True,
        )),
        spacing="3", width="100%",
    )


def _member(member: MemberRow) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(member.name),
        rx.table.cell(member.email),
        rx.table.cell(rx.cond(
            AuthState.is_admin,
            plain_select(rx.el.option("member", value="member"), rx.el.option("manager", value="manager"),
                         value=member.role, on_change=lambda role: TeamsState.set_role(member.user_id, role),
                         id=f"member-{member.user_id}-role"),
            rx.text(member.role))),
        rx.table.cell(rx.cond(AuthState.is_admin, rx.icon_button(
            rx.icon("user-minus", size=14), on_click=TeamsState.remove_member(member.user_id), variant="soft",
            color_scheme="red", size="1", id=f"member-{member.user_id}-remove", aria_label="Remove from team"))),
    )


def _team_detail() -> rx.Component:
    admin_controls = rx.vstack(
        rx.form(
            rx.hstack(rx.input(name="name", default_value=TeamsState.team_name, id="team-name"),
                      rx.input(name="description", default_value=TeamsState.team_description, id="team-description"),
                      rx.button("Save", type="submit", id="save-team"),
                      rx.button("Delete team", type="button", on_click=TeamsState.delete_team, color_scheme="red",
                                variant="soft", id="delete-team"), wrap="wrap"),
            on_submit=TeamsState.save_team, reset_on_submit=False, key=TeamsState.team_id,
        ),
        rx.form(
            rx.hstack(
                plain_select(rx.el.option("Pick a user…", value=""),
                             rx.foreach(TeamsState.candidates, lambda c: rx.el.option(c.label, value=c.value)),
                             name="user_id", id="add-member-user"),
                plain_select(rx.el.option("member", value="member"), rx.el.option("manager", value="manager"),
                             name="role", id="add-member-role"),
                rx.button(rx.icon("user-plus", size=16), "Add member", type="submit", id="add-member"), wrap="wrap"),
            on_submit=TeamsState.add_member, reset_on_submit=True,
        ),
        spacing="3", width="100%",
    )
    return rx.card(rx.vstack(
        rx.heading(TeamsState.team_name, size="5", id="team-title"),
        rx.text(TeamsState.team_description, size="2", color_scheme="gray"),
        rx.cond(AuthState.is_admin, admin_controls),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in ("Member", "Email", "Role", "")])),
            rx.table.body(rx.foreach(TeamsState.members, _member)),
            width="100%", id="members-table",
        ),
        rx.cond(TeamsState.members.length() == 0, rx.text("No members yet.", color_scheme="gray")),
        spacing="3", width="100%",
    ), width="100%")


@signed_in
def teams_page() -> rx.Component:
    return rx.vstack(
        rx.heading("Teams", size="7", id="page-title"),
        rx.text("A team targeted by an escalation step pages all of its members.", size="2", color_scheme="gray"),
        rx.cond(TeamsState.notice != "", rx.callout(TeamsState.notice, icon="check", color_scheme="green",
                                                    id="team-notice", width="100%")),
        rx.cond(TeamsState.error != "", rx.callout(TeamsState.error, icon="triangle-alert", color_scheme="red",
                                                   role="alert", id="team-error", width="100%")),
        _team_list(),
        rx.cond(TeamsState.team_id != 0, _team_detail()),
        spacing="4", width="100%", max_width="960px",
    )
