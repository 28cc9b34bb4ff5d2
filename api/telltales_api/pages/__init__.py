"""The CSM's pages: server-rendered HTML in the same app as the API (docs/pages.md).

Every page reads with a session made from an API key (:mod:`.access`), sees exactly
what that key sees, and is sent with a strict Content-Security-Policy: scripts,
styles and images from telltales itself only, no inline script, no framing, forms
posting only to telltales. Pages are never cached: each shows one person's data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Request, Response, Router
from litestar.datastructures import CacheControlHeader, ResponseHeader
from litestar.exceptions import HTTPException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template.config import TemplateConfig

from telltales_api.pages import account, accounts, sign_in
from telltales_api.pages.access import SignInRequired, sign_in_address
from telltales_api.problems import ProblemError

TEMPLATES = Path(__file__).parent / "templates"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
HEADERS = [
    ResponseHeader(name="Content-Security-Policy", value=CONTENT_SECURITY_POLICY),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
    ResponseHeader(name="Referrer-Policy", value="same-origin"),
    ResponseHeader(name="X-Frame-Options", value="DENY"),
]


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja2, every value escaped (an account named ``<script>`` is shown as text),
    and an unknown name in a template an error rather than an empty string."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
    )
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def _to_sign_in(_: Request[Any, Any, Any], error: SignInRequired) -> Response[Any]:
    return Redirect(sign_in_address(error.back_to), status_code=303)


def _refused(request: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    """The page's own words for a refusal; a filter the page cannot read is named,
    nothing of the request's internals is shown."""
    unknown = "a filter of this page is not one it knows"
    detail = unknown if error.status_code == 400 else error.detail
    return Template(
        "refused.html",
        context={"status": error.status_code, "detail": detail},
        status_code=error.status_code,
    )


def _problem(request: Request[Any, Any, Any], error: ProblemError) -> Response[Any]:
    return Template(
        "refused.html",
        context={"status": error.status, "detail": error.detail},
        status_code=error.status,
    )


router = Router(
    path="/",
    route_handlers=[
        sign_in.home,
        sign_in.sign_in_form,
        sign_in.sign_in,
        sign_in.sign_out,
        accounts.accounts_page,
        accounts.accounts_csv,
        account.account_page,
        account.set_override,
    ],
    response_headers=HEADERS,
    cache_control=CacheControlHeader(no_store=True),
    exception_handlers={
        SignInRequired: _to_sign_in,
        HTTPException: _refused,
        ProblemError: _problem,
    },
    include_in_schema=False,
)
