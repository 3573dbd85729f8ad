"""Domain errors shared by every feature.

One handler maps them to HTTP problem documents (RFC 9457) and CLI messages, so services raise
these and never web or CLI exceptions.
"""

from __future__ import annotations


class V2VError(Exception):
    """Base of every error vein2vein raises on purpose."""

    title = "Error"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(V2VError):
    """Bad input, located as precisely as possible: file, row and field (or form field).

    ``row`` is the 1-based data row as a spreadsheet shows it (header = row 1), so users can jump
    to it.
    """

    title = "Invalid input"
    status = 422

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = file
        self.row = row
        self.field = field
        where = []
        if file is not None:
            where.append(str(file))
        if row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field '{field}'")
        full = f"{', '.join(where)}: {message}" if where else message
        super().__init__(full)
        self.detail = message


class NotFound(V2VError):
    title = "Not found"
    status = 404


class Conflict(V2VError):
    title = "Conflict"
    status = 409


class RuleViolation(V2VError):
    """A domain rule refused the change (out-of-order custody event, limit breached, ...)."""

    title = "Rule violation"
    status = 422


class RecordLocked(V2VError):
    """The record carries an electronic signature and can no longer be edited."""

    title = "Record locked"
    status = 409


class SignatureRequired(V2VError):
    title = "Signature required"
    status = 403


class AuthenticationFailed(V2VError):
    title = "Authentication failed"
    status = 401


class PermissionDenied(V2VError):
    title = "Permission denied"
    status = 403


class DatabaseOutOfDate(V2VError):
    title = "Database out of date"
    status = 503
