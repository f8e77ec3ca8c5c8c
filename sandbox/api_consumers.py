"""API consumer screens: index, new (bound to an active manifest), show, and API keys.

A key is shown exactly once, on the page that answers its creation; only its sha256 and a
short prefix are stored. A consumer has at most one valid key: generating another one
(the show page then says "Regenerate", behind a ``confirm()``) revokes the previous key.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import Select, func, insert, select, update
from starlette.responses import Response
from starlette.routing import Route

from sandbox.db import Tables, new_id, now
from sandbox.web import EMPTY, IN_USE, Ctx, Form, HttpError, Sandbox, admin_page, sha256_hex

FRAMEWORK_SCOPES = ("framework:read", "framework:write")
NAME = re.compile(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*")
KEY_PREFIX_LENGTH = 8


def new_api_key() -> str:
    return "ihk_" + secrets.token_urlsafe(32)


def consumers_query(t: Tables) -> Select:
    """Consumers with their manifest, hub and current (unrevoked) key, if any."""
    c, m, h, k = t.api_consumers, t.manifests, t.hubs, t.api_keys
    current = select(k).where(k.c.revoked_at.is_(None)).subquery("current_key")
    return (
        select(
            c,
            m.c.id.label("manifest_id"),
            m.c.version.label("manifest_version"),
            m.c.status.label("manifest_status"),
            m.c.declared_policy_scopes,
            h.c.slug.label("hub_slug"),
            current.c.key_prefix,
            current.c.scopes.label("key_scopes"),
            current.c.created_at.label("key_created_at"),
        )
        .join(m, m.c.id == c.c.hub_capability_manifest_id)
        .join(h, h.c.id == m.c.hub_id)
        .outerjoin(current, current.c.api_consumer_id == c.c.id)
    )


def allowed_scopes(consumer: Any) -> set[str]:
    return set(FRAMEWORK_SCOPES) | {s["key"] for s in consumer.declared_policy_scopes}


def routes(sb: Sandbox) -> list[Route]:
    t = sb.t

    def get_consumer(ctx: Ctx) -> Any:
        consumer_id = ctx.uuid_param("apiConsumerId")
        with sb.engine.connect() as conn:
            row = conn.execute(consumers_query(t).where(t.api_consumers.c.id == consumer_id)).first()
        if row is None:
            raise HttpError(404, "Not Found", f"There is no api consumer with id {consumer_id}")
        return row

    def active_manifests() -> list[tuple[str, str]]:
        m, h = t.manifests, t.hubs
        with sb.engine.connect() as conn:
            rows = conn.execute(
                select(m.c.id, m.c.version, h.c.name, h.c.slug)
                .join(h, h.c.id == m.c.hub_id)
                .where(m.c.status == "active")
                .order_by(h.c.slug)
            ).all()
        return [(str(r.id), f"{r.name} ({r.slug}) {r.version}") for r in rows]

    async def index(ctx: Ctx) -> Response:
        with sb.engine.connect() as conn:
            consumers = conn.execute(consumers_query(t).order_by(t.api_consumers.c.name)).all()
        return ctx.render("api_consumers_index.html", consumers=consumers)

    async def new(ctx: Ctx) -> Response:
        return ctx.render("api_consumers_new.html", form=Form("apiConsumer"), manifests=active_manifests())

    async def create(ctx: Ctx) -> Response:
        form = Form("apiConsumer", values=dict(ctx.form))
        form.require("name", "description", "hubCapabilityManifestId")
        name = form.value("name").strip()
        if name and not NAME.fullmatch(name):
            form.errors.setdefault("name", "Use lowercase letters, digits, dots, dashes and underscores")
        options = dict(active_manifests())
        manifest_id = form.value("hubCapabilityManifestId")
        if manifest_id and manifest_id not in options:
            form.errors.setdefault("hubCapabilityManifestId", "Please select an active manifest")
        if "name" not in form.errors:
            with sb.engine.connect() as conn:
                taken = conn.execute(
                    select(func.count()).select_from(t.api_consumers).where(t.api_consumers.c.name == name)
                ).scalar_one()
            if taken:
                form.errors["name"] = IN_USE
        if not form.ok:
            return ctx.render("api_consumers_new.html", form=form, manifests=list(options.items()))
        consumer_id = new_id()
        with sb.engine.begin() as conn:
            conn.execute(
                insert(t.api_consumers).values(
                    id=consumer_id,
                    name=name,
                    description=form.value("description").strip(),
                    hub_capability_manifest_id=ctx.uuid_param("hubCapabilityManifestId"),
                )
            )
        return ctx.saved(f"/ShowApiConsumer?apiConsumerId={consumer_id}", "/ApiConsumers", "Api Consumer created")

    async def show(ctx: Ctx) -> Response:
        return ctx.render("api_consumers_show.html", c=get_consumer(ctx), form=Form("apiKey"))

    async def create_key(ctx: Ctx) -> Response:
        consumer = get_consumer(ctx)
        form = Form("apiKey", values=dict(ctx.form))
        scopes = form.value("scopes").split()
        unknown = [s for s in scopes if s not in allowed_scopes(consumer)]
        if not scopes:
            form.errors["scopes"] = EMPTY
        elif unknown:
            form.errors["scopes"] = f"Unknown scope: {' '.join(unknown)}"
        if not form.ok:
            return ctx.render("api_consumers_show.html", c=consumer, form=form)
        key = new_api_key()
        if sb.config.faults.on_api_key is not None:
            sb.config.faults.on_api_key(key)
        k = t.api_keys
        with sb.engine.begin() as conn:
            conn.execute(
                update(k).where(k.c.api_consumer_id == consumer.id, k.c.revoked_at.is_(None)).values(revoked_at=now())
            )
            conn.execute(
                insert(k).values(
                    id=new_id(),
                    api_consumer_id=consumer.id,
                    key_hash=sha256_hex(key),
                    key_prefix=key[:KEY_PREFIX_LENGTH],
                    scopes=" ".join(scopes),
                )
            )
        # Rendered, not redirected: the key must not travel through a flash or a URL.
        return ctx.render(
            "api_keys_show.html", c=consumer, key="" if sb.config.faults.key_field_blank else key, scopes=" ".join(scopes),
            prefix=key[:KEY_PREFIX_LENGTH]
        )

    return [
        Route("/ApiConsumers", admin_page(sb, index)),
        Route("/ApiConsumers/new", admin_page(sb, new)),
        Route("/CreateApiConsumer", admin_page(sb, create), methods=["POST"]),
        Route("/ShowApiConsumer", admin_page(sb, show)),
        Route("/CreateApiKey", admin_page(sb, create_key), methods=["POST"]),
    ]
