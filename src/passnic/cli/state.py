"""What the root command hands every sub-command: the chosen cloud and, lazily, a client.

Kept apart from ``main`` so command modules can use it without importing the app that
registers them. Tests pass their own ``State`` (with a mock transport) as the Click ``obj``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

from passnic.cli.client import CloudClient

if TYPE_CHECKING:
    import httpx


@dataclass
class State:
    cloud_name: str | None = None
    transport: httpx.BaseTransport | None = None
    environ: Mapping[str, str] | None = None
    _client: CloudClient | None = None

    def client(self) -> CloudClient:
        """One client per invocation, so one token serves every request a command makes."""
        if self._client is None:
            self._client = CloudClient.from_environment(
                self.cloud_name, environ=self.environ, transport=self.transport
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def get_state(ctx: typer.Context) -> State:
    state = ctx.find_object(State)
    if state is None:
        state = ctx.ensure_object(State)
    return state


def get_client(ctx: typer.Context) -> CloudClient:
    return get_state(ctx).client()
