"""Settings from flags, the environment and ``.env`` (in that order of precedence), validated.

Every setting is documented in ``.env.example``. Secrets are ``SecretStr``: their value never
appears in a repr, a log line or an exception.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import idna
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from flows.errors import BadInputError
from flows.known_secrets import MIN_LENGTH
from pages.origins import DEFAULT_PORTS

SessionMode = Literal["storage-state", "cookie", "password", "manual"]


# RFC 6265 section 4.1.1: cookie-octet (no CTLs, whitespace, DQUOTE, comma, semicolon, backslash, non-ASCII)
_COOKIE_OCTETS = re.compile(r"[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*")
# RFC 6265 cookie-name = token (RFC 2616 section 2.2): no separators, no CTLs, ASCII only
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)*")
_HOSTNAME = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?")

# Settings that only come from the environment or .env: there is no flag to name for them.
_NO_FLAG = {"email", "password", "session_cookie", "operator", "operator_client_id", "operator_key"}


def _describe_octet(char: str) -> str:
    """A character that may belong to a secret, described without showing it (unless harmless)."""
    if char in " \t":
        return "a space or tab"
    if char in "\r\n":
        return "a line break"
    if ord(char) < 0x20 or ord(char) == 0x7F:
        return "a control character"
    if ord(char) > 0x7E:
        return "a non-ASCII character"
    return repr(char)  # one of  " , ; \  : a separator, not part of any valid value


# WHATWG URL: a host whose last label is a number (decimal, or hexadecimal with 0x) is an IPv4
# address, in any of the forms inet_aton reads (127.1, 0x7f.0.0.1, 0177.0.0.1).
_ENDS_IN_A_NUMBER = re.compile(r"(?:.*\.)?(?:[0-9]+|0x[0-9a-f]*)\.?")
_IPV4_CHARACTERS = re.compile(r"[0-9a-fx.]+")
# how long an operator has to log in by hand (`login --wait`; apply: the page timeout, if longer)
MANUAL_LOGIN_S = 600.0


def canonical_host(host: str) -> str | None:
    """The host as a browser writes it in a page's address (WHATWG URL host parsing), so that
    what the run compares with the browser's addresses (the origin guard, "is the page still
    on the base") is spelt as Chromium spells it: an IPv6 address compressed, in brackets; a
    host that ends in a number read as an IPv4 address (``127.1`` is ``127.0.0.1``); a name in
    its ASCII form, lower case (UTS 46, as Chromium: ``bücher.example`` is
    ``xn--bcher-kva.example``). ``host`` as written, without brackets (not lower-cased by
    Python: ``"AΣ".lower()`` ends in a final sigma, UTS 46 maps Σ to σ). None: not a host a
    browser would go to."""
    if ":" in host:
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            return None
        if address.scope_id:
            return None
        if (mapped := address.ipv4_mapped) is not None:  # as Chromium writes it (Python 3.13
            high, low = divmod(int(mapped), 1 << 16)  # writes ::ffff:127.0.0.1)
            return f"[::ffff:{high:x}:{low:x}]"
        return f"[{address.compressed}]"
    # UTS 46 mapping first, as browsers do: full-width digits and dots are a number too
    try:
        mapped_host = idna.uts46_remap(host, std3_rules=False, transitional=False).lower()
    except (idna.IDNAError, UnicodeError):
        return None
    if _ENDS_IN_A_NUMBER.fullmatch(mapped_host):
        if not _IPV4_CHARACTERS.fullmatch(mapped_host):
            return None  # ends in a number, is no address (inet_aton would skip junk after a space)
        try:
            return socket.inet_ntoa(socket.inet_aton(mapped_host.removesuffix(".")))
        except OSError:
            return None
    try:
        ascii_host = idna.encode(host.removesuffix("."), uts46=True).decode("ascii") + ("." if host.endswith(".") else "")
    except (idna.IDNAError, UnicodeError):
        # IDNA 2008 refuses what browsers take (an underscore, a name like "ab--c"): plain
        # ASCII names are taken as they are, lower case, as Chromium does
        ascii_host = host if host.isascii() else ""
    return ascii_host.lower() if _HOSTNAME.fullmatch(ascii_host.lower()) else None


def _written_host(netloc: str) -> str:
    """The host of a URL's authority (no user info) as written: urlsplit's ``hostname`` is
    lower-cased by Python's rules, which are not the browser's (see :func:`canonical_host`)."""
    if netloc.startswith("["):
        return netloc[1 : netloc.find("]")]
    return netloc.rpartition(":")[0] if ":" in netloc else netloc


def canonical_base(value: str) -> str:
    """An Inter-Hub base URL checked and written as the browser writes its origin (see
    :func:`canonical_host`; the scheme in lower case, no default port, no trailing slash).
    ValueError (a message that never shows user info) when it is no such URL."""
    value = value.strip().rstrip("/")
    if "@" in value:
        # never echo it: the part before the @ is a user name and probably a password
        raise ValueError(
            "the URL carries credentials (user:password@): give the base URL only and log in with "
            "IHUB_SESSION_COOKIE, IHUB_STORAGE_STATE or IHUB_EMAIL and IHUB_PASSWORD"
        )
    try:
        parts = urlsplit(value)
        port = parts.port  # raises for a port that is not a number in 0..65535
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc}); give one like https://hub.coulomb.social") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL like https://hub.coulomb.social")
    host = canonical_host(_written_host(parts.netloc))
    if host is None:
        raise ValueError("its host is not a host name or IP address")
    if port == 0:
        raise ValueError("port 0 is not a port to connect to")
    if parts.path or parts.query or parts.fragment:
        raise ValueError("give the base URL only, without a path, query or fragment")
    # As the browser writes it (host as canonical_host says, no default port), so that the
    # pages' addresses start with it
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None and port != DEFAULT_PORTS[parts.scheme] else "")


def is_loopback(host: str) -> bool:
    """``localhost`` itself or a loopback address: other names (``x.localhost`` too) are resolved
    through DNS, which may answer with any address."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    # ::ffff:127.0.0.1 too (Python 3.11 says no; 3.13 reads the IPv4 address inside)
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


# Widgets created side by side on up to this many browser pages (apply --parallel, IHUB_PARALLEL).
# The default is chosen by `make bench` (series (i) and (j), docs/benchmarks.md).
DEFAULT_PARALLEL = 4
MAX_PARALLEL = 16
# A page of its own for every this many widgets, no more: opening a page (a renderer process)
# costs more than it saves on a few widgets. A fresh apply of the project's six widgets on two
# pages instead of four took 0.96x the time and 0.94x the CPU on loopback (the median ratio of
# 10 pairs of runs, in turns), 0.975x the time with every response 50 ms later (of 8 pairs).
# `make bench` shows it as series (k), though 3 repetitions barely resolve a few per cent.
WIDGETS_PER_PAGE = 3


def widget_pages(widgets: int, parallel: int) -> int:
    """How many browser pages create ``widgets`` widgets side by side: one for every
    WIDGETS_PER_PAGE widgets (a part counting as one), at most ``parallel``, at least one."""
    return max(1, min(parallel, -(-widgets // WIDGETS_PER_PAGE)))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="IHUB_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
        # `IHUB_STORAGE_STATE=` (as .env.example has it) means unset, not Path("."): empty is
        # unset everywhere, in the environment and in .env alike.
        env_ignore_empty=True,
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
    timeout: float = Field(
        default=30.0, gt=0, le=600, allow_inf_nan=False, description="seconds to wait for any one page outcome"
    )
    operator: str | None = None
    parallel: int | None = Field(
        default=None, ge=1, le=MAX_PARALLEL,
        description="at most this many browser pages creating widgets side by side (apply; --parallel wins)",
    )
    ui_texts: Path | None = Field(default=None, description="a TOML or JSON file overriding the UI texts (ihub-bootstrap ui-texts)")

    @field_validator("ui_texts", mode="before")
    @classmethod
    def _ui_texts(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value  # "IHUB_UI_TEXTS=": none

    # A PEM file of CA certificates to trust besides the system's (a corporate TLS-inspecting proxy)
    ca_bundle: Path | None = None

    @field_validator("ca_bundle")
    @classmethod
    def _ca_bundle(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        if not value.is_file():
            raise ValueError(f"{value} is not a file (give a PEM file of CA certificates)")
        try:
            text = value.read_text(encoding="ascii", errors="replace")
        except OSError as exc:
            raise ValueError(f"{value} cannot be read: {exc.strerror}") from None
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise ValueError(f"{value} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
        return value

    # The v2 bootstrap API (apply --via api): the operator consumer's client id and key.
    operator_client_id: str | None = None
    operator_key: SecretStr | None = None

    @field_validator("base")
    @classmethod
    def _base(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return canonical_base(value)

    @field_validator("email", "operator", "operator_client_id")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.fullmatch(value):
            raise ValueError("not an email address like admin@example.org")
        return value

    @field_validator("password", "session_cookie", "operator_key")
    @classmethod
    def _blank_secret_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        try:
            value.get_secret_value().encode("utf-8")
        except UnicodeEncodeError:
            # a byte that is no UTF-8 (the environment's, kept by Python as a lone surrogate):
            # no browser could type it, and no output could show (or scrub) it
            raise ValueError("not valid UTF-8 text (set it from a UTF-8 terminal or file)") from None
        return value

    @field_validator("password", "operator_key")
    @classmethod
    def _password(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_LENGTH:
            # a value that short would match everywhere: it could not be kept out of the run folder
            raise ValueError(f"shorter than {MIN_LENGTH} characters: it could not be scrubbed from the audit trail")
        return value

    @field_validator("session_cookie")
    @classmethod
    def _cookie_value(cls, value: SecretStr | None) -> SecretStr | None:
        """A value a browser would send back unchanged (RFC 6265 cookie-octets), never echoed."""
        if value is None:
            return None
        raw = value.get_secret_value().strip(" \t\r\n")  # copy-and-paste leftovers around it
        if not raw:
            return None
        quoted = len(raw) >= 2 and raw[0] == raw[-1] == '"'  # a DQUOTE pair around it is allowed
        inner = raw[1:-1] if quoted else raw
        if not _COOKIE_OCTETS.fullmatch(inner):
            position = next(i for i, c in enumerate(inner) if not _COOKIE_OCTETS.fullmatch(c))
            raise ValueError(
                f"not a valid cookie value: character {position + quoted + 1} is {_describe_octet(inner[position])} "
                "(copy the SESSION cookie's value exactly, without its name, quotes or attributes)"
            )
        return SecretStr(raw)

    @field_validator("session_cookie_name")
    @classmethod
    def _cookie_name(cls, value: str) -> str:
        value = value.strip()
        if not _TOKEN.fullmatch(value):
            raise ValueError(
                "not a cookie name (letters, digits and !#$%&'*+-.^_`|~ only; the name alone, not name=value)"
            )
        return value

    @field_validator("runs_dir")
    @classmethod
    def _runs_dir(cls, value: Path) -> Path:
        """Run folders are created inside it: it, or else its nearest existing parent, is a directory."""
        existing = value
        while not existing.exists() and existing != existing.parent:
            if existing.is_symlink():
                raise ValueError(f"{existing} is a dangling symbolic link")
            existing = existing.parent
        if not existing.is_dir():
            raise ValueError(
                "not a directory" if existing == value else f"{existing} is not a directory"
            )
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
            self.check_storage_state()
            return "storage-state"
        if self.session_cookie is not None:
            return "cookie"
        if self.email and self.password is not None:
            return "password"
        if headed:
            return "manual"
        if self.password is not None:
            missing = "IHUB_EMAIL"
        elif self.email:
            missing = "IHUB_PASSWORD"
        else:
            missing = "IHUB_EMAIL and IHUB_PASSWORD"
        raise BadInputError(
            "no way to log in to Inter-Hub",
            where=f"settings ({missing} not set)",
            hint="set IHUB_SESSION_COOKIE (the SESSION cookie's value), IHUB_STORAGE_STATE "
            "(from `ihub-bootstrap login`), or IHUB_EMAIL and IHUB_PASSWORD; or run with --headed "
            "and log in by hand",
        )

    def check_storage_state(self) -> None:
        """The storage-state file is a readable Playwright storage state (its content, which holds
        the session, never goes into a message)."""
        path = self.storage_state
        if path is None:
            return
        where = "setting IHUB_STORAGE_STATE / --storage-state"
        hint = "create it with `ihub-bootstrap login --base URL`"

        def bad(problem: str) -> BadInputError:
            return BadInputError(f"storage-state file {path} {problem}", where=where, hint=hint)

        if not path.exists():
            raise bad("is a dangling symbolic link" if path.is_symlink() else "does not exist")
        if not path.is_file():
            raise bad("is not a file")
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise bad(f"cannot be read: {exc.strerror or type(exc).__name__}") from None
        except UnicodeDecodeError as exc:
            raise bad(f"is not UTF-8 text (byte {exc.start})") from None
        try:
            state = json.loads(text)
        except json.JSONDecodeError as exc:
            raise bad(f"is not JSON (line {exc.lineno} column {exc.colno}: {exc.msg})") from None
        if not isinstance(state, dict) or not isinstance(state.get("cookies"), list):
            raise bad('is not a Playwright storage state: $.cookies must be a list')
        for i, cookie in enumerate(state["cookies"]):
            if not isinstance(cookie, dict):
                raise bad(f"is not a Playwright storage state: $.cookies[{i}] is not an object")
            for key in ("name", "value", "domain", "path"):
                if not isinstance(cookie.get(key), str):
                    raise bad(f"is not a Playwright storage state: $.cookies[{i}].{key} is missing or not a string")
        if not isinstance(state.get("origins", []), list):
            raise bad("is not a Playwright storage state: $.origins must be a list")

    def check_secrets_against(self, seeds: Any) -> None:
        """A secret that also stands in the hub's own data would be replaced there too, and the
        text around ``[REDACTED]`` would show what it is: such a secret is refused up front."""
        for secret, name in ((self.password, "IHUB_PASSWORD"), (self.session_cookie, "IHUB_SESSION_COOKIE")):
            if secret is None:
                continue
            value = secret.get_secret_value()
            for path in seeds.files():
                if value.casefold() in path.read_text(encoding="utf-8").casefold():
                    raise BadInputError(
                        f"{name} occurs in the seeds' text ({path.name}): redacting it would also hide that text "
                        "and show where the secret stands",
                        where=f"setting {name}",
                        hint="use a password that appears nowhere in the hub's data (a long random one)",
                    )

    def secret_values(self) -> list[str]:
        """The secret values this run knows from its settings (for scrubbing and scanning)."""
        return [s.get_secret_value() for s in (self.password, self.session_cookie, self.operator_key) if s is not None]


class ExplicitSettings(Settings):
    """Settings from the given values only: no environment, no ``.env``.

    For rehearsals and tests against the sandbox, which must never pick up the operator's
    production settings (IHUB_BASE, IHUB_SESSION_COOKIE ...) by accident.
    """

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_sources):  # noqa: ANN001, ANN003, ANN206
        return (init_settings,)


def load_settings(env_file: str | Path | None = ".env", *, require_env_file: bool = False, **overrides: Any) -> Settings:
    """Settings with command-line ``overrides`` (``None`` values are ignored) applied on top.

    A missing ``env_file`` is no error (it is optional) unless ``require_env_file`` (the operator
    named it); one that exists but is no readable UTF-8 text file is. Error messages name the
    setting and never repeat a value given for it (pydantic's ``input`` may be a secret).
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    if env_file is not None:
        path = Path(env_file)
        where = "--env-file"
        if path.is_dir():
            raise BadInputError(f"settings file {path} is a directory", where=where, hint="give a .env file")
        if require_env_file and not path.is_file():
            raise BadInputError(f"settings file {path} does not exist", where=where, hint="give an existing .env file")
    try:
        return Settings(_env_file=env_file, **given)  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            name = str(err["loc"][0]) if err["loc"] else "?"
            message = str(err["ctx"]["error"]) if err["type"] == "value_error" else err["msg"]
            setting = f"IHUB_{name.upper()}"
            if name not in _NO_FLAG:
                setting += f" / --{name.replace('_', '-')}"
            problems.append(f"{setting}: {message}")
        raise BadInputError(
            "invalid settings:\n  - " + "\n  - ".join(problems),
            hint="fix the flag, the environment variable or the line in .env (see .env.example)",
        ) from None
    except UnicodeDecodeError as exc:
        raise BadInputError(
            f"settings file {env_file} is not UTF-8 text (byte {exc.start})",
            where="--env-file",
            hint="save it as UTF-8",
        ) from None
    except OSError as exc:
        raise BadInputError(
            f"settings file {env_file} cannot be read: {exc.strerror or type(exc).__name__}", where="--env-file"
        ) from None
