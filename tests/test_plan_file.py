"""The four-eyes flow end to end, as operators run it: one prepares ``plan --out PLAN``,
another reviews ``show PLAN``, ``apply PLAN`` carries out exactly its writes; a plan made
stale by a change in the UI, or a plan file altered after it was written, is refused before
any write. Both submit modes of the sandbox; real Chromium, the database inspected directly."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from flows.audit import RunStart, StepEvent, read_audit_log
from flows.errors import ExitCode
from flows.plan import PlanFile
from flows.seeds import PROJECT_SEEDS
from tests.support import ADMIN_PASSWORD, SandboxFactory, Tool, login, rows, snapshot, tool_env
from tests.test_apply_e2e import assert_bootstrapped


def _writes(steps: list[dict]) -> list[dict]:
    return [
        {"action": w["action"], "where": w["where"], "values": w["values"]}
        for s in steps
        if s["decision"] in ("create", "update")
        for w in s["writes"]
    ]


@pytest.mark.parametrize("submit", ["js", "native"])
def test_plan_show_apply_performs_exactly_the_plans_writes(sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser, submit: str) -> None:
    sandbox = sandbox_factory(submit=submit)
    # js: the operators' own processes; native: the same commands in-process in the worker's Chromium
    tool = Tool(sandbox, tmp_path, None if submit == "js" else browser)
    plan_path = tmp_path / "review" / "ops-hub.plan.json"
    before = snapshot(sandbox)

    code, report, stderr = tool.json("plan", "--out", str(plan_path), "--detailed-exitcode")
    assert code == ExitCode.CHANGES_PENDING, stderr
    assert snapshot(sandbox) == before
    assert stat.S_IMODE(plan_path.stat().st_mode) == 0o600
    text = plan_path.read_text()
    assert ADMIN_PASSWORD not in text
    saved = json.loads(text)
    assert report["saved_plan"] == {"file": str(plan_path), "sha256": saved["sha256"], "role": "written"}
    assert saved["target"] == sandbox.base_url and saved["tool_version"]
    assert sorted(saved["seeds"]) == sorted(p.name for p in PROJECT_SEEDS.glob("*.json"))
    assert [s["name"] for s in saved["steps"]][:2] == ["login", "hub"]
    hub = saved["steps"][1]
    assert hub["observation"]["found"] is False and hub["observation"]["slug"] == "ops-hub"
    assert hub["decision"] == "create"
    assert hub["writes"][0]["values"]["domain"] == "ops.coulomb.social"
    vocabulary = saved["steps"][3]["writes"][0]["values"]["declaredWidgetTypes"]
    assert len(vocabulary) == 6 and vocabulary[0]["key"].startswith("ops.")  # the exact values, not a count

    shown = tool("show", str(plan_path))
    assert shown.returncode == ExitCode.OK, shown.stderr
    assert saved["sha256"] in shown.stdout and "(intact)" in shown.stdout
    assert "12 write(s), in this order" in shown.stdout
    assert "+ create hub at /Hubs/new" in shown.stdout and "domain: ops.coulomb.social" in shown.stdout
    code, data, _ = tool.json("show", str(plan_path))
    assert code == ExitCode.OK and data["intact"] is True and data["pending"] == 12 and data["steps"] == saved["steps"]

    # One prepares the plan, another applies it, perhaps logging in otherwise (native: with a
    # session cookie): how a run got in is no change to what the plan saw.
    login_how: dict[str, str | None] = {}
    if submit == "native":
        with httpx.Client(base_url=sandbox.base_url) as client:
            login(client)
            login_how = {"email": None, "password": None, "session_cookie": client.cookies["SESSION"]}
    posts: list[str] = []
    sandbox.config.faults.on_mutation = lambda n, path: posts.append(path.lstrip("/"))
    code, applied, stderr = tool.json("apply", str(plan_path), **login_how)
    assert code == ExitCode.OK, stderr
    assert applied["changes"] == 12
    assert applied["saved_plan"] == {"file": str(plan_path), "sha256": saved["sha256"], "role": "applied"}
    # the login, the plan's 12 writes, then verify's token request (not a write to Inter-Hub's data)
    assert posts == [*(["CreateSession"] if not login_how else []), "CreateHub", "CreateHubCapabilityManifest", "UpdateHubCapabilityManifest",
                     "ActivateHubCapabilityManifest", "CreateApiConsumer", "CreateApiKey", *["CreateWidget"] * 6, "api/v2/token"]
    sandbox.config.faults.on_mutation = None
    assert_bootstrapped(sandbox)
    events = read_audit_log(Path(applied["run_folder"]) / "audit.jsonl")
    start = events[0]
    assert isinstance(start, RunStart) and start.options["plan_sha256"] == saved["sha256"]
    acted = [w for e in events if isinstance(e, StepEvent) and e.phase == "apply" for w in e.writes]
    assert acted == _writes(saved["steps"])  # what ran is what was approved, in order

    again = tool("apply", str(plan_path))  # a plan is applied once: what it saw is gone
    assert again.returncode == ExitCode.STALE_PLAN
    assert "stale plan: hub ops-hub's found changed since the plan" in again.stderr
    human = tool("apply")
    assert human.returncode == ExitCode.OK and "no saved plan: planned and applied in this run" in human.stdout


def _create_hub_by_hand(sandbox) -> str:  # noqa: ANN001
    with httpx.Client(base_url=sandbox.base_url) as admin:
        login(admin)
        admin.post("/CreateHub", data={"name": "Ops Hub", "slug": "ops-hub", "domain": "ops.coulomb.social", "kind": "domain"})
    return str(next(h.id for h in rows(sandbox, "hubs") if h.slug == "ops-hub"))


@pytest.mark.parametrize("submit", ["js", "native"])
def test_stale_altered_or_foreign_plans_are_refused_before_any_write(
    sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser, submit: str
) -> None:
    sandbox = sandbox_factory(submit=submit)
    tool = Tool(sandbox, tmp_path, browser)  # in-process: the refusals are the run's, not the process's
    hub_id = _create_hub_by_hand(sandbox)
    plan_path = tmp_path / "ops-hub.plan.json"
    code, report, stderr = tool.json("plan", "--out", str(plan_path))
    assert code == ExitCode.OK, stderr
    assert report["steps"][1]["status"] == "unchanged" and report["pending"] == 11

    # altered after it was written: refused by apply and by show, before any browser starts
    tampered = tmp_path / "tampered.plan.json"
    data = json.loads(plan_path.read_text())
    data["steps"][-1]["writes"][0]["values"]["title"] = "Something else"
    tampered.write_text(json.dumps(data))
    before, posts = snapshot(sandbox), sandbox.config.faults.mutations_seen
    result = tool("apply", str(tampered))
    assert result.returncode == ExitCode.STALE_PLAN
    assert "was altered after it was written" in result.stderr and "Traceback" not in result.stderr
    assert tool("show", str(tampered)).returncode == ExitCode.STALE_PLAN
    assert snapshot(sandbox) == before and sandbox.config.faults.mutations_seen == posts

    # altered and re-sealed (the sha256 is no secret: anyone who can write the file can
    # recompute it): the writes are not what the plan's seeds and observations give, refused
    # after observing, before any write; and the one-time key's scopes and consumer name come
    # from the seeds, never from a plan's text
    for edit in (
        lambda d: d["steps"][-1]["writes"][0]["values"].update(title="Something else"),
        lambda d: next(s for s in d["steps"] if s["name"] == "api-key")["writes"][0]["values"].update(
            scopes="framework:read framework:admin", consumer="ops-hub\nIHUB_BASE=https://evil.example"
        ),
    ):
        data = json.loads(plan_path.read_text())
        edit(data)
        data["sha256"] = PlanFile.model_validate({**data, "sha256": ""}).digest()
        tampered.write_text(json.dumps(data))
        code, refused, stderr = tool.json("apply", str(tampered))
        assert code == ExitCode.STALE_PLAN, stderr
        assert "is not what its seeds, options and observations give" in stderr and "Traceback" not in stderr
        assert refused["changes"] == 0 and snapshot(sandbox) == before
        assert sandbox.config.faults.mutations_seen - posts == 1  # the login form, nothing else
        posts = sandbox.config.faults.mutations_seen

    # other seeds than the plan's
    seeds = tmp_path / "seeds"
    shutil.copytree(PROJECT_SEEDS, seeds, ignore=shutil.ignore_patterns("schema"))
    widgets = seeds / "ops-hub-widgets.seed.json"
    widgets.write_text(widgets.read_text() + "\n")
    result = tool("apply", str(plan_path), "--seeds", str(seeds))
    assert result.returncode == ExitCode.STALE_PLAN and "seed file ops-hub-widgets.seed.json changed" in result.stderr
    assert snapshot(sandbox) == before

    # options are the plan's
    result = tool("apply", str(plan_path), "--update")
    assert result.returncode == ExitCode.BAD_INPUT and "cannot change a saved plan" in result.stderr

    # stale: the hub's domain edited in the UI between plan and apply
    with httpx.Client(base_url=sandbox.base_url) as admin:
        login(admin)
        admin.post(f"/UpdateHub?hubId={hub_id}", data={"name": "Ops Hub", "slug": "ops-hub", "domain": "ops.example.org", "kind": "domain"})
    before, posts = snapshot(sandbox), sandbox.config.faults.mutations_seen
    code, refused, stderr = tool.json("apply", str(plan_path))
    assert code == ExitCode.STALE_PLAN
    assert "stale plan: hub ops-hub's domain changed since the plan" in stderr
    assert "(plan saw ops.coulomb.social, now ops.example.org)" in stderr
    assert "where: step hub" in stderr
    assert refused["changes"] == 0 and refused["saved_plan"]["role"] == "applied"
    assert snapshot(sandbox) == before
    assert sandbox.config.faults.mutations_seen - posts == 1  # the login form, nothing else


def test_confirm_refuses_a_plan_that_changed_while_it_was_on_screen(tool: Tool, sandbox) -> None:  # noqa: ANN001
    """apply --confirm: the operator approves the plan; what is there is observed again before
    the first write, and a change made meanwhile refuses the run."""
    hub_id = _create_hub_by_hand(sandbox)
    env = tool_env(tool.tmp_path, **tool.settings)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "apply", "--confirm", "--no-trace"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tool.tmp_path,
    )
    assert proc.stderr is not None
    shown = ""
    while "Apply this plan" not in shown:
        char = proc.stderr.read(1)
        assert char, f"no plan prompt:\n{shown}"
        shown += char
    with httpx.Client(base_url=sandbox.base_url) as admin:  # someone edits the hub meanwhile
        login(admin)
        admin.post(f"/UpdateHub?hubId={hub_id}", data={"name": "Ops Hub", "slug": "ops-hub", "domain": "ops.example.org", "kind": "domain"})
    before = snapshot(sandbox)
    out, err = proc.communicate("y\n", timeout=180)
    assert proc.returncode == ExitCode.STALE_PLAN, err
    assert "stale plan: hub ops-hub's domain changed since the plan" in err and "run apply again" in err
    assert "About to" not in err  # no write was offered
    assert snapshot(sandbox) == before
