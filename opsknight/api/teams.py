"""Teams in the REST API: CRUD and membership (member or manager). Reads need a Reader key, changes an Admin key
with the write scope; the work is `opsknight.admin.teams`, shared with the admin pages."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from opsknight.admin import teams
from opsknight.api.deps import Admin, Cursor, Reader, RowId
from opsknight.api.errors import ErrorShapedRoute
from opsknight.db import session_scope

router = APIRouter(prefix="/api/v1/teams", tags=["teams"], route_class=ErrorShapedRoute)
TeamId = RowId
UserId = RowId


@router.get("", summary="List teams with their member counts")
def list_teams(
    principal: Reader,
    limit: int = Query(default=100, ge=1, le=200),
    cursor: Cursor = None,
) -> dict:
    with session_scope() as db:
        data, next_cursor = teams.list_teams(db, principal, limit=limit, cursor=cursor)
    return {"data": data, "next_cursor": next_cursor}


@router.post("", status_code=201, summary="Create a team")
def create_team(body: teams.TeamIn, principal: Admin) -> dict:
    with session_scope() as db:
        return teams.create_team(db, principal, body)


@router.get("/{team_id}", summary="One team with its members")
def get_team(team_id: TeamId, principal: Reader) -> dict:
    with session_scope() as db:
        return teams.get_team(db, principal, team_id)


@router.patch("/{team_id}", summary="Rename a team or change its description")
def update_team(team_id: TeamId, body: teams.TeamPatch, principal: Admin) -> dict:
    with session_scope() as db:
        return teams.update_team(db, principal, team_id, body)


@router.delete("/{team_id}", status_code=204, summary="Delete a team no escalation step pages")
def delete_team(team_id: TeamId, principal: Admin) -> Response:
    with session_scope() as db:
        teams.delete_team(db, principal, team_id)
    return Response(status_code=204)


@router.get("/{team_id}/members", summary="The team's members")
def list_members(team_id: TeamId, principal: Reader) -> dict:
    with session_scope() as db:
        return {"data": teams.list_members(db, principal, team_id), "next_cursor": None}


@router.post("/{team_id}/members", status_code=201, summary="Add a user to the team")
def add_member(team_id: TeamId, body: teams.MemberIn, principal: Admin) -> dict:
    with session_scope() as db:
        return teams.add_member(db, principal, team_id, body)


@router.patch("/{team_id}/members/{user_id}", summary="Make a member a manager, or back")
def set_member_role(team_id: TeamId, user_id: UserId, body: teams.MemberRoleIn, principal: Admin) -> dict:
    with session_scope() as db:
        return teams.set_member_role(db, principal, team_id, user_id, body)


@router.delete("/{team_id}/members/{user_id}", status_code=204, summary="Remove a user from the team")
def remove_member(team_id: TeamId, user_id: UserId, principal: Admin) -> Response:
    with session_scope() as db:
        teams.remove_member(db, principal, team_id, user_id)
    return Response(status_code=204)
