"""The sign-in cookie, set and cleared by these routes so that it is HttpOnly: no page script can read it.

The login form (a Reflex event) checks the password, creates the session and stores a single-use hand-over
code (60 s, in Redis, by digest) for its token; the page then POSTs the code to `/api/session/start` (a form
post, so the browser navigates), which swaps it for the cookie and redirects on. The swap only takes a post from
one of our own pages (`Sec-Fetch-Site: same-origin`, or an `Origin` of this site where a browser sends no
`Sec-Fetch-Site`): another site could otherwise sign a visitor into the attacker's account by sending them to the
swap with the attacker's own code (login CSRF). Reflex reads the cookie on the server, from the websocket
handshake (`router.headers.cookie`); it is never sent to the page. `/api/session/end` revokes the session and
clears the cookie.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
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


START_PATH = "/api/session/start"
log = logging.getLogger(__name__)


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303, headers={"Cache-Control": "no-store"})


def from_our_own_page(request: Request) -> bool:
    """True for a request a page of this site sent, false for one another site made the browser send."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:  # every current browser sends it, and no page can forge it
        return site == "same-origin"
    origin = urlsplit(request.headers.get("origin", "")).netloc
    return origin != "" and origin in {request.headers.get("host", ""), urlsplit(settings().base_url).netloc}


@router.post(START_PATH)
def start(request: Request, code: str = Form(default="", max_length=100),
          next: str = Form(default="/", max_length=2000)):
    if not from_our_own_page(request):
        log.warning("refused a sign-in code swap sent from another site (origin %r)",
                    request.headers.get("origin", "")[:100])
        return _redirect(routes.LOGIN)
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
