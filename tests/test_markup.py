"""The page objects against more than one admin UI markup: the replica as it was
(``current``), what IHP's generators write (``scaffold``: unnamed tables, Bootstrap 4 form
groups, show pages without named blocks) and a customised app (``custom``: cards, required
markers, navigation and footer with look-alike links and buttons, a placeholder option
without a value, reworded flashes). Each runs plan, apply, apply again and doctor."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from flows.errors import ExitCode
from tests.support import SandboxFactory, Tool, login, snapshot
from tests.test_apply_e2e import STEP_NAMES, assert_bootstrapped

MARKUPS = [
    pytest.param("current", "js", "older", id="current-js"),
    pytest.param("scaffold", "js", "older", id="scaffold-js"),
    pytest.param("scaffold", "native", "newer", id="scaffold-native-newer"),
    pytest.param("custom", "native", "newer", id="custom-native-newer"),
    pytest.param("custom", "js", "older", id="custom-js"),
]


@pytest.mark.parametrize(("markup", "submit", "schema"), MARKUPS)
def test_plan_apply_rerun_and_doctor(
    sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser, markup: str, submit: str, schema: str
) -> None:
    sandbox = sandbox_factory(markup=markup, submit=submit, schema=schema)
    tool = Tool(sandbox, tmp_path, browser)  # plan and apply in-process in the shared Chromium; doctor as a process
    before = snapshot(sandbox)
    posts = sandbox.config.faults.mutations_seen

    code, plan, stderr = tool.json("plan", "--detailed-exitcode")
    assert code == ExitCode.CHANGES_PENDING, stderr
    assert plan["pending"] == 12
    assert snapshot(sandbox) == before and sandbox.config.faults.mutations_seen - posts == 1  # the login only

    code, report, stderr = tool.json("apply")
    assert code == ExitCode.OK, stderr
    assert [s["name"] for s in report["steps"]] == STEP_NAMES
    assert report["changes"] == 12
    assert all(c["ok"] for c in report["verification"]), report["verification"]
    assert_bootstrapped(sandbox)
    if schema == "newer":
        assert "VSM fields filled" in report["steps"][1]["detail"]
    after = snapshot(sandbox)

    code, again, stderr = tool.json("apply")
    assert code == ExitCode.OK, stderr
    assert again["changes"] == 0 and [s["status"] for s in again["steps"]] == ["ok"] + ["unchanged"] * 7
    assert snapshot(sandbox) == after

    code, plan, stderr = tool.json("plan", "--detailed-exitcode")
    assert code == ExitCode.OK, stderr
    assert plan["pending"] == 0

    code, doctor, stderr = tool.json("doctor")
    assert code == ExitCode.OK, [f for f in doctor["findings"] if f["status"] not in ("OK", "absent (optional)")]
    assert snapshot(sandbox) == after


def _page(sandbox, path: str) -> str:  # noqa: ANN001
    with httpx.Client(base_url=sandbox.base_url) as client:
        login(client)
        return client.get(path).text


def test_scaffold_markup_is_what_ihp_generates(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(markup="scaffold")
    index = _page(sandbox, "/Hubs")
    assert '<div class="table-responsive">' in index and '<table class="table">' in index
    assert "aria-label" not in index and 'class="breadcrumb"' in index
    assert ">Delete</a>" in index  # IHP's Show / Edit / Delete cells
    form = _page(sandbox, "/Hubs/new")
    assert 'class="form-group" id="form-group-hub_name"' in form and "mb-3" not in form
    assert re.search(r"<option selected disabled>Please select</option>", form)  # no value attribute


def test_custom_markup_has_look_alikes_outside_main(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(markup="custom")
    form = _page(sandbox, "/Hubs/new")
    nav = form.split("<main")[0]
    assert '<label for="navbar-search">Name</label>' in nav and ">Create Hub</button>" in nav
    assert re.search(r'<label for="hub_name">Name <span class="text-danger" title="required">\*</span></label>', form)
    assert "<option selected>Choose…</option>" in form and 'class="card' in form
    assert form.count(">Logout</button>") == 2  # navigation and footer
    with httpx.Client(base_url=sandbox.base_url) as client:
        refused = client.post("/CreateSession", data={"email": "admin@sandbox.local", "password": "wrong"})
    assert "The e-mail address or the password is not right." in refused.text
