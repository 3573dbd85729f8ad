"""Bounded request bodies, enforced before anything reads them (issue 10).

An ASGI middleware in front of the application:

- a request body is capped by its route: routes that take uploaded files (found from the routes
  themselves: a ``File`` parameter) may carry up to ``V2V_MAX_UPLOAD_MB``; every other request
  up to ``V2V_MAX_FORM_KB``; a caller without a session cookie or bearer token up to
  ``ANONYMOUS_BYTES`` (a log-in form), so no anonymous client can make the server spool a large
  body;
- before a large body is read, the caller is authenticated (the same check the routes use, its
  result kept for them): an upload without valid credentials answers 401 at once, its body
  unread;
- a declared ``Content-Length`` above the cap answers 413 at once; a body that streams past the
  cap (chunked, or a lying length) stops with 413 the moment it does. Multipart files beyond
  Starlette's in-memory threshold are spooled to a temporary file, never held whole in memory.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: a log-in form and its CSRF token fit in far less
ANONYMOUS_BYTES = 64 * 1024
#: multipart boundaries and headers around the files of an upload
MULTIPART_OVERHEAD = 1024 * 1024
WITH_BODY = {"POST", "PUT", "PATCH", "DELETE"}


class BodyTooLarge(HTTPException):
    """413: FastAPI re-raises HTTP exceptions met while it parses a body, so this reaches the
    application's error mapping as itself (a problem document under /api/, a page elsewhere)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request is larger than the {_size(limit)} allowed here.")


def _size(n: int) -> str:
    return f"{n // 2**20} MB" if n >= 2**20 else f"{n // 1024} KB"


def _has_credentials(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return True
        if name == b"cookie" and b"v2v_session=" in value:
            return True
    return False


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    """The middleware; ``upload_paths`` are the path regexes of routes that take files and
    ``authenticate`` is the application's own check (raises when the caller is not logged in)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        form_bytes: int,
        upload_bytes: int,
        upload_paths: Iterable[re.Pattern[str]],
        authenticate: Callable[[Request], Awaitable[Any]],
    ) -> None:
        self.app = app
        self.form_bytes = form_bytes
        self.upload_bytes = upload_bytes + MULTIPART_OVERHEAD
        self.upload_paths = tuple(upload_paths)
        self.authenticate = authenticate

    def _limit(self, scope: Scope) -> int:
        if not _has_credentials(scope):
            return ANONYMOUS_BYTES
        path = scope.get("path", "")
        if any(p.match(path) for p in self.upload_paths):
            return self.upload_bytes
        return self.form_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WITH_BODY:
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        if limit > self.form_bytes:
            # a large body is read only for a caller who is logged in
            request = Request(scope)
            try:
                await self.authenticate(request)
            except Exception:  # not logged in: the application answers as it always does
                await self.app(scope, _no_body, send)
                return
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _too_large(scope, limit)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)


async def _no_body() -> Message:
    """The body the application sees for a refused upload: none (the real one is never read)."""
    return {"type": "http.request", "body": b"", "more_body": False}


def _too_large(scope: Scope, limit: int) -> Response:
    message = f"The request is larger than the {_size(limit)} allowed here."
    if scope.get("path", "").startswith("/api/"):
        return JSONResponse(
            {"type": "about:blank", "title": "Request too large", "status": 413, "detail": message},
            status_code=413,
            media_type="application/problem+json",
        )
    return PlainTextResponse(message, status_code=413)
