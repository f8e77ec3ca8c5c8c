"""Hub capability manifest screens: new (per hub), show, edit with the four ``declared*`` JSON
fields, and activation (guarded by ``confirm()``), which publishes the manifest's vocabulary
in the v2 registries. One active manifest per hub; an active manifest cannot be edited."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from starlette.responses import Response
from starlette.routing import Route

from sandbox.db import REGISTRIES, Tables, new_id, now
from sandbox.hubs import get_hub
from sandbox.web import IN_USE, Ctx, Form, HttpError, Sandbox, admin_page, parse_json

VERSION = re.compile(r"\d+\.\d+(?:\.\d+)?")
VOCABULARY_KEY = re.compile(r"[a-z][a-z0-9]*(?:\.[a-z0-9]+(?:-[a-z0-9]+)*)+")
# form field, label, column
VOCABULARY = [
    ("declaredWidgetTypes", "Declared Widget Types", "declared_widget_types"),
    ("declaredEventTypes", "Declared Event Types", "declared_event_types"),
    ("declaredAnnotationCategories", "Declared Annotation Categories", "declared_annotation_categories"),
    ("declaredPolicyScopes", "Declared Policy Scopes", "declared_policy_scopes"),
]
REGISTRY_OF = dict(zip(("declared_widget_types", "declared_event_types", "declared_annotation_categories"), REGISTRIES))
REGISTRY_LABEL = {"widget_types": "widget type", "event_types": "event type", "annotation_categories": "annotation category"}


def get_manifest(ctx: Ctx) -> Any:
    manifest_id = ctx.uuid_param("hubCapabilityManifestId")
    with ctx.sb.engine.connect() as conn:
        row = conn.execute(select(ctx.t.manifests).where(ctx.t.manifests.c.id == manifest_id)).first()
    if row is None:
        raise HttpError(404, "Not Found", f"There is no hub capability manifest with id {manifest_id}")
    return row


def _check_version(ctx: Ctx, form: Form, hub_id: Any, manifest_id: Any = None) -> None:
    version = form.value("version").strip()
    if version and not VERSION.fullmatch(version):
        form.errors.setdefault("version", "Use a version like 1.0 or 1.0.1")
    if "version" in form.errors:
        return
    m = ctx.t.manifests
    query = select(func.count()).select_from(m).where(m.c.hub_id == hub_id, m.c.version == version)
    if manifest_id is not None:
        query = query.where(m.c.id != manifest_id)
    with ctx.sb.engine.connect() as conn:
        if conn.execute(query).scalar_one():
            form.errors["version"] = IN_USE


def _parse_vocabulary(form: Form, field: str, hub_slug: str) -> list[dict[str, Any]] | None:
    text = form.value(field).strip()
    if not text:
        return []
    value, error = parse_json(text)
    if error:
        form.errors[field] = error
        return None
    scopes = field == "declaredPolicyScopes"
    shape = 'objects with a "key" and a "description"' if scopes else 'objects with a "key", a "name" and a "description"'
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        form.errors[field] = f"Expected a JSON array of {shape}"
        return None
    seen: set[str] = set()
    for i, entry in enumerate(value):
        key = entry.get("key")
        if not isinstance(key, str) or not key:
            form.errors[field] = f'Entry {i + 1} has no "key"'
        elif not scopes and not isinstance(entry.get("name"), str):
            form.errors[field] = f'Entry {i + 1} ({key}) has no "name"'
        elif not isinstance(entry.get("description", ""), str):
            form.errors[field] = f'Entry {i + 1} ({key}): "description" must be a string'
        elif scopes and not re.fullmatch(rf"hub:{re.escape(hub_slug)}:[a-z][a-z0-9-]*", key):
            form.errors[field] = f"Policy scope {key} must look like hub:{hub_slug}:<action>"
        elif not scopes and not VOCABULARY_KEY.fullmatch(key):
            form.errors[field] = f"Key {key} must be dotted lowercase segments, like ops.incident-board"
        elif key in seen:
            form.errors[field] = f"Key {key} is declared twice"
        seen.add(str(key))
        if field in form.errors:
            return None
    return value


def activate(conn: Connection, t: Tables, manifest: Any) -> str | None:
    """Make ``manifest`` its hub's active manifest and publish its vocabulary.

    Returns an error message (and changes nothing) when a key belongs to another hub.
    """
    for column, registry in REGISTRY_OF.items():
        table = t.registry(registry)
        for entry in manifest._mapping[column]:
            owner = conn.execute(
                select(t.hubs.c.slug)
                .join(table, table.c.hub_id == t.hubs.c.id)
                .where(table.c.key == entry["key"], table.c.hub_id != manifest.hub_id)
            ).first()
            if owner:
                return f"Cannot activate: {REGISTRY_LABEL[registry]} {entry['key']} is already registered by hub {owner.slug}"
    for entry in manifest.declared_policy_scopes:
        owner = conn.execute(
            select(t.policy_scopes.c.id).where(
                t.policy_scopes.c.key == entry["key"], t.policy_scopes.c.hub_id != manifest.hub_id
            )
        ).first()
        if owner:
            return f"Cannot activate: policy scope {entry['key']} belongs to another hub"

    m = t.manifests
    conn.execute(
        update(m).where(m.c.hub_id == manifest.hub_id, m.c.status == "active").values(status="retired", updated_at=now())
    )
    for registry in (*REGISTRIES, "policy_scopes"):
        table = t.registry(registry)
        conn.execute(delete(table).where(table.c.hub_id == manifest.hub_id))
    common = {"hub_id": manifest.hub_id, "hub_capability_manifest_id": manifest.id}
    for column, registry in REGISTRY_OF.items():
        rows = [
            {"id": new_id(), "key": e["key"], "name": e["name"], "description": e.get("description", ""), **common}
            for e in manifest._mapping[column]
        ]
        if rows:
            conn.execute(insert(t.registry(registry)), rows)
    scopes = [
        {"id": new_id(), "key": e["key"], "description": e.get("description", ""), **common}
        for e in manifest.declared_policy_scopes
    ]
    if scopes:
        conn.execute(insert(t.policy_scopes), scopes)
    conn.execute(update(m).where(m.c.id == manifest.id).values(status="active", activated_at=now(), updated_at=now()))
    return None


def routes(sb: Sandbox) -> list[Route]:
    t = sb.t
    m = t.manifests

    def show_url(manifest_id: Any) -> str:
        return f"/ShowHubCapabilityManifest?hubCapabilityManifestId={manifest_id}"

    async def index(ctx: Ctx) -> Response:
        """The hub's manifests; in the scaffold markup, every hub's (IHP's generated index), with
        a "Hub Id" column."""
        hub = get_hub(ctx, ctx.uuid_param("hubId"))
        query = select(m).order_by(m.c.created_at)
        if not sb.generated_views:
            query = query.where(m.c.hub_id == hub.id)
        with sb.engine.connect() as conn:
            manifests = conn.execute(query).all()
        return ctx.render("manifests_index.html", hub=hub, manifests=manifests)

    async def new(ctx: Ctx) -> Response:
        hub = get_hub(ctx, ctx.uuid_param("hubId"))
        return ctx.render("manifests_new.html", hub=hub, form=Form("hubCapabilityManifest"))

    async def create(ctx: Ctx) -> Response:
        hub = get_hub(ctx, ctx.uuid_param("hubId"))
        form = Form("hubCapabilityManifest", values=dict(ctx.form))
        form.require("version", "capabilityDescription", "contact")
        _check_version(ctx, form, hub.id)
        if not form.ok:
            return ctx.render("manifests_new.html", hub=hub, form=form)
        manifest_id = new_id()
        with sb.engine.begin() as conn:
            conn.execute(
                insert(m).values(
                    id=manifest_id,
                    hub_id=hub.id,
                    version=form.value("version").strip(),
                    capability_description=form.value("capabilityDescription").strip(),
                    contact=form.value("contact").strip(),
                    declared_widget_types=[],
                    declared_event_types=[],
                    declared_annotation_categories=[],
                    declared_policy_scopes=[],
                )
            )
        return ctx.saved(show_url(manifest_id), f"/HubCapabilityManifests?hubId={hub.id}", "Hub Capability Manifest created")

    async def show(ctx: Ctx) -> Response:
        manifest = get_manifest(ctx)
        hub = get_hub(ctx, manifest.hub_id)
        return ctx.render("manifests_show.html", hub=hub, manifest=manifest, vocabulary_fields=VOCABULARY)

    def edit_form(ctx: Ctx, manifest: Any, form: Form) -> Response:
        hub = get_hub(ctx, manifest.hub_id)
        fields = [(name, label) for name, label, _ in VOCABULARY]
        return ctx.render("manifests_edit.html", hub=hub, manifest=manifest, form=form, vocabulary_fields=fields)

    def refuse_unless_draft(ctx: Ctx, manifest: Any) -> Response | None:
        if manifest.status == "draft":
            return None
        return ctx.redirect(
            show_url(manifest.id),
            error=f"This manifest is {manifest.status} and cannot be changed; create a new version instead",
        )

    async def edit(ctx: Ctx) -> Response:
        manifest = get_manifest(ctx)
        if refused := refuse_unless_draft(ctx, manifest):
            return refused
        values = {
            "version": manifest.version,
            "capabilityDescription": manifest.capability_description,
            "contact": manifest.contact,
        }
        for name, _, column in VOCABULARY:
            values[name] = json.dumps(manifest._mapping[column], indent=2, ensure_ascii=False)
        return edit_form(ctx, manifest, Form("hubCapabilityManifest", values=values))

    async def update_(ctx: Ctx) -> Response:
        manifest = get_manifest(ctx)
        if refused := refuse_unless_draft(ctx, manifest):
            return refused
        hub = get_hub(ctx, manifest.hub_id)
        form = Form("hubCapabilityManifest", values=dict(ctx.form))
        form.require("version", "capabilityDescription", "contact")
        _check_version(ctx, form, hub.id, manifest.id)
        vocabulary = {column: _parse_vocabulary(form, name, hub.slug) for name, _, column in VOCABULARY}
        if not form.ok:
            return edit_form(ctx, manifest, form)
        with sb.engine.begin() as conn:
            conn.execute(
                update(m)
                .where(m.c.id == manifest.id)
                .values(
                    version=form.value("version").strip(),
                    capability_description=form.value("capabilityDescription").strip(),
                    contact=form.value("contact").strip(),
                    updated_at=now(),
                    **vocabulary,
                )
            )
        return ctx.saved(
            show_url(manifest.id), f"/EditHubCapabilityManifest?hubCapabilityManifestId={manifest.id}", "Hub Capability Manifest saved"
        )

    async def activate_(ctx: Ctx) -> Response:
        manifest = get_manifest(ctx)
        if refused := refuse_unless_draft(ctx, manifest):
            return refused
        with sb.engine.begin() as conn:
            error = activate(conn, t, manifest)
            if error:
                conn.rollback()
        if error:
            return ctx.redirect(show_url(manifest.id), error=error)
        return ctx.redirect(show_url(manifest.id), success=f"Manifest {manifest.version} activated")

    return [
        Route("/HubCapabilityManifests", admin_page(sb, index)),
        Route("/HubCapabilityManifests/new", admin_page(sb, new)),
        Route("/CreateHubCapabilityManifest", admin_page(sb, create), methods=["POST"]),
        Route("/ShowHubCapabilityManifest", admin_page(sb, show)),
        Route("/EditHubCapabilityManifest", admin_page(sb, edit)),
        Route("/UpdateHubCapabilityManifest", admin_page(sb, update_), methods=["POST"]),
        Route("/ActivateHubCapabilityManifest", admin_page(sb, activate_), methods=["POST"]),
    ]
