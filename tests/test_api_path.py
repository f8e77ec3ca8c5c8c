"""The v2 bootstrap API path: the sandbox's write API over real HTTP, then ``apply``/``plan``/
``doctor --via api|auto`` end to end against it (real HTTP, a real SQLite file, and a real
Chromium where the UI path is mixed in), the OpenAPI-driven refusal, and the fault matrix."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser

from flows.apply import ApplyOptions, Report, execute
from flows.console import Console
from flows.errors import ExitCode
from flows.seeds import load_seeds
from flows.settings import ExplicitSettings
from flows.steps import Options
from sandbox.config import SandboxConfig
from tests.support import ADMIN_PASSWORD, SandboxFactory, Tool, count, login, rows, snapshot
from tests.test_apply_e2e import STEP_NAMES, assert_bootstrapped

OP_ID = "ops-bootstrap"
OP_KEY = "op-key-Zq8v3TnW5xY2rK7p"
API = "/api/v2"
HUB = {"name": "Ops Hub", "slug": "ops-hub", "domain": "ops.coulomb.social", "kind": "domain"}


def open_gate(factory: SandboxFactory, **options: Any):  # noqa: ANN201
    return factory(gate="open", operator_client_id=OP_ID, operator_key=OP_KEY, **options)


def api_tool(sandbox, tmp_path: Path, browser: Browser | None = None) -> Tool:  # noqa: ANN001
    """With ``browser``: apply, plan and doctor in-process (UI runs in that Chromium)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    tool = Tool(sandbox, tmp_path, browser)
    tool.settings.update(operator_client_id=OP_ID, operator_key=OP_KEY)
    return tool


@contextlib.contextmanager
def operator_client(sandbox) -> Iterator[httpx.Client]:  # noqa: ANN001
    client = httpx.Client(base_url=sandbox.base_url + API)
    token = client.post("/token", data={"grant_type": "client_credentials", "client_id": OP_ID, "client_secret": OP_KEY, "scope": "ihub:operator"})
    assert token.status_code == 200, token.text
    client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    try:
        yield client
    finally:
        client.close()


# ---------------------------------------------------------------- the sandbox's write API


def test_writes_need_the_operator_token(sandbox_factory: SandboxFactory) -> None:
    sandbox = open_gate(sandbox_factory)
    with httpx.Client(base_url=sandbox.base_url + API) as anonymous:
        assert anonymous.get("/hubs").status_code == 401  # the gate
        assert anonymous.post("/hubs", json=HUB).status_code == 401
        wrong = anonymous.post("/token", data={"grant_type": "client_credentials", "client_id": OP_ID, "client_secret": "not-the-key-at-all"})
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
        other_scope = anonymous.post("/token", data={"grant_type": "client_credentials", "client_id": OP_ID, "client_secret": OP_KEY, "scope": "framework:write"})
        assert other_scope.status_code == 400 and other_scope.json()["error"] == "invalid_scope"
    with operator_client(sandbox) as op:
        created = op.post("/hubs", json=HUB)
        assert created.status_code == 201, created.text
        assert created.json()["slug"] == "ops-hub"
        assert count(sandbox, "hubs", slug="ops-hub") == 1


def test_validation_errors_are_problem_details_naming_the_field(sandbox_factory: SandboxFactory) -> None:
    sandbox = open_gate(sandbox_factory)
    with operator_client(sandbox) as op:
        bad = op.post("/hubs", json={**HUB, "slug": "Not A Slug"})
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
        assert bad.json()["errors"] == [{"field": "slug", "message": "Use lowercase letters, digits and hyphens only"}]
        missing = op.post("/hubs", json={k: v for k, v in HUB.items() if k != "domain"})
        assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "domain"
        wrong_type = op.post("/hubs", json={**HUB, "name": 7})
        assert wrong_type.json()["errors"] == [{"field": "name", "message": "must be a string"}]
        assert op.post("/hubs", json=HUB).status_code == 201
        taken = op.post("/hubs", json=HUB)
        assert {e["field"] for e in taken.json()["errors"]} == {"slug", "name"}
        assert "This is already in use" in taken.json()["detail"]


def test_the_whole_bootstrap_over_http_is_what_the_admin_ui_shows(sandbox_factory: SandboxFactory) -> None:
    sandbox = open_gate(sandbox_factory)
    seen_keys: list[str] = []
    sandbox.config.faults.on_api_key = seen_keys.append
    with operator_client(sandbox) as op:
        hub = op.post("/hubs", json=HUB).json()
        manifest = op.post("/hub-capability-manifests", json={"hubId": hub["id"], "version": "1.0", "capabilityDescription": "Ops.", "contact": "ops@coulomb.social"}).json()
        assert manifest["status"] == "draft"
        vocabulary = {
            "declaredWidgetTypes": [{"key": "ops.board", "name": "Board", "description": ""}],
            "declaredPolicyScopes": [{"key": "hub:ops-hub:read", "description": "read"}],
        }
        patched = op.patch(f"/hub-capability-manifests/{manifest['id']}", json=vocabulary)
        assert patched.status_code == 200 and patched.json()["declaredWidgetTypes"][0]["key"] == "ops.board"
        assert op.post(f"/hub-capability-manifests/{manifest['id']}/activate").json()["status"] == "active"
        refused = op.patch(f"/hub-capability-manifests/{manifest['id']}", json={"contact": "x@coulomb.social"})
        assert refused.status_code == 409  # an active manifest cannot change
        assert [s["key"] for s in op.get("/policy-scopes", params={"hubId": hub["id"]}).json()["data"]] == ["hub:ops-hub:read"]
        consumer = op.post("/api-consumers", json={"name": "ops-hub", "description": "d", "hubCapabilityManifestId": manifest["id"]}).json()
        assert consumer["keyPrefix"] is None and consumer["manifest"] == "ops-hub 1.0"
        key = op.post(f"/api-consumers/{consumer['id']}/keys", json={"scopes": ["framework:read", "hub:ops-hub:read"]})
        assert key.status_code == 201
        secret = key.json()["key"]
        assert seen_keys == [secret]
        # the key is returned once: only its hash is kept, and reading the consumer shows the prefix only
        assert secret not in op.get(f"/api-consumers/{consumer['id']}").text
        (stored,) = rows(sandbox, "api_keys")
        assert stored.key_prefix == secret[:8] and secret not in str(tuple(stored))
        widget = op.post("/widgets", json={"hubId": hub["id"], "name": "board", "title": "Board", "widgetType": "ops.board", "config": {"a": 1}})
        assert widget.status_code == 201, widget.text
        undeclared = op.post("/widgets", json={"hubId": hub["id"], "name": "x", "title": "X", "widgetType": "ops.nope"})
        assert undeclared.json()["errors"][0]["field"] == "widgetType"
    with httpx.Client(base_url=sandbox.base_url) as admin:
        login(admin)
        shown = admin.get(f"/ShowHub?hubId={hub['id']}").text
        assert "ops.coulomb.social" in shown and "active" in shown
        assert "ops-hub" in admin.get("/ApiConsumers").text
        assert "board" in admin.get(f"/Widgets?hubId={hub['id']}").text


def test_openapi_describes_every_write_with_its_request_schema(sandbox_factory: SandboxFactory) -> None:
    sandbox = open_gate(sandbox_factory, openapi_rename=["HubCreate.slug=handle"], openapi_drop=["post /widgets"])
    doc = httpx.get(sandbox.base_url + f"{API}/openapi.json").json()
    assert doc["paths"]["/hubs"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/HubCreate"}
    assert "handle" in doc["components"]["schemas"]["HubCreate"]["required"]
    assert "slug" not in doc["components"]["schemas"]["HubCreate"]["properties"]
    assert "post" not in doc["paths"]["/widgets"] and "get" in doc["paths"]["/widgets"]
    closed = sandbox_factory()
    assert "/api-consumers/{id}/keys" not in httpx.get(closed.base_url + f"{API}/openapi.json").json()["paths"]
    assert httpx.post(closed.base_url + f"{API}/hubs", json=HUB).status_code == 404


def test_operator_credentials_are_generated_when_not_given() -> None:
    config = SandboxConfig(port=0, admin_password=ADMIN_PASSWORD)
    assert config.operator_generated and config.operator_client_id.startswith("operator-") and len(config.operator_key) > 20
    given = SandboxConfig(port=0, admin_password=ADMIN_PASSWORD, operator_client_id="me", operator_key="k" * 20)
    assert not given.operator_generated


# ---------------------------------------------------------------- apply --via api


def test_fresh_bootstrap_through_the_api_then_nothing_to_do(sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser) -> None:
    sandbox = open_gate(sandbox_factory)
    tool = api_tool(sandbox, tmp_path, browser)
    code, report, stderr = tool.json("apply", "--via", "api", email=None, password=None)
    assert code == ExitCode.OK, stderr
    assert report["via"] == "api"
    assert [s["name"] for s in report["steps"]] == STEP_NAMES
    assert [s["status"] for s in report["steps"]] == ["ok", "created", "created", "updated", "updated", "created", "created", "created"]
    assert report["changes"] == 12
    assert all(c["ok"] for c in report["verification"]), report["verification"]
    assert_bootstrapped(sandbox)
    before = snapshot(sandbox)

    # the audit trail: every request, with method, path, status and timing; no secret anywhere
    folder = Path(report["run_folder"])
    events = [json.loads(line) for line in (folder / "audit.jsonl").read_text().splitlines()]
    requests = [e for e in events if e["event"] == "api-request"]
    writes = [(e["method"], e["path"]) for e in requests if e["method"] in ("POST", "PATCH") and e["path"] != f"{API}/token"]
    assert len(writes) == 12 and all(e["status"] in (200, 201) for e in requests)
    assert ("POST", f"{API}/hubs") in writes and all("duration_ms" in e for e in requests)
    key = tool.stored_key()["api_key"]
    everything = "".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file()) + stderr + json.dumps(report)
    assert OP_KEY not in everything and key not in everything
    assert "iho_" not in everything  # no operator access token

    code, again, stderr = tool.json("apply", "--via", "api", email=None, password=None)
    assert code == ExitCode.OK, stderr
    assert again["changes"] == 0
    assert [s["status"] for s in again["steps"]] == ["ok"] + ["unchanged"] * 7
    assert snapshot(sandbox) == before
    code, plan, _ = tool.json("plan", "--via", "api", "--detailed-exitcode", email=None, password=None)
    assert code == ExitCode.OK and plan["pending"] == 0


def test_the_api_path_needs_the_operator_key_from_the_settings(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    sandbox = open_gate(sandbox_factory)
    tool = Tool(sandbox, tmp_path)
    result = tool("apply", "--via", "api")
    assert result.returncode == ExitCode.BAD_INPUT
    assert "IHUB_OPERATOR_CLIENT_ID and IHUB_OPERATOR_KEY not set" in result.stderr
    wrong = tool("apply", "--via", "api", operator_client_id=OP_ID, operator_key="not-the-operator-key")
    assert wrong.returncode == ExitCode.AUTH, wrong.stderr
    assert "refused the operator key" in wrong.stderr and "not-the-operator-key" not in wrong.stderr + wrong.stdout
    assert count(sandbox, "hubs") == 1  # the demo hub only
    flagged = tool("apply", "--via", "api", "--operator-key", OP_KEY)
    assert flagged.returncode == ExitCode.BAD_INPUT  # never a flag


@pytest.mark.parametrize(("gate", "via"), [("open", "api"), ("closed", "ui")])
def test_auto_takes_the_path_the_gate_allows(sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser, gate: str, via: str) -> None:
    sandbox = open_gate(sandbox_factory) if gate == "open" else sandbox_factory()
    tool = api_tool(sandbox, tmp_path, browser)
    code, report, stderr = tool.json("plan", "--via", "auto")
    assert code == ExitCode.OK, stderr
    assert report["via"] == via
    assert f"the gate is {gate}" in report["via_reason"] and f"the gate is {gate}" in stderr
    assert report["pending"] == 12


# ---------------------------------------------------------------- mixed history


def test_ui_then_api_and_api_then_ui_converge(sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser) -> None:
    # the UI path stops after the hub and manifest (a 500 on the vocabulary); the API finishes
    sandbox = open_gate(sandbox_factory)
    tool = api_tool(sandbox, tmp_path, browser)
    sandbox.config.faults.fail_mutation = 4  # CreateSession, CreateHub, CreateHubCapabilityManifest, Update...
    code, failed, _ = tool.json("apply", "--via", "ui")
    assert code == ExitCode.STEP_FAILED and failed["via"] == "ui"
    sandbox.config.faults.fail_mutation = 0
    code, finished, stderr = tool.json("apply", "--via", "api")
    assert code == ExitCode.OK, stderr
    statuses = {s["name"]: s["status"] for s in finished["steps"]}
    assert statuses["hub"] == "unchanged" and statuses["manifest"] == "unchanged" and statuses["manifest-vocabulary"] == "unchanged"
    assert statuses["activate"] == "updated" and statuses["widgets"] == "created"
    assert_bootstrapped(sandbox)
    before = snapshot(sandbox)
    code, ui_again, stderr = tool.json("apply", "--via", "ui")
    assert code == ExitCode.OK and ui_again["changes"] == 0, stderr
    assert snapshot(sandbox) == before

    # and the other way round: the API path stops after the consumer; the UI finishes
    other = open_gate(sandbox_factory)
    tool = api_tool(other, tmp_path / "other", browser)
    other.config.faults.fail_mutation = 7  # token, hub, manifest, vocabulary, activate, consumer, key
    code, failed, _ = tool.json("apply", "--via", "api")
    assert code == ExitCode.STEP_FAILED and failed["error"]["message"].startswith("Generate the API key failed")
    other.config.faults.fail_mutation = 0
    code, finished, stderr = tool.json("apply", "--via", "ui")
    # the key was made but its answer lost: nobody holds it, on either path
    assert code == ExitCode.NEEDS_DECISION, stderr
    code, finished, stderr = tool.json("apply", "--via", "ui", "--rotate-key")
    assert code == ExitCode.OK, stderr
    assert_bootstrapped_via_any(other)  # one valid key (the lost one is revoked)
    before = snapshot(other)
    code, api_again, stderr = tool.json("apply", "--via", "api")
    assert code == ExitCode.OK and api_again["changes"] == 0, stderr
    assert snapshot(other) == before


# ---------------------------------------------------------------- the live contract


@pytest.mark.parametrize(
    ("change", "operation", "field"),
    [
        ({"openapi_rename": ["HubCreate.slug=handle"]}, "POST /hubs (createHub)", "handle"),
        ({"openapi_drop": ["post /api-consumers/{id}/keys"]}, "POST /api-consumers/{id}/keys (createApiKey)", "(operation)"),
        ({"openapi_rename": ["WidgetCreate.widgetType=kind"]}, "POST /widgets (createWidget)", "kind"),
    ],
)
def test_an_api_that_differs_is_refused_before_any_write(
    sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser, change: dict[str, list[str]], operation: str, field: str
) -> None:
    sandbox = open_gate(sandbox_factory, **change)
    tool = api_tool(sandbox, tmp_path, browser)
    before = snapshot(sandbox)
    for command in ("plan", "apply"):
        code, report, stderr = tool.json(command, "--via", "api")
        assert code == ExitCode.DOCTOR_MISMATCH, stderr
        message = report["error"]["message"]
        assert operation in message + report["error"]["where"] and "nothing was written" in message
        if field != "(operation)":
            assert f"field {field!r}" in message
    assert snapshot(sandbox) == before
    code, doctor, stderr = tool.json("doctor", "--via", "api")
    assert code == ExitCode.DOCTOR_MISMATCH, stderr
    bad = [(f["screen"], f["element"]) for f in doctor["findings"] if f["status"] in ("missing", "not in API", "incompatible")]
    assert (operation, field) in bad
    table = tool("doctor", "--via", "api")
    assert table.returncode == ExitCode.DOCTOR_MISMATCH and operation in table.stdout and "not offered" in table.stdout


def test_doctor_via_api_on_a_matching_api(sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser) -> None:
    sandbox = open_gate(sandbox_factory, schema="newer")
    tool = api_tool(sandbox, tmp_path, browser)
    code, doctor, stderr = tool.json("doctor", "--via", "api")
    assert code == ExitCode.OK, stderr
    statuses = {(f["screen"], f["element"]): f["status"] for f in doctor["findings"]}
    assert statuses[("POST /hubs (createHub)", "vsmFunction")] == "OK"  # newer schema: the VSM fields are offered
    assert statuses[("POST /api/v2/token", "operator key")] == "OK"
    older = open_gate(sandbox_factory)
    code, doctor, _ = api_tool(older, tmp_path / "older", browser).json("doctor", "--via", "api")
    assert code == ExitCode.OK
    assert {(f["element"], f["status"]) for f in doctor["findings"] if f["screen"] == "POST /hubs (createHub)"} >= {("hub_family", "absent (optional)")}


# ---------------------------------------------------------------- faults at every write

# The API path's POSTs and PATCHes of a fresh apply, in order.
MUTATIONS = [
    ("login", f"{API}/token"),
    ("hub", f"{API}/hubs"),
    ("manifest", f"{API}/hub-capability-manifests"),
    ("manifest-vocabulary", f"{API}/hub-capability-manifests/"),
    ("activate", "/activate"),
    ("api-consumer", f"{API}/api-consumers"),
    ("api-key", "/keys"),
    *[("widgets", f"{API}/widgets")] * 6,
]
# As in test_faults: every write but the widgets between the first and the last (same step and recovery).
FAULT_POINTS = [k for k in range(1, len(MUTATIONS) + 1) if k == 1 or k == len(MUTATIONS) or MUTATIONS[k - 2][0] != MUTATIONS[k - 1][0]]


def apply_api(sandbox, tmp_path: Path, **options: Any) -> Report:  # noqa: ANN001
    settings = ExplicitSettings(
        base=sandbox.base_url,
        runs_dir=tmp_path / "runs",
        key_sink=f"file:{tmp_path / 'ops-hub.key.json'}",
        timeout=20,
        operator_client_id=OP_ID,
        operator_key=OP_KEY,
    )
    return execute(settings, load_seeds(), ApplyOptions(via="api", steps=Options(**options)), Console(io.StringIO()))


def test_a_fresh_api_apply_makes_exactly_these_writes(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    sandbox = open_gate(sandbox_factory)
    seen: list[str] = []
    sandbox.config.faults.on_mutation = lambda n, path: seen.append(path)
    report = apply_api(sandbox, tmp_path)
    assert report.exit_code == ExitCode.OK, report.error and report.error.render()
    assert len(seen) == len(MUTATIONS) + 1  # + verify's token request
    assert all(part in path for (_, part), path in zip(MUTATIONS, seen, strict=False)), seen


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["500", "drop"])
@pytest.mark.parametrize("k", FAULT_POINTS)
def test_fault_at_every_api_write_then_rerun_converges(sandbox_factory: SandboxFactory, tmp_path: Path, fault: str, k: int) -> None:
    step, path = MUTATIONS[k - 1]
    sandbox = open_gate(sandbox_factory)
    faults = sandbox.config.faults
    if fault == "500":
        faults.fail_mutation = k
    else:
        faults.drop_mutation = k
    failed = apply_api(sandbox, tmp_path)
    assert failed.exit_code == ExitCode.STEP_FAILED, failed.error and failed.error.render()
    assert failed.error is not None and f"step {step}" in (failed.error.where or "")
    message = failed.error.message
    assert path in message, message
    assert ("HTTP 500" in message) if fault == "500" else ("no answer" in message), message
    faults.fail_mutation = faults.drop_mutation = 0
    again = apply_api(sandbox, tmp_path)
    if again.exit_code == ExitCode.NEEDS_DECISION:  # the key's answer was lost: nobody holds it
        assert again.error is not None and "nobody has it" in again.error.message
        again = apply_api(sandbox, tmp_path, rotate_key=True)
    assert again.exit_code == ExitCode.OK, again.error and again.error.render()
    assert all(c.ok for c in again.verification)
    assert_bootstrapped_via_any(sandbox)


def assert_bootstrapped_via_any(sandbox) -> None:  # noqa: ANN001
    (hub,) = [h for h in rows(sandbox, "hubs") if h.slug == "ops-hub"]
    assert [(m.version, m.status) for m in rows(sandbox, "manifests") if m.hub_id == hub.id] == [("1.0", "active")]
    assert [c.name for c in rows(sandbox, "api_consumers")] == ["ops-hub"]
    assert sum(k.revoked_at is None for k in rows(sandbox, "api_keys")) == 1
    assert count(sandbox, "widgets", hub_id=hub.id) == 6
    assert count(sandbox, "policy_scopes", hub_id=hub.id) == 2


def test_rehearse_the_api_path(tmp_path: Path) -> None:
    from tests.support import PROJECT, tool_env

    result = subprocess.run(
        [sys.executable, "-m", "flows.cli", "rehearse", "--gate", "open", "--via", "auto", "--runs-dir", str(tmp_path / "runs"), "--json"],
        capture_output=True, text=True, env=tool_env(tmp_path), cwd=PROJECT, timeout=180, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["via"] == "api" and report["changes"] == 12
    assert all(c["ok"] for c in report["verification"])
