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


SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def _swap(client, headers=SAME_ORIGIN, **form):
    """The login page's form post of the code."""
    return client.post("/api/session/start", data=form, headers=headers, follow_redirects=False)


def test_a_code_becomes_an_httponly_cookie_once(client, session):
    token = _token(session)
    code = issue_code(token)
    first = _swap(client, code=code, next="/services")
    assert first.status_code == 303 and first.headers["location"] == "/services"
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}={token};")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie and "Max-Age=" in cookie
    assert "Secure" not in cookie  # served over plain http here
    again = _swap(client, code=code)
    assert again.headers["location"] == "/login" and "set-cookie" not in again.headers


def test_the_cookie_is_secure_when_the_site_is_https(client, session, monkeypatch):
    monkeypatch.setenv("OPSKNIGHT_BASE_URL", "https://oncall.example.com")
    reset_settings()
    response = _swap(client, code=issue_code(_token(session)))
    assert "Secure" in response.headers["set-cookie"] and "HttpOnly" in response.headers["set-cookie"]


def test_made_up_codes_and_foreign_redirects_go_nowhere(client, session):
    made_up = _swap(client, code="nope")
    assert made_up.headers["location"] == "/login" and "set-cookie" not in made_up.headers
    code = issue_code(_token(session))
    offsite = _swap(client, code=code, next="//evil.example")
    assert offsite.headers["location"] == "/"


def test_another_site_cannot_swap_a_code_for_the_visitors_cookie(client, session):
    """Login CSRF: an attacker signs in, takes their own code and sends the victim's browser to the swap (a link,
    or a form posted from their page). The victim would then act inside the attacker's account."""
    code = issue_code(_token(session))
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                    {"Sec-Fetch-Site": "none"},  # typed into the address bar, or opened from a bookmark or mail
                    {"Origin": "https://evil.example"}, {"Origin": "null"}, {}):
        refused = _swap(client, headers=headers, code=code)
        assert refused.headers["location"] == "/login" and "set-cookie" not in refused.headers, headers
    following_a_link = client.get("/api/session/start", params={"code": code}, follow_redirects=False)
    assert following_a_link.status_code == 405 and "set-cookie" not in following_a_link.headers
    # Refusals do not use the code up: the page that asked for it (same origin) still gets the cookie.
    assert _swap(client, headers={"Origin": "http://testserver"}, code=code).headers["set-cookie"]


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
