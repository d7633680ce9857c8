"""The ASGI application: every Passnic API on one port, under its own path prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import import_module
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from passnic import __version__
from passnic.cloud import Cloud
from passnic.compute.microversion import Microversions
from passnic.config import Settings
from passnic.dashboard import routes as dashboard
from passnic.logs import RequestLog
from passnic.web import InputGuard, base_url, install_error_handlers

# Each API's routes module; each exposes `router` and registers its own fault format.
API_MODULES = (
    "passnic.identity.routes",
    "passnic.inventory.routes",
    "passnic.network.routes",
    "passnic.image.routes",
    "passnic.compute.routes",
    "passnic.fabric.routes",
    "passnic.compute.agent_routes",
)


def lifespan(cloud: Cloud) -> Any:
    """What runs beside the API in each worker: the conductor and the fabric's audit."""

    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        if cloud.settings.conductor:
            cloud.conductor.start()
        try:
            async with cloud.fabric.lifespan(app):
                yield
        finally:
            cloud.conductor.stop()

    return run


def create_app(cloud: Cloud | None = None) -> FastAPI:
    """Build the app. Without a cloud (uvicorn's factory mode) settings come from the
    environment, so every worker process serves the same database."""
    cloud = cloud or Cloud(Settings.from_env())
    app = FastAPI(
        title="Passnic",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan(cloud),
        # A body without a Content-Type is read as JSON, as OpenStack services read it.
        strict_content_type=False,
    )
    app.state.cloud = cloud
    install_error_handlers(app)
    app.add_middleware(InputGuard, max_body=cloud.settings.max_request_body)
    app.add_middleware(Microversions)  # inside RequestLog: it answers the request id too
    app.add_middleware(RequestLog)  # outermost: every answer, a refused one too, has its id
    for module in API_MODULES:
        app.include_router(import_module(module).router)
    dashboard.install(app)

    @app.get("/", response_model=None)
    def root(request: Request) -> dict[str, Any] | Response:
        """Where each API lives (needs no token); a browser is sent to the dashboard."""
        from passnic.identity.routes import SERVICES

        if dashboard.wants_html(request):
            return RedirectResponse("/ui/", status_code=303)
        base = base_url(request)
        return {
            "name": "passnic",
            "version": __version__,
            "services": {stype: f"{base}{path}" for stype, _name, path in SERVICES},
        }

    return app
