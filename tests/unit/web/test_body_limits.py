"""Bounded request bodies (issue 10): capped before authentication, refused before they are read.

The probe sent a 1.2 GB body (the server's memory grew by 1.1 GB) and an unauthenticated body
that was spooled to disk in full before the 401. These tests drive the middleware as ASGI and
count what it lets the application read.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from starlette.requests import Request

from vein2vein.web.limits import ANONYMOUS_BYTES, BodyLimit, BodyTooLarge

UPLOAD = re.compile(r"^/upload$")
CHUNK = 64 * 1024


class Inner:
    """An application that reads the whole body and records how much it got."""

    def __init__(self) -> None:
        self.read = 0
        self.called = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.called = True
        more = True
        try:
            while more:
                message = await receive()
                self.read += len(message.get("body", b""))
                more = message.get("more_body", False)
        except BodyTooLarge:
            await send({"type": "http.response.start", "status": 413, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def run(
    path: str,
    total: int,
    *,
    cookie: bool,
    declared: bool = True,
    logged_in: bool = True,
) -> tuple[int, Inner, int]:
    """Send ``total`` bytes in chunks; return (status, inner app, bytes pulled from the client)."""
    inner = Inner()

    async def authenticate(request: Request) -> object:
        if not logged_in:
            raise PermissionError("not logged in")
        return object()

    app = BodyLimit(
        inner,
        form_bytes=256 * 1024,
        upload_bytes=2 * 1024 * 1024,
        upload_paths=[UPLOAD],
        authenticate=authenticate,
    )
    headers = [(b"content-type", b"multipart/form-data; boundary=x")]
    if declared:
        headers.append((b"content-length", str(total).encode()))
    if cookie:
        headers.append((b"cookie", b"v2v_session=abc"))
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
    pulled = 0
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        size = min(CHUNK, total - pulled)
        pulled += size
        return {"type": "http.request", "body": b"x" * size, "more_body": pulled < total}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    asyncio.run(app(scope, receive, send))
    return statuses[0], inner, pulled


def test_an_anonymous_large_body_is_refused_unread() -> None:
    status, inner, pulled = run("/login", 1_200_000_000, cookie=False)
    assert status == 413 and pulled == 0 and not inner.called


def test_an_anonymous_upload_is_answered_without_reading_it() -> None:
    """Credentials that do not authenticate: the application answers (401 or a redirect) with
    an empty body; none of the 10 MB is pulled."""
    status, inner, pulled = run("/upload", 10_000_000, cookie=True, logged_in=False)
    assert pulled == 0 and inner.called and inner.read == 0 and status == 200


def test_a_logged_in_upload_within_the_cap_is_read_whole() -> None:
    status, inner, _ = run("/upload", 1_500_000, cookie=True)
    assert status == 200 and inner.read == 1_500_000


def test_a_declared_length_above_the_cap_is_refused_at_once() -> None:
    status, inner, pulled = run("/upload", 50_000_000, cookie=True)
    assert status == 413 and pulled == 0 and not inner.called


def test_a_body_streaming_past_the_cap_stops_there() -> None:
    """No Content-Length (chunked) or a lying one: reading stops at the cap, not at the end."""
    status, _, pulled = run("/form", 10_000_000, cookie=True, declared=False)
    assert status == 413
    assert pulled <= 256 * 1024 + CHUNK


def test_anonymous_forms_get_a_small_cap() -> None:
    ok, _, _ = run("/login", ANONYMOUS_BYTES, cookie=False)
    refused, _, _ = run("/login", ANONYMOUS_BYTES + 1, cookie=False)
    assert (ok, refused) == (200, 413)
