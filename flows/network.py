"""The corporate network: the standard proxy variables, for the browser as for httpx (which
reads them itself, as ``trust_env``)."""

from __future__ import annotations

import contextlib
import ipaddress
import os
from urllib.parse import unquote, urlsplit

from flows.errors import BadInputError
from flows.guard_proxy import Upstream
from pages.origins import scheme_host_port


# The variables read here (each also in lower case).
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


def _env(name: str) -> str:
    return os.environ.get(name) or os.environ.get(name.lower()) or ""


def _variable(scheme: str) -> tuple[str, str]:
    """The proxy variable that counts for a base of ``scheme``, and its value ("" for none)."""
    for name in ("HTTPS_PROXY",) if scheme == "https" else ("HTTP_PROXY",):
        if _env(name):
            return name, _env(name)
    return "ALL_PROXY", _env("ALL_PROXY")


def no_proxy_names(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether NO_PROXY names ``host`` (lower case, an IPv6 one in brackets) at ``port``, as
    curl and httpx read it: ``*``; a name, which also covers its subdomains (a leading ``.`` or
    ``*.`` alike); an IP address or a CIDR range; any of them with ``:PORT`` for that port only."""
    bare = host.strip("[]")
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if entry == "*":
            return True
        name, entry_port = entry, None
        if entry.startswith("["):  # [v6] or [v6]:port
            name, _, rest = entry[1:].partition("]")
            entry_port = rest[1:] if rest.startswith(":") else None
        elif entry.count(":") == 1:
            name, _, entry_port = entry.partition(":")
        if not name or (entry_port is not None and entry_port != str(port)):
            continue
        if "/" in name:
            with contextlib.suppress(ValueError):
                if ipaddress.ip_address(bare) in ipaddress.ip_network(name, strict=False):
                    return True
            continue
        name = name.removeprefix("*").removeprefix(".")
        if name and (bare == name or bare.endswith("." + name)):
            return True
    return False


_REFUSED_ADDRESS = (
    "give it as http://[USER:PASSWORD@]HOST[:PORT], a user name and password percent-encoded (%40 for @, %2F for /, "
    "%3A for :), or unset it if the base needs no proxy"
)


def corporate_proxy(base_url: str) -> Upstream | None:
    """The corporate proxy the browser must reach the base through, from HTTPS_PROXY /
    HTTP_PROXY / ALL_PROXY (by the base's scheme); None without one, or where NO_PROXY names
    the base (reached directly then). BadInputError where it is no http:// proxy's address:
    the message never shows the value (it may hold a password)."""
    scheme, host, port = scheme_host_port(base_url)
    name, server = _variable(scheme)
    if not server or no_proxy_names(host, port, _env("NO_PROXY")):
        return None
    try:
        parts = urlsplit(server if "://" in server else f"http://{server}")
        proxy_port = parts.port if parts.port is not None else 80
    except ValueError:
        parts, proxy_port = None, 0
    if parts is not None and parts.scheme.lower() != "http" and parts.scheme.lower() in _OTHER_SCHEMES:
        raise BadInputError(
            f"{name} is a {parts.scheme.lower()}:// proxy: the browser goes through an http:// one only",
            where=name,
            hint=f"give the corporate proxy's http:// address; {_REFUSED_ADDRESS}",
        )
    if parts is None or parts.scheme.lower() != "http" or not parts.hostname or not 0 < proxy_port < 65536 or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BadInputError(f"{name} is not the address of an http:// proxy", where=name, hint=_REFUSED_ADDRESS)
    return Upstream(parts.hostname, proxy_port, unquote(parts.username or ""), unquote(parts.password or ""))


_OTHER_SCHEMES = {"https", "socks", "socks4", "socks4a", "socks5", "socks5h"}
