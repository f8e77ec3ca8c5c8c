"""The corporate network: the standard proxy variables, for the browser as for httpx (which
reads them itself, as ``trust_env``)."""

from __future__ import annotations

import os
from urllib.parse import urlsplit


# The variables read here (each also in lower case).
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


def _env(name: str) -> str:
    return os.environ.get(name) or os.environ.get(name.lower()) or ""


def browser_proxy(base_url: str) -> dict[str, str] | None:
    """Playwright's ``proxy`` launch option from HTTPS_PROXY / HTTP_PROXY / ALL_PROXY and NO_PROXY."""
    scheme = urlsplit(base_url).scheme
    server = (_env("HTTPS_PROXY") if scheme == "https" else _env("HTTP_PROXY")) or _env("ALL_PROXY")
    if not server:
        return None
    proxy = {"server": server}
    parts = urlsplit(server if "://" in server else f"http://{server}")
    if parts.username:  # Playwright wants credentials apart, and the server without them
        proxy["server"] = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        proxy["username"] = parts.username
        proxy["password"] = parts.password or ""
    bypass = ",".join(h.strip() for h in _env("NO_PROXY").split(",") if h.strip())
    if bypass:
        proxy["bypass"] = bypass
    return proxy
