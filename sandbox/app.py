"""Assembles the sandbox: database, screens, v2 API, error pages and fault injection."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox import api, api_consumers, api_write, hubs, manifests, sessions, widgets
from sandbox.config import Faults, SandboxConfig
from sandbox.db import new_id, open_database
from sandbox.web import Sandbox, error_page, hash_password

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("sandbox")


class DroppedConnection(Exception):
    """Raised after a partial response so that the server closes the connection."""


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


class FaultMiddleware:
    """Latency, a 500 on the Nth mutating request, a dropped connection on the Nth request.

    A failed or dropped request is still handled first, as on a real server whose answer
    never reaches the browser: the write happens, the response is lost. Static files do
    not count.
    """

    def __init__(self, app: ASGIApp, faults: Faults):
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/") or scope["path"] == "/favicon.ico":
            await self.app(scope, receive, send)
            return
        f = self.faults
        f.requests_seen += 1
        mutating = scope["method"] in ("POST", "PATCH", "PUT", "DELETE")
        if mutating:
            f.mutations_seen += 1
            if f.on_mutation is not None:
                f.on_mutation(f.mutations_seen, scope["path"])
        # this request's numbers: requests served side by side must not see each other's
        numbers = (f.requests_seen, f.mutations_seen if mutating else 0)
        if not mutating:
            await self._serve(scope, receive, send, numbers)
            return
        f.mutations_in_flight += 1
        f.most_mutations_in_flight = max(f.most_mutations_in_flight, f.mutations_in_flight)
        try:
            await self._serve(scope, receive, send, numbers)
        finally:
            f.mutations_in_flight -= 1

    async def _serve(self, scope: Scope, receive: Receive, send: Send, numbers: tuple[int, int]) -> None:
        f = self.faults
        request_n, mutation_n = numbers
        mutating = mutation_n > 0
        latency = f.latency_ms + (f.mutation_latency_ms if mutating else 0)
        if latency:
            await asyncio.sleep(latency / 1000)
        drop = (f.drop_request and request_n == f.drop_request) or (
            mutating and f.drop_mutation and mutation_n == f.drop_mutation
        )
        fail = mutating and f.fail_mutation and mutation_n == f.fail_mutation
        if not (drop or fail):
            await self.app(scope, receive, send)
            return

        async def swallow(message: Message) -> None:
            pass

        await self.app(scope, receive, swallow)
        if fail:
            body = (
                b"<!DOCTYPE html><html><head><title>Internal Server Error</title></head><body>"
                b"<h1>Internal Server Error</h1><div class=\"alert alert-danger\">"
                b"An error happened while processing your request (injected fault).</div></body></html>"
            )
            await send({"type": "http.response.start", "status": 500, "headers": [(b"content-type", b"text/html")]})
            await send({"type": "http.response.body", "body": body})
            return
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100000")]}
        )
        await send({"type": "http.response.body", "body": b"<!DOCTYPE html>", "more_body": True})
        raise DroppedConnection("fault injection: connection dropped")


def ensure_admin(sb: Sandbox) -> None:
    users = sb.t.users
    password_hash = hash_password(sb.config.admin_password)
    with sb.engine.begin() as conn:
        found = conn.execute(select(users.c.id).where(users.c.email == sb.config.admin_email)).first()
        if found:
            conn.execute(update(users).where(users.c.id == found.id).values(password_hash=password_hash))
        else:
            conn.execute(insert(users).values(id=new_id(), email=sb.config.admin_email, password_hash=password_hash))


def add_demo_data(sb: Sandbox) -> None:
    """A framework hub with an active manifest, as every real Inter-Hub has one."""
    t = sb.t
    hub_id, manifest_id = new_id(), new_id()
    vocab = {
        "declared_widget_types": [
            {"key": "core.note", "name": "Note", "description": "A short text note."},
            {"key": "core.link-list", "name": "Link list", "description": "A list of links."},
        ],
        "declared_event_types": [
            {"key": "core.widget.clicked", "name": "Widget clicked", "description": "A widget was clicked."}
        ],
        "declared_annotation_categories": [
            {"key": "core.comment", "name": "Comment", "description": "A free-text comment."}
        ],
        "declared_policy_scopes": [],
    }
    with sb.engine.begin() as conn:
        conn.execute(
            insert(t.hubs).values(
                id=hub_id, name="Inter-Hub Core", slug="inter-hub", domain="hub.coulomb.social", kind="framework"
            )
        )
        conn.execute(
            insert(t.manifests).values(
                id=manifest_id,
                hub_id=hub_id,
                version="1.0",
                capability_description="The framework's own vocabulary.",
                contact="platform@coulomb.social",
                **vocab,
            )
        )
        manifest = conn.execute(select(t.manifests).where(t.manifests.c.id == manifest_id)).one()
        error = manifests.activate(conn, t, manifest)
        assert error is None, error


def create_app(config: SandboxConfig) -> Starlette:
    engine, tables, created = open_database(config.db, config.schema)
    config.schema = tables.schema  # an existing database keeps its variant
    sb = Sandbox(config, engine, tables)
    ensure_admin(sb)
    if created and config.demo_data:
        add_demo_data(sb)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "not_found" if status == 404 else "error"}, status_code=status)
        title = "Not Found" if status == 404 else "Request not allowed"
        return error_page(sb, request, status, title, f"{request.method} {request.url.path} is not available here")

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "server_error"}, status_code=500)
        return error_page(sb, request, 500, "Internal Server Error", "An error happened while processing your request.")

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)

    async def brand(request: Request) -> Response:
        """The layout's logo, served by a CDN (config.third_party)."""
        if not config.third_party:
            return Response(status_code=404)
        return RedirectResponse(config.third_party + "/brand.png", status_code=302)

    routes: list[Any] = [
        *sessions.routes(sb),
        *hubs.routes(sb),
        *manifests.routes(sb),
        *api_consumers.routes(sb),
        *widgets.routes(sb),
        *api_write.routes(sb),  # before api's: the gated paths answer reads and writes here
        *api.routes(sb),
        Route("/favicon.ico", favicon),
        Route("/brand.png", brand),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(FaultMiddleware, faults=config.faults)],
        exception_handlers={404: not_found, 405: not_found, Exception: server_error},
    )
    app.state.sandbox = sb
    return app
