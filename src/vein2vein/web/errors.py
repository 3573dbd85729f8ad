"""One mapping from errors to responses: RFC 9457 problem documents (API), pages (people)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, urlparse

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from vein2vein.core.errors import InputError, V2VError
from vein2vein.core.text import printable
from vein2vein.web.context import NotAuthenticated, PasswordChangeRequired
from vein2vein.web.templating import render

log = logging.getLogger("vein2vein.web")

PROBLEM_JSON = "application/problem+json"
HTTP_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Request too large",
}


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def problem(
    request: Request,
    status: int,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": f"https://vein2vein.dev/problems/{title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        # what a caller sent (a file name, a cell, bytes of a binary upload) is never echoed raw
        "detail": printable(detail),
        "instance": request.url.path,
        **{k: v for k, v in extra.items() if v is not None},
    }
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def error_page(
    request: Request, status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> Response:
    response = render(
        request,
        "error.html",
        {"status": status, "title": title, "detail": printable(detail)},
        status_code=status,
    )
    response.headers.update(headers or {})
    return response


def install(app: FastAPI) -> None:
    @app.exception_handler(NotAuthenticated)
    async def _not_authenticated(request: Request, exc: NotAuthenticated) -> Response:
        if is_api(request):
            return problem(request, 401, "Authentication required", exc.message)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            # a form posted after the session ended: come back to the page it was posted from
            # (the post itself is not replayed; nothing was changed)
            referer = urlparse(request.headers.get("referer", ""))
            same_site = referer.netloc in ("", request.url.netloc)
            target = referer.path if referer.path and same_site else "/"
        response = RedirectResponse(
            f"/login?next={quote(target)}&notice={exc.notice}", status_code=303
        )
        response.delete_cookie("v2v_session", path="/")
        return response

    @app.exception_handler(PasswordChangeRequired)
    async def _password_change(request: Request, exc: PasswordChangeRequired) -> Response:
        if is_api(request):
            return problem(request, 403, exc.title, exc.message)
        return RedirectResponse("/account?notice=change-password", status_code=303)

    @app.exception_handler(V2VError)
    async def _domain(request: Request, exc: V2VError) -> Response:
        if is_api(request):
            extra: dict[str, Any] = {}
            if isinstance(exc, InputError):
                extra["errors"] = [
                    {"file": exc.file, "row": exc.row, "field": exc.field, "detail": exc.detail}
                ]
            return problem(request, exc.status, exc.title, exc.message, **extra)
        return error_page(request, exc.status, exc.title, exc.message)

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> Response:
        # last line of defence: services check lengths and formats with the field named
        log.warning(
            "database refused a value on %s %s: %s",
            request.method,
            request.url.path,
            type(exc.orig).__name__,
        )
        detail = "A value does not fit its field (too long or malformed). Nothing was changed."
        if is_api(request):
            return problem(request, 422, "Invalid input", detail)
        return error_page(request, 422, "Invalid input", detail)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ())[1:]) or None,
                "detail": e.get("msg", "invalid"),
            }
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field'] or 'request'}: {e['detail']}" for e in errors)
        if is_api(request):
            return problem(request, 422, "Invalid input", detail, errors=errors)
        return error_page(request, 422, "Invalid input", detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        title = HTTP_TITLES.get(exc.status_code, "Error")
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404:
            detail = "There is nothing at this address, or you may not see it."
        headers = dict(exc.headers or {})  # a 405 carries Allow (RFC 9110, 15.5.6)
        if is_api(request):
            return problem(request, exc.status_code, title, detail, headers=headers)
        return error_page(request, exc.status_code, title, detail, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        detail = "An unexpected error occurred; it was logged. Nothing was changed."
        if is_api(request):
            return problem(request, 500, "Internal error", detail)
        return error_page(request, 500, "Internal error", detail)
