"""The corporate network: the standard proxy variables, read once here for the browser (see
flows.guard_proxy) and the HTTP checks alike, and the CAs those checks trust."""

from __future__ import annotations

import contextlib
import ipaddress
import os
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from flows.errors import BadInputError
from flows.guard_proxy import Upstream
from flows.settings import is_loopback
from pages.origins import scheme_host_port


# The variables read here (each also in lower case).
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


def _env(name: str) -> tuple[str, str]:
    """The variable's name as set (the lower-case one first, as urllib and httpx read
    them) and its value; ``(name, "")`` where neither is set."""
    for spelled in (name.lower(), name):
        if os.environ.get(spelled):
            return spelled, os.environ[spelled]
    return name, ""


def _variable(scheme: str) -> tuple[str, str]:
    """The proxy variable that counts for a base of ``scheme``, and its value ("" for none)."""
    name, value = _env("HTTPS_PROXY" if scheme == "https" else "HTTP_PROXY")
    return (name, value) if value else _env("ALL_PROXY")


def no_proxy_names(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether NO_PROXY names ``host`` (lower case, an IPv6 one in brackets) at ``port``: ``*``;
    a name, which covers itself and its subdomains, with or without a leading ``.`` or ``*.``
    (curl's reading of a name; Go's leaves the name itself out after a dot); an IP address
    (only itself) or a CIDR range; any of them with ``:PORT`` for that port only (as Go reads
    those; curl has neither)."""
    bare = host.strip("[]")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(bare)
    except ValueError:
        address = None
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
        if address is not None:  # an address is named by itself or a range holding it, not by a suffix
            with contextlib.suppress(ValueError):
                if address in ipaddress.ip_network(name, strict=False):
                    return True
            continue
        name = name.removeprefix("*").removeprefix(".")
        if name and (bare == name or bare.endswith("." + name)):
            return True
    return False


_OTHER_SCHEMES = {"https", "socks", "socks4", "socks4a", "socks5", "socks5h"}
_REFUSED_ADDRESS = (
    "give it as http://[USER:PASSWORD@]HOST[:PORT], a user name and password percent-encoded (%40 for @, %2F for /, "
    "%3A for :), or unset it if the base needs no proxy"
)


def corporate_proxy(base_url: str) -> Upstream | None:
    """The corporate proxy the browser must reach the base through, from HTTPS_PROXY /
    HTTP_PROXY / ALL_PROXY (by the base's scheme); None without one, or where NO_PROXY names
    the base, or the base is this machine's (loopback: no proxy can reach it, and its login
    would cross the network in clear). BadInputError where it is no http:// proxy's address:
    the message never shows the value (it may hold a password)."""
    scheme, host, port = scheme_host_port(base_url)
    name, server = _variable(scheme)
    if not server or is_loopback(host) or no_proxy_names(host, port, _env("NO_PROXY")[1]):
        return None
    try:
        parts = urlsplit(server if "://" in server else f"http://{server}")
        proxy_port = parts.port if parts.port is not None else 80
    except ValueError:
        parts, proxy_port = None, 0
    if parts is not None and parts.scheme.lower() in _OTHER_SCHEMES:
        raise BadInputError(
            f"{name} is a {parts.scheme.lower()}:// proxy: the browser goes through an http:// one only",
            where=name,
            hint=f"give the corporate proxy's http:// address; {_REFUSED_ADDRESS}",
        )
    if parts is None or parts.scheme.lower() != "http" or not parts.hostname or not 0 < proxy_port < 65536 or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BadInputError(f"{name} is not the address of an http:// proxy", where=name, hint=_REFUSED_ADDRESS)
    return Upstream(parts.hostname, proxy_port, unquote(parts.username or ""), unquote(parts.password or ""), name)


def network_way(base_url: str, proxy: Upstream | None) -> str | None:
    """What ``plan`` and ``apply`` say of the way to the base where a proxy variable is set
    (None where none is): through ``proxy`` (:func:`corporate_proxy`'s answer), or directly
    and why."""
    if proxy is not None:
        return f"through the corporate proxy {proxy.address} (from {proxy.variable}); nothing but the base's origin"
    scheme, host, _ = scheme_host_port(base_url)
    name, server = _variable(scheme)
    if not server:
        return None
    why = "the base is this machine's" if is_loopback(host) else f"{_env('NO_PROXY')[0]} names the base"
    return f"directly to the base, {name} not used ({why})"


def tls_verify(ca_bundle: Any = None) -> Any:
    """httpx's ``verify``: the system's CAs (certifi, or SSL_CERT_FILE / SSL_CERT_DIR), plus
    IHUB_CA_BUNDLE's when given."""
    if ca_bundle is None:
        return True
    import ssl

    import certifi

    context = ssl.create_default_context(cafile=certifi.where())
    context.load_verify_locations(cafile=str(ca_bundle))
    return context


def http_client(base_url: str, *, timeout_s: float, ca_bundle: Any = None, **options: Any) -> httpx.Client:
    """An httpx client for the HTTP checks that goes the browser's way: through the same
    corporate proxy (:func:`corporate_proxy`: the same variables, NO_PROXY and loopback rule,
    and BadInputError for a value that is no proxy's address), or directly."""
    upstream = corporate_proxy(base_url)
    verify = tls_verify(ca_bundle)
    if upstream is None:  # a transport of its own: httpx reads no proxy variable then
        way: dict[str, Any] = {"transport": httpx.HTTPTransport(verify=verify)}
    else:
        auth = (upstream.username, upstream.password) if upstream.username else None
        way = {"proxy": httpx.Proxy(f"http://{upstream.address}", auth=auth), "verify": verify}
    return httpx.Client(base_url=base_url, timeout=timeout_s, follow_redirects=False, **way, **options)


