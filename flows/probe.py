"""``ihub-bootstrap probe``: the runbook's production API gate, read-only, over httpx.

The gate is open when both hold:

1. ``GET /api/v2/hubs`` without credentials answers ``401`` (the endpoint exists and wants a
   token), not ``404``;
2. the OpenAPI document lists ``/hubs``, ``/hub-capability-manifests``, ``/api-consumers`` and
   ``/policy-scopes``.

Open: the runbook prefers the supported API path (exit 0). Closed: use the UI path,
``ihub-bootstrap apply`` (exit 10). When the answers do not allow a verdict (network error,
timeout, a redirect to a login page, a 5xx, an OpenAPI document that is not JSON ...), the
probe says why and exits 11, even when another criterion failed: an answer that is not the
API's (a login page, an error page) casts doubt on the others, so the probe does not guess.
Until a verdict, the UI path is the one to use.

Redirects are never followed: a public API endpoint that redirects (to the admin login, to
another origin) is not the API the gate is about, and following it could hide that.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

from pathlib import Path

import httpx

from flows.command import Parser, run
from flows.console import Console
from flows.errors import ExitCode, IhubError
from flows.settings import load_settings

HUBS_PATH = "/api/v2/hubs"
API_PREFIX = "/api/v2"
# Where the OpenAPI document is first looked for, then the other common places (tried only on 404).
OPENAPI_LOCATIONS = ("/api/v2/openapi.json", "/api/v2/openapi", "/openapi.json")
GATED_PATHS = ("/hubs", "/hub-capability-manifests", "/api-consumers", "/policy-scopes")
# The Location of a redirect to a login page (IHP's /NewSession, and the usual others).
LOGIN_LOCATION = re.compile(r"(?i)/(?:newsession|login|log-in|signin|sign-in|sign_in|sessions?|auth)\b")

Verdict = Literal["open", "closed", "no-verdict"]
ADVICE: dict[Verdict, str] = {
    "open": "gate open: prefer the API path (the supported Inter-Hub bootstrap API with an operator key)",
    "closed": "gate closed: use the UI path (ihub-bootstrap apply)",
    "no-verdict": "no verdict",
}
EXIT: dict[Verdict, ExitCode] = {
    "open": ExitCode.OK,
    "closed": ExitCode.GATE_CLOSED,
    "no-verdict": ExitCode.PROBE_FAILED,
}


class ProbeFailed(IhubError):
    """The probe could not reach a verdict; the message says what it saw instead."""

    exit_code = ExitCode.PROBE_FAILED


class _NoAnswer(Exception):
    """A check could not be made; the message says why, in words an operator can act on."""

    def __init__(self, message: str, *, unreachable: bool = False):
        super().__init__(message)
        self.unreachable = unreachable  # no HTTP answer at all (connect error, timeout)


@dataclass(frozen=True)
class Criterion:
    name: str
    ok: bool
    expected: str
    seen: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "expected": self.expected, "seen": self.seen}


@dataclass
class ProbeResult:
    base_url: str
    criteria: list[Criterion] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # why a check could not be made
    openapi_url: str | None = None

    @property
    def verdict(self) -> Verdict:
        if self.problems or not self.criteria:
            return "no-verdict"
        return "open" if all(c.ok for c in self.criteria) else "closed"

    @property
    def exit_code(self) -> ExitCode:
        return EXIT[self.verdict]

    @property
    def reason(self) -> str | None:
        return "; ".join(self.problems) if self.problems else None

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.base_url,
            "criteria": [c.to_json() for c in self.criteria],
            "verdict": self.verdict,
            "advice": ADVICE[self.verdict],
            "reason": self.reason,
            "openapi": self.openapi_url,
            "exit_code": int(self.exit_code),
        }


# ---------------------------------------------------------------- HTTP


def _get(client: httpx.Client, path: str) -> httpx.Response:
    """GET ``path``; a transport failure becomes :class:`_NoAnswer` with what happened."""
    url = str(client.base_url).rstrip("/") + path
    try:
        return client.get(path)
    except httpx.TimeoutException:
        raise _NoAnswer(f"no answer from {url} within {_seconds(client)} (timeout)", unreachable=True) from None
    except httpx.ConnectError as exc:
        raise _NoAnswer(f"cannot connect to {url}: {_transport_detail(exc)}", unreachable=True) from None
    except httpx.HTTPError as exc:
        detail = f"{exc.__class__.__name__}: {_transport_detail(exc)}"
        raise _NoAnswer(f"request to {url} failed: {detail}", unreachable=True) from None


def _seconds(client: httpx.Client) -> str:
    read = client.timeout.read
    return f"{read:g} s" if read is not None else "the timeout"


def _transport_detail(exc: Exception) -> str:
    text = str(exc).strip()
    return text or exc.__class__.__name__


def _redirect(response: httpx.Response, path: str) -> str:
    """Why a 30x leaves no verdict, naming where it pointed."""
    location = response.headers.get("location", "")
    target = urljoin(str(response.request.url), location) if location else "nowhere (no Location header)"
    if location and LOGIN_LOCATION.search(urlsplit(target).path):
        return (
            f"{path} redirected (HTTP {response.status_code}) to the login page {target}: "
            "the API answers like an admin page here, so the gate cannot be judged "
            "(is --base the Inter-Hub origin?)"
        )
    return f"{path} redirected (HTTP {response.status_code}) to {target}; redirects are not followed: probe that origin with --base"


def _unusable_status(response: httpx.Response, path: str) -> str | None:
    """A status that leaves no verdict (redirect, server error, throttling), or None."""
    status = response.status_code
    if 300 <= status < 400:
        return _redirect(response, path)
    if status >= 500:
        return f"{path} answered HTTP {status} (server error): try again later"
    if status in (408, 429):
        return f"{path} answered HTTP {status} (try again later)"
    return None


# ---------------------------------------------------------------- the two criteria


def check_hubs(client: httpx.Client) -> Criterion:
    response = _get(client, HUBS_PATH)
    if problem := _unusable_status(response, HUBS_PATH):
        raise _NoAnswer(problem)
    status = response.status_code
    name = f"GET {HUBS_PATH} without credentials"
    notes = {404: " (the endpoint does not exist)", 200: " (it answers without credentials)"}
    seen = f"{status}{notes.get(status, '')}"
    return Criterion(name, status == 401, "401 (exists, needs a token), not 404", seen)


def fetch_openapi(client: httpx.Client) -> tuple[str, dict[str, Any]] | None:
    """The first OpenAPI document found (its path and JSON), or None when every location is 404."""
    for path in OPENAPI_LOCATIONS:
        response = _get(client, path)
        if response.status_code == 404:
            continue
        if problem := _unusable_status(response, path):
            raise _NoAnswer(problem)
        if response.status_code != 200:
            raise _NoAnswer(f"{path} answered HTTP {response.status_code}, not an OpenAPI document")
        content_type = response.headers.get("content-type", "no content type")
        try:
            doc = response.json()
        except ValueError:
            raise _NoAnswer(f"{path} did not answer JSON ({content_type}): not an OpenAPI document") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("paths"), dict):
            raise _NoAnswer(f"{path} answered JSON without a \"paths\" object: not an OpenAPI document")
        return path, doc
    return None


def _prefixes(doc: dict[str, Any]) -> list[str]:
    """Path prefixes the document's paths are relative to: OpenAPI 3 servers, Swagger 2 basePath."""
    found = [""]
    for server in doc.get("servers") or []:
        if isinstance(server, dict) and isinstance(server.get("url"), str):
            found.append(urlsplit(server["url"]).path.rstrip("/"))
    if isinstance(doc.get("basePath"), str):
        found.append(doc["basePath"].rstrip("/"))
    return found


def listed_paths(doc: dict[str, Any]) -> set[str]:
    """The document's paths relative to ``/api/v2``, so "/hubs" and "/api/v2/hubs" both count."""
    relative: set[str] = set()
    for path in doc["paths"]:
        if not isinstance(path, str):
            continue
        for prefix in _prefixes(doc):
            full = (prefix + "/" + path.lstrip("/")).rstrip("/")
            relative.add(full.removeprefix(API_PREFIX) if full.startswith(API_PREFIX + "/") else full)
    return relative


def check_openapi(client: httpx.Client, result: ProbeResult) -> list[Criterion]:
    found = fetch_openapi(client)
    if found is None:
        where = ", ".join(OPENAPI_LOCATIONS)
        return [Criterion(f"OpenAPI lists {p}", False, "listed", f"no OpenAPI document ({where}: all 404)") for p in GATED_PATHS]
    path, doc = found
    result.openapi_url = str(client.base_url).rstrip("/") + path
    listed = listed_paths(doc)
    total = len(doc["paths"])
    return [
        Criterion(
            f"OpenAPI lists {p}",
            p in listed,
            f"listed in {path}",
            "listed" if p in listed else f"not listed ({total} paths in the document)",
        )
        for p in GATED_PATHS
    ]


def probe(base_url: str, timeout_s: float, ca_bundle: Any = None) -> ProbeResult:
    """Run the gate's checks against ``base_url``; never raises for what the server does."""
    result = ProbeResult(base_url)
    headers = {"Accept": "application/json"}
    from flows.network import http_client

    with http_client(base_url, timeout_s=timeout_s, ca_bundle=ca_bundle, headers=headers) as client:
        try:
            result.criteria.append(check_hubs(client))
        except _NoAnswer as exc:
            result.problems.append(str(exc))
            if exc.unreachable:
                return result  # the second check would only wait for the same failure again
        try:
            result.criteria.extend(check_openapi(client, result))
        except _NoAnswer as exc:
            result.problems.append(str(exc))
    return result


# ---------------------------------------------------------------- output and the command


def render(result: ProbeResult) -> str:
    lines = [f"API gate probe of {result.base_url}"]
    for c in result.criteria:
        mark = "✓ PASS" if c.ok else "✗ FAIL"
        lines.append(f"  {mark} {c.name}: expected {c.expected}; seen {c.seen}")
    for problem in result.problems:
        lines.append(f"  ? NOT CHECKED {problem}")
    verdict = ADVICE[result.verdict]
    if result.verdict == "no-verdict":
        verdict += ": " + ("a check could not be made (see ? above)" if result.problems else "nothing was checked")
    lines.append(f"verdict: {verdict}")
    lines.append(f"exit code: {int(result.exit_code)}")
    return "\n".join(lines)


def _no_verdict_error(result: ProbeResult) -> ProbeFailed:
    return ProbeFailed(
        f"the API gate probe reached no verdict: {result.reason or 'nothing could be checked'}",
        where=result.base_url,
        hint="check the base URL and the network path to it, then probe again; until a verdict, "
        "treat the gate as closed and use the UI path (ihub-bootstrap apply)",
    )


def cmd_probe(args: argparse.Namespace, console: Console) -> int:
    settings = load_settings(
        env_file=args.env_file or ".env",
        require_env_file=args.env_file is not None,
        base=args.base,
        timeout=args.timeout,
        allow_insecure_http=True if args.allow_insecure_http else None,
        ca_bundle=args.ca_bundle,
    )
    base = settings.require_base()
    settings.check_transport()
    console.info(f"probing the production API gate of {base} (read-only, no credentials)")
    result = probe(base, settings.timeout, settings.ca_bundle)
    if args.json:
        from flows.command import envelope

        body = {"ok": result.verdict != "no-verdict", **result.to_json()}
        body.pop("exit_code")
        print(json.dumps(envelope("probe", result.exit_code, body), indent=2, ensure_ascii=False))
    else:
        print(render(result))
    if result.verdict == "no-verdict":
        console.error(_no_verdict_error(result))
    return int(result.exit_code)


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base", help="Inter-Hub base URL (IHUB_BASE)")
    p.add_argument("--env-file", metavar="PATH", help="settings file (default: .env when it exists)")
    p.add_argument("--timeout", type=float, metavar="S", help="seconds to wait for each answer (IHUB_TIMEOUT, default 30)")
    p.add_argument("--allow-insecure-http", action="store_true", help="allow plain http:// to a host other than this machine")
    p.add_argument("--ca-bundle", type=Path, metavar="PEM", help="CA certificates to trust besides the system's (env IHUB_CA_BUNDLE)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=cmd_probe)


DESCRIPTION = (
    f"The runbook's production API gate, read-only and without credentials: GET {HUBS_PATH} must answer "
    f"401 (not 404) and the OpenAPI document must list {', '.join(GATED_PATHS)}. Exit 0: gate open, "
    "prefer the API path; 10: gate closed, use the UI path (ihub-bootstrap apply); 11: no verdict."
)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``probe`` on the CLI's subparsers."""
    p = sub.add_parser(
        "probe",
        help="check the runbook's production API gate (read-only): exit 0 open, 10 closed, 11 no verdict",
        description=DESCRIPTION,
        epilog="exit codes:\n   0  the gate is open: prefer the API path\n   3  bad input\n"
        "  10  the gate is closed: use the UI path (apply)\n  11  no verdict (network error, timeout, unexpected answer)",
    )
    configure(p)
    return p


def main(argv: list[str] | None = None) -> int:
    """``python -m flows.probe [--base URL] ...``: the same as ``ihub-bootstrap probe``."""
    parser = Parser(prog="python -m flows.probe", description=DESCRIPTION)
    configure(parser)
    return run(cmd_probe, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
