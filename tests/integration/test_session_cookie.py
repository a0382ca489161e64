"""The sign-in cookie's hand-over: a single-use code becomes an HttpOnly, SameSite=Strict cookie; ending the
session revokes it on the server and clears the cookie."""

from __future__ import annotations

from opsknight import accounts
from opsknight.api.session import SESSION_COOKIE, issue_code
from opsknight.config import reset_settings
from opsknight.models import Role
from opsknight.state.auth import session_token_from


def _token(session) -> str:
    user = accounts.create_user(session, email="ann@example.com", name="Ann", role=Role.RESPONDER,
                                password="pw-long-enough")
    token = accounts.create_session(session, user, days=1)
    session.commit()
    return token


def test_a_code_becomes_an_httponly_cookie_once(client, session):
    token = _token(session)
    code = issue_code(token)
    first = client.get("/api/session/start", params={"code": code, "next": "/services"}, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/services"
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}={token};")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie and "Max-Age=" in cookie
    assert "Secure" not in cookie  # served over plain http here
    again = client.get("/api/session/start", params={"code": code}, follow_redirects=False)
    assert again.headers["location"] == "/login" and "set-cookie" not in again.headers


def test_the_cookie_is_secure_when_the_site_is_https(client, session, monkeypatch):
    monkeypatch.setenv("OPSKNIGHT_BASE_URL", "https://oncall.example.com")
    reset_settings()
    response = client.get("/api/session/start", params={"code": issue_code(_token(session))},
                          follow_redirects=False)
    assert "Secure" in response.headers["set-cookie"] and "HttpOnly" in response.headers["set-cookie"]


def test_made_up_codes_and_foreign_redirects_go_nowhere(client, session):
    made_up = client.get("/api/session/start", params={"code": "nope"}, follow_redirects=False)
    assert made_up.headers["location"] == "/login" and "set-cookie" not in made_up.headers
    code = issue_code(_token(session))
    offsite = client.get("/api/session/start", params={"code": code, "next": "//evil.example"},
                         follow_redirects=False)
    assert offsite.headers["location"] == "/"


def test_ending_the_session_revokes_it_and_clears_the_cookie(client, session):
    token = _token(session)
    assert accounts.principal_for_session(session, token) is not None
    client.cookies.set(SESSION_COOKIE, token)
    response = client.get("/api/session/end", follow_redirects=False)
    assert response.headers["location"] == "/login"
    assert response.headers["set-cookie"].startswith(f'{SESSION_COOKIE}="";')
    session.expire_all()
    assert accounts.principal_for_session(session, token) is None


def test_the_token_is_read_from_the_cookie_header():
    assert session_token_from(f"a=1; {SESSION_COOKIE}=oks_abc; b=2") == "oks_abc"
    assert session_token_from("a=1") == "" and session_token_from("") == ""
    assert session_token_from('bad="unterminated') == ""
