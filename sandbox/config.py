"""Sandbox options. Each has a command-line flag and a ``SANDBOX_*`` environment variable."""

from __future__ import annotations

import argparse
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Gate = Literal["closed", "open"]
Submit = Literal["js", "native"]

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
    expire_session_after: int = 0  # end every session after N authenticated requests
    # Test hooks, in-process only: called with (N, path) when the Nth mutating request arrives,
    # and with each API key generated (so that a test can look for it where it must not be).
    on_mutation: Callable[[int, str], None] | None = None
    on_api_key: Callable[[str], None] | None = None
    requests_seen: int = 0
    mutations_seen: int = 0

    def reset_counters(self) -> None:
        self.requests_seen = 0
        self.mutations_seen = 0


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

    def __post_init__(self) -> None:
        if self.host not in LOOPBACK_HOSTS:
            raise ValueError(f"the sandbox serves on loopback only, not {self.host!r}")
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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="A local Inter-Hub replica (admin UI + v2 API) for rehearsals and tests. Loopback only.",
    )
    p.add_argument("--host", default=_env("HOST", "127.0.0.1"), choices=LOOPBACK_HOSTS)
    p.add_argument("--port", type=int, default=_env_int("PORT", 8765), help="0 picks a free port")
    p.add_argument("--db", default=_env("DB", "sandbox.sqlite3"), help="SQLite path or postgresql:// URL")
    p.add_argument("--admin-email", default=_env("ADMIN_EMAIL", DEFAULT_ADMIN_EMAIL))
    p.add_argument(
        "--admin-password",
        default=_env("ADMIN_PASSWORD", ""),
        help="default: generated and printed once at start-up",
    )
    p.add_argument("--gate", choices=["closed", "open"], default=_env("GATE", "closed"))
    p.add_argument("--submit", choices=["js", "native"], default=_env("SUBMIT", "js"))
    p.add_argument("--schema", choices=["older", "newer"], default=_env("SCHEMA", "older"))
    p.add_argument("--no-demo-data", dest="demo_data", action="store_false", default=_env("DEMO_DATA", "1") != "0")
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
    faults.add_argument("--fail-mutation", type=int, default=_env_int("FAIL_MUTATION", 0), metavar="N")
    faults.add_argument("--drop-mutation", type=int, default=_env_int("DROP_MUTATION", 0), metavar="N")
    faults.add_argument("--drop-request", type=int, default=_env_int("DROP_REQUEST", 0), metavar="N")
    faults.add_argument("--latency-ms", type=int, default=_env_int("LATENCY_MS", 0), metavar="MS")
    faults.add_argument(
        "--expire-session-after", type=int, default=_env_int("EXPIRE_SESSION_AFTER", 0), metavar="N"
    )
    p.add_argument(
        "--relabel",
        action="append",
        default=[r for r in _env("RELABEL", "").split(";") if r],
        metavar="OLD=NEW",
        help="change a visible label or button text (SANDBOX_RELABEL='A=B;C=D')",
    )
    return p


def from_args(argv: list[str] | None = None) -> SandboxConfig:
    a = parser().parse_args(argv)
    return SandboxConfig(
        host=a.host,
        port=a.port,
        db=a.db,
        admin_email=a.admin_email,
        admin_password=a.admin_password,
        gate=a.gate,
        submit=a.submit,
        schema=a.schema,
        demo_data=a.demo_data,
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
