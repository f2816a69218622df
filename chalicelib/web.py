"""What each route (and the schedule's and the worker's function) does, in terms of what
Chalice hands over. app.py stays a list of routes; domain errors become HTTP answers in one
place, `failure` (the ERROR_PAGES table, as a page or as JSON); `signed_in_account` is every
signed-in route's preamble; `own_answers` makes every other answer of the function ours too
(Chalice's own 405, 415 and 500, and HEAD)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, urlencode

from chalice import Response
from chalice.app import Request

from chalicelib import observability, services
from chalicelib.config import settings
from chalicelib.errors import (
    BadCallback,
    ResponsetimeError,
    SignInExpired,
    SignInMismatch,
    StoreUnavailable,
    XPaymentRequired,
    XRateLimited,
    XReadsPaused,
    XRejected,
    XUnavailable,
)
from chalicelib.observability import logger
from chalicelib.pages import render, security_headers
from chalicelib.signin import CALLBACK_VALUE

if TYPE_CHECKING:
    from chalicelib.accounts import AccountTokens
    from chalicelib.analytics import InvalidReportParameter, Report
    from chalicelib.report_service import ReportView
    from chalicelib.sessions import SignedIn

# What a report route answers: the page, the JSON, the CSV, the workbook, or one of the
# two list pages (each a page of its own, made from the same report).
Format = Literal["html", "json", "csv", "xlsx", "waiting", "slowest"]
NEEDS_ROWS = frozenset({"csv", "xlsx", "waiting", "slowest"})  # built, not the stored body
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZIP_TYPE = "application/zip"  # GET /export
REFRESH_NOW_SECONDS = 60  # one "Refresh now" a minute per account

# The answer to both ways X reads stop for the whole fleet (x_pause), with no report yet.
X_PAUSED = (
    503,
    "X reads are paused",
    "X reads are paused by the operator's plan, so there is no report to show yet. "
    "Please try again later.",
)
# (status, title, message) per domain error; the page always offers a fresh start.
ERROR_PAGES: dict[type[ResponsetimeError], tuple[int, str, str]] = {
    SignInExpired: (
        400,
        "Your sign-in expired",
        "The sign-in took too long or began in another browser. Please start again.",
    ),
    SignInMismatch: (
        400,
        "This sign-in does not match",
        "The answer from X belongs to another sign-in. Please start again.",
    ),
    BadCallback: (
        400,
        "This sign-in link is not valid",
        "The link back from X is incomplete or damaged. Please start again.",
    ),
    XRejected: (
        502,
        "X refused the sign-in",
        "X did not accept this sign-in. Please try again in a moment.",
    ),
    XReadsPaused: X_PAUSED,
    XPaymentRequired: X_PAUSED,  # the 402 that paused them
    XRateLimited: (
        503,
        "X asks us to slow down",
        "X is limiting requests right now. Please try again in a few minutes.",
    ),
    XUnavailable: (
        503,
        "X is not answering",
        "We could not reach X in time. Please try again in a moment.",
    ),
    # Worded in observability, which answers it too when the settings cannot be read.
    StoreUnavailable: observability.STORE_UNAVAILABLE_ANSWER,
}


# /static/app.css is these files, one after the other (one request, one cache entry): the
# pages, the charts, and what printing changes.
STYLESHEETS = [
    Path(__file__).parent / "static" / name for name in ("app.css", "charts.css", "print.css")
]

# Where a completed sign-in lands.
SIGNED_IN_HOME = "/report"


def _hsts() -> bool:
    return settings().secure_cookies


def page(template: str, status: int = 200, **context: Any) -> Response:
    return render(template, status, hsts=_hsts(), base_path=settings().base_path, **context)


def _error_entry(error: ResponsetimeError) -> tuple[int, str, str]:
    return next(value for kind, value in ERROR_PAGES.items() if isinstance(error, kind))


def error_page(error: ResponsetimeError, **context: Any) -> Response:
    status, title, message = _error_entry(error)
    logger.warning("request failed", extra={"error": type(error).__name__, "status": status})
    return page("message.html", status, title=title, message=message, retry=True, **context)


def failure(fmt: Format, error: ResponsetimeError, **context: Any) -> Response:
    """A domain error as the answer the format asks for: our page, or `{"error": title}`
    with the page's status for a script."""
    if fmt == "json":
        status, title, _ = _error_entry(error)
        logger.warning("request failed", extra={"error": type(error).__name__, "status": status})
        return json_answer({"error": title}, status)
    return error_page(error, **context)


def redirect(location: str, *, status: int = 302, cookie: str | None = None) -> Response:
    """A redirect; a path of this app ("/report") gets the public URL's base path."""
    headers = security_headers(hsts=_hsts())
    headers["Location"] = settings().base_path + location if location.startswith("/") else location
    if cookie is not None:
        headers["Set-Cookie"] = cookie
    return Response(body="", status_code=status, headers=headers)


# Every method API Gateway routes to a REST API's function (and chalice local serves).
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

# (title, message) of what the function answers for a request no view takes as it came.
# What API Gateway answers itself (no such path, too many requests) is worded in
# infra/resources.json's GatewayResponses, in the same voice.
STATUS_PAGES: dict[int, tuple[str, str]] = {
    400: (
        "This request cannot be answered",
        "Something in the request was not as this site expects. Please start again.",
    ),
    # A route's path parameter naming nothing (`status_page(request, 404)`): the words of
    # API Gateway's own 404, for a path no route has.
    404: (
        "Page not found",
        "There is no page at this address. The link may be mistyped, or out of date.",
    ),
    405: ("Not available this way", "This address does not take that kind of request."),
    415: (
        "This form cannot be read",
        "It arrived in a form this site does not read. Please go back and send it again.",
    ),
    500: (
        "Something went wrong on our side",
        "We could not answer this request. Please try again in a moment.",
    ),
}
# GET /logout, typed in or followed from a link: the form's address has no page of its own.
FORM_ADDRESS = "This address is where a button of this site sends its form; it has no page."


def served_methods(routes: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    """The methods each path's routes take, by path."""
    return {path: tuple(entries) for path, entries in routes.items()}


def unserved_methods(served: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """By path, the methods of HTTP_METHODS none of its routes take."""
    return {
        path: [method for method in HTTP_METHODS if method not in methods]
        for path, methods in served.items()
        if set(HTTP_METHODS) - set(methods)
    }


def _wants_json(request: Request | None) -> bool:
    """A script's route (/report.json) answers its errors in JSON, as its other errors."""
    context = request.context if request is not None else {}
    return str(context.get("resourcePath", "")).endswith(".json")


def status_page(request: Request | None, status: int, message: str | None = None) -> Response:
    """STATUS_PAGES' answer for `status`: our page, or `{"error": title}` for a script."""
    title, worded = STATUS_PAGES[status]
    if _wants_json(request):
        return json_answer({"error": title}, status)
    return page("message.html", status, title=title, message=message or worded, home=True)


def method_not_allowed(request: Request, served: Mapping[str, Sequence[str]]) -> Response:
    """405 with Allow: the methods the path's routes take (`served`, by path)."""
    allowed = served[request.context["resourcePath"]]
    method = request.method
    logger.info("method not allowed", extra={"method": method, "allowed": list(allowed)})
    message = f"This address does not take {method} requests."
    if "GET" not in allowed:  # a form's address: someone opened it as a page
        message = FORM_ADDRESS
    response = status_page(request, 405, message)
    response.headers["Allow"] = ", ".join(allowed)
    return response


def _chalice_answer(response: Response) -> str | None:
    """The code of an answer Chalice made itself (`{"Code": .., "Message": ..}`: a method or
    content type its route table refuses, a body it cannot check, an exception no view
    caught); None for ours, which never take that shape."""
    body = response.body
    if isinstance(body, dict) and set(body) == {"Code", "Message"}:
        return str(body["Code"])
    return None


def own_answers(request: Request | None, get_response: Callable[[Any], Response]) -> Response:
    """Middleware for every request: Chalice's own answers become our page, with our
    headers and their status (and Allow, for a 405); HEAD gets what GET would, without the
    body (HTTP: the same status and headers, nothing after them)."""
    response = get_response(request)
    code = _chalice_answer(response)
    if code is not None:
        status = response.status_code
        known = status if status in STATUS_PAGES else (500 if status >= 500 else 400)
        logger.info("framework answer replaced", extra={"code": code, "status": status})
        ours = status_page(request, known)
        ours.status_code = status
        if "Allow" in response.headers:
            ours.headers["Allow"] = response.headers["Allow"]
        response = ours
    if request is not None and request.method == "HEAD":
        # Empty bytes for a binary answer (the workbook, the zip): Chalice base64-encodes
        # its body, and refuses text there.
        response.body = b"" if isinstance(response.body, bytes) else ""
    return response


def _session_id(request: Request) -> str | None:
    return services.cookie_codec().decode(request.headers.get("cookie"))


def home(request: Request) -> Response:
    found = signed_in_account(request, required=False)
    if isinstance(found, Response):
        return found
    response = page("home.html", signed_in=found.signed_in)
    if found.session_id is not None and found.signed_in is None:
        response.headers["Set-Cookie"] = services.cookie_codec().clear_cookie()
    return response


def auth(request: Request) -> Response:
    """GET /auth: start a sign-in at X. Someone already signed in goes to her report instead:
    a link to /auth from another site must neither replace her session's cookie with a
    pending login's (that signs her out) nor spend a request token of the fleet's budget."""
    try:
        if services.sign_in().current(_session_id(request)) is not None:
            return redirect(SIGNED_IN_HOME)
        started = services.sign_in().begin()
        cookie = services.cookie_codec().set_cookie(
            started.session_id, settings().pending_login_seconds
        )
    except ResponsetimeError as error:
        observability.count(observability.SIGN_IN_FAILED)
        return error_page(error)
    logger.info("sign-in started")
    observability.count(observability.SIGN_IN_STARTED)
    return redirect(started.authorization_url, cookie=cookie)


# What X puts on the way back. OAuth 1.0a: a token and a verifier, or (Cancel pressed)
# `denied`. OAuth 2.0: the state and a code, or (Cancel pressed, or X refusing) the state
# and an `error` (X may add `error_description`, which is not read).
OAUTH1_FIELDS = ("oauth_token", "oauth_verifier", "denied")
OAUTH2_FIELDS = ("state", "code", "error")
CALLBACK_FIELDS = OAUTH1_FIELDS + OAUTH2_FIELDS
CANCELLED_AT_X = "access_denied"  # OAuth 2.0's `error` when the person pressed Cancel


def callback(request: Request) -> Response:
    try:
        query = _callback_query(request)
        if "denied" in query:
            return _cancelled(request, query["denied"])
        if "error" in query:
            return _oauth2_error(request, query["error"], query.get("state"))
        if set(query) & set(OAUTH2_FIELDS):
            signed_in = services.sign_in().complete_oauth2(
                _session_id(request), query.get("state"), query.get("code")
            )
        else:
            signed_in = services.sign_in().complete(
                _session_id(request), query.get("oauth_token"), query.get("oauth_verifier")
            )
        # Inside the try: signing the cookie may read the keys' secret anew, and Secrets
        # Manager failing then is our 503 page like any other store failure.
        cookie = services.cookie_codec().set_cookie(
            signed_in.session_id, settings().session_absolute_seconds
        )
    except ResponsetimeError as error:
        observability.count(observability.SIGN_IN_FAILED)
        return error_page(error)
    logger.info("sign-in completed", extra={"account_id": signed_in.account_id})
    observability.count(observability.SIGN_IN_COMPLETED)
    return redirect(SIGNED_IN_HOME, cookie=cookie)


def _callback_query(request: Request) -> dict[str, str]:
    """The callback's fields, or BadCallback before anything is consumed: X sends each field
    once, and either cancels or approves. A field twice (which copy to believe?) or `denied`
    beside a token or verifier is a crafted link, and must not spend the pending login."""
    params = request.query_params
    if params is None:
        return {}
    query: dict[str, str] = {}
    for name in CALLBACK_FIELDS:
        if name in params:
            values = params.getlist(name)
            if len(values) != 1:
                raise BadCallback(f"the callback names {name} {len(values)} times")
            query[name] = values[0]
    if "denied" in query and len(query) > 1:
        raise BadCallback("the callback both cancels and approves")
    if "error" in query and "code" in query:
        raise BadCallback("the callback both refuses and approves")
    if set(query) & set(OAUTH1_FIELDS) and set(query) & set(OAUTH2_FIELDS):
        raise BadCallback("the callback mixes OAuth 1.0a and OAuth 2.0")
    return query


def _oauth2_error(request: Request, error: str, state: str | None) -> Response:
    """`?error=..&state=..`: X sent the person back without a code. `access_denied` (she
    pressed Cancel) is the cancelled page; any other error is X refusing the sign-in.
    The pending login of that state is forgotten, and only then is the cookie cleared."""
    if CALLBACK_VALUE.fullmatch(error) is None:
        raise BadCallback("the callback's error is not of X's shape")
    if error == CANCELLED_AT_X:
        return _cancelled(request, state, oauth2=True)
    consumed = services.sign_in().cancel_oauth2(_session_id(request), state)
    logger.info("sign-in refused at X", extra={"pending_login_forgotten": consumed})
    response = error_page(XRejected(f"X answered the authorize request with {error}"))
    if consumed:
        response.headers["Set-Cookie"] = services.cookie_codec().clear_cookie()
    return response


def _cancelled(request: Request, denied: str | None, *, oauth2: bool = False) -> Response:
    """`?denied=<request token>` (OAuth 2.0: `?error=access_denied&state=<state>`): the
    person pressed Cancel at X. The cookie is cleared only when it held the pending login of
    that request token (or state), just forgotten: a link here from another site, followed
    by someone signed in, signed out or signing in, changes nothing."""
    flow = services.sign_in()
    session_id = _session_id(request)
    consumed = flow.cancel_oauth2(session_id, denied) if oauth2 else flow.cancel(session_id, denied)
    logger.info("sign-in cancelled", extra={"pending_login_forgotten": consumed})
    if consumed:  # a sign-in was under way: only then did a person cancel one
        observability.count(observability.SIGN_IN_CANCELLED)
    response = page(
        "message.html",
        title="Sign-in cancelled",
        message="You cancelled the sign-in at X. Nothing was shared with us.",
        retry=True,
    )
    if consumed:
        response.headers["Set-Cookie"] = services.cookie_codec().clear_cookie()
    return response


def _cross_site(request: Request) -> Response | None:
    """A 403 page for a state-changing POST sent from another site (SameSite=Lax already
    keeps the cookie off such requests; the Origin check refuses them outright)."""
    origin = request.headers.get("origin")
    if origin and origin != settings().public_origin:
        return page(
            "message.html",
            403,
            title="Not allowed",
            message="This action must come from this site.",
            retry=False,
        )
    return None


def logout(request: Request) -> Response:
    refused = _cross_site(request)
    if refused is not None:
        return refused
    try:
        services.sign_in().sign_out(_session_id(request))
    except ResponsetimeError as error:
        return error_page(error)
    logger.info("signed out")
    return redirect("/", status=303, cookie=services.cookie_codec().clear_cookie())


def forget(request: Request) -> Response:
    """Revoke the token at X, delete everything stored about the account, sign out; only
    with `confirm=yes`: without it, a page says what would be deleted and asks."""
    refused = _cross_site(request)
    if refused is not None:
        return refused
    found = signed_in_account(request, required=False)
    if isinstance(found, Response):
        return found
    if found.signed_in is None:
        return redirect("/", status=303)
    if _form_fields(request).get("confirm") != "yes":
        return page("forget.html", title="Forget your account?", signed_in=found.signed_in)
    try:
        forgotten = services.forget().forget(found.signed_in.account_id, found.signed_in.username)
    except ResponsetimeError as error:
        return error_page(error)
    response = page(
        "message.html",
        title=f"We forgot @{forgotten.username}",
        message="Your tokens, your archive of posts and your report are deleted, "
        "and you are signed out.",
        detail=None if forgotten.revoked_at_x else REVOKE_AT_X,
        retry=False,
    )
    response.headers["Set-Cookie"] = services.cookie_codec().clear_cookie()
    return response


# X failing the revoke (no answer, 5xx, or 429: X asking us to slow down) ends the forget
# all the same; only the person can finish it at X then.
REVOKE_AT_X = (
    "X did not let us revoke our access just now, so please also remove responsetime under "
    "Settings > Security and account access > Apps and sessions on X."
)


def stylesheet() -> Response:
    return Response(
        body="\n".join(sheet.read_text() for sheet in STYLESHEETS),
        status_code=200,
        headers={
            "Content-Type": "text/css; charset=utf-8",
            "Cache-Control": "public, max-age=3600",
            "X-Content-Type-Options": "nosniff",
        },
    )


@dataclass(frozen=True)
class Visitor:
    """Who sent the request: the session id of her cookie, and what it signs in to."""

    session_id: str | None
    signed_in: SignedIn | None
    account: AccountTokens | None


def signed_in_account(
    request: Request, *, required: bool = True, fmt: Format = "html"
) -> Visitor | Response:
    """Every signed-in route's preamble: the visitor, or the answer to give instead (our
    error page, or JSON for ``fmt`` "json", when the store fails; with ``required``, a
    redirect home that clears a stale cookie when nobody is signed in, or her account is
    gone or its token refused)."""
    session_id: str | None = None
    try:
        session_id = _session_id(request)
        # No cookie of ours: nobody to look up, and no secret to read (a stranger's home
        # page answers while Secrets Manager does not).
        signed_in = services.sign_in().current(session_id) if session_id else None
        account = (
            services.account_store().account_tokens(signed_in.account_id)
            if signed_in and required
            else None
        )
    except ResponsetimeError as error:
        return failure(fmt, error)
    if required and (signed_in is None or account is None):
        cookie = services.cookie_codec().clear_cookie() if session_id else None
        return redirect("/", cookie=cookie)
    return Visitor(session_id, signed_in, account)


def _bad_parameter(error: InvalidReportParameter, fmt: Format, signed_in: Any) -> Response:
    """400 in the shape asked for, naming the parameter."""
    if fmt == "json":
        return json_answer({"error": str(error), "parameter": error.parameter}, 400)
    return page(
        "message.html",
        400,
        title="That report cannot be made",
        message=str(error),
        signed_in=signed_in,
        retry=False,
    )


def _token_rejected(fmt: Format) -> Response:
    """X refused the account's token (the report service has marked the account and ended
    its sessions): say so, and clear this browser's cookie."""
    if fmt == "json":
        response = json_answer({"error": "X no longer accepts this account's sign-in"}, 401)
    else:
        response = page(
            "message.html",
            401,
            title="X no longer accepts your sign-in",
            message=(
                "X refused the access it gave us, perhaps because it was "
                "revoked in your X settings. Sign in again to continue."
            ),
            retry=True,
        )
    response.headers["Set-Cookie"] = services.cookie_codec().clear_cookie()
    return response


def report(request: Request, fmt: Format) -> Response:
    """/report, /report.json and /report.csv for the signed-in account, with the settings
    it saved, each overridden by the query when the query names it."""
    from chalicelib.analytics import InvalidReportParameter
    from chalicelib.report_settings import resolve

    found = signed_in_account(request, fmt=fmt)
    if isinstance(found, Response):
        if fmt == "json" and found.status_code == 302:  # a script gets a status, not a page
            answer = json_answer({"error": "Not signed in"}, 401)
            cookie = found.headers.get("Set-Cookie")
            if cookie:
                answer.headers["Set-Cookie"] = cookie
            return answer
        return found
    assert found.account is not None
    query = dict(request.query_params or {})
    try:
        view = services.reports().view(
            found.account,
            resolve(query, found.account.saved_settings),
            need_rows=fmt in NEEDS_ROWS,
            shown=_list_authors(fmt, query),
        )
        observability.report_served(view.cache_state)
        return RENDERERS[fmt](view, found, query)
    except InvalidReportParameter as error:  # a setting, or a list's sort or page
        return _bad_parameter(error, fmt, found.signed_in)
    except XRejected:
        return _token_rejected(fmt)
    except ResponsetimeError as error:
        return failure(fmt, error, signed_in=found.signed_in)


def _list_authors(fmt: Format, query: dict[str, str]) -> Callable[[Report], list[str]] | None:
    """On /report/waiting and /report/slowest, the rows shown are the page's 50, not the
    report's short lists: theirs are the authors whose handles are looked up."""
    if fmt not in ("waiting", "slowest"):
        return None
    from chalicelib.report_lists import page_authors

    name: Literal["waiting", "slowest"] = fmt
    return lambda report: page_authors(report, name, query)


def _render_json(view: ReportView, visitor: Visitor, query: dict[str, str]) -> Response:
    return json_answer(view.body)


def _render_csv(view: ReportView, visitor: Visitor, query: dict[str, str]) -> Response:
    from chalicelib.analytics import to_csv

    assert view.report is not None and visitor.account is not None
    name = f"responsetime-{visitor.account.username}-{view.body['window']['end'][:10]}.csv"
    # A byte order mark first: Excel reads UTF-8 (names like "María", emoji) only with one.
    return Response(
        body="\ufeff" + to_csv(view.report),
        status_code=200,
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
            **security_headers(hsts=_hsts()),
        },
    )


def _render_xlsx(view: ReportView, visitor: Visitor, query: dict[str, str]) -> Response:
    from chalicelib.xlsx import to_xlsx

    assert view.report is not None and visitor.account is not None
    name = f"responsetime-{visitor.account.username}-{view.body['window']['end'][:10]}.xlsx"
    return Response(
        body=to_xlsx(view.report.rows, view.report.tz),
        status_code=200,
        headers={
            "Content-Type": XLSX_TYPE,
            "Content-Disposition": f'attachment; filename="{name}"',
            **security_headers(hsts=_hsts()),
        },
    )


def _render_html(view: ReportView, visitor: Visitor, query: dict[str, str]) -> Response:
    from chalicelib import report_view

    context = report_view.context(view.body, query)
    return page("report.html", signed_in=visitor.signed_in, **context)


def _render_list(name: Literal["waiting", "slowest"]) -> Renderer:
    def render(view: ReportView, visitor: Visitor, query: dict[str, str]) -> Response:
        from chalicelib import report_view

        assert view.report is not None
        context = report_view.list_context(view.body, view.report, name, query)
        return page("list.html", signed_in=visitor.signed_in, **context)

    return render


Renderer = Callable[["ReportView", Visitor, dict[str, str]], Response]
RENDERERS: dict[str, Renderer] = {
    "json": _render_json,
    "csv": _render_csv,
    "xlsx": _render_xlsx,
    "html": _render_html,
    "waiting": _render_list("waiting"),
    "slowest": _render_list("slowest"),
}


def export_data(request: Request) -> Response:
    """GET /export ("Download your data"): a zip of everything we hold about the signed-in
    account (chalicelib/export.py), her tokens left out. Reads the stores only, never X."""
    from chalicelib import export

    found = signed_in_account(request)
    if isinstance(found, Response):
        return found
    assert found.account is not None
    made_at = datetime.now(UTC)
    try:
        data = export.gather(found.account, services.archive())
    except ResponsetimeError as error:
        return failure("html", error, signed_in=found.signed_in)
    body = export.to_zip(data, made_at)
    logger.info(
        "data exported",
        extra={"account_id": data.account_id, "posts": data.post_count, "bytes": len(body)},
    )
    return Response(
        body=body,
        status_code=200,
        headers={
            "Content-Type": ZIP_TYPE,
            "Content-Disposition": f'attachment; filename="{export.filename(data, made_at)}"',
            **security_headers(hsts=_hsts()),
        },
    )


def _signed_in_post(request: Request) -> Visitor | Response:
    """The preamble of a signed-in form's POST: refused from another site, and otherwise
    as signed_in_account (the visitor, with her account, or the answer to give instead)."""
    refused = _cross_site(request)
    return refused if refused is not None else signed_in_account(request)


def refresh_now(request: Request) -> Response:
    """POST /refresh ("Refresh now"): top the report up from X now, through the fleet's
    budget, at most once a minute per account; then back to the report with the same
    settings (a press within the minute comes back with `refresh=wait`, and says so)."""
    found = _signed_in_post(request)
    if isinstance(found, Response):
        return found
    assert found.account is not None
    query = dict(request.query_params or {})
    query.pop("refresh", None)
    try:
        claimed = services.account_store().claim_refresh_now(
            found.account.account_id, int(time.time()), REFRESH_NOW_SECONDS
        )
        if claimed:
            services.reports().refresh_now(found.account)
    except XRejected:
        return _token_rejected("html")
    except ResponsetimeError as error:
        return failure("html", error, signed_in=found.signed_in)
    logger.info("refresh asked", extra={"account_id": found.account.account_id, "done": claimed})
    if not claimed:
        query["refresh"] = "wait"
    return redirect("/report" + (f"?{urlencode(query)}" if query else ""), status=303)


def history_page(request: Request) -> Response:
    """GET /history ("Read older history"): how many older posts X has for the account and
    what reading them costs, counted at X once (then kept); the yes is a POST."""
    from chalicelib.history import page_context
    from chalicelib.report_settings import resolve

    found = signed_in_account(request)
    if isinstance(found, Response):
        return found
    assert found.account is not None
    service = services.history()
    try:
        counted = service.count(found.account)
    except XReadsPaused:
        return page(
            "message.html",
            503,
            title="X reads are paused",
            message="X reads are paused by the operator's plan, so older history cannot be "
            "counted or read now. Your report still shows what we had read.",
            signed_in=found.signed_in,
            retry=True,
            again="/report",
        )
    except XRejected:  # the app's bearer token, not her sign-in: X is not answering us
        return failure("html", XUnavailable("app token refused"), signed_in=found.signed_in)
    except ResponsetimeError as error:
        return failure("html", error, signed_in=found.signed_in, again="/history")
    if counted is None:
        return page(
            "message.html",
            title="Your report is not made yet",
            message="Open your report first: older history is what lies before it.",
            signed_in=found.signed_in,
            retry=True,
            again="/report",
        )
    zone = resolve({}, found.account.saved_settings).report.tz
    context = page_context(
        counted,
        service.price(counted, found.account.account_id),
        found.account.username,
        zone,
    )
    return page("history.html", title="Read older history", signed_in=found.signed_in, **context)


def read_history(request: Request) -> Response:
    """POST /history: the person saw the cost and said yes; a refresh worker reads it, a
    page at a time, and the report shows how far it has got."""
    found = _signed_in_post(request)
    if isinstance(found, Response):
        return found
    assert found.account is not None
    if _form_fields(request).get("confirm") != "yes":
        return redirect("/history", status=303)
    try:
        confirmed = services.history().confirm(found.account)
    except ResponsetimeError as error:
        return failure("html", error, signed_in=found.signed_in, again="/history")
    return redirect("/report" if confirmed else "/history", status=303)


def save_settings(request: Request) -> Response:
    """POST /settings: keep the report settings the person uses every time on her account;
    the next view (and the schedule's refresh, and the exports) use them. Bad values get the
    form back, with what she typed and the parameter named; nothing is saved then."""
    from chalicelib.analytics import InvalidReportParameter
    from chalicelib.report_settings import saved_form

    found = _signed_in_post(request)
    if isinstance(found, Response):
        return found
    assert found.account is not None
    fields = _form_fields(request)
    try:
        values = saved_form(fields)
        services.account_store().save_settings(found.account.account_id, values)
    except InvalidReportParameter as error:
        return _settings_refused(error, fields, found.signed_in)
    except ResponsetimeError as error:
        return error_page(error, signed_in=found.signed_in)
    logger.info("report settings saved", extra={"settings": sorted(values)})
    return redirect("/report", status=303)


def _form_fields(request: Request) -> dict[str, str]:
    """An urlencoded body as field -> value (the last, when a field comes twice)."""
    body = request.raw_body or b""
    raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return {name: values[-1] for name, values in parse_qs(raw, True).items()}


def _settings_refused(
    error: InvalidReportParameter, fields: dict[str, str], signed_in: Any
) -> Response:
    """400: the form again, with what she typed, the bad field named and marked."""
    from chalicelib import report_view

    return page(
        "settings.html",
        400,
        title="Those settings cannot be saved",
        signed_in=signed_in,
        error=str(error),
        invalid=error.parameter,
        **report_view.settings_form(fields),
    )


def schedule_round(event: Any) -> dict[str, Any]:
    """The schedule's function: queue a refresh for every account that is due."""
    return services.scheduler().run_round().as_dict()


def sweep_archive(event: Any) -> dict[str, Any]:
    """The daily sweep's function: delete every archive folder whose account is gone."""
    return services.archive_sweep().run().as_dict()


def compliance_round(event: Any) -> dict[str, Any]:
    """The daily compliance round's function: queue every archive for X's batch compliance."""
    return services.compliance_round().run()


def compliance_batch(event: Any) -> dict[str, Any]:
    """The compliance worker's function: make, poll and apply X's compliance jobs."""
    return services.compliance_worker().process(event.to_dict(), event.context)


def refresh_batch(event: Any) -> dict[str, Any]:
    """The refresh worker's function: one SQS batch, partial failures reported."""
    return services.refresh_worker().process(event.to_dict(), event.context)


def json_answer(body: Any, status: int = 200) -> Response:
    return Response(
        body=body,
        status_code=status,
        headers={"Content-Type": "application/json", **security_headers(hsts=_hsts())},
    )
