"""The runbook's supported path: the same steps through Inter-Hub's v2 bootstrap API.

The steps (``flows/steps``) do not know which path they run on: they observe and act through
``run.hubs``, ``run.manifests``, ``run.consumers`` and ``run.widgets``. On the UI path those are
the page objects; here they are the API's resources, with the same methods and answers. So the
plan, the drift rules, the key sink and lost-key handling, the lock, the verification and the run
folder are the UI path's own.

Request bodies come from the live OpenAPI document, not from our idea of it: each operation's
request schema names the fields, and the seeds' values are mapped onto them by name (camelCase
or snake_case). A required field the seeds cannot fill, a missing operation or an incompatible
type stops the run before any write, naming the operation and the field (``ApiMismatch``, exit 12,
as ``doctor`` reports a changed UI). Every request is one ``api-request`` event in the audit log
(method, path, status, timing; the body with secrets scrubbed); the operator key, the access
token and a new API key are known secrets of the run from the moment they exist.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from flows.audit import RunFolder
from flows.errors import AuthError, ExitCode, IhubError
from flows.keysink import KeySink
from flows.network import http_client
from flows.known_secrets import KnownSecrets
from flows.seeds import SeedSet
from flows.steps.base import Approver, Options, Run
from pages.api_consumers import ConsumerDetails, ConsumerSummary
from pages.base import FormError, RequestFailed, first_line
from pages.hubs import HubDetails, HubSummary, SavedHub
from pages.manifests import ManifestDetails, ManifestSummary
from pages.widgets import WidgetSummary

API = "/api/v2"
OPERATOR_SCOPE = "ihub:operator"
SCREEN = "v2 API"
KEY_HINT = "check IHUB_OPERATOR_CLIENT_ID and IHUB_OPERATOR_KEY (settings or .env): the operator consumer's id and key"
HUB_OPTIONAL = ("hub_family", "vsm_function", "vsm_system")
PLACEHOLDER_ID = "00000000-0000-4000-8000-000000000000"


class ApiMismatch(IhubError):
    """The live API does not offer what the run needs (an operation, a field, a type)."""

    exit_code = ExitCode.DOCTOR_MISMATCH


def norm(name: str) -> str:
    """``hubFamily``, ``hub_family`` and ``hub-family`` are one name."""
    return re.sub(r"[_\-\s]", "", name).lower()


def snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


# ---------------------------------------------------------------- the live OpenAPI document

# What the run uses: name -> (method, path). Writes carry a request body built from the schema.
READS = {
    "listHubs": ("get", "/hubs"),
    "getHub": ("get", "/hubs/{id}"),
    "getManifest": ("get", "/hub-capability-manifests/{id}"),
    "listApiConsumers": ("get", "/api-consumers"),
    "getApiConsumer": ("get", "/api-consumers/{id}"),
    "listWidgets": ("get", "/widgets"),
}
WRITES = {
    "createHub": ("post", "/hubs"),
    "updateHub": ("patch", "/hubs/{id}"),
    "createManifest": ("post", "/hub-capability-manifests"),
    "updateManifest": ("patch", "/hub-capability-manifests/{id}"),
    "activateManifest": ("post", "/hub-capability-manifests/{id}/activate"),
    "createApiConsumer": ("post", "/api-consumers"),
    "createApiKey": ("post", "/api-consumers/{id}/keys"),
    "createWidget": ("post", "/widgets"),
}
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "array": (list,),
    "object": (dict,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


@dataclass(frozen=True)
class Problem:
    """One thing the document does not offer: for doctor's table and the refusal."""

    operation: str  # e.g. "POST /hubs (createHub)"
    field: str  # "(operation)" for a missing operation
    status: str  # OK, missing, incompatible, absent (optional)
    detail: str = ""

    @property
    def bad(self) -> bool:
        return self.status in ("missing", "incompatible", "not in API")


@dataclass
class Body:
    values: dict[str, Any]
    filled: list[str] = field(default_factory=list)  # the given names that went in
    absent: list[str] = field(default_factory=list)  # the given names the schema has no field for


class Contract:
    """The live OpenAPI document: its operations and their request schemas."""

    def __init__(self, doc: dict[str, Any], where: str):
        self.doc = doc
        self.where = where
        paths = doc.get("paths") if isinstance(doc.get("paths"), dict) else {}
        prefix = _server_prefix(doc)
        self.paths: dict[str, dict[str, Any]] = {}
        for path, item in (paths or {}).items():
            relative = path[len(prefix):] if prefix and path.startswith(prefix) else path
            if relative.startswith(API):
                relative = relative[len(API):]
            if isinstance(item, dict):
                self.paths[relative] = item

    def label(self, name: str) -> str:
        method, path = {**READS, **WRITES}[name]
        return f"{method.upper()} {path} ({name})"

    def operation(self, name: str) -> dict[str, Any] | None:
        method, path = {**READS, **WRITES}[name]
        op = self.paths.get(path, {}).get(method)
        return op if isinstance(op, dict) else None

    def schema(self, name: str) -> dict[str, Any] | None:
        op = self.operation(name)
        if op is None:
            return None
        content = (op.get("requestBody") or {}).get("content") or {}
        media = content.get("application/json") or next(iter(content.values()), None) or {}
        return self._resolve(media.get("schema"))

    def schema_ref(self, name: str) -> str:
        """Where the request schema is described, for doctor's table."""
        op = self.operation(name) or {}
        content = (op.get("requestBody") or {}).get("content") or {}
        media = content.get("application/json") or next(iter(content.values()), None) or {}
        schema = media.get("schema") if isinstance(media, dict) else None
        return str(schema["$ref"]) if isinstance(schema, dict) and "$ref" in schema else "requestBody"

    def _resolve(self, schema: Any) -> dict[str, Any] | None:
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 10:
            ref = str(schema["$ref"])
            node: Any = self.doc
            for part in ref.lstrip("#/").split("/"):
                node = node.get(part) if isinstance(node, dict) else None
            schema, seen = node, seen + 1
        return schema if isinstance(schema, dict) else None

    def body(self, name: str, given: dict[str, Any], *, essential: tuple[str, ...] = ()) -> Body:
        """The request body of operation ``name`` from the ``given`` values (by name, camelCase
        or snake_case). Raises :class:`ApiMismatch` naming the operation and the field."""
        problems = self.problems(name, given, essential=essential)
        bad = [p for p in problems if p.bad]
        if bad:
            raise mismatch(bad, self.where)
        schema = self.schema(name) or {}
        props = schema.get("properties") or {}
        by_norm = {norm(k): k for k in given}
        out = Body({})
        for prop in props:
            source = by_norm.get(norm(prop))
            if source is not None and given[source] is not None:
                out.values[prop] = given[source]
                out.filled.append(source)
        out.absent = [k for k in given if k not in out.filled and given[k] is not None]
        return out

    def problems(self, name: str, given: dict[str, Any] | None = None, *, essential: tuple[str, ...] = ()) -> list[Problem]:
        """What operation ``name`` lacks for the ``given`` values (all rows, OK ones too)."""
        label = self.label(name)
        if self.operation(name) is None:
            return [Problem(label, "(operation)", "missing", f"not in {self.where}")]
        if given is None:
            return [Problem(label, "(operation)", "OK")]
        schema = self.schema(name)
        if schema is None:
            if given:
                return [Problem(label, "(request body)", "missing", "the operation has no JSON request schema")]
            return [Problem(label, "(operation)", "OK")]
        props: dict[str, Any] = schema.get("properties") or {}
        by_norm = {norm(k): k for k in given}
        rows: list[Problem] = []
        for prop, spec in props.items():
            source = by_norm.get(norm(prop))
            required = prop in (schema.get("required") or [])
            if source is None or given[source] is None:
                if required:
                    rows.append(Problem(label, prop, "missing", "required, and the seeds have no value of that name"))
                continue
            wanted = (self._resolve(spec) or {}).get("type")
            value = given[source]
            fits = wanted not in _TYPES or (isinstance(value, _TYPES[wanted]) and not (isinstance(value, bool) and wanted != "boolean"))
            if not fits:
                rows.append(Problem(label, prop, "incompatible", f"the API wants {wanted}, the seeds have {type(given[source]).__name__}"))
            else:
                rows.append(Problem(label, prop, "OK"))
        names = {norm(p) for p in props}
        for key, value in given.items():
            if value is None or norm(key) in names:
                continue
            if key in essential:
                rows.append(Problem(label, key, "not in API", "the seeds' value has no field in the request schema"))
            else:
                rows.append(Problem(label, key, "absent (optional)", "the request schema has no such field"))
        return rows or [Problem(label, "(operation)", "OK")]


def _server_prefix(doc: dict[str, Any]) -> str:
    servers = doc.get("servers")
    if isinstance(servers, list) and servers and isinstance(servers[0], dict):
        url = str(servers[0].get("url", ""))
        return httpx.URL(url).path.rstrip("/") if url else ""
    return ""


def mismatch(bad: list[Problem], where: str) -> ApiMismatch:
    first = bad[0]
    what = f"{first.operation} is not offered" if first.field == "(operation)" else f"{first.operation}, field {first.field!r}: {first.status}"
    more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
    return ApiMismatch(
        f"the v2 API does not offer what the run needs: {what}{more}; nothing was written",
        where=f"{where}: " + "; ".join(f"{p.operation} {p.field} {p.status}" for p in bad),
        hint="run `ihub-bootstrap doctor --via api` for the full table; update the seeds or the tool for this "
        "Inter-Hub release, or use the UI path (`--via ui`)",
    )


def run_needs(seeds: SeedSet, options: Options) -> list[tuple[str, dict[str, Any], tuple[str, ...]]]:
    """Every operation a run may use, with the values it would send (ids as placeholders):
    the same values the steps pass at write time."""
    hub = {k: v for k, v in seeds.hub.model_dump().items() if v is not None}
    version = options.new_manifest_version or seeds.manifest.version
    needs: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [(name, {}, ()) for name in READS]
    needs.append(("createHub", hub, ("name", "slug", "domain", "kind")))
    if options.update:
        needs.append(("updateHub", hub, ("name", "slug", "domain", "kind")))
    manifest = {"hub_id": PLACEHOLDER_ID, "version": version, "capability_description": seeds.manifest.capability_description, "contact": seeds.manifest.contact}
    needs.append(("createManifest", manifest, tuple(manifest)))
    vocabulary = {
        **seeds.manifest.vocabulary(),
        "capabilityDescription": seeds.manifest.capability_description,
        "contact": seeds.manifest.contact,
    }
    needs.append(("updateManifest", vocabulary, tuple(seeds.manifest.vocabulary())))
    needs.append(("activateManifest", {}, ()))
    consumer = {"name": seeds.api_consumer.name, "description": seeds.api_consumer.description, "hub_capability_manifest_id": PLACEHOLDER_ID}
    needs.append(("createApiConsumer", consumer, tuple(consumer)))
    needs.append(("createApiKey", {"scopes": list(seeds.api_consumer.key_scopes)}, ("scopes",)))
    for w in seeds.widgets[:1]:
        needs.append(("createWidget", widget_values(PLACEHOLDER_ID, w.name, w.title, w.type, w.config), ("hub_id", "name", "title", "widget_type")))
    return needs


def widget_values(hub_id: str, name: str, title: str, type_: str, config: dict[str, Any]) -> dict[str, Any]:
    # The seeds call it ``type``; the API names it as a widget's type (``widgetType``).
    return {"hub_id": hub_id, "name": name, "title": title, "widget_type": type_, "config": config}


def check_contract(contract: Contract, seeds: SeedSet, options: Options) -> list[Problem]:
    rows: list[Problem] = []
    for name, values, essential in run_needs(seeds, options):
        if name in READS:
            rows.extend(contract.problems(name))
        else:
            rows.extend(contract.problems(name, values, essential=essential))
    return rows


# ---------------------------------------------------------------- the HTTP client


class ApiClient:
    """httpx against ``{base}/api/v2`` with the operator's bearer token; every request audited."""

    def __init__(self, base: str, client_id: str, key: str, secrets: KnownSecrets, folder: RunFolder | None, timeout_s: float):
        self.base = base
        self.client_id = client_id
        self._key = key
        self.secrets = secrets
        self.folder = folder
        self.timeout_s = timeout_s
        self.http = http_client(base, timeout_s=timeout_s)
        self._token: str | None = None
        self.step = "login"  # the step the requests belong to, for the audit log
        self.last = ""  # "METHOD path" of the last request

    def close(self) -> None:
        self.http.close()

    def openapi(self) -> Contract:
        for path in (f"{API}/openapi.json", "/openapi.json"):
            response = self._send("GET", path, auth=False)
            if response.status_code == 200:
                try:
                    doc = response.json()
                except ValueError:
                    continue
                if isinstance(doc, dict) and isinstance(doc.get("paths"), dict):
                    return Contract(doc, path)
        raise ApiMismatch(
            "the v2 API has no OpenAPI document: the run cannot know the request schemas",
            where=f"{self.base}{API}/openapi.json",
            hint="check with `ihub-bootstrap probe`; use the UI path (`--via ui`) until the gate is open",
        )

    def token(self) -> str:
        if self._token is None:
            form = {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self._key, "scope": OPERATOR_SCOPE}
            response = self._send("POST", f"{API}/token", data=form, auth=False, record={"grant_type": "client_credentials", "client_id": self.client_id, "scope": OPERATOR_SCOPE})
            if response.status_code in (400, 401):
                error = _json(response).get("error", f"HTTP {response.status_code}")
                raise AuthError(f"Inter-Hub refused the operator key ({error})", where=f"step {self.step}, POST {API}/token", hint=KEY_HINT)
            self._raise_for_status(response, "POST", f"{API}/token")
            token = str(_json(response).get("access_token", ""))
            if not token:
                raise RequestFailed(f"POST {API}/token answered no access token", screen=SCREEN, url=f"{API}/token")
            self.secrets.add(token)
            self._token = token
        return self._token

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None) -> Any:
        """The answer's JSON; raises FormError (422), RequestFailed (other errors, no answer),
        AuthError (the token refused twice)."""
        for attempt in (1, 2):
            response = self._send(method, f"{API}{path}", json=json, params=params, auth=True)
            if response.status_code == 401 and attempt == 1:
                self._token = None  # expired: one fresh token, then the same request
                continue
            break
        if response.status_code == 401:
            raise AuthError(f"Inter-Hub refused the operator token on {method} {API}{path}", where=f"step {self.step}", hint=KEY_HINT)
        self._raise_for_status(response, method, f"{API}{path}")
        return _json(response) if response.content else {}

    def _raise_for_status(self, response: httpx.Response, method: str, path: str) -> None:
        status = response.status_code
        if status < 400:
            return
        body = _json(response)
        if status in (400, 409, 422) and body:
            errors = [(str(e.get("field")) if e.get("field") else None, str(e.get("message", ""))) for e in body.get("errors") or [] if isinstance(e, dict)]
            if not errors:
                errors = [(None, str(body.get("detail") or body.get("title") or f"HTTP {status}"))]
            raise FormError(errors, screen=f"{SCREEN} {method} {path}", url=path)
        detail = body.get("detail") or body.get("title") or body.get("error") or ""
        raise RequestFailed(f"{method} {path} answered HTTP {status}" + (f" ({detail})" if detail else ""), screen=SCREEN, url=path)

    def _send(self, method: str, path: str, *, json: Any = None, data: Any = None, params: dict[str, str] | None = None,
              auth: bool, record: Any = None) -> httpx.Response:
        headers = {"Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        self.last = f"{method} {path}"
        t0 = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            response = self.http.request(method, path, json=json, data=data, params=params, headers=headers)
            status = response.status_code
            return response
        except httpx.HTTPError as exc:
            error = f"{exc.__class__.__name__}: {first_line(exc, 'no answer')}"
            raise RequestFailed(f"{method} {path} failed: no answer ({error})", screen=SCREEN, url=path) from None
        finally:
            if self.folder is not None:
                self.folder.event(
                    "api-request",
                    step=self.step,
                    method=method,
                    path=path + (f"?{httpx.QueryParams(params)}" if params else ""),
                    status=status,
                    duration_ms=int((time.monotonic() - t0) * 1000),
                    body=record if record is not None else json,
                    error=error,
                )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {"data": data}


# ---------------------------------------------------------------- the resources, as the steps use them


class _Resource:
    def __init__(self, api: ApiClient, contract: Contract):
        self.api = api
        self.contract = contract
        self.timeout_s = api.timeout_s

    @property
    def url(self) -> str:
        return self.api.last

    def browser_gone(self) -> bool:
        return False

    def page_message(self) -> str:
        return ""

    def _write(self, name: str, given: dict[str, Any], *, id: str | None = None, essential: tuple[str, ...] = ()) -> tuple[Any, Body]:
        method, path = WRITES[name]
        body = self.contract.body(name, given, essential=essential) if given else Body({})
        answer = self.api.request(method.upper(), path.format(id=id), json=body.values if given else None)
        return answer, body

    def _write_new(self, name: str, given: dict[str, Any], *, essential: tuple[str, ...] = ()) -> tuple[str, Body]:
        """A create's write and the new record's id, which the answer must give (the browser path
        finds a record on the index when the page does not name it; an API answer has no index)."""
        answer, body = self._write(name, given, essential=essential)
        created = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(created, str) or not created:
            raise RequestFailed(
                f"{WRITES[name][0].upper()} {WRITES[name][1]} answered no id for the record it created: it may have been "
                "created; run plan to see what is there",
                screen=SCREEN, url=self.api.last,
            )
        return created, body


class ApiHubs(_Resource):
    def list(self, *, reuse_open_page: bool = False) -> list[HubSummary]:
        data = self.api.request("GET", "/hubs").get("data", [])
        return [HubSummary(h["id"], h["name"], h["slug"], h["domain"], h["kind"]) for h in data]

    def show(self, hub_id: str) -> HubDetails:
        h = self.api.request("GET", f"/hubs/{hub_id}")
        values = {}
        for key, value in h.items():
            attr = snake(key)
            if attr in ("name", "slug", "domain", "kind", *HUB_OPTIONAL):
                values[attr] = "" if value is None else str(value)
        manifests = [ManifestSummary(m["id"], m["version"], m["status"]) for m in h.get("manifests", [])]
        return HubDetails(h["id"], values, manifests)

    def create(self, hub: Any) -> SavedHub:
        given = {k: getattr(hub, k, None) for k in ("name", "slug", "domain", "kind", *HUB_OPTIONAL)}
        created, body = self._write_new("createHub", given, essential=("name", "slug", "domain", "kind"))
        return SavedHub(created, [k for k in body.filled if k in HUB_OPTIONAL], [k for k in body.absent if k in HUB_OPTIONAL])

    def edit(self, hub_id: str, changes: dict[str, str]) -> SavedHub:
        answer, body = self._write("updateHub", dict(changes), id=hub_id, essential=tuple(k for k in changes if k not in HUB_OPTIONAL))
        return SavedHub(answer.get("id", hub_id), [k for k in body.filled if k in HUB_OPTIONAL], [k for k in body.absent if k in HUB_OPTIONAL])


class ApiManifests(_Resource):
    def show(self, manifest_id: str) -> ManifestDetails:
        m = self.api.request("GET", f"/hub-capability-manifests/{manifest_id}")
        vocabulary = {k: v for k, v in m.items() if k.startswith("declared")}
        return ManifestDetails(m["id"], m.get("hubSlug", ""), m["version"], m["status"], m["capabilityDescription"], m["contact"], vocabulary)

    def create(self, hub_id: str, version: str, capability_description: str, contact: str) -> str:
        given = {"hub_id": hub_id, "version": version, "capability_description": capability_description, "contact": contact}
        return self._write_new("createManifest", given, essential=tuple(given))[0]

    def save(self, manifest_id: str, vocabulary: dict[str, Any], *, capability_description: str | None = None, contact: str | None = None) -> None:
        given = {**vocabulary, "capabilityDescription": capability_description, "contact": contact}
        self._write("updateManifest", given, id=manifest_id, essential=tuple(vocabulary))

    def activate(self, manifest_id: str, *, reuse_open_page: bool = False) -> None:
        answer, _ = self._write("activateManifest", {}, id=manifest_id)
        if answer.get("status") not in (None, "active"):
            raise RequestFailed(f"the manifest is {answer.get('status')} after activation", screen=SCREEN, url=self.api.last)


class ApiConsumers(_Resource):
    key_field = None  # nothing on a screen to mask

    def __init__(self, api: ApiClient, contract: Contract):
        super().__init__(api, contract)
        self._scopes: list[str] = []
        self._consumer_id = ""

    def _summary(self, c: dict[str, Any]) -> ConsumerSummary:
        return ConsumerSummary(c["id"], c["name"], c["description"], c.get("manifest", ""), c.get("keyPrefix"))

    def list(self) -> list[ConsumerSummary]:
        return [self._summary(c) for c in self.api.request("GET", "/api-consumers").get("data", [])]

    def find(self, name: str) -> ConsumerSummary | None:
        return next((c for c in self.list() if c.name == name), None)

    def create(self, name: str, description: str, manifest_id: str) -> str:
        given = {"name": name, "description": description, "hub_capability_manifest_id": manifest_id}
        return self._write_new("createApiConsumer", given, essential=tuple(given))[0]

    def show(self, consumer_id: str, *, reuse_open_page: bool = False) -> ConsumerDetails:
        """Also remembers the consumer whose key comes next, as opening its page does."""
        self._consumer_id = consumer_id
        c = self.api.request("GET", f"/api-consumers/{consumer_id}")
        fields = {k: str(v) for k, v in c.items() if not isinstance(v, list | dict)}
        return ConsumerDetails(c["id"], fields, c.get("keyPrefix"), list(c.get("keyScopes") or []))

    # The one-time key, in the page objects' terms: choose the scopes, reveal the key, leave.
    def open_key_form(self, scopes: list[str]) -> None:
        self._scopes = list(scopes)

    def reveal_key(self, *, replace_existing: bool = False) -> str:
        consumer_id = self._consumer_id
        answer, _ = self._write("createApiKey", {"scopes": self._scopes}, id=consumer_id, essential=("scopes",))
        key = str(answer.get("key") or "")
        self.api.secrets.add(key)
        if not key:
            raise RequestFailed("the key request answered no key", screen=SCREEN, url=self.api.last)
        return key

    def key_on_screen(self) -> str | None:
        return None  # an answer read once, never kept

    def leave_key_page(self) -> None:
        self._scopes = []


class ApiWidgets(_Resource):
    def list(self, hub_id: str, *, hub_slug: str = "") -> list[WidgetSummary]:
        data = self.api.request("GET", "/widgets", params={"hubId": hub_id}).get("data", [])
        return [WidgetSummary(w["id"], w["name"], w["title"], w.get("widgetType", "")) for w in data]

    def create(self, hub_id: str, widget: Any) -> str:
        given = widget_values(hub_id, widget.name, widget.title, widget.type, widget.config)
        return self._write_new("createWidget", given, essential=("hub_id", "name", "title", "widget_type"))[0]

    # The widget step's two halves (see pages/widgets.py); the API answers a write at once.
    def send_new(self, hub_id: str, widget: Any) -> None:
        self._created = self.create(hub_id, widget)

    def await_created(self, widget: Any) -> str:
        return self._created


class _NoLoginPage:
    """The API path has no login form: the operator token is the login."""


class ApiRun(Run):
    """A :class:`Run` whose resources are the v2 API's."""

    via = "api"

    def __init__(
        self,
        *,
        seeds: SeedSet,
        api: ApiClient,
        contract: Contract,
        sink: KeySink,
        secrets: KnownSecrets,
        approver: Approver,
        options: Options,
    ):
        self.seeds = seeds
        self.sink = sink
        self.secrets = secrets
        self.approver = approver
        self.options = options
        self.trace = None
        self.credentials = None
        self.manual_login = None
        self.api = api
        self.contract = contract
        self.login_page = _NoLoginPage()
        self.hubs = ApiHubs(api, contract)
        self.manifests = ApiManifests(api, contract)
        self.consumers = ApiConsumers(api, contract)
        self.widgets = ApiWidgets(api, contract)
        self.base_url = api.base
        self.writes = 0
        self.parallel = 1
        self.failure_page = None
        self.session_how = f"with an operator token for client {api.client_id} (client_credentials)"


    def entering(self, step: str) -> None:
        self.api.step = step

    @contextlib.contextmanager
    def widget_lanes(self, count: int) -> Iterator[list[Any]]:
        """One lane: the API path sends its writes one after the other (one HTTP client, one
        audit log in order)."""
        yield [self.widgets]

    def close(self) -> None:
        self.api.close()


def open_api_run(
    *, base: str, client_id: str, key: str, seeds: SeedSet, sink: KeySink, secrets: KnownSecrets, approver: Approver,
    options: Options, folder: RunFolder | None, timeout_s: float,
) -> ApiRun:
    """The API client, the live contract checked against what the run needs (refused before
    any write when it falls short), and the run."""
    secrets.add(key)
    api = ApiClient(base, client_id, key, secrets, folder, timeout_s)
    try:
        contract = api.openapi()
        bad = [p for p in check_contract(contract, seeds, options) if p.bad]
        if bad:
            raise mismatch(bad, contract.where)
    except BaseException:
        api.close()
        raise
    return ApiRun(seeds=seeds, api=api, contract=contract, sink=sink, secrets=secrets, approver=approver, options=options)


# ---------------------------------------------------------------- which path


def operator_credentials(settings: Any) -> tuple[str, str]:
    from flows.errors import BadInputError

    missing = [name for name, value in (("IHUB_OPERATOR_CLIENT_ID", settings.operator_client_id), ("IHUB_OPERATOR_KEY", settings.operator_key)) if not value]
    if missing:
        raise BadInputError(
            f"the API path needs the operator consumer: {' and '.join(missing)} not set",
            where="settings (environment or .env; never a flag)",
            hint="put the operator consumer's client id and key into .env (see .env.example), or use the UI path: --via ui",
        )
    return settings.operator_client_id, settings.operator_key.get_secret_value()


def choose_path(settings: Any, via: str) -> tuple[str, str]:
    """``ui`` or ``api``, and why. ``auto`` asks the gate probe; the SQL fallback is never chosen."""
    if via in ("ui", "api"):
        return via, f"--via {via}"
    from flows.probe import ProbeFailed, probe

    result = probe(settings.require_base(), settings.timeout)
    if result.verdict == "open":
        return "api", "--via auto: the gate is open (GET /api/v2/hubs answers 401 and the OpenAPI document lists the bootstrap paths)"
    if result.verdict == "closed":
        failed = "; ".join(f"{c.name}: seen {c.seen}" for c in result.criteria if not c.ok)
        return "ui", f"--via auto: the gate is closed ({failed})"
    raise ProbeFailed(
        f"--via auto: the gate probe has no verdict ({result.reason})",
        where=f"probe {settings.require_base()}",
        hint="choose the path yourself: --via ui (admin UI) or --via api (v2 bootstrap API)",
    )


# ---------------------------------------------------------------- doctor --via api


def run_api_doctor(settings: Any, seeds: SeedSet, console: Any, options: Options | None = None) -> Any:
    """``doctor --via api``: read-only; the live OpenAPI document against every operation and
    field the run needs (and the operator key, when set). A table like the UI doctor's."""
    from flows.doctor import DoctorReport, Finding, exit_code
    from flows.session import RunSession

    options = options or Options()
    session = RunSession(settings, console, command="doctor", browser=False)
    session.mode = "operator key" if settings.operator_key else "none"
    folder = session.begin(seeds, {"via": "api"})
    findings: list[Finding] = []
    error: IhubError | None = None
    key = settings.operator_key.get_secret_value() if settings.operator_key else ""
    api = ApiClient(session.base, settings.operator_client_id or "", key, session.secrets, folder, settings.timeout)
    try:
        contract = api.openapi()
        names = {contract.label(n): n for n in {**READS, **WRITES}}
        for p in check_contract(contract, seeds, options):
            name = names.get(p.operation)
            where = contract.where if name is None or p.field == "(operation)" else contract.schema_ref(name)
            findings.append(Finding(p.operation, p.field, where, p.status, p.detail))
        if settings.operator_client_id and key:
            try:
                api.token()
                findings.append(Finding(f"POST {API}/token", "operator key", "client_credentials", "OK"))
            except AuthError as exc:
                findings.append(Finding(f"POST {API}/token", "operator key", "client_credentials", "refused", exc.message))
        else:
            findings.append(Finding(f"POST {API}/token", "operator key", "client_credentials", "not checked", "IHUB_OPERATOR_CLIENT_ID / IHUB_OPERATOR_KEY not set"))
    except IhubError as exc:
        error = exc
    except RequestFailed as exc:
        error = IhubError(exc.message, where=exc.url, hint="check IHUB_BASE; `ihub-bootstrap probe` says whether the API answers")
    finally:
        api.close()
        code = int(error.exit_code) if error else exit_code(findings)
        code, leaks = session.close(
            exit_code=code,
            changes=0,
            error=error.message if error else None,
            summary=lambda c, found: {"exit_code": c, "via": "api", "findings": [f.to_json() for f in findings], "leaks": found},
        )
    if error is not None:
        raise error
    return DoctorReport(findings, str(folder.path), code, leaks)
