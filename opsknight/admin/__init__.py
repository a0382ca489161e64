"""Configuration changes — the one layer the admin pages, the REST API and the CLI share.

Every change goes the same way: parse the input with a pydantic model (`parse`), check the actor may do it
(`authorize`), write it, and record who did what in the audit log (`opsknight.admin.audit.record`) in the same
transaction. Failures are `AdminError`s whose message is safe to show; the API turns them into its error shape
and the pages show the message.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from opsknight.accounts import Principal
from opsknight.permissions import Permission, allowed


class AdminError(Exception):
    status = 400
    code = "invalid_request"

    def __init__(self, message: str, fields: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or []


class Invalid(AdminError):
    """The input is wrong; `fields` says where ("steps.0.targets: at least one target")."""


class NotFound(AdminError):
    status, code = 404, "not_found"


class Conflict(AdminError):
    """The change is valid but the current state refuses it (name taken, policy still in use...)."""

    status, code = 409, "conflict"


class Forbidden(AdminError):
    status, code = 403, "forbidden"


def authorize(principal: Principal | None, permission: Permission) -> Principal:
    if principal is None:
        raise Forbidden("Sign in first")
    if not allowed(principal, permission):
        raise Forbidden(f"Your role or API key does not allow this ({permission})")
    return principal


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: dict | BaseModel) -> M:
    """Validate `data` (a form's dict or an API body) into `model`, or raise `Invalid` naming every bad field."""
    if isinstance(data, model):
        return data
    if isinstance(data, BaseModel):
        data = data.model_dump()
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()]
        raise Invalid("; ".join(fields) if len(fields) <= 3 else f"{len(fields)} fields are invalid", fields) from None
