"""The API key's own user: profile (name, time zone, quiet hours), contact methods with test messages,
notification rules, personal API keys (the new key is in the creation response only), and "my on call". The logic
is in `opsknight.admin.profile`, `opsknight.admin.contacts` and `opsknight.admin.my_oncall`, shared with the My
profile and On call pages.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from opsknight.admin import contacts, my_oncall, profile, users
from opsknight.api.deps import ProfileEditor, Reader, RowId
from opsknight.api.errors import ErrorShapedRoute
from opsknight.db import session_scope
from opsknight.engine import clock

router = APIRouter(prefix="/api/v1/me", tags=["me"], route_class=ErrorShapedRoute)

SignedIn = ProfileEditor
ItemId = RowId


@router.get("", summary="The key's user")
def get_me(principal: Reader) -> dict:
    with session_scope() as db:
        return users.user_json(profile.me(db, principal))


@router.patch("", summary="Change your name, time zone or quiet hours")
def update_me(body: profile.ProfileUpdate, principal: SignedIn) -> dict:
    with session_scope() as db:
        return users.user_json(profile.update_profile(db, principal, body))


@router.get("/oncall", summary="Your on call: now and until when, your shifts for 14 days, everyone's, the brief")
def get_my_oncall(principal: Reader) -> dict:
    """What the On call page shows, as data: the same dict (times in UTC)."""
    with session_scope() as db:
        return my_oncall.my_oncall(db, principal, clock.now())


# --- contact methods ----------------------------------------------------------------------------------------------


@router.get("/contact-methods", summary="Your contact methods")
def list_contact_methods(principal: Reader) -> dict:
    with session_scope() as db:
        rows = contacts.list_contact_methods(db, principal, principal.user_id)
        return {"data": [contacts.contact_json(c) for c in rows]}


@router.post("/contact-methods", status_code=201, summary="Add a contact method")
def create_contact_method(body: contacts.ContactMethodCreate, principal: SignedIn) -> dict:
    with session_scope() as db:
        return contacts.contact_json(contacts.create_contact_method(db, principal, principal.user_id, body))


@router.get("/contact-methods/{contact_id}", summary="One of your contact methods")
def get_contact_method(contact_id: ItemId, principal: Reader) -> dict:
    with session_scope() as db:
        return contacts.contact_json(contacts.get_contact_method(db, principal, principal.user_id, contact_id))


@router.patch("/contact-methods/{contact_id}", summary="Change a contact method (label, address, on/off)")
def update_contact_method(contact_id: ItemId, body: contacts.ContactMethodUpdate, principal: SignedIn) -> dict:
    with session_scope() as db:
        return contacts.contact_json(
            contacts.update_contact_method(db, principal, principal.user_id, contact_id, body))


@router.delete("/contact-methods/{contact_id}", status_code=204, summary="Delete a contact method and its rules")
def delete_contact_method(contact_id: ItemId, principal: SignedIn) -> Response:
    with session_scope() as db:
        contacts.delete_contact_method(db, principal, principal.user_id, contact_id)
    return Response(status_code=204)


@router.post("/contact-methods/{contact_id}/test", summary="Send a test message through the real channel now")
def test_contact_method(contact_id: ItemId, principal: SignedIn) -> dict:
    return profile.send_test_message(principal, principal.user_id, contact_id)


# --- notification rules -------------------------------------------------------------------------------------------


@router.get("/notification-rules", summary="Your notification rules, by delay")
def list_rules(principal: Reader) -> dict:
    with session_scope() as db:
        rows = contacts.list_rules(db, principal, principal.user_id)
        return {"data": [contacts.rule_json(r, kind) for r, kind in rows]}


@router.post("/notification-rules", status_code=201, summary="Add a notification rule")
def create_rule(body: contacts.NotificationRuleCreate, principal: SignedIn) -> dict:
    with session_scope() as db:
        return contacts.rule_json(*contacts.create_rule(db, principal, principal.user_id, body))


@router.patch("/notification-rules/{rule_id}", summary="Change a notification rule")
def update_rule(rule_id: ItemId, body: contacts.NotificationRuleUpdate, principal: SignedIn) -> dict:
    with session_scope() as db:
        return contacts.rule_json(*contacts.update_rule(db, principal, principal.user_id, rule_id, body))


@router.delete("/notification-rules/{rule_id}", status_code=204, summary="Delete a notification rule")
def delete_rule(rule_id: ItemId, principal: SignedIn) -> Response:
    with session_scope() as db:
        contacts.delete_rule(db, principal, principal.user_id, rule_id)
    return Response(status_code=204)


# --- personal API keys ----------------------------------------------------------------------------------------------


@router.get("/api-keys", summary="Your active API keys (prefix, scopes, last use; never the key)")
def list_api_keys(principal: Reader) -> dict:
    with session_scope() as db:
        return {"data": [profile.api_key_json(k) for k in profile.list_api_keys(db, principal)]}


@router.post("/api-keys", status_code=201, summary="Create an API key: the key is in this response only")
def create_api_key(body: profile.ApiKeyCreate, principal: SignedIn) -> dict:
    with session_scope() as db:
        key, row = profile.create_api_key(db, principal, body)
        return {**profile.api_key_json(row), "key": key}


@router.delete("/api-keys/{key_id}", status_code=204, summary="Revoke an API key: it stops working at once")
def revoke_api_key(key_id: ItemId, principal: SignedIn) -> Response:
    with session_scope() as db:
        profile.revoke_api_key(db, principal, key_id)
    return Response(status_code=204)
