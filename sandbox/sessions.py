"""The login screen, IHP's SessionsController: /NewSession, /CreateSession, /DeleteSession."""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from starlette.responses import Response
from starlette.routing import Route

from sandbox.web import Ctx, Sandbox, Session, admin_page, check_password, new_session_token, sha256_hex

INVALID = "Invalid Credentials"


def routes(sb: Sandbox) -> list[Route]:
    t = sb.t

    async def home(ctx: Ctx) -> Response:
        return ctx.redirect("/Hubs")

    async def new(ctx: Ctx) -> Response:
        return ctx.render("sessions_new.html", email="")

    async def create(ctx: Ctx) -> Response:
        email = ctx.form.get("email", "").strip()
        password = ctx.form.get("password", "")
        with sb.engine.connect() as conn:
            user = conn.execute(select(t.users).where(t.users.c.email == email)).first()
        if user is None or not check_password(password, user.password_hash):
            return ctx.render("sessions_new.html", email=email, flash=("danger", INVALID))
        # A new session id on login: the anonymous one is not upgraded (no session fixation).
        target = ctx.session.redirect_after_login or "/"
        token = new_session_token(sb)
        with sb.engine.begin() as conn:
            conn.execute(delete(t.sessions).where(t.sessions.c.token == sha256_hex(ctx.session.token)))
            conn.execute(insert(t.sessions).values(token=sha256_hex(token), user_id=user.id))
        ctx.session.changes.clear()
        ctx.session = Session(token, user.id, None, None, is_new=True)
        return ctx.redirect(target)

    async def delete_(ctx: Ctx) -> Response:
        with sb.engine.begin() as conn:
            conn.execute(delete(t.sessions).where(t.sessions.c.token == sha256_hex(ctx.session.token)))
        ctx.session.changes.clear()
        response = ctx.redirect("/NewSession")
        response.delete_cookie("SESSION", path="/")
        return response

    return [
        Route("/", admin_page(sb, home)),
        Route("/NewSession", admin_page(sb, new, public=True)),
        Route("/CreateSession", admin_page(sb, create, public=True), methods=["POST"]),
        Route("/DeleteSession", admin_page(sb, delete_), methods=["POST"]),
    ]
