"""Safe against production: plan is read-only, drift is reported and never silently
overwritten, a new manifest version when the active one differs, the key nobody holds, the
lock per target, and doctor."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest

from flows.errors import ExitCode
from flows.lock import target_lock
from flows.seeds import PROJECT_SEEDS
from playwright.sync_api import Browser

from tests.support import SandboxFactory, Tool, login, rows, snapshot


@pytest.fixture
def tool(sandbox, tmp_path: Path, browser: Browser) -> Tool:  # noqa: ANN001
    """apply, plan and doctor in-process, in the worker's Chromium: these tests are about what
    the runbook does to Inter-Hub; the process contract is covered in test_newcomer/test_bad_input."""
    return Tool(sandbox, tmp_path, browser)


def test_plan_is_read_only_and_lists_every_write(tool: Tool, sandbox) -> None:  # noqa: ANN001
    before = snapshot(sandbox)
    posts_before = sandbox.config.faults.mutations_seen
    code, plan, stderr = tool.json("plan", "--detailed-exitcode")
    assert code == ExitCode.CHANGES_PENDING, stderr
    assert snapshot(sandbox) == before
    assert sandbox.config.faults.mutations_seen - posts_before == 1  # the login form, nothing else
    statuses = {s["name"]: s["status"] for s in plan["steps"]}
    assert statuses == {
        "login": "ok", "hub": "create", "manifest": "create", "manifest-vocabulary": "update",
        "activate": "update", "api-consumer": "create", "api-key": "create", "widgets": "create",
    }
    assert plan["pending"] == 12
    hub_write = plan["steps"][1]["planned"][0]
    assert hub_write == {"action": "create hub", "where": "/Hubs/new", "values": {"name": "Ops Hub", "slug": "ops-hub", "domain": "ops.coulomb.social", "kind": "domain", "hub_family": "vsm", "vsm_function": "OPS", "vsm_system": "S1"}}
    assert tool("plan").returncode == ExitCode.OK  # without --detailed-exitcode, pending is not an error

    assert tool("apply").returncode == ExitCode.OK
    code, plan, stderr = tool.json("plan", "--detailed-exitcode")
    assert code == ExitCode.OK, stderr
    assert {s["status"] for s in plan["steps"][1:]} == {"unchanged"} and plan["pending"] == 0


def test_drift_is_reported_then_reconciled_only_with_update(tool: Tool, sandbox) -> None:  # noqa: ANN001
    assert tool("apply").returncode == ExitCode.OK
    hub_id = str(next(h.id for h in rows(sandbox, "hubs") if h.slug == "ops-hub"))
    with httpx.Client(base_url=sandbox.base_url) as admin:  # an operator edits the domain by hand
        login(admin)
        admin.post(f"/UpdateHub?hubId={hub_id}", data={"name": "Ops Hub", "slug": "ops-hub", "domain": "ops.example.org", "kind": "domain"})

    code, plan, stderr = tool.json("plan", "--detailed-exitcode")
    assert code == ExitCode.NEEDS_DECISION
    hub = plan["steps"][1]
    assert hub["status"] == "drift"
    assert hub["diffs"] == [{"field": "domain", "seed": "ops.coulomb.social", "live": "ops.example.org"}]
    assert "domain: seeds 'ops.coulomb.social', live 'ops.example.org'" in stderr

    code, report, stderr = tool.json("apply")
    assert code == ExitCode.NEEDS_DECISION and report["changes"] == 0
    assert "--update" in report["steps"][1]["detail"]
    assert next(h.domain for h in rows(sandbox, "hubs") if h.slug == "ops-hub") == "ops.example.org"

    code, report, stderr = tool.json("apply", "--update")
    assert code == ExitCode.OK, stderr
    assert report["steps"][1]["status"] == "updated" and report["changes"] == 1
    assert next(h.domain for h in rows(sandbox, "hubs") if h.slug == "ops-hub") == "ops.coulomb.social"


def _seeds_with_new_widget_type(tmp_path: Path) -> Path:
    directory = tmp_path / "seeds-v2"
    shutil.copytree(PROJECT_SEEDS, directory, ignore=shutil.ignore_patterns("schema"))
    manifest = directory / "ops-hub-manifest.draft.json"
    data = json.loads(manifest.read_text())
    data["declaredWidgetTypes"].append({"key": "ops.error-budget", "name": "Error budget", "description": "SLO error budget left."})
    manifest.write_text(json.dumps(data))
    return directory


def test_active_manifest_drift_needs_a_new_version(tool: Tool, sandbox, tmp_path: Path) -> None:  # noqa: ANN001
    assert tool("apply").returncode == ExitCode.OK
    seeds = str(_seeds_with_new_widget_type(tmp_path))

    code, plan, stderr = tool.json("plan", "--seeds", seeds)
    vocabulary = plan["steps"][3]
    assert code == ExitCode.NEEDS_DECISION and vocabulary["status"] == "drift"
    assert "--new-manifest-version" in vocabulary["detail"]
    assert vocabulary["diffs"][0]["field"] == "declaredWidgetTypes" and "ops.error-budget" in vocabulary["diffs"][0]["live"]
    before = snapshot(sandbox)
    assert tool("apply", "--seeds", seeds).returncode == ExitCode.NEEDS_DECISION
    assert snapshot(sandbox) == before  # the active manifest is never edited

    code, report, stderr = tool.json("apply", "--seeds", seeds, "--new-manifest-version", "1.1")
    assert code == ExitCode.OK, stderr
    statuses = {s["name"]: s["status"] for s in report["steps"]}
    assert statuses["manifest"] == "created" and statuses["activate"] == "updated"
    assert "still bound to ops-hub 1.0" in report["steps"][5]["detail"]
    hub = next(h for h in rows(sandbox, "hubs") if h.slug == "ops-hub")
    versions = sorted((m.version, m.status) for m in rows(sandbox, "manifests") if m.hub_id == hub.id)
    assert versions == [("1.0", "retired"), ("1.1", "active")]
    keys = [e["key"] for e in httpx.get(f"{sandbox.base_url}/api/v2/widget-types").json()["data"]]
    assert "ops.error-budget" in keys
    assert all(c["ok"] for c in report["verification"])
    code, again, _ = tool.json("apply", "--seeds", seeds, "--new-manifest-version", "1.1")
    assert code == ExitCode.OK and again["changes"] == 0


def _lose_the_key(sandbox) -> str:  # noqa: ANN001
    """The server regenerates the key, the page never reaches the tool: nobody holds it."""
    consumer = rows(sandbox, "api_consumers")[0]
    with httpx.Client(base_url=sandbox.base_url) as admin:
        login(admin)
        page = admin.post(f"/CreateApiKey?apiConsumerId={consumer.id}", data={"scopes": "framework:read"})
    assert page.status_code == 200
    return str(consumer.id)


def test_a_key_nobody_holds_stops_the_run(tool: Tool, sandbox) -> None:  # noqa: ANN001
    assert tool("apply").returncode == ExitCode.OK
    _lose_the_key(sandbox)
    result = tool("apply")
    assert result.returncode == ExitCode.NEEDS_DECISION
    assert "does not hold: nobody has it" in result.stderr and "--rotate-key" in result.stderr
    assert len(rows(sandbox, "api_keys")) == 2

    code, report, stderr = tool.json("apply", "--rotate-key")
    assert code == ExitCode.OK, stderr
    valid = [k for k in rows(sandbox, "api_keys") if k.revoked_at is None]
    stored = tool.stored_key()
    assert len(valid) == 1 and valid[0].key_prefix == stored["api_key"][:8]
    assert all(c["ok"] for c in report["verification"])


def test_a_key_nobody_holds_can_be_replaced_at_the_prompt(tool: Tool, sandbox) -> None:  # noqa: ANN001
    assert tool("apply").returncode == ExitCode.OK
    _lose_the_key(sandbox)
    result = tool("apply", "--confirm", input="y\ny\n")  # the plan, then the regeneration
    assert result.returncode == ExitCode.OK, result.stderr
    assert "About to regenerate API key (revokes the current one)" in result.stderr
    assert sum(k.revoked_at is None for k in rows(sandbox, "api_keys")) == 1


def test_a_second_concurrent_apply_is_refused(tool: Tool, sandbox) -> None:  # noqa: ANN001
    env_runtime = tool.tmp_path / "runtime"
    import os

    saved = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = str(env_runtime)  # the same lock directory as the tool's
    try:
        with target_lock(sandbox.base_url):
            result = tool("apply", in_process=False)  # another process: the lock is held by this one
    finally:
        if saved is None:
            del os.environ["XDG_RUNTIME_DIR"]
        else:
            os.environ["XDG_RUNTIME_DIR"] = saved
    assert result.returncode == ExitCode.LOCKED
    assert "another apply against" in result.stderr and f"pid {os.getpid()}" in result.stderr
    assert tool("apply").returncode == ExitCode.OK  # released with the holder


# ---------------------------------------------------------------- doctor


def test_doctor_on_a_matching_ui(tool: Tool, sandbox) -> None:  # noqa: ANN001
    assert tool("apply").returncode == ExitCode.OK
    before = snapshot(sandbox)
    result = tool("doctor")
    assert result.returncode == ExitCode.OK, result.stdout + result.stderr
    assert "missing" not in result.stdout and "ambiguous" not in result.stdout
    assert "new hub form" in result.stdout and "new widget form" in result.stdout and "api consumer page" in result.stdout
    assert snapshot(sandbox) == before


@pytest.mark.parametrize(
    ("relabel", "screen", "element", "status"),
    [
        ({"Domain": "Hub domain"}, "new hub form", "domain", "missing"),
        ({"Create Widget": "Add widget"}, "new widget form", "create button", "missing"),
        ({"Title": "Name"}, "new widget form", "name", "ambiguous"),
    ],
)
def test_doctor_reports_a_changed_ui(
    sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser, relabel: dict[str, str], screen: str, element: str, status: str
) -> None:
    sandbox = sandbox_factory(relabel=relabel)
    code, report, stderr = Tool(sandbox, tmp_path, browser).json("doctor")
    assert code == ExitCode.DOCTOR_MISMATCH, stderr
    bad = [(f["screen"], f["element"], f["status"]) for f in report["findings"] if f["status"] in ("missing", "ambiguous")]
    assert (screen, element, status) in bad
    assert Path(report["run_folder"], "trace.zip").is_file()
