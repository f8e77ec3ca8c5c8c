"""Widget screens: per-hub index, new (type chosen among the hub's active declared widget
types, JSON config) and show."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select
from starlette.responses import Response
from starlette.routing import Route

from sandbox.db import new_id
from sandbox.hubs import SLUG, get_hub
from sandbox.web import IN_USE, Ctx, Form, HttpError, Sandbox, admin_page, parse_json


def routes(sb: Sandbox) -> list[Route]:
    t = sb.t
    w = t.widgets

    def widget_types(hub_id: Any) -> list[tuple[str, str]]:
        m = t.manifests
        with sb.engine.connect() as conn:
            active = conn.execute(
                select(m.c.declared_widget_types).where(m.c.hub_id == hub_id, m.c.status == "active")
            ).first()
        declared = active.declared_widget_types if active else []
        return [(e["key"], f"{e['name']} ({e['key']})") for e in declared]

    async def index(ctx: Ctx) -> Response:
        """The hub's widgets; in the scaffold markup, IHP's generated ``WidgetsAction``: every
        hub's widgets (``query @Widget |> fetch``), with a "Hub Id" column."""
        hub = get_hub(ctx, ctx.uuid_param("hubId"))
        query = select(w).order_by(w.c.created_at, w.c.name)
        if not sb.generated_views:
            query = query.where(w.c.hub_id == hub.id)
        with sb.engine.connect() as conn:
            widgets = conn.execute(query).all()
        return ctx.render("widgets_index.html", hub=hub, widgets=widgets)

    async def new(ctx: Ctx) -> Response:
        hub = get_hub(ctx, ctx.uuid_param("hubId"))
        form = Form("widget", values={"config": "{}"})
        return ctx.render("widgets_new.html", hub=hub, form=form, widget_types=widget_types(hub.id))

    async def create(ctx: Ctx) -> Response:
        hub = get_hub(ctx, ctx.uuid_param("hubId"))
        types = widget_types(hub.id)
        form = Form("widget", values=dict(ctx.form))
        form.require("name", "title", "widgetType")
        name = form.value("name").strip()
        if name and not SLUG.fullmatch(name):
            form.errors.setdefault("name", "Use lowercase letters, digits and hyphens only")
        widget_type = form.value("widgetType")
        if widget_type and widget_type not in dict(types):
            form.errors.setdefault("widgetType", "This widget type is not declared by the hub's active manifest")
        config, error = parse_json(form.value("config").strip() or "{}")
        if error:
            form.errors["config"] = error
        elif not isinstance(config, dict):
            form.errors["config"] = "Config must be a JSON object"
        if "name" not in form.errors:
            with sb.engine.connect() as conn:
                taken = conn.execute(
                    select(func.count()).select_from(w).where(w.c.hub_id == hub.id, w.c.name == name)
                ).scalar_one()
            if taken:
                form.errors["name"] = IN_USE
        if not form.ok:
            return ctx.render("widgets_new.html", hub=hub, form=form, widget_types=types)
        widget_id = new_id()
        with sb.engine.begin() as conn:
            conn.execute(
                insert(w).values(
                    id=widget_id,
                    hub_id=hub.id,
                    name=name,
                    title=form.value("title").strip(),
                    widget_type=widget_type,
                    config=config,
                )
            )
        return ctx.saved(f"/ShowWidget?widgetId={widget_id}", f"/Widgets?hubId={hub.id}", "Widget created")

    async def show(ctx: Ctx) -> Response:
        widget_id = ctx.uuid_param("widgetId")
        with sb.engine.connect() as conn:
            widget = conn.execute(select(w).where(w.c.id == widget_id)).first()
        if widget is None:
            raise HttpError(404, "Not Found", f"There is no widget with id {widget_id}")
        return ctx.render("widgets_show.html", widget=widget, hub=get_hub(ctx, widget.hub_id))

    return [
        Route("/Widgets", admin_page(sb, index)),
        Route("/Widgets/new", admin_page(sb, new)),
        Route("/CreateWidget", admin_page(sb, create), methods=["POST"]),
        Route("/ShowWidget", admin_page(sb, show)),
    ]
