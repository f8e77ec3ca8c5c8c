"""Settings from flags, the environment and ``.env`` (in that order of precedence), validated.

Every setting is documented in ``.env.example``. Secrets are ``SecretStr``: their value never
appears in a repr, a log line or an exception.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from flows.errors import BadInputError

SessionMode = Literal["storage-state", "cookie", "password", "manual"]


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="IHUB_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    base: str | None = Field(default=None, description="Inter-Hub base URL, e.g. https://hub.coulomb.social")
    email: str | None = None
    password: SecretStr | None = None
    session_cookie: SecretStr | None = None
    session_cookie_name: str = "SESSION"
    storage_state: Path | None = None
    browser: Path | None = None
    runs_dir: Path = Path("runs")
    key_sink: str | None = None
    allow_insecure_http: bool = False
    timeout: float = Field(default=30.0, gt=0, le=600, description="seconds to wait for any one page outcome")
    operator: str | None = None

    @field_validator("base")
    @classmethod
    def _base(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL like https://hub.coulomb.social")
        if parts.path or parts.query or parts.fragment:
            raise ValueError(f"{value!r}: give the base URL only, without a path")
        return value

    @field_validator("email", "operator")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("password", "session_cookie")
    @classmethod
    def _blank_secret_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        return value

    # -------------------------------------------------------------- derived

    @property
    def host(self) -> str:
        return urlsplit(self.require_base()).hostname or ""

    @property
    def is_loopback_target(self) -> bool:
        return is_loopback(self.host)

    def require_base(self) -> str:
        if not self.base:
            raise BadInputError(
                "no Inter-Hub base URL",
                where="setting IHUB_BASE / --base",
                hint="pass --base https://hub.example.org or set IHUB_BASE in the environment or .env",
            )
        return self.base

    def check_transport(self) -> None:
        """Refuse plain http to anything but loopback: the session cookie would travel in clear."""
        base = self.require_base()
        if base.startswith("http://") and not self.is_loopback_target and not self.allow_insecure_http:
            raise BadInputError(
                f"refusing plain http:// to {self.host}: the session cookie and password would travel in clear",
                where="setting IHUB_BASE / --base",
                hint="use the https:// URL; only if you really must, pass --allow-insecure-http "
                "(IHUB_ALLOW_INSECURE_HTTP=1)",
            )

    def session_mode(self, *, headed: bool = False) -> SessionMode:
        """How this run logs in; the first that is configured wins."""
        if self.storage_state is not None:
            if not self.storage_state.is_file():
                raise BadInputError(
                    f"storage-state file {self.storage_state} does not exist",
                    where="setting IHUB_STORAGE_STATE / --storage-state",
                    hint="create it with `ihub-bootstrap login --base URL`",
                )
            return "storage-state"
        if self.session_cookie is not None:
            return "cookie"
        if self.email and self.password is not None:
            return "password"
        if headed:
            return "manual"
        missing = "IHUB_PASSWORD" if self.email else "IHUB_EMAIL and IHUB_PASSWORD"
        raise BadInputError(
            "no way to log in to Inter-Hub",
            where=f"settings ({missing} not set)",
            hint="set IHUB_SESSION_COOKIE (the SESSION cookie's value), IHUB_STORAGE_STATE "
            "(from `ihub-bootstrap login`), or IHUB_EMAIL and IHUB_PASSWORD; or run with --headed "
            "and log in by hand",
        )

    def secret_values(self) -> list[str]:
        """The secret values this run knows from its settings (for scrubbing and scanning)."""
        return [s.get_secret_value() for s in (self.password, self.session_cookie) if s is not None]


class ExplicitSettings(Settings):
    """Settings from the given values only: no environment, no ``.env``.

    For rehearsals and tests against the sandbox, which must never pick up the operator's
    production settings (IHUB_BASE, IHUB_SESSION_COOKIE ...) by accident.
    """

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_sources):  # noqa: ANN001, ANN003, ANN206
        return (init_settings,)


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Settings with command-line ``overrides`` (``None`` values are ignored) applied on top."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(_env_file=env_file, **given)  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            name = str(err["loc"][0]) if err["loc"] else "?"
            message = str(err["ctx"]["error"]) if err["type"] == "value_error" else err["msg"]
            problems.append(f"IHUB_{name.upper()} / --{name.replace('_', '-')}: {message}")
        raise BadInputError(
            "invalid settings:\n  - " + "\n  - ".join(problems),
            hint="fix the flag, the environment variable or the line in .env (see .env.example)",
        ) from None
