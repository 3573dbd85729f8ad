"""Minimal valid JSON bodies from an OpenAPI document, for tests that request every operation
(tenant isolation, route permissions)."""

from __future__ import annotations

from typing import Any


def example_body(schema: dict[str, Any], defs: dict[str, Any], ids: dict[str, int]) -> Any:
    """A minimal valid body for a JSON schema; fields named in ``ids`` take those values."""
    if "$ref" in schema:
        return example_body(defs[schema["$ref"].split("/")[-1]], defs, ids)
    if "anyOf" in schema:
        return example_body(schema["anyOf"][0], defs, ids)
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "string" and schema.get("format") in ("date", "date-time"):
        return "2026-01-05" if schema["format"] == "date" else "2026-01-05T09:00:00Z"
    if kind == "object":
        return {
            name: ids.get(name, example_body(sub, defs, ids))
            for name, sub in schema.get("properties", {}).items()
            if name in schema.get("required", [])
        }
    return {"integer": 1, "number": 1.0, "boolean": True, "array": []}.get(
        kind, "isolation-test-value-123"
    )
