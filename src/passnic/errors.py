"""Domain errors. The rules raise these; each API's routes render them in its own fault format."""

from __future__ import annotations


class PassnicError(Exception):
    """A refusal with a message meant for the operator."""

    status = 400
    kind = "BadRequest"

    def __init__(self, message: str, *, kind: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if kind is not None:
            self.kind = kind


class BadRequest(PassnicError):
    status = 400
    kind = "BadRequest"


class NotAuthenticated(PassnicError):
    status = 401
    kind = "Unauthorized"


class Forbidden(PassnicError):
    status = 403
    kind = "Forbidden"


class NotFound(PassnicError):
    status = 404
    kind = "NotFound"


class Conflict(PassnicError):
    status = 409
    kind = "Conflict"


class ServiceUnavailable(PassnicError):
    """An outside party (a switch, a host agent) did not do its part."""

    status = 503
    kind = "ServiceUnavailable"
