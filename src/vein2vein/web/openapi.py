"""The OpenAPI document says what errors look like: every operation lists the RFC 9457 problem
documents (``application/problem+json``) it may answer with, so that a client generated from the
document (or schemathesis checking responses against it) knows them."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "file": {"type": ["string", "null"]},
                    "row": {"type": ["integer", "null"]},
                    "field": {"type": ["string", "null"]},
                    "detail": {"type": "string"},
                },
            },
        },
    },
}

#: what every authenticated operation may answer besides its own responses
PROBLEMS = {
    "401": "Not logged in, or the token is unknown, expired or revoked.",
    "403": "The caller's role lacks the permission (or a password change is pending).",
    "404": "No such record, or a record of another client (never revealed as forbidden).",
    "409": "The change conflicts with the record's state (signed, locked, changed meanwhile).",
    "413": "The request body is larger than allowed.",
    "422": "Invalid input, with the file, row and field where known.",
}
PUBLIC_PATHS = {"/api/health", "/api/openapi.json"}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        ref = {"$ref": "#/components/schemas/Problem"}
        for path, operations in spec.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                codes = ["422"] if path in PUBLIC_PATHS else list(PROBLEMS)
                for code in codes:
                    responses[code] = {
                        "description": PROBLEMS[code],
                        "content": {"application/problem+json": {"schema": ref}},
                    }
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
