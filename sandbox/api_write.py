"""Inter-Hub's v2 bootstrap API, the supported path once the gate is open (``--gate open``):
hubs, capability manifests (create, edit a draft's vocabulary, activate), policy scopes (read:
an active manifest publishes them), API consumers and their keys, widgets. Described in the
OpenAPI document (``/api/v2/openapi.json``) with the request schema of every operation.

Writes need a bearer token of the operator consumer (``client_credentials`` with the scope
``ihub:operator``); reads accept that token or any token with ``framework:read``. The records
are the admin UI's own (same tables, same validation rules), so both paths see one state.
Validation errors are problem details (RFC 9457) naming the field.

The operator consumer is made at start-up from ``--operator-client-id`` / ``--operator-key``
(``SANDBOX_OPERATOR_*``), or generated and printed once. Only the key's sha256 is kept.
``--openapi-drop`` and ``--openapi-rename`` change what the document describes: a stand-in
for an Inter-Hub release whose API differs from what the tool expects.
"""

from __future__ import annotations

import hmac
import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox import hubs as hub_screens
from sandbox import manifests as manifest_screens
from sandbox.api_consumers import KEY_PREFIX_LENGTH, NAME, allowed_scopes, consumers_query, new_api_key
from sandbox.db import new_id, now
from sandbox.web import EMPTY, IN_USE, Ctx, Form, Sandbox, sha256_hex

OPERATOR_SCOPE = "ihub:operator"
TOKEN_LIFETIME = timedelta(minutes=5)
API = "/api/v2"
VOCABULARY = [(name, column) for name, _, column in manifest_screens.VOCABULARY]


# ---------------------------------------------------------------- the operator consumer


def operator_token(sb: Sandbox, client_id: str, secret: str, requested: list[str]) -> JSONResponse | None:
    """The token endpoint's answer for the operator consumer; None for any other client."""
    config = sb.config
    if not config.operator_client_id or client_id != config.operator_client_id:
        return None
    if not hmac.compare_digest(sha256_hex(secret), sha256_hex(config.operator_key)):
        return _json({"error": "invalid_client", "error_description": "unknown client or wrong client secret"}, 401)
    refused = [s for s in requested if s != OPERATOR_SCOPE]
    if refused:
        return _json({"error": "invalid_scope", "error_description": f"not granted to this key: {' '.join(refused)}"}, 400)
    token = "iho_" + secrets.token_urlsafe(32)
    _tokens(sb)[sha256_hex(token)] = datetime.now(UTC) + TOKEN_LIFETIME
    return _json({"access_token": token, "token_type": "Bearer", "expires_in": int(TOKEN_LIFETIME.total_seconds()), "scope": OPERATOR_SCOPE})


def _tokens(sb: Sandbox) -> dict[str, datetime]:
    if not hasattr(sb, "operator_tokens"):
        sb.operator_tokens = {}  # type: ignore[attr-defined]  # hash -> expiry; in memory, as short-lived tokens are
    return sb.operator_tokens  # type: ignore[attr-defined]


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


def _scopes(sb: Sandbox, request: Request) -> list[str] | None:
    token = _bearer(request)
    if token is None:
        return None
    digest = sha256_hex(token)
    expiry = _tokens(sb).get(digest)
    if expiry is not None:
        return [OPERATOR_SCOPE] if expiry > datetime.now(UTC) else None
    a = sb.t.access_tokens
    with sb.engine.connect() as conn:
        row = conn.execute(select(a).where(a.c.token_hash == digest)).first()
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    return row.scopes.split() if expires > now() else None


# ---------------------------------------------------------------- answers


def _json(data: Any, status: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={"Cache-Control": "no-store", **headers})


def problem(status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers={"Cache-Control": "no-store"})


def invalid(errors: dict[str, str]) -> JSONResponse:
    listed = [{"field": f, "message": m} for f, m in errors.items()]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in listed)
    return problem(422, "Validation failed", detail, listed)


class Refused(Exception):
    def __init__(self, response: Response):
        self.response = response


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _hub(sb: Sandbox, row: Any, manifests: list[Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": str(row.id), "name": row.name, "slug": row.slug, "domain": row.domain, "kind": row.kind}
    if sb.t.schema == "newer":
        out.update(hubFamily=row.hub_family, vsmFunction=row.vsm_function, vsmSystem=row.vsm_system)
    if manifests is not None:
        out["manifests"] = [{"id": str(m.id), "version": m.version, "status": m.status} for m in manifests]
    return out


def _manifest(row: Any, hub_slug: str) -> dict[str, Any]:
    out = {
        "id": str(row.id),
        "hubId": str(row.hub_id),
        "hubSlug": hub_slug,
        "version": row.version,
        "status": row.status,
        "capabilityDescription": row.capability_description,
        "contact": row.contact,
        "activatedAt": _iso(row.activated_at),
    }
    out.update({name: row._mapping[column] for name, column in VOCABULARY})
    return out


def _consumer(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.name,
        "description": row.description,
        "hubCapabilityManifestId": str(row.manifest_id),
        "manifest": f"{row.hub_slug} {row.manifest_version}",
        "keyPrefix": row.key_prefix,
        "keyScopes": row.key_scopes.split() if row.key_scopes else [],
    }


def _widget(row: Any) -> dict[str, Any]:
    return {"id": str(row.id), "hubId": str(row.hub_id), "name": row.name, "title": row.title, "widgetType": row.widget_type, "config": row.config}


# ---------------------------------------------------------------- the request schemas

STRING, ARRAY, OBJECT = {"type": "string"}, {"type": "array"}, {"type": "object"}
ENTRY = {"type": "object", "required": ["key"], "properties": {"key": STRING, "name": STRING, "description": STRING}}


def request_schemas(sb: Sandbox) -> dict[str, dict[str, Any]]:
    """Name -> JSON schema of every request body, as the handlers read them."""
    hub_props = {n: dict(STRING) for n in ("name", "slug", "domain", "kind")}
    if sb.t.schema == "newer":
        hub_props.update({n: dict(STRING) for n in hub_screens.VSM_FIELDS})
    vocabulary = {name: {"type": "array", "items": ENTRY} for name, _ in VOCABULARY}
    manifest_props = {"version": STRING, "capabilityDescription": STRING, "contact": STRING}
    return {
        "HubCreate": {"type": "object", "required": ["name", "slug", "domain", "kind"], "properties": hub_props},
        "HubUpdate": {"type": "object", "properties": dict(hub_props)},
        "ManifestCreate": {
            "type": "object",
            "required": ["hubId", "version", "capabilityDescription", "contact"],
            "properties": {"hubId": {"type": "string", "format": "uuid"}, **manifest_props},
        },
        "ManifestUpdate": {"type": "object", "properties": {"capabilityDescription": STRING, "contact": STRING, **vocabulary}},
        "ApiConsumerCreate": {
            "type": "object",
            "required": ["name", "description", "hubCapabilityManifestId"],
            "properties": {"name": STRING, "description": STRING, "hubCapabilityManifestId": {"type": "string", "format": "uuid"}},
        },
        "ApiKeyCreate": {"type": "object", "required": ["scopes"], "properties": {"scopes": {"type": "array", "items": STRING}}},
        "WidgetCreate": {
            "type": "object",
            "required": ["hubId", "name", "title", "widgetType"],
            "properties": {"hubId": {"type": "string", "format": "uuid"}, "name": STRING, "title": STRING, "widgetType": STRING, "config": OBJECT},
        },
    }


# (path, method, operationId, request schema or None, summary)
OPERATIONS = [
    ("/hubs", "get", "listHubs", None, "list hubs (?slug=)"),
    ("/hubs", "post", "createHub", "HubCreate", "create a hub"),
    ("/hubs/{id}", "get", "getHub", None, "a hub and its manifests"),
    ("/hubs/{id}", "patch", "updateHub", "HubUpdate", "change a hub's editable fields"),
    ("/hub-capability-manifests", "get", "listManifests", None, "list manifests (?hubId=)"),
    ("/hub-capability-manifests", "post", "createManifest", "ManifestCreate", "create a draft manifest"),
    ("/hub-capability-manifests/{id}", "get", "getManifest", None, "a manifest"),
    ("/hub-capability-manifests/{id}", "patch", "updateManifest", "ManifestUpdate", "change a draft's vocabulary"),
    ("/hub-capability-manifests/{id}/activate", "post", "activateManifest", None, "activate a draft"),
    ("/policy-scopes", "get", "listPolicyScopes", None, "policy scopes published by active manifests"),
    ("/api-consumers", "get", "listApiConsumers", None, "list API consumers (?name=)"),
    ("/api-consumers", "post", "createApiConsumer", "ApiConsumerCreate", "create an API consumer"),
    ("/api-consumers/{id}", "get", "getApiConsumer", None, "an API consumer"),
    ("/api-consumers/{id}/keys", "post", "createApiKey", "ApiKeyCreate", "a new key (returned once; revokes the previous one)"),
    ("/widgets", "get", "listWidgets", None, "list a hub's widgets (?hubId=)"),
    ("/widgets", "post", "createWidget", "WidgetCreate", "create a widget"),
]


def openapi_document(sb: Sandbox, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` (the public paths) with the bootstrap operations, their schemas and security."""
    config = sb.config
    schemas = request_schemas(sb)
    for spec in config.openapi_rename:  # "HubCreate.slug=handle"
        target, new = spec.split("=", 1)
        schema_name, field = target.split(".", 1)
        schema = schemas.get(schema_name)
        if schema and field in schema["properties"]:
            schema["properties"][new] = schema["properties"].pop(field)
            schema["required"] = [new if r == field else r for r in schema.get("required", [])]
    dropped = {d.lower() for d in config.openapi_drop}  # "post /widgets"
    paths = doc["paths"]
    for path in ("/hubs", "/hub-capability-manifests", "/api-consumers", "/policy-scopes"):
        paths.pop(path, None)
    for path, method, op_id, body, summary in OPERATIONS:
        if f"{method} {path}" in dropped:
            continue
        op: dict[str, Any] = {
            "operationId": op_id,
            "summary": summary,
            "security": [{"operatorToken": []}],
            "responses": {"200": {"description": "OK"}, "401": {"description": "no or expired token"}, "422": {"description": "validation failed (problem details)"}},
        }
        if body:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}}}
        paths.setdefault(path, {})[method] = op
    doc["components"] = {
        "schemas": schemas,
        "securitySchemes": {
            "operatorToken": {
                "type": "oauth2",
                "flows": {"clientCredentials": {"tokenUrl": f"{API}/token", "scopes": {OPERATOR_SCOPE: "bootstrap writes"}}},
            }
        },
    }
    return doc


# ---------------------------------------------------------------- the handlers


def routes(sb: Sandbox) -> list[Route]:
    t = sb.t

    def endpoint(handler, *, write: bool = False):  # noqa: ANN001, ANN202
        async def wrapped(request: Request) -> Response:
            if sb.config.gate != "open":
                return _json({"error": "not_found"}, 404)
            scopes = _scopes(sb, request)
            if scopes is None:
                return _json({"error": "unauthorized"}, 401, **{"WWW-Authenticate": 'Bearer realm="inter-hub"'})
            if OPERATOR_SCOPE not in scopes and (write or "framework:read" not in scopes):
                return problem(403, "Forbidden", f"this operation needs the scope {OPERATOR_SCOPE}")
            body: dict[str, Any] = {}
            if request.method in ("POST", "PATCH"):
                raw = await request.body()
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        return problem(400, "Bad Request", "the request body is not JSON")
                    if not isinstance(body, dict):
                        return problem(400, "Bad Request", "the request body must be a JSON object")
            try:
                return await handler(request, body)
            except Refused as refused:
                return refused.response

        return wrapped

    def record_id(request: Request) -> uuid.UUID:
        try:
            return uuid.UUID(request.path_params["id"])
        except ValueError:
            raise Refused(problem(404, "Not Found", "no record with this id")) from None

    def check_body(body: dict[str, Any], schema_name: str) -> None:
        """Unknown fields and wrong types are refused, naming the field."""
        schema = request_schemas(sb)[schema_name]
        errors = {}
        for name, value in body.items():
            prop = schema["properties"].get(name)
            if prop is None:
                errors[name] = "unknown field"
            elif value is not None and not isinstance(value, {"string": str, "array": list, "object": dict}[prop["type"]]):
                errors[name] = f"must be {'a' if prop['type'] != 'array' else 'an'} {prop['type']}"
        for name in schema.get("required", []):
            if name not in errors and (body.get(name) is None or (isinstance(body[name], str) and not body[name].strip())):
                errors[name] = EMPTY
        if errors:
            raise Refused(invalid(errors))

    def ctx(request: Request) -> Ctx:
        return Ctx(sb, request, None)  # type: ignore[arg-type]  # the screens' validators read only sb and t

    def get_hub(hub_id: Any) -> Any:
        with sb.engine.connect() as conn:
            row = conn.execute(select(t.hubs).where(t.hubs.c.id == hub_id)).first()
        if row is None:
            raise Refused(problem(404, "Not Found", f"there is no hub with id {hub_id}"))
        return row

    def hub_manifests(hub_id: Any) -> list[Any]:
        m = t.manifests
        with sb.engine.connect() as conn:
            return conn.execute(select(m).where(m.c.hub_id == hub_id).order_by(m.c.created_at)).all()

    # -------------------------------------------------------------- hubs

    async def hubs_(request: Request, body: dict[str, Any]) -> Response:
        if request.method == "GET":
            query = select(t.hubs).order_by(t.hubs.c.created_at, t.hubs.c.slug)
            if slug := request.query_params.get("slug"):
                query = query.where(t.hubs.c.slug == slug)
            with sb.engine.connect() as conn:
                found = conn.execute(query).all()
            return _json({"data": [_hub(sb, r) for r in found]})
        check_body(body, "HubCreate")
        form = Form("hub", values={k: v for k, v in body.items() if v is not None})
        hub_screens._validate(ctx(request), form)
        if not form.ok:
            return invalid(form.errors)
        hub_id = new_id()
        with sb.engine.begin() as conn:
            conn.execute(insert(t.hubs).values(id=hub_id, **hub_screens._values(ctx(request), form)))
        return _json(_hub(sb, get_hub(hub_id), []), 201, Location=f"{API}/hubs/{hub_id}")

    async def hub_(request: Request, body: dict[str, Any]) -> Response:
        hub = get_hub(record_id(request))
        if request.method == "GET":
            return _json(_hub(sb, hub, hub_manifests(hub.id)))
        check_body(body, "HubUpdate")
        fields = hub_screens._fields(ctx(request))
        values = {name: getattr(hub, column) or "" for name, column in fields.items()}
        values.update({k: v for k, v in body.items() if v is not None})
        form = Form("hub", values=values)
        hub_screens._validate(ctx(request), form, hub_id=hub.id)
        if not form.ok:
            return invalid(form.errors)
        with sb.engine.begin() as conn:
            conn.execute(update(t.hubs).where(t.hubs.c.id == hub.id).values(updated_at=now(), **hub_screens._values(ctx(request), form)))
        return _json(_hub(sb, get_hub(hub.id), hub_manifests(hub.id)))

    # -------------------------------------------------------------- manifests

    def get_manifest(manifest_id: Any) -> tuple[Any, Any]:
        with sb.engine.connect() as conn:
            row = conn.execute(select(t.manifests).where(t.manifests.c.id == manifest_id)).first()
        if row is None:
            raise Refused(problem(404, "Not Found", f"there is no hub capability manifest with id {manifest_id}"))
        return row, get_hub(row.hub_id)

    async def manifests_(request: Request, body: dict[str, Any]) -> Response:
        if request.method == "GET":
            m = t.manifests
            query = select(m, t.hubs.c.slug).join(t.hubs, t.hubs.c.id == m.c.hub_id).order_by(m.c.created_at)
            if hub_id := request.query_params.get("hubId"):
                query = query.where(m.c.hub_id == _uuid(hub_id, "hubId"))
            with sb.engine.connect() as conn:
                found = conn.execute(query).all()
            return _json({"data": [_manifest(r, r.slug) for r in found]})
        check_body(body, "ManifestCreate")
        hub = get_hub(_uuid(body["hubId"], "hubId"))
        form = Form("hubCapabilityManifest", values=dict(body))
        manifest_screens._check_version(ctx(request), form, hub.id)
        if not form.ok:
            return invalid(form.errors)
        manifest_id = new_id()
        with sb.engine.begin() as conn:
            conn.execute(
                insert(t.manifests).values(
                    id=manifest_id,
                    hub_id=hub.id,
                    version=body["version"].strip(),
                    capability_description=body["capabilityDescription"].strip(),
                    contact=body["contact"].strip(),
                    **{column: [] for _, column in VOCABULARY},
                )
            )
        row, _ = get_manifest(manifest_id)
        return _json(_manifest(row, hub.slug), 201, Location=f"{API}/hub-capability-manifests/{manifest_id}")

    def refuse_unless_draft(manifest: Any) -> None:
        if manifest.status != "draft":
            raise Refused(problem(409, "Conflict", f"this manifest is {manifest.status} and cannot be changed; create a new version instead"))

    async def manifest_(request: Request, body: dict[str, Any]) -> Response:
        manifest, hub = get_manifest(record_id(request))
        if request.method == "GET":
            return _json(_manifest(manifest, hub.slug))
        refuse_unless_draft(manifest)
        check_body(body, "ManifestUpdate")
        values = {
            "version": manifest.version,
            "capabilityDescription": body.get("capabilityDescription") or manifest.capability_description,
            "contact": body.get("contact") or manifest.contact,
        }
        for name, column in VOCABULARY:
            values[name] = json.dumps(body[name] if name in body else manifest._mapping[column])
        form = Form("hubCapabilityManifest", values=values)
        form.require("capabilityDescription", "contact")
        vocabulary = {column: manifest_screens._parse_vocabulary(form, name, hub.slug) for name, column in VOCABULARY}
        if not form.ok:
            return invalid(form.errors)
        with sb.engine.begin() as conn:
            conn.execute(
                update(t.manifests)
                .where(t.manifests.c.id == manifest.id)
                .values(
                    capability_description=values["capabilityDescription"].strip(),
                    contact=values["contact"].strip(),
                    updated_at=now(),
                    **vocabulary,
                )
            )
        row, _ = get_manifest(manifest.id)
        return _json(_manifest(row, hub.slug))

    async def activate_(request: Request, body: dict[str, Any]) -> Response:
        manifest, hub = get_manifest(record_id(request))
        refuse_unless_draft(manifest)
        with sb.engine.begin() as conn:
            error = manifest_screens.activate(conn, t, manifest)
            if error:
                conn.rollback()
        if error:
            return problem(409, "Conflict", error)
        row, _ = get_manifest(manifest.id)
        return _json(_manifest(row, hub.slug))

    async def policy_scopes_(request: Request, body: dict[str, Any]) -> Response:
        p = t.policy_scopes
        query = select(p, t.hubs.c.slug).join(t.hubs, t.hubs.c.id == p.c.hub_id).order_by(p.c.key)
        if hub_id := request.query_params.get("hubId"):
            query = query.where(p.c.hub_id == _uuid(hub_id, "hubId"))
        with sb.engine.connect() as conn:
            found = conn.execute(query).all()
        data = [
            {"id": str(r.id), "key": r.key, "description": r.description, "hubId": str(r.hub_id), "hub": r.slug,
             "hubCapabilityManifestId": str(r.hub_capability_manifest_id)}
            for r in found
        ]
        return _json({"data": data})

    # -------------------------------------------------------------- API consumers and keys

    def get_consumer(consumer_id: Any) -> Any:
        with sb.engine.connect() as conn:
            row = conn.execute(consumers_query(t).where(t.api_consumers.c.id == consumer_id)).first()
        if row is None:
            raise Refused(problem(404, "Not Found", f"there is no api consumer with id {consumer_id}"))
        return row

    async def consumers_(request: Request, body: dict[str, Any]) -> Response:
        if request.method == "GET":
            query = consumers_query(t).order_by(t.api_consumers.c.name)
            if name := request.query_params.get("name"):
                query = query.where(t.api_consumers.c.name == name)
            with sb.engine.connect() as conn:
                found = conn.execute(query).all()
            return _json({"data": [_consumer(r) for r in found]})
        check_body(body, "ApiConsumerCreate")
        errors: dict[str, str] = {}
        name = body["name"].strip()
        if not NAME.fullmatch(name):
            errors["name"] = "Use lowercase letters, digits, dots, dashes and underscores"
        manifest_id = _uuid(body["hubCapabilityManifestId"], "hubCapabilityManifestId")
        m, c = t.manifests, t.api_consumers
        with sb.engine.connect() as conn:
            status = conn.execute(select(m.c.status).where(m.c.id == manifest_id)).scalar()
            taken = conn.execute(select(func.count()).select_from(c).where(c.c.name == name)).scalar_one()
        if status != "active":
            errors["hubCapabilityManifestId"] = "Please select an active manifest"
        if taken and "name" not in errors:
            errors["name"] = IN_USE
        if errors:
            return invalid(errors)
        consumer_id = new_id()
        with sb.engine.begin() as conn:
            conn.execute(insert(c).values(id=consumer_id, name=name, description=body["description"].strip(), hub_capability_manifest_id=manifest_id))
        return _json(_consumer(get_consumer(consumer_id)), 201, Location=f"{API}/api-consumers/{consumer_id}")

    async def consumer_(request: Request, body: dict[str, Any]) -> Response:
        return _json(_consumer(get_consumer(record_id(request))))

    async def keys_(request: Request, body: dict[str, Any]) -> Response:
        consumer = get_consumer(record_id(request))
        check_body(body, "ApiKeyCreate")
        scopes = [str(s) for s in body["scopes"]]
        unknown = [s for s in scopes if s not in allowed_scopes(consumer)]
        if not scopes:
            return invalid({"scopes": EMPTY})
        if unknown:
            return invalid({"scopes": f"Unknown scope: {' '.join(unknown)}"})
        key = new_api_key()
        if sb.config.faults.on_api_key is not None:
            sb.config.faults.on_api_key(key)
        k = t.api_keys
        with sb.engine.begin() as conn:
            conn.execute(update(k).where(k.c.api_consumer_id == consumer.id, k.c.revoked_at.is_(None)).values(revoked_at=now()))
            conn.execute(
                insert(k).values(id=new_id(), api_consumer_id=consumer.id, key_hash=sha256_hex(key), key_prefix=key[:KEY_PREFIX_LENGTH], scopes=" ".join(scopes))
            )
        return _json({"apiConsumerId": str(consumer.id), "key": key, "keyPrefix": key[:KEY_PREFIX_LENGTH], "scopes": scopes}, 201)

    # -------------------------------------------------------------- widgets

    async def widgets_(request: Request, body: dict[str, Any]) -> Response:
        w = t.widgets
        if request.method == "GET":
            query = select(w).order_by(w.c.created_at, w.c.name)
            if hub_id := request.query_params.get("hubId"):
                query = query.where(w.c.hub_id == _uuid(hub_id, "hubId"))
            with sb.engine.connect() as conn:
                found = conn.execute(query).all()
            return _json({"data": [_widget(r) for r in found]})
        check_body(body, "WidgetCreate")
        hub = get_hub(_uuid(body["hubId"], "hubId"))
        errors: dict[str, str] = {}
        name = body["name"].strip()
        if not hub_screens.SLUG.fullmatch(name):
            errors["name"] = "Use lowercase letters, digits and hyphens only"
        m = t.manifests
        with sb.engine.connect() as conn:
            active = conn.execute(select(m.c.declared_widget_types).where(m.c.hub_id == hub.id, m.c.status == "active")).first()
            taken = conn.execute(select(func.count()).select_from(w).where(w.c.hub_id == hub.id, w.c.name == name)).scalar_one()
        declared = {e["key"] for e in (active.declared_widget_types if active else [])}
        if body["widgetType"] not in declared:
            errors["widgetType"] = "This widget type is not declared by the hub's active manifest"
        if taken and "name" not in errors:
            errors["name"] = IN_USE
        if errors:
            return invalid(errors)
        widget_id = new_id()
        with sb.engine.begin() as conn:
            conn.execute(
                insert(w).values(id=widget_id, hub_id=hub.id, name=name, title=body["title"].strip(), widget_type=body["widgetType"], config=body.get("config") or {})
            )
            row = conn.execute(select(w).where(w.c.id == widget_id)).one()
        return _json(_widget(row), 201)

    return [
        Route(f"{API}/hubs", endpoint(hubs_), methods=["GET"]),
        Route(f"{API}/hubs", endpoint(hubs_, write=True), methods=["POST"]),
        Route(f"{API}/hubs/{{id}}", endpoint(hub_), methods=["GET"]),
        Route(f"{API}/hubs/{{id}}", endpoint(hub_, write=True), methods=["PATCH"]),
        Route(f"{API}/hub-capability-manifests", endpoint(manifests_), methods=["GET"]),
        Route(f"{API}/hub-capability-manifests", endpoint(manifests_, write=True), methods=["POST"]),
        Route(f"{API}/hub-capability-manifests/{{id}}", endpoint(manifest_), methods=["GET"]),
        Route(f"{API}/hub-capability-manifests/{{id}}", endpoint(manifest_, write=True), methods=["PATCH"]),
        Route(f"{API}/hub-capability-manifests/{{id}}/activate", endpoint(activate_, write=True), methods=["POST"]),
        Route(f"{API}/policy-scopes", endpoint(policy_scopes_), methods=["GET"]),
        Route(f"{API}/api-consumers", endpoint(consumers_), methods=["GET"]),
        Route(f"{API}/api-consumers", endpoint(consumers_, write=True), methods=["POST"]),
        Route(f"{API}/api-consumers/{{id}}", endpoint(consumer_), methods=["GET"]),
        Route(f"{API}/api-consumers/{{id}}/keys", endpoint(keys_, write=True), methods=["POST"]),
        Route(f"{API}/widgets", endpoint(widgets_), methods=["GET"]),
        Route(f"{API}/widgets", endpoint(widgets_, write=True), methods=["POST"]),
    ]


def _uuid(raw: Any, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise Refused(invalid({field: "is not a valid UUID"})) from None


__all__ = ["OPERATOR_SCOPE", "openapi_document", "operator_token", "problem", "routes"]
