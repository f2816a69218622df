"""HTML pages: Jinja2 with autoescape, and the headers every page carries."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from chalice import Response

TEMPLATES = Path(__file__).parent / "templates"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self' data:",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)


@functools.cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def security_headers(*, hsts: bool) -> dict[str, str | list[str]]:
    headers: dict[str, str | list[str]] = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        # same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on
        # form POSTs, and /logout and /forget refuse any other origin than ours. Other
        # sites (X included) still get no referrer at all.
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        # Pages depend on who is signed in: no shared or browser cache may keep them.
        "Cache-Control": "no-store",
    }
    if hsts:
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return headers


def render(template: str, status: int = 200, *, hsts: bool, **context: Any) -> Response:
    body = _environment().get_template(template).render(**context)
    headers = security_headers(hsts=hsts)
    headers["Content-Type"] = "text/html; charset=utf-8"
    return Response(body=body, status_code=status, headers=headers)
