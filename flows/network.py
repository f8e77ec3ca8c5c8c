"""The corporate network: the standard proxy variables, for the browser as for httpx (which
reads them itself, as ``trust_env``)."""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit
from urllib.request import proxy_bypass_environment

from flows.errors import BadInputError
from flows.guard_proxy import Upstream


# The variables read here (each also in lower case).
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


def _env(name: str) -> str:
    return os.environ.get(name) or os.environ.get(name.lower()) or ""


def corporate_proxy(base_url: str) -> Upstream | None:
    """The corporate proxy the browser must reach the base through, from HTTPS_PROXY /
    HTTP_PROXY / ALL_PROXY (by the base's scheme); None without one, or where NO_PROXY names
    the base's host (reached directly then)."""
    parts_of_base = urlsplit(base_url)
    scheme = parts_of_base.scheme
    server = (_env("HTTPS_PROXY") if scheme == "https" else _env("HTTP_PROXY")) or _env("ALL_PROXY")
    if not server or proxy_bypass_environment(parts_of_base.netloc.rpartition("@")[2], {"no": _env("NO_PROXY")}):
        return None
    parts = urlsplit(server if "://" in server else f"http://{server}")
    try:
        port = parts.port or 80
    except ValueError:
        port = None
    if parts.scheme != "http" or not parts.hostname or port is None:
        raise BadInputError(
            f"the proxy variable's address {parts.scheme}://{parts.hostname or ''}:... is not one the browser can go through",
            where="HTTPS_PROXY / HTTP_PROXY / ALL_PROXY",
            hint="give the corporate proxy's http://HOST:PORT address (the browser's traffic to the base goes through it; "
            "an https:// or socks proxy is not supported), or unset the variable if no proxy is needed",
        )
    return Upstream(parts.hostname, port, unquote(parts.username or ""), unquote(parts.password or ""))
