"""Inter-Hub's public v2 API as the runbook's validation uses it: the three vocabulary
registries, the hub registry, ``client_credentials`` tokens and the OpenAPI document.

Gate modes: ``closed`` is today's production (no ``/api/v2/hubs``, the OpenAPI document omits
the bootstrap endpoints); ``open`` is the supported bootstrap API (``GET /api/v2/hubs`` answers
401 without a bearer token, the OpenAPI document lists the four paths).
"""

from __future__ import annotations

import secrets
from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.db import REGISTRIES, new_id, now
from sandbox.web import Sandbox, sha256_hex

TOKEN_LIFETIME = timedelta(minutes=5)
GATED_PATHS = ("/hubs", "/hub-capability-manifests", "/api-consumers", "/policy-scopes")
PUBLIC_PATHS = ("/widget-types", "/event-types", "/annotation-categories", "/hub-registry", "/token")


def _json(data: Any, status: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={"Cache-Control": "no-store", **headers})


def oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return _json({"error": error, "error_description": description}, status)


def openapi(gate: str) -> dict[str, Any]:
    paths = list(PUBLIC_PATHS) + (list(GATED_PATHS) if gate == "open" else [])
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "Inter-Hub API", "version": "2"},
        "servers": [{"url": "/api/v2"}],
        "paths": {},
    }
    for path in paths:
        op = "post" if path == "/token" else "get"
        doc["paths"][path] = {op: {"summary": path.strip("/").replace("-", " "), "responses": {"200": {"description": "OK"}}}}
    return doc


def routes(sb: Sandbox) -> list[Route]:
    t = sb.t

    def registry(name: str):  # noqa: ANN202
        async def endpoint(request: Request) -> Response:
            table = t.registry(name)
            with sb.engine.connect() as conn:
                rows = conn.execute(
                    select(table, t.hubs.c.slug, t.manifests.c.version)
                    .join(t.hubs, t.hubs.c.id == table.c.hub_id)
                    .join(t.manifests, t.manifests.c.id == table.c.hub_capability_manifest_id)
                    .order_by(table.c.key)
                ).all()
            data = [
                {"key": r.key, "name": r.name, "description": r.description, "hub": r.slug, "manifestVersion": r.version}
                for r in rows
            ]
            return _json({"data": data})

        return endpoint

    async def hub_registry(request: Request) -> Response:
        h, m, w = t.hubs, t.manifests, t.widgets
        widget_count = select(func.count()).select_from(w).where(w.c.hub_id == h.c.id).scalar_subquery()
        with sb.engine.connect() as conn:
            rows = conn.execute(
                select(h, m.c.version, widget_count.label("widgets"))
                .join(m, (m.c.hub_id == h.c.id) & (m.c.status == "active"))
                .order_by(h.c.slug)
            ).all()
        data = []
        for r in rows:
            entry = {
                "id": str(r.id),
                "slug": r.slug,
                "name": r.name,
                "domain": r.domain,
                "kind": r.kind,
                "manifestVersion": r.version,
                "widgets": r.widgets,
            }
            if t.schema == "newer":
                entry.update(hubFamily=r.hub_family, vsmFunction=r.vsm_function, vsmSystem=r.vsm_system)
            data.append(entry)
        return _json({"data": data})

    async def token(request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return oauth_error(400, "invalid_request", "send the token request form-encoded")
        form = await request.form()
        if form.get("grant_type") != "client_credentials":
            return oauth_error(400, "unsupported_grant_type", "only client_credentials is supported")
        client_id, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
        if sb.config.gate == "open":
            from sandbox.api_write import operator_token

            answer = operator_token(sb, client_id, secret, str(form.get("scope", "")).split())
            if answer is not None:
                return answer
        k = t.api_keys
        with sb.engine.connect() as conn:
            key = conn.execute(
                select(k).where(k.c.key_hash == sha256_hex(secret), k.c.revoked_at.is_(None))
            ).first()
        if key is None or str(key.api_consumer_id) != client_id:
            return oauth_error(401, "invalid_client", "unknown client or wrong client secret")
        granted = key.scopes.split()
        requested = str(form.get("scope", "")).split() or granted
        refused = [s for s in requested if s not in granted]
        if refused:
            return oauth_error(400, "invalid_scope", f"not granted to this key: {' '.join(refused)}")
        access_token = "iht_" + secrets.token_urlsafe(32)
        with sb.engine.begin() as conn:
            conn.execute(
                insert(t.access_tokens).values(
                    id=new_id(),
                    token_hash=sha256_hex(access_token),
                    api_consumer_id=key.api_consumer_id,
                    scopes=" ".join(requested),
                    expires_at=now() + TOKEN_LIFETIME,
                )
            )
        return _json(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": int(TOKEN_LIFETIME.total_seconds()),
                "scope": " ".join(requested),
            }
        )

    def bearer_scopes(request: Request) -> list[str] | None:
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return None
        a = t.access_tokens
        with sb.engine.connect() as conn:
            row = conn.execute(select(a).where(a.c.token_hash == sha256_hex(auth[7:].strip()))).first()
        if row is None:
            return None
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
        if expires < now():
            return None
        return row.scopes.split()

    def gated(table_name: str):  # noqa: ANN202
        async def endpoint(request: Request) -> Response:
            if sb.config.gate != "open":
                return _json({"error": "not_found"}, 404)
            scopes = bearer_scopes(request)
            if scopes is None:
                return _json({"error": "unauthorized"}, 401, **{"WWW-Authenticate": 'Bearer realm="inter-hub"'})
            if "framework:read" not in scopes:
                return _json({"error": "insufficient_scope"}, 403)
            table = getattr(t, table_name)
            hidden = {"key_hash", "token_hash"}
            with sb.engine.connect() as conn:
                rows = conn.execute(select(table)).all()
            data = [{k: str(v) if v is not None else None for k, v in r._mapping.items() if k not in hidden} for r in rows]
            return _json({"data": data})

        return endpoint

    async def openapi_doc(request: Request) -> Response:
        if sb.config.gate == "open":
            from sandbox.api_write import openapi_document

            return _json(openapi_document(sb, openapi("open")))
        return _json(openapi(sb.config.gate))

    api = "/api/v2"
    registries = [Route(f"{api}/{name.replace('_', '-')}", registry(name)) for name in REGISTRIES]
    gates = [
        Route(f"{api}{path}", gated(table))
        for path, table in zip(GATED_PATHS, ("hubs", "manifests", "api_consumers", "policy_scopes"))
    ]
    return [
        *registries,
        Route(f"{api}/hub-registry", hub_registry),
        Route(f"{api}/token", token, methods=["POST"]),
        Route(f"{api}/openapi.json", openapi_doc),
        *gates,
    ]
