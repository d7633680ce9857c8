"""Who is calling: what a validated token says, handed to the rules of every domain."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    user_id: str
    user_name: str
    project_id: str
    project_name: str
    roles: frozenset[str]
    token_id: str = ""

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def owns(self, project_id: str | None) -> bool:
        """True when the caller acts inside ``project_id`` (admins act everywhere)."""
        return self.is_admin or project_id == self.project_id
