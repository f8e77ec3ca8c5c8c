"""What every admin screen of the sandbox shares: sessions and flash messages the IHP way,
the login guard, IHP-style forms, rendering, and the errors a browser may see."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from sandbox.config import SandboxConfig
from sandbox.db import Tables

TEMPLATES = Path(__file__).parent / "templates"
SESSION_COOKIE = "SESSION"
LOGIN_REQUIRED = "Please log in to access this page"
EMPTY = "This field cannot be empty"
IN_USE = "This is already in use"
# --markup custom: a customised app words its flash messages its own way
REWORDED_FLASHES = {
    "Invalid Credentials": "The e-mail address or the password is not right.",
    LOGIN_REQUIRED: "Your session has ended: please sign in again.",
    "Hub created": "The hub has been created.",
    "Hub saved": "Your changes to the hub were saved.",
    "Widget created": "New widget added.",
    "Api Consumer created": "The API consumer has been created.",
}
# Fields a customised form marks as required (a "*" after the label); others get a colon.
REQUIRED_FIELDS = ("name", "slug", "domain", "kind", "version", "title", "widgetType", "hubCapabilityManifestId", "scopes")


class Sandbox:
    """The running replica: its options, database and templates."""

    def __init__(self, config: SandboxConfig, engine: Engine, tables: Tables):
        self.config = config
        self.engine = engine
        self.t = tables
        # the scaffold markup's controllers and indexes are IHP's generated ones: saves land where
        # they send them (see Ctx.saved), indexes list every record, not the hub's
        self.generated_views = config.markup == "scaffold"
        # Session ids handed out, in memory only (the database keeps their SHA-256): tests look
        # for them in the tool's artifacts.
        self.issued_session_tokens: list[str] = []
        self.templates = Jinja2Templates(directory=str(TEMPLATES))
        if config.relabel:  # every {{ text }} output passes here, labels and button texts included
            relabel = config.relabel
            self.templates.env.finalize = lambda v: relabel.get(v, v) if isinstance(v, str) else v
        self.templates.env.globals["js_submission_disabled"] = config.submit == "native"
        self.templates.env.globals["vsm_fields"] = tables.schema == "newer"
        self.templates.env.globals["markup"] = config.markup
        self.templates.env.globals["third_party"] = config.third_party
        self.templates.env.globals["required_fields"] = REQUIRED_FIELDS
        self.templates.env.filters["sentence"] = lambda s: s[:1].upper() + s[1:].lower() if isinstance(s, str) else s
        self.templates.env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False)
        self.templates.env.filters["utc"] = lambda d: d.strftime("%Y-%m-%d %H:%M UTC") if d else ""


# ---------------------------------------------------------------- passwords and secrets


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 20_000)
    return f"pbkdf2_sha256${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    _, salt, digest = stored.split("$")
    return hmac.compare_digest(hash_password(password, bytes.fromhex(salt)).split("$")[2], digest)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# ---------------------------------------------------------------- sessions and flash


@dataclass
class Session:
    token: str
    user_id: uuid.UUID | None
    flash: tuple[str, str] | None
    redirect_after_login: str | None
    is_new: bool = False
    changes: dict[str, Any] = field(default_factory=dict)


def new_session_token(sb: Sandbox) -> str:
    token = secrets.token_urlsafe(32)
    sb.issued_session_tokens.append(token)
    return token


def load_session(sb: Sandbox, request: Request, *, count_request: bool = False) -> Session:
    """The request's session; the database holds only each session id's SHA-256."""
    token = request.cookies.get(SESSION_COOKIE, "")
    s = sb.t.sessions
    with sb.engine.begin() as conn:
        row = conn.execute(select(s).where(s.c.token == sha256_hex(token))).first() if token else None
        if row is None:
            token = new_session_token(sb)
            conn.execute(insert(s).values(token=sha256_hex(token)))
            return Session(token, None, None, None, is_new=True)
        user_id = row.user_id
        limit = sb.config.faults.expire_session_after
        if count_request and user_id is not None and limit:
            count = row.request_count + 1
            if count > limit:  # fault injection: the session ends, as an expired one would
                conn.execute(delete(s).where(s.c.token == sha256_hex(token)))
                token = new_session_token(sb)
                conn.execute(insert(s).values(token=sha256_hex(token)))
                return Session(token, None, None, None, is_new=True)
            conn.execute(update(s).where(s.c.token == sha256_hex(token)).values(request_count=count))
    flash = (row.flash_kind, row.flash_text) if row.flash_kind else None
    return Session(token, user_id, flash, row.redirect_after_login)


def save_session(sb: Sandbox, session: Session, response: Response, request: Request) -> Response:
    if session.changes:
        with sb.engine.begin() as conn:
            conn.execute(
                update(sb.t.sessions).where(sb.t.sessions.c.token == sha256_hex(session.token)).values(**session.changes)
            )
        session.changes.clear()
    if session.is_new:
        response.set_cookie(
            SESSION_COOKIE,
            session.token,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )
    return response


def set_flash(session: Session, kind: str, text: str) -> None:
    session.changes.update(flash_kind=kind, flash_text=text)


def pop_flash(session: Session) -> tuple[str, str] | None:
    flash = session.flash
    if flash:
        session.flash = None
        session.changes.update(flash_kind=None, flash_text=None)
    return flash


# ---------------------------------------------------------------- the request context


@dataclass
class Ctx:
    """What an admin page handler gets: the sandbox, the request, the session, the form."""

    sb: Sandbox
    request: Request
    session: Session
    form: dict[str, str] = field(default_factory=dict)

    @property
    def t(self) -> Tables:
        return self.sb.t

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        stored = pop_flash(self.session)
        context.setdefault("flash", stored)
        if self.sb.config.markup == "custom" and context["flash"]:
            kind, text = context["flash"]
            context["flash"] = (kind, REWORDED_FLASHES.get(text, text))
        context["logged_in"] = self.session.user_id is not None
        response = self.sb.templates.TemplateResponse(self.request, template, context, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        return response

    def saved(self, show: str, generated: str, success: str) -> Response:
        """Where a form that saved a record lands: its show page, or, in the scaffold markup, where
        IHP's generated controllers send it (``redirectTo`` the index after a create, the edit
        form after an update), with the success flash either way."""
        return self.redirect(generated if self.sb.generated_views else show, success=success)

    def redirect(self, url: str, *, success: str | None = None, error: str | None = None) -> Response:
        if success:
            set_flash(self.session, "success", success)
        if error:
            set_flash(self.session, "danger", error)
        return RedirectResponse(url, status_code=302)

    def uuid_param(self, name: str) -> uuid.UUID:
        raw = self.request.query_params.get(name) or self.form.get(name, "")
        try:
            return uuid.UUID(raw)
        except ValueError:
            raise HttpError(400, "Bad Request", f"Parameter {name!r} is missing or not a valid UUID") from None


class HttpError(Exception):
    def __init__(self, status: int, title: str, detail: str):
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


Handler = Callable[[Ctx], Awaitable[Response]]


def admin_page(sb: Sandbox, handler: Handler, *, public: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler: session, login guard (IHP's ensureIsUser), form parsing, errors as pages."""

    async def endpoint(request: Request) -> Response:
        session = load_session(sb, request, count_request=not public)
        ctx = Ctx(sb, request, session)
        if not public and session.user_id is None:
            set_flash(session, "danger", LOGIN_REQUIRED)
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            session.changes["redirect_after_login"] = path if request.method == "GET" else None
            return save_session(sb, session, RedirectResponse("/NewSession", status_code=302), request)
        try:
            if request.method == "POST":
                raw = await request.form()
                ctx.form = {k: v for k, v in raw.items() if isinstance(v, str)}
            response = await handler(ctx)
        except HttpError as exc:
            response = ctx.render("error.html", status=exc.status, title=exc.title, detail=exc.detail)
        return save_session(sb, ctx.session, response, request)

    return endpoint


def error_page(sb: Sandbox, request: Request, status: int, title: str, detail: str) -> Response:
    html = sb.templates.get_template("error.html").render(
        request=request, title=title, detail=detail, flash=None, logged_in=False
    )
    return HTMLResponse(html, status_code=status)


# ---------------------------------------------------------------- forms, IHP style


@dataclass
class Form:
    """Values and errors of one form, rendered by the macros in templates/_form.html."""

    model: str  # prefix of the input ids: hub_name, hubCapabilityManifest_version ...
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def value(self, name: str) -> str:
        v = self.values.get(name)
        return "" if v is None else str(v)

    def require(self, *names: str) -> None:
        for name in names:
            if not self.value(name).strip():
                self.errors.setdefault(name, EMPTY)

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_json(text: str) -> tuple[Any, str | None]:
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"Invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
