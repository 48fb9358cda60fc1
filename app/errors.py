"""Domain errors: what repositories raise when the stored data refuse a request.

They carry no HTTP: :mod:`app.problems` answers each as problem+json (not found 404, conflict
409, invalid 422 naming the field), and a service may catch and restate them first."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A request the stored data refuse. ``kind``: a stable machine-readable name;
    ``extra``: more members of the answer (e.g. the enterprises sharing an ambiguous code)."""

    def __init__(self, detail: str, *, kind: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.kind = kind
        self.extra = extra


class NotFound(DomainError):
    """No such row (or not one the caller may see)."""


class Conflict(DomainError):
    """The row exists already, or a name is ambiguous."""


class Invalid(DomainError):
    """Values the stored data refuse: ``errors`` lists ``(field, message)`` of each."""

    def __init__(self, detail: str, errors: list[tuple[str, str]], **extra: Any) -> None:
        super().__init__(detail, kind="validation", **extra)
        self.errors = errors


class BatchRejected(Invalid):
    """Rows of an uploaded batch the stored data refuse (e.g. a meter code the caller cannot
    tell apart): ``errors`` lists ``(field, message)``; nothing of the batch is stored."""

    def __init__(self, detail: str, errors: list[tuple[str, str]], **extra: Any) -> None:
        super().__init__(detail, errors, **extra)
        self.kind = "batch-rejected"
