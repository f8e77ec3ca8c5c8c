"""Sandbox options. Each has a command-line flag and a ``SANDBOX_*`` environment variable."""

from __future__ import annotations

import argparse
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

Gate = Literal["closed", "open"]
Submit = Literal["js", "native"]
# current: the replica as it was (named tables); scaffold: what IHP's generators and its
# Bootstrap 4 form renderer write; custom: a customised app (cards, required markers,
# navigation and footer with look-alike links and buttons, reworded flashes).
Markup = Literal["current", "scaffold", "custom"]
MARKUPS = ("current", "scaffold", "custom")

DEFAULT_ADMIN_EMAIL = "admin@sandbox.local"
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


@dataclass
class Faults:
    """Fault injection, for the fault-matrix tests. Counters start at 1; 0 means off.

    Mutable on purpose: tests running the sandbox in-process change it between runs.
    """

    fail_mutation: int = 0  # answer 500 to the Nth mutating (POST, PATCH) request, after it was handled
    drop_mutation: int = 0  # drop the connection of the Nth mutating request, after it was handled
    drop_request: int = 0  # drop the connection on the Nth request (any method), after it was handled
    latency_ms: int = 0  # added to every response
    mutation_latency_ms: int = 0  # added to every mutating response (a slow write, fast reads)
    expire_session_after: int = 0  # end every session after N authenticated requests
    key_field_blank: bool = False  # the new key's page shows its field empty (the key made, never shown there)
    # Test hooks, in-process only: called with (N, path) when the Nth mutating request arrives,
    # and with each API key generated (so that a test can look for it where it must not be).
    on_mutation: Callable[[int, str], None] | None = None
    on_api_key: Callable[[str], None] | None = None
    requests_seen: int = 0
    mutations_seen: int = 0
    mutations_in_flight: int = 0  # mutating requests being handled right now
    most_mutations_in_flight: int = 0  # the most at once so far (writes sent side by side)

    def reset_counters(self) -> None:
        self.requests_seen = 0
        self.mutations_seen = 0
        self.most_mutations_in_flight = 0


@dataclass
class SandboxConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    db: str = "sandbox.sqlite3"
    admin_email: str = DEFAULT_ADMIN_EMAIL
    admin_password: str = ""
    gate: Gate = "closed"
    submit: Submit = "js"
    schema: Literal["older", "newer"] = "older"
    markup: Markup = "current"
    demo_data: bool = True  # a framework hub with its own vocabulary, as a real Inter-Hub has
    faults: Faults = field(default_factory=Faults)
    # Visible texts to change ("Domain" -> "Hub domain"): a stand-in for a new Inter-Hub release.
    relabel: dict[str, str] = field(default_factory=dict)
    password_generated: bool = False
    # The v2 API's operator consumer (gate open): its client id and key, generated when not given.
    operator_client_id: str = ""
    operator_key: str = ""
    operator_generated: bool = False
    # What the OpenAPI document leaves out ("post /widgets") or renames ("HubCreate.slug=handle").
    openapi_drop: list[str] = field(default_factory=list)
    openapi_rename: list[str] = field(default_factory=list)
    # Another origin a customised app's pages use (loopback only, e.g. http://127.0.0.1:9):
    # every page loads a stylesheet from it, shows a frame of it (a help widget), shows an
    # image of the base's that redirects there (a CDN), and posts to it once loaded, from its
    # own script (analytics).
    third_party: str = ""

    def __post_init__(self) -> None:
        if self.host not in LOOPBACK_HOSTS:
            raise ValueError(f"the sandbox serves on loopback only, not {self.host!r}")
        if self.third_party:
            parts = urlsplit(self.third_party)
            # read as a browser would: http(s), a bare loopback host and port, nothing to reinterpret
            if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK_HOSTS or any(c in self.third_party for c in "@\\"):
                raise ValueError(f"the third party is a loopback http(s) origin only, not {self.third_party!r}")
        if self.markup not in MARKUPS:
            raise ValueError(f"unknown markup {self.markup!r} (one of {', '.join(MARKUPS)})")
        if not self.admin_password:
            self.admin_password = secrets.token_urlsafe(18)
            self.password_generated = True
        if not self.operator_client_id:
            self.operator_client_id = "operator-" + secrets.token_hex(4)
        if not self.operator_key:
            self.operator_key = "iho_key_" + secrets.token_urlsafe(24)
            self.operator_generated = True


def _env(name: str, default: str) -> str:
    return os.environ.get(f"SANDBOX_{name}", default)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(f"SANDBOX_{name}")
    return int(raw) if raw else default


DESCRIPTION = "A local Inter-Hub replica (admin UI + v2 API) for rehearsals and tests. Loopback only."
# Without --db the database is a throw-away file in a temporary directory, removed at exit.
TEMPORARY_DB = "temporary"


def configure(p: argparse.ArgumentParser) -> None:
    """The sandbox's options, on its own parser or on ``ihub-bootstrap sandbox``."""
    p.add_argument("--host", default=_env("HOST", "127.0.0.1"), choices=LOOPBACK_HOSTS, help="env SANDBOX_HOST")
    p.add_argument("--port", type=int, default=_env_int("PORT", 8765), help="0 picks a free port (env SANDBOX_PORT)")
    p.add_argument(
        "--db",
        default=_env("DB", TEMPORARY_DB),
        metavar="PATH|URL",
        help="SQLite path or postgresql:// URL (env SANDBOX_DB; default: a throw-away file, removed at exit)",
    )
    p.add_argument("--admin-email", default=_env("ADMIN_EMAIL", DEFAULT_ADMIN_EMAIL), help="env SANDBOX_ADMIN_EMAIL")
    p.add_argument(
        "--admin-password-file",
        metavar="PATH",
        help="read the admin password from this file's first line (or set SANDBOX_ADMIN_PASSWORD; "
        "never a flag: flags show in `ps`); default: generated and printed once at start-up",
    )
    p.add_argument("--gate", choices=["closed", "open"], default=_env("GATE", "closed"), help="the v2 API gate (env SANDBOX_GATE)")
    p.add_argument(
        "--submit", choices=["js", "native"], default=_env("SUBMIT", "js"), help="how forms submit: IHP's XHR or plain (env SANDBOX_SUBMIT)"
    )
    p.add_argument(
        "--schema", choices=["older", "newer"], default=_env("SCHEMA", "older"), help="newer: hubs have the VSM columns (env SANDBOX_SCHEMA)"
    )
    p.add_argument(
        "--markup",
        choices=MARKUPS,
        default=_env("MARKUP", "current"),
        help="the admin UI's HTML: current (named tables), scaffold (IHP's generated views, Bootstrap 4), "
        "custom (cards, required markers, look-alike navigation, reworded flashes) (env SANDBOX_MARKUP)",
    )
    p.add_argument(
        "--no-demo-data",
        dest="demo_data",
        action="store_false",
        default=_env("DEMO_DATA", "1") != "0",
        help="start without the framework hub (env SANDBOX_DEMO_DATA=0)",
    )
    api = p.add_argument_group("v2 bootstrap API (gate open)")
    api.add_argument("--operator-client-id", default=_env("OPERATOR_CLIENT_ID", ""), help="default: generated")
    api.add_argument(
        "--operator-key", default=_env("OPERATOR_KEY", ""), help="the operator consumer's key; default: generated and printed once"
    )
    api.add_argument(
        "--openapi-drop", action="append", default=[d for d in _env("OPENAPI_DROP", "").split(";") if d], metavar="'METHOD /path'",
        help="leave an operation out of the OpenAPI document",
    )
    api.add_argument(
        "--openapi-rename", action="append", default=[r for r in _env("OPENAPI_RENAME", "").split(";") if r],
        metavar="SCHEMA.FIELD=NEW", help="rename a request field in the OpenAPI document",
    )
    faults = p.add_argument_group("fault injection")
    faults.add_argument("--fail-mutation", type=int, default=_env_int("FAIL_MUTATION", 0), metavar="N", help="answer 500 to the Nth POST")
    faults.add_argument("--drop-mutation", type=int, default=_env_int("DROP_MUTATION", 0), metavar="N", help="drop the Nth POST's connection")
    faults.add_argument("--drop-request", type=int, default=_env_int("DROP_REQUEST", 0), metavar="N", help="drop the Nth request's connection")
    faults.add_argument("--latency-ms", type=int, default=_env_int("LATENCY_MS", 0), metavar="MS", help="added to every response")
    faults.add_argument(
        "--expire-session-after", type=int, default=_env_int("EXPIRE_SESSION_AFTER", 0), metavar="N", help="end sessions after N requests"
    )
    p.add_argument(
        "--relabel",
        action="append",
        default=[r for r in _env("RELABEL", "").split(";") if r],
        metavar="OLD=NEW",
        help="change a visible label or button text (SANDBOX_RELABEL='A=B;C=D')",
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sandbox", description=DESCRIPTION, allow_abbrev=False)
    configure(p)
    return p


def from_args(argv: list[str] | None = None) -> SandboxConfig:
    return from_namespace(parser().parse_args(argv))


def _admin_password(path: str | None) -> str:
    if path is None:
        return os.environ.get("SANDBOX_ADMIN_PASSWORD", "")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemExit(f"error: --admin-password-file {path}: cannot be read ({exc.__class__.__name__})") from None
    # The first line ends at a line feed (CRLF too), not at whatever str.splitlines() takes for
    # a line break: U+2028, U+0085 or a form feed are characters of the password.
    return text.split("\n", 1)[0].removesuffix("\r")


def from_namespace(a: argparse.Namespace) -> SandboxConfig:
    return SandboxConfig(
        host=a.host,
        port=a.port,
        db=a.db,
        admin_email=a.admin_email,
        admin_password=_admin_password(a.admin_password_file),
        gate=a.gate,
        submit=a.submit,
        schema=a.schema,
        demo_data=a.demo_data,
        markup=a.markup,
        relabel=dict(r.split("=", 1) for r in a.relabel if "=" in r),
        operator_client_id=a.operator_client_id,
        operator_key=a.operator_key,
        openapi_drop=a.openapi_drop,
        openapi_rename=a.openapi_rename,
        faults=Faults(
            fail_mutation=a.fail_mutation,
            drop_mutation=a.drop_mutation,
            drop_request=a.drop_request,
            latency_ms=a.latency_ms,
            expire_session_after=a.expire_session_after,
        ),
    )
