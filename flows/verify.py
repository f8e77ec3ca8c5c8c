"""The runbook's Validation section, over HTTP (httpx), read-only:

1. the ops vocabulary is in ``/api/v2/widget-types``, ``/event-types``, ``/annotation-categories``;
2. ``/api/v2/token`` grants a ``client_credentials`` token to the consumer with its key and scopes;
3. ``/api/v2/hub-registry`` lists the hub (with its seeded widgets).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from flows import hints
from flows.errors import ExitCode, IhubError
from flows.keysink import StoredKey
from flows.known_secrets import KnownSecrets
from flows.network import http_client
from flows.seeds import SeedSet

REGISTRIES = (
    ("widget-types", "declaredWidgetTypes"),
    ("event-types", "declaredEventTypes"),
    ("annotation-categories", "declaredAnnotationCategories"),
)


@dataclass(frozen=True)
class Check:
    check: str
    ok: bool
    expected: str
    seen: str

    @property
    def detail(self) -> str:
        return f"expected {self.expected}; seen {self.seen}"

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "ok": self.ok, "detail": self.detail, "expected": self.expected, "seen": self.seen}


class _Unusable(Exception):
    """The endpoint did not answer with the JSON the check needs; the message says what it did."""


def _get_data(client: httpx.Client, path: str) -> list[dict[str, Any]]:
    try:
        response = client.get(path)
    except httpx.HTTPError as exc:
        raise _Unusable(f"no answer from {path}: {exc.__class__.__name__}") from None
    if response.status_code != 200:
        raise _Unusable(f"HTTP {response.status_code} from {path}")
    try:
        body = response.json()
    except ValueError:
        raise _Unusable(f"{path} did not answer JSON ({response.headers.get('content-type', 'no content type')})") from None
    data = body.get("data", body) if isinstance(body, dict) else body
    if not isinstance(data, list):
        raise _Unusable(f"{path} answered JSON without a list of entries")
    return [e for e in data if isinstance(e, dict)]


def _short(items: list[str], limit: int = 6) -> str:
    return ", ".join(items[:limit]) + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def check_registry(client: httpx.Client, seeds: SeedSet, registry: str, field: str) -> Check:
    want = [e["key"] for e in seeds.manifest.vocabulary()[field]]
    name = f"registry {registry}"
    expected = f"{len(want)} {seeds.hub.slug} keys in /api/v2/{registry}"
    try:
        entries = _get_data(client, f"/api/v2/{registry}")
    except _Unusable as exc:
        return Check(name, False, expected, str(exc))
    listed = {e.get("key"): e for e in entries}
    missing = [k for k in want if k not in listed]
    foreign = [k for k in want if k in listed and listed[k].get("hub") not in (None, seeds.hub.slug)]
    if missing:
        return Check(name, False, expected, f"missing {_short(missing)}")
    if foreign:
        return Check(name, False, expected, f"owned by another hub: {_short(foreign)}")
    return Check(name, True, expected, f"all {len(want)} present")


def check_token(client: httpx.Client, seeds: SeedSet, key: StoredKey | None, secrets: KnownSecrets) -> Check:
    scopes = " ".join(seeds.api_consumer.key_scopes)
    name = "token client_credentials"
    expected = f"an access token for consumer {seeds.api_consumer.name} with scope {scopes!r}"
    if key is None:
        return Check(
            name, False, expected,
            "no API key for this consumer and target in the key sink: nothing to request a token with (if an earlier "
            "version stored it, the entry names no target: then give verify the consumer's --api-consumer-id)",
        )
    form = {
        "grant_type": "client_credentials",
        "client_id": key.api_consumer_id,
        "client_secret": key.api_key,
        "scope": scopes,
    }
    try:
        response = client.post("/api/v2/token", data=form)
    except httpx.HTTPError as exc:
        return Check(name, False, expected, f"no answer from /api/v2/token: {exc.__class__.__name__}")
    try:
        body = response.json()
    except ValueError:
        body = {}
    token = body.get("access_token") if isinstance(body, dict) else None
    if response.status_code == 200 and token:
        secrets.add(str(token))
        return Check(
            name,
            True,
            expected,
            f"{body.get('token_type', 'token')} token, expires in {body.get('expires_in', '?')} s, scope {body.get('scope', '?')!r}",
        )
    error = body.get("error") if isinstance(body, dict) else None
    description = body.get("error_description", "") if isinstance(body, dict) else ""
    return Check(name, False, expected, f"HTTP {response.status_code} {error or ''} {description}".strip())


def check_hub_registry(client: httpx.Client, seeds: SeedSet) -> Check:
    slug = seeds.hub.slug
    name = "hub-registry"
    expected = f"{slug} listed in /api/v2/hub-registry"
    try:
        entries = _get_data(client, "/api/v2/hub-registry")
    except _Unusable as exc:
        return Check(name, False, expected, str(exc))
    hub = next((e for e in entries if e.get("slug") == slug), None)
    if hub is None:
        return Check(name, False, expected, f"not listed (listed: {_short([str(e.get('slug')) for e in entries])})")
    widgets = hub.get("widgets")
    if isinstance(widgets, int) and widgets < len(seeds.widgets):
        return Check(name, False, expected + f" with {len(seeds.widgets)} widgets", f"listed with {widgets} widgets")
    extra = f" with {widgets} widgets" if isinstance(widgets, int) else ""
    return Check(name, True, expected, f"listed (manifest {hub.get('manifestVersion', '?')}){extra}")


def verify(
    base_url: str,
    seeds: SeedSet,
    key: StoredKey | None,
    secrets: KnownSecrets,
    timeout_s: float = 30,
    ca_bundle: Any = None,
) -> list[Check]:
    with http_client(base_url, timeout_s=timeout_s, ca_bundle=ca_bundle) as client:
        reachable(client, base_url)
        checks = [check_registry(client, seeds, registry, field) for registry, field in REGISTRIES]
        checks.append(check_token(client, seeds, key, secrets))
        checks.append(check_hub_registry(client, seeds))
    return checks


def reachable(client: httpx.Client, base_url: str) -> None:
    """One request first: an unreachable Inter-Hub is one error with its cause, not five failed checks."""
    try:
        client.get("/")
    except httpx.TransportError as exc:
        cause = str(exc) or exc.__class__.__name__
        raise VerifyUnreachable(
            f"cannot reach {base_url}: {exc.__class__.__name__}: {cause}",
            where=f"verify, {base_url}",
            hint=hints.for_failure(cause, "verify"),
        ) from None


class VerifyUnreachable(IhubError):
    exit_code = ExitCode.VERIFY_FAILED
