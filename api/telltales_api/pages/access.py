"""Who is signed in to the pages, and the checks every page and form makes.

A page is read with a session cookie, never with a key in the URL or a header: the
key is given once, on the sign-in form, and exchanged for a session
(:mod:`telltales.store.sessions`). Every form that changes something carries the
session's CSRF token, and the sign-in form (which has no session yet) must come from
the server's own origin: another site cannot submit either. The session's key gives
the pages exactly the scopes and CSM groups it gives the API.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import quote, urlsplit

from litestar import Request
from litestar.datastructures import Cookie
from litestar.exceptions import HTTPException
from telltales.store.keys import Scope
from telltales.store.sessions import SESSION_HOURS, PageSession, find_session

from telltales_api.context import ApiContext

COOKIE = "telltales_session"


class SignInRequired(Exception):
    """No live session: the page answers with the sign-in form's address instead."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


class PageForbidden(HTTPException):
    """403 for a page: the session's key may not do this, or the form was forged."""

    status_code = 403


def context_of(request: Request[Any, Any, Any]) -> ApiContext:
    context: ApiContext = request.app.state.telltales
    return context


def signed_in(request: Request[Any, Any, Any], scope: Scope = "read") -> PageSession:
    """The request's live session, which must allow ``scope``; else sign in first."""
    token = request.cookies.get(COOKIE, "")
    session = find_session(context_of(request).store, token) if token else None
    if session is None:
        raise SignInRequired(_this_page(request))
    if not session.key.allows(scope):
        raise PageForbidden(detail=f"the key signed in with lacks the {scope!r} scope")
    return session


def _this_page(request: Request[Any, Any, Any]) -> str:
    path = request.url.path
    query = request.url.query
    return f"{path}?{query}" if query else path


def sign_in_address(back_to: str) -> str:
    return f"/sign-in?next={quote(back_to, safe='')}"


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this server only, never another site."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return "/"
    return target


def check_csrf(session: PageSession, token: str) -> None:
    """Refuse a form without the session's own CSRF token."""
    if not token or not hmac.compare_digest(token, session.csrf_token):
        raise PageForbidden(detail="this form is out of date or did not come from this site")


def check_same_origin(request: Request[Any, Any, Any]) -> None:
    """Refuse a form posted from another site (the sign-in form has no session yet)."""
    origin = request.headers.get("origin") or request.headers.get("referer") or ""
    own = f"{request.url.scheme}://{request.url.netloc}"
    if not origin or (origin != own and not origin.startswith(own + "/")):
        raise PageForbidden(detail="this form did not come from this site")


def session_cookie(request: Request[Any, Any, Any], token: str) -> Cookie:
    """HttpOnly (no script reads it), SameSite=Lax (no other site posts with it),
    Secure when the page was served over HTTPS, and expiring with the session."""
    return Cookie(
        key=COOKIE,
        value=token,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=SESSION_HOURS * 3600,
    )


def cleared_cookie(request: Request[Any, Any, Any]) -> Cookie:
    return Cookie(
        key=COOKIE,
        value="",
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=0,
    )
