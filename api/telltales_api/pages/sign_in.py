"""Sign in with an API key, sign out, and ``/``, which leads to the pages."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter
from litestar.response import Redirect, Template
from telltales.store.keys import verify_token
from telltales.store.sessions import end_session, find_session, open_session

from telltales_api.pages.access import (
    COOKIE,
    check_csrf,
    check_same_origin,
    cleared_cookie,
    context_of,
    safe_next,
    session_cookie,
    signed_in,
)

HOME = "/accounts"


class SignInForm(msgspec.Struct, kw_only=True):
    key: str = ""
    next: str = ""


class SignOutForm(msgspec.Struct, kw_only=True):
    csrf_token: str = ""


@get("/", sync_to_thread=False, include_in_schema=False)
def home(request: Request[Any, Any, Any]) -> Redirect:
    """The pages' front door: the at-risk list, or the sign-in form first."""
    token = request.cookies.get(COOKIE, "")
    if token and find_session(context_of(request).store, token) is not None:
        return Redirect(HOME, status_code=303)
    return Redirect(f"/sign-in?next={HOME}", status_code=303)


@get("/sign-in", sync_to_thread=False, include_in_schema=False)
def sign_in_form(
    next: Annotated[str | None, QueryParameter(max_length=2000)] = None,
) -> Template:
    return Template("sign_in.html", context={"next": safe_next(next), "problem": None})


@post("/sign-in", sync_to_thread=True, include_in_schema=False, status_code=303)
def sign_in(
    request: Request[Any, Any, Any],
    data: Annotated[SignInForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Redirect | Template:
    """Exchange a key for a session cookie; the key itself is never kept in the browser."""
    check_same_origin(request)
    store = context_of(request).store
    key = verify_token(store, data.key.strip())
    if key is None:
        return Template(
            "sign_in.html",
            context={
                "next": safe_next(data.next),
                "problem": "This key is unknown or revoked. Ask an admin for a key "
                "(telltales keys create --scope read).",
            },
            status_code=401,
        )
    token, _ = open_session(store, key)
    return Redirect(safe_next(data.next), status_code=303, cookies=[session_cookie(request, token)])


@post("/sign-out", sync_to_thread=True, include_in_schema=False, status_code=303)
def sign_out(
    request: Request[Any, Any, Any],
    data: Annotated[SignOutForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Redirect:
    session = signed_in(request)
    check_csrf(session, data.csrf_token)
    end_session(context_of(request).store, request.cookies.get(COOKIE, ""))
    return Redirect("/sign-in", status_code=303, cookies=[cleared_cookie(request)])
