"""Users in the REST API: list and read (any key), invite, edit and disable (admin), and each user's contact methods
and notification rules (read by anyone; changed by an admin or by the user themselves). The logic is in
`opsknight.admin.users` and `opsknight.admin.contacts`, shared with the Users page.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Response

from opsknight.admin import contacts, profile, users
from opsknight.api.deps import Admin, Cursor, Reader, RowId, SelfOrAdmin
from opsknight.api.errors import ErrorShapedRoute
from opsknight.db import session_scope

router = APIRouter(prefix="/api/v1/users", tags=["users"], route_class=ErrorShapedRoute)

SignedIn = SelfOrAdmin  # the admin layer checks the same again
UserId = ItemId = RowId


@router.get("", summary="List users, by id")
def list_users(
    principal: Reader,
    status: Literal["active", "disabled"] | None = None,
    role: Literal["admin", "responder", "viewer"] | None = None,
    q: str = Query(default="", max_length=100, pattern=r"^[^\x00]*$", description="part of a name or email"),
    limit: int = Query(default=100, ge=1, le=500),
    cursor: Cursor = None,
) -> dict:
    with session_scope() as db:
        page, next_cursor = users.list_users(db, principal, status=status, role=role, query=q, limit=limit,
                                             cursor=cursor)
        return {"data": [users.user_json(u) for u in page], "next_cursor": next_cursor}


@router.post("", status_code=201, summary="Invite a user (with or without a first password)")
def create_user(body: users.UserCreate, principal: Admin) -> dict:
    with session_scope() as db:
        return users.user_json(users.create_user(db, principal, body))


@router.get("/{user_id}", summary="One user")
def get_user(user_id: UserId, principal: Reader) -> dict:
    with session_scope() as db:
        return users.user_json(users.get_user(db, principal, user_id))


@router.patch("/{user_id}", summary="Change name, role, time zone, quiet hours, status or password")
def update_user(user_id: UserId, body: users.UserUpdate, principal: Admin) -> dict:
    with session_scope() as db:
        return users.user_json(users.update_user(db, principal, user_id, body))


@router.delete("/{user_id}", status_code=204, summary="Disable a user: sessions and API keys end, paging stops")
def disable_user(user_id: UserId, principal: Admin) -> Response:
    with session_scope() as db:
        users.disable_user(db, principal, user_id)
    return Response(status_code=204)


# --- contact methods ---------------------------------------------------------------------------------------------


@router.get("/{user_id}/contact-methods", summary="A user's contact methods")
def list_contact_methods(user_id: UserId, principal: Reader) -> dict:
    with session_scope() as db:
        return {"data": [contacts.contact_json(c) for c in contacts.list_contact_methods(db, principal, user_id)]}


@router.post("/{user_id}/contact-methods", status_code=201, summary="Add a contact method (admin or the user)")
def create_contact_method(user_id: UserId, body: contacts.ContactMethodCreate, principal: SignedIn) -> dict:
    with session_scope() as db:
        return contacts.contact_json(contacts.create_contact_method(db, principal, user_id, body))


@router.get("/{user_id}/contact-methods/{contact_id}", summary="One contact method")
def get_contact_method(user_id: UserId, contact_id: ItemId, principal: Reader) -> dict:
    with session_scope() as db:
        return contacts.contact_json(contacts.get_contact_method(db, principal, user_id, contact_id))


@router.patch("/{user_id}/contact-methods/{contact_id}", summary="Change a contact method (admin or the user)")
def update_contact_method(user_id: UserId, contact_id: ItemId, body: contacts.ContactMethodUpdate,
                          principal: SignedIn) -> dict:
    with session_scope() as db:
        return contacts.contact_json(contacts.update_contact_method(db, principal, user_id, contact_id, body))


@router.delete("/{user_id}/contact-methods/{contact_id}", status_code=204,
               summary="Delete a contact method and its rules (admin or the user)")
def delete_contact_method(user_id: UserId, contact_id: ItemId, principal: SignedIn) -> Response:
    with session_scope() as db:
        contacts.delete_contact_method(db, principal, user_id, contact_id)
    return Response(status_code=204)


@router.post("/{user_id}/contact-methods/{contact_id}/test",
             summary="Send a test message through the real channel now (admin or the user)")
def test_contact_method(user_id: UserId, contact_id: ItemId, principal: SignedIn) -> dict:
    return profile.send_test_message(principal, user_id, contact_id)


# --- notification rules -----------------------------------------------------------------------------------------


@router.get("/{user_id}/notification-rules", summary="A user's notification rules, by delay")
def list_rules(user_id: UserId, principal: Reader) -> dict:
    with session_scope() as db:
        return {"data": [contacts.rule_json(r, kind) for r, kind in contacts.list_rules(db, principal, user_id)]}


@router.post("/{user_id}/notification-rules", status_code=201, summary="Add a notification rule (admin or the user)")
def create_rule(user_id: UserId, body: contacts.NotificationRuleCreate, principal: SignedIn) -> dict:
    with session_scope() as db:
        return contacts.rule_json(*contacts.create_rule(db, principal, user_id, body))


@router.patch("/{user_id}/notification-rules/{rule_id}", summary="Change a notification rule (admin or the user)")
def update_rule(user_id: UserId, rule_id: ItemId, body: contacts.NotificationRuleUpdate, principal: SignedIn) -> dict:
    with session_scope() as db:
        return contacts.rule_json(*contacts.update_rule(db, principal, user_id, rule_id, body))


@router.delete("/{user_id}/notification-rules/{rule_id}", status_code=204,
               summary="Delete a notification rule (admin or the user)")
def delete_rule(user_id: UserId, rule_id: ItemId, principal: SignedIn) -> Response:
    with session_scope() as db:
        contacts.delete_rule(db, principal, user_id, rule_id)
    return Response(status_code=204)
