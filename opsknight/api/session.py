"""The sign-in cookie, set and cleared by these routes so that it is HttpOnly: no page script can read it.

The login form (a Reflex event) checks the password, creates the session and stores a single-use hand-over
code (60 s, in Redis, by digest) for its token; the browser then loads `/api/session/start?code=…`, which
swaps the code for the cookie and redirects on. Reflex reads the cookie on the server, from the websocket
handshake (`router.headers.cookie`); it is never sent to the page. `/api/session/end` revokes the session and
clears the cookie.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse

from opsknight import accounts, broker, routes, security
from opsknight.config import settings
from opsknight.db import session_scope

router = APIRouter(tags=["session"], include_in_schema=False)
SESSION_COOKIE = "opsknight_session"
CODE_TTL_SECONDS = 60
_CODE_KEY = "opsknight:signin-code:"


def issue_code(token: str) -> str:
    """A single-use code the browser exchanges for the cookie holding `token` (raises RedisError)."""
    code = secrets.token_urlsafe(32)
    broker.redis_conn().set(_CODE_KEY + security.token_digest(code), token, ex=CODE_TTL_SECONDS)
    return code


def start_url(code: str, next_path: str | None) -> str:
    from urllib.parse import urlencode

    return f"/api/session/start?{urlencode({'code': code, 'next': routes.safe_next(next_path)})}"


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303, headers={"Cache-Control": "no-store"})


@router.get("/api/session/start")
def start(code: str = Query(default="", max_length=100), next: str = Query(default="/", max_length=2000)):
    token = broker.redis_conn().getdel(_CODE_KEY + security.token_digest(code)) if code else None
    if token is None:  # expired, used already, or made up: sign in again
        return _redirect(routes.LOGIN)
    response = _redirect(routes.safe_next(next))
    response.set_cookie(SESSION_COOKIE, token.decode(), max_age=settings().session_days * 86400, path="/",
                        httponly=True, samesite="strict", secure=settings().secure_cookies)
    return response


@router.get("/api/session/end")
def end(request: Request):
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        with session_scope() as db:
            accounts.revoke_session(db, token)
    response = _redirect(routes.LOGIN)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=settings().secure_cookies)
    return response
