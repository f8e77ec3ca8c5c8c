"""Hubs screens: /Hubs, /Hubs/new, /ShowHub, /EditHub and their form posts."""

from __future__ import annotations

import re

from sqlalchemy import func, insert, select, update
from starlette.responses import Response
from starlette.routing import Route

from sandbox.db import VSM_COLUMNS, new_id, now
from sandbox.web import IN_USE, Ctx, Form, HttpError, Sandbox, admin_page

KINDS = [("domain", "domain"), ("framework", "framework"), ("team", "team")]
VSM_FUNCTIONS = [(v, v) for v in ("OPS", "COORD", "CTRL", "INTEL", "POLICY")]
VSM_SYSTEMS = [(v, v) for v in ("S1", "S2", "S3", "S4", "S5")]
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
# form field name -> column name
FIELDS = {"name": "name", "slug": "slug", "domain": "domain", "kind": "kind"}
VSM_FIELDS = {"hubFamily": "hub_family", "vsmFunction": "vsm_function", "vsmSystem": "vsm_system"}


def _fields(ctx: Ctx) -> dict[str, str]:
    return {**FIELDS, **VSM_FIELDS} if ctx.t.schema == "newer" else FIELDS


def _choices() -> dict[str, object]:
    return {"kinds": KINDS, "vsm_functions": VSM_FUNCTIONS, "vsm_systems": VSM_SYSTEMS}


def get_hub(ctx: Ctx, hub_id) -> object:  # noqa: ANN001
    with ctx.sb.engine.connect() as conn:
        hub = conn.execute(select(ctx.t.hubs).where(ctx.t.hubs.c.id == hub_id)).first()
    if hub is None:
        raise HttpError(404, "Not Found", f"There is no hub with id {hub_id}")
    return hub


def _validate(ctx: Ctx, form: Form, hub_id=None) -> None:  # noqa: ANN001
    form.require("name", "slug", "domain", "kind")
    slug, domain = form.value("slug"), form.value("domain")
    if slug and not SLUG.fullmatch(slug):
        form.errors.setdefault("slug", "Use lowercase letters, digits and hyphens only")
    if domain and not DOMAIN.fullmatch(domain):
        form.errors.setdefault("domain", "This is not a valid domain name")
    if form.value("kind") and form.value("kind") not in dict(KINDS):
        form.errors.setdefault("kind", "Please select a valid kind")
    if ctx.t.schema == "newer":
        if form.value("vsmFunction") and form.value("vsmFunction") not in dict(VSM_FUNCTIONS):
            form.errors["vsmFunction"] = "Please select a valid VSM function"
        if form.value("vsmSystem") and form.value("vsmSystem") not in dict(VSM_SYSTEMS):
            form.errors["vsmSystem"] = "Please select a valid VSM system"
    hubs = ctx.t.hubs
    for name in ("slug", "name"):  # both validateIsUnique
        if name in form.errors:
            continue
        query = select(func.count()).select_from(hubs).where(hubs.c[name] == form.value(name).strip())
        if hub_id is not None:
            query = query.where(hubs.c.id != hub_id)
        with ctx.sb.engine.connect() as conn:
            if conn.execute(query).scalar_one():
                form.errors[name] = IN_USE


def _values(ctx: Ctx, form: Form) -> dict[str, str | None]:
    values: dict[str, str | None] = {col: form.value(field).strip() for field, col in _fields(ctx).items()}
    for col in VSM_COLUMNS:
        if col in values and not values[col]:
            values[col] = None
    return values


def routes(sb: Sandbox) -> list[Route]:
    t = sb.t

    async def index(ctx: Ctx) -> Response:
        with sb.engine.connect() as conn:
            hubs = conn.execute(select(t.hubs).order_by(t.hubs.c.created_at, t.hubs.c.slug)).all()
        return ctx.render("hubs_index.html", hubs=hubs)

    async def new(ctx: Ctx) -> Response:
        return ctx.render("hubs_new.html", form=Form("hub"), **_choices())

    async def create(ctx: Ctx) -> Response:
        form = Form("hub", values=dict(ctx.form))
        _validate(ctx, form)
        if not form.ok:
            return ctx.render("hubs_new.html", form=form, **_choices())
        hub_id = new_id()
        with sb.engine.begin() as conn:
            conn.execute(insert(t.hubs).values(id=hub_id, **_values(ctx, form)))
        return ctx.saved(f"/ShowHub?hubId={hub_id}", "/Hubs", "Hub created")

    async def show(ctx: Ctx) -> Response:
        hub = get_hub(ctx, ctx.uuid_param("hubId"))
        m, w = t.manifests, t.widgets
        with sb.engine.connect() as conn:
            manifests = conn.execute(select(m).where(m.c.hub_id == hub.id).order_by(m.c.created_at)).all()
            widget_count = conn.execute(select(func.count()).select_from(w).where(w.c.hub_id == hub.id)).scalar_one()
        return ctx.render("hubs_show.html", hub=hub, manifests=manifests, widget_count=widget_count)

    async def edit(ctx: Ctx) -> Response:
        hub = get_hub(ctx, ctx.uuid_param("hubId"))
        values = {field: getattr(hub, col) for field, col in _fields(ctx).items()}
        return ctx.render("hubs_edit.html", hub=hub, form=Form("hub", values=values), **_choices())

    async def update_(ctx: Ctx) -> Response:
        hub = get_hub(ctx, ctx.uuid_param("hubId"))
        form = Form("hub", values=dict(ctx.form))
        _validate(ctx, form, hub_id=hub.id)
        if not form.ok:
            return ctx.render("hubs_edit.html", hub=hub, form=form, **_choices())
        with sb.engine.begin() as conn:
            conn.execute(update(t.hubs).where(t.hubs.c.id == hub.id).values(updated_at=now(), **_values(ctx, form)))
        return ctx.saved(f"/ShowHub?hubId={hub.id}", f"/EditHub?hubId={hub.id}", "Hub saved")

    return [
        Route("/Hubs", admin_page(sb, index)),
        Route("/Hubs/new", admin_page(sb, new)),
        Route("/CreateHub", admin_page(sb, create), methods=["POST"]),
        Route("/ShowHub", admin_page(sb, show)),
        Route("/EditHub", admin_page(sb, edit)),
        Route("/UpdateHub", admin_page(sb, update_), methods=["POST"]),
    ]
