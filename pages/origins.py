"""Origins as a browser compares them (scheme, host, port), without Playwright: the page
objects, the origin guard and the settings share these."""

from __future__ import annotations

from urllib.parse import urlsplit

# Each scheme's port, left out of an address that uses it (a browser writes none).
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def scheme_host_port(url: str) -> tuple[str, str, int | None]:
    """A URL's scheme, its host lower-cased (an IPv6 one in brackets), and its port, the
    scheme's default made explicit: what two addresses must share to be of one origin."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.scheme, host, port or DEFAULT_PORTS.get(parts.scheme)


def origin(url: str) -> str:
    """scheme://host[:port] of a URL, lower-cased, without a default port."""
    scheme, host, port = scheme_host_port(url)
    return f"{scheme}://{host}" + (f":{port}" if port and port != DEFAULT_PORTS.get(scheme) else "")
