"""The fault matrix: at every kind of mutating request of a fresh apply, the sandbox answers 500
or drops the connection (after doing the write, as a server whose answer is lost would); the
apply fails saying which step and which HTTP error, and nothing else; the re-run gets past the
half-done write, and in the end a plain re-run converges on exactly what a clean apply leaves.
Plus session expiry, a killed Chromium and a slow server."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from flows.apply import ApplyOptions, Report, execute
from flows.bench import process_parents
from flows.console import Console
from flows.errors import ExitCode
from flows.seeds import PROJECT_SEEDS, load_seeds
from flows.settings import ExplicitSettings
from tests.support import ADMIN_EMAIL, ADMIN_PASSWORD, SandboxFactory, apply_in_process, count, rows, tool_env

# The POSTs of a fresh apply, in order: what the matrix injects faults into.
MUTATIONS = [
    ("login", "CreateSession"),
    ("hub", "CreateHub"),
    ("manifest", "CreateHubCapabilityManifest"),
    ("manifest-vocabulary", "UpdateHubCapabilityManifest"),
    ("activate", "ActivateHubCapabilityManifest"),
    ("api-consumer", "CreateApiConsumer"),
    ("api-key", "CreateApiKey"),
    *[("widgets", "CreateWidget")] * 6,
]
# Where the matrix injects: every write, except the widgets between the first and the last (the
# same step, request and recovery as the first widget: they added full applies and nothing new).
FAULT_POINTS = [k for k in range(1, len(MUTATIONS) + 1) if k == 1 or k == len(MUTATIONS) or MUTATIONS[k - 2][0] != MUTATIONS[k - 1][0]]


# One in-process apply (a shared Chromium, no trace): the matrix runs many of them.
apply = apply_in_process


def assert_converged(sandbox) -> None:  # noqa: ANN001
    """What a clean apply leaves: one of everything, one valid key, all widgets, registries."""
    (hub,) = [h for h in rows(sandbox, "hubs") if h.slug == "ops-hub"]
    assert [(m.version, m.status) for m in rows(sandbox, "manifests") if m.hub_id == hub.id] == [("1.0", "active")]
    assert [c.name for c in rows(sandbox, "api_consumers")] == ["ops-hub"]
    assert sum(k.revoked_at is None for k in rows(sandbox, "api_keys")) == 1
    assert count(sandbox, "widgets", hub_id=hub.id) == 6
    assert (count(sandbox, "widget_types", hub_id=hub.id), count(sandbox, "event_types", hub_id=hub.id)) == (6, 8)
    assert (count(sandbox, "annotation_categories", hub_id=hub.id), count(sandbox, "policy_scopes", hub_id=hub.id)) == (4, 2)


def converge(sandbox, tmp_path: Path, browser: Browser, *, key_may_be_lost: bool = True) -> Report:  # noqa: ANN001
    """A plain re-run; if the fault lost the one-time key (``key_may_be_lost``: it can have),
    the run says so and --rotate-key ends it."""
    report = apply(sandbox, tmp_path, browser)
    if report.exit_code == ExitCode.NEEDS_DECISION and key_may_be_lost:
        assert report.error is not None and "nobody has it" in report.error.message
        report = apply(sandbox, tmp_path, browser, rotate_key=True)
    assert report.exit_code == ExitCode.OK, report.error and report.error.render()
    assert all(c.ok for c in report.verification)
    return report


def test_a_fresh_apply_makes_exactly_these_posts(sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser) -> None:
    sandbox = sandbox_factory()
    seen: list[str] = []
    sandbox.config.faults.on_mutation = lambda n, path: seen.append(path.lstrip("/"))
    report = apply(sandbox, tmp_path, browser)
    assert report.exit_code == ExitCode.OK
    # the UI path's writes, then verify's token request (not a write to Inter-Hub's data)
    assert seen == [path for _, path in MUTATIONS] + ["api/v2/token"], "the flow's writes changed: update MUTATIONS"
    assert_converged(sandbox)


def _fault_at(sandbox, fault: str, path: str, occurrence: int) -> None:  # noqa: ANN001
    """Arm ``fault`` for the ``occurrence``-th request to ``path`` of the next run (counted from
    now): the sandbox's own counter says which mutation that is when it arrives."""
    faults = sandbox.config.faults
    faults.fail_mutation = faults.drop_mutation = 0
    seen = 0

    def arm(n: int, arrived: str) -> None:
        nonlocal seen
        if arrived.lstrip("/") != path:
            return
        seen += 1
        if seen == occurrence:
            if fault == "500":
                faults.fail_mutation = n
            else:
                faults.drop_mutation = n

    faults.on_mutation = arm


def assert_fails_at(failed: Report, fault: str, k: int) -> None:
    """The run failed at write ``k`` with the injected fault, saying so, and nothing else."""
    step, path = MUTATIONS[k - 1]
    where = f"fault {fault} at write {k} ({step}, POST /{path})"
    assert failed.exit_code == ExitCode.STEP_FAILED, f"{where}: " + (failed.error.render() if failed.error else "no error")
    assert failed.error is not None
    assert f"step {step}" in (failed.error.where or ""), where
    message = failed.error.message
    assert f"POST /{path}" in message, f"{where}: {message}"
    assert ("HTTP 500" in message) if fault == "500" else ("failed: net::" in message), f"{where}: {message}"
    assert "also failed" not in message, f"{where}: more than the injected fault: {message}"  # e.g. a write made twice
    assert [s.status for s in failed.steps][-1] == "failed", where


@pytest.mark.slow
@pytest.mark.parametrize("k", FAULT_POINTS)
def test_a_lost_answer_at_every_write_then_a_plain_rerun_converges(
    sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser, k: int
) -> None:
    """At each write point the connection drops after the write was made (the answer is lost):
    a plain re-run takes the half-done state up and runs to the end, verification included.
    (A 500 leaves the server in the same state; it goes through the chain below.)"""
    sandbox = sandbox_factory()
    sandbox.config.faults.drop_mutation = k
    assert_fails_at(apply(sandbox, tmp_path, browser), "drop", k)
    sandbox.config.faults.drop_mutation = 0
    converge(sandbox, tmp_path, browser, key_may_be_lost=MUTATIONS[k - 1][0] == "api-key")
    assert_converged(sandbox)


@pytest.mark.slow
def test_a_500_at_every_write_and_each_rerun_gets_past_it(sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser) -> None:
    """A 500 at every write point, as a chain on one sandbox: each run meets the fault at the next
    point of FAULT_POINTS (in the order a fresh apply makes them), and is the re-run of the fault
    before it: it must get past that half-done write (made, answered 500) to reach its own, with
    nothing failing but that. A last plain run converges on exactly what a clean apply leaves, so
    a write made twice, or one lost, on the way shows there. (A 500 leaves the same state as a
    lost answer, whose plain re-runs to the end the test above makes: one run per point here.)"""
    fault = "500"
    sandbox = sandbox_factory()
    key_lost = False
    for k in FAULT_POINTS:
        step, path = MUTATIONS[k - 1]
        occurrence = MUTATIONS[:k].count((step, path))
        if step == "widgets":  # those made by the runs before do not come again
            occurrence -= count(sandbox, "widgets")
        _fault_at(sandbox, fault, path, occurrence)
        failed = apply(sandbox, tmp_path, browser)
        if failed.exit_code == ExitCode.NEEDS_DECISION and key_lost:  # the fault before lost the one-time key
            assert failed.error is not None and "nobody has it" in failed.error.message
            failed = apply(sandbox, tmp_path, browser, rotate_key=True)
        assert_fails_at(failed, fault, k)
        key_lost = step == "api-key"

    faults = sandbox.config.faults
    faults.on_mutation, faults.fail_mutation, faults.drop_mutation = None, 0, 0
    converge(sandbox, tmp_path, browser)
    assert_converged(sandbox)


@pytest.mark.slow
def test_session_expiry_mid_run(sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser) -> None:
    sandbox = sandbox_factory()
    sandbox.config.faults.expire_session_after = 10  # authenticated requests: the plan, then a few writes
    expired = apply(sandbox, tmp_path, browser)
    assert expired.exit_code == ExitCode.AUTH
    assert expired.error is not None and "the session ended during step" in expired.error.message
    assert "ihub-bootstrap login" in (expired.error.hint or "")
    assert expired.changes >= 1  # it did end mid-run
    sandbox.config.faults.expire_session_after = 0  # a fresh session
    converge(sandbox, tmp_path, browser, key_may_be_lost=False)  # the last fault was at a widget
    assert_converged(sandbox)


def _descendants(root: int) -> list[int]:
    parents = process_parents()
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        children = [p for p, parent in parents.items() if parent == pid]
        found.extend(children)
        frontier.extend(children)
    return found


def _is_chromium(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"chrom" in f.read().split(b"\0")[0]
    except OSError:
        return False


@pytest.mark.slow
def test_chromium_killed_mid_run(sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser) -> None:
    sandbox = sandbox_factory()
    tool: dict[str, subprocess.Popen[str]] = {}

    def kill_the_browser(n: int, path: str) -> None:
        if n == 5 and "proc" in tool:  # while activating the manifest
            for pid in _descendants(tool["proc"].pid):
                if _is_chromium(pid):
                    os.kill(pid, signal.SIGKILL)

    sandbox.config.faults.on_mutation = kill_the_browser
    env = tool_env(
        tmp_path,
        base=sandbox.base_url,
        email=ADMIN_EMAIL,
        password=ADMIN_PASSWORD,
        runs_dir=str(tmp_path / "runs"),
        key_sink=f"file:{tmp_path / 'ops-hub.key.json'}",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "apply", "--json"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    tool["proc"] = proc
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == ExitCode.STEP_FAILED, err
    assert "Traceback" not in err and "the browser stopped answering" in err
    assert "Future exception" not in err, err
    assert json.loads(out)["steps"][-1]["status"] == "failed"
    sandbox.config.faults.on_mutation = None
    converge(sandbox, tmp_path, browser)
    assert_converged(sandbox)


@pytest.mark.slow
def test_a_slow_server_needs_no_tuning(sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser) -> None:
    seeds_dir = tmp_path / "seeds"
    shutil.copytree(PROJECT_SEEDS, seeds_dir, ignore=shutil.ignore_patterns("schema"))
    widgets = json.loads((seeds_dir / "ops-hub-widgets.seed.json").read_text())
    widgets["widgets"] = widgets["widgets"][:2]  # fewer round trips: the point is 1 s per response
    (seeds_dir / "ops-hub-widgets.seed.json").write_text(json.dumps(widgets))
    sandbox = sandbox_factory()
    sandbox.config.faults.latency_ms = 1000
    settings = ExplicitSettings(  # the default timeout: nothing tuned for a slow server
        base=sandbox.base_url, email=ADMIN_EMAIL, password=ADMIN_PASSWORD, runs_dir=tmp_path / "runs",
        key_sink=f"file:{tmp_path / 'ops-hub.key.json'}",
    )
    report = execute(settings, load_seeds(seeds_dir), ApplyOptions(trace=False, browser=browser), Console(io.StringIO()))
    assert report.exit_code == ExitCode.OK, report.error and report.error.render()
    assert report.changes == 8 and all(c.ok for c in report.verification)  # 6 setup writes, 2 widgets
    assert threading.active_count() >= 1
