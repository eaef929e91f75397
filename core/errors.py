"""Errors a user can act on: each names the field (or right, or stage) at fault."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One problem with one field, fit to show the user."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class DealError(Exception):
    """A problem the user caused and can fix; `field` says where."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class Invalid(DealError):
    """Input that fails validation; carries every bad field at once."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        summary = "; ".join(f"{e.field}: {e.message}" for e in errors)
        super().__init__(summary, errors[0].field if errors else None)


class NotAllowed(DealError):
    """A move the stage machine or the actor's rights forbid."""


class NotFound(DealError):
    """A deal, partner, product or person that does not exist (or is not yours)."""


class Conflict(DealError):
    """Another partner holds the prospect, or the move collides with existing state."""


class CatalogError(Exception):
    """A bad catalogue file; names the line and the field at fault."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
