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
from sqlalchemy import delete

from flows.errors import ExitCode
from tests.support import PROJECT, SandboxFactory, Tool, login, rows, snapshot
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
    sandbox = sandbox_factory(markup="scaffold", schema="newer")
    index = _page(sandbox, "/Hubs")
    assert '<div class="table-responsive">' in index and '<table class="table">' in index
    assert "aria-label" not in index and 'class="breadcrumb"' in index
    assert ">Delete</a>" in index  # IHP's Show / Edit / Delete cells
    form = _page(sandbox, "/Hubs/new")
    assert 'class="form-group" id="form-group-hub_name"' in form and "mb-3" not in form
    assert re.search(r"<option selected disabled>Please select</option>", form)  # no value attribute
    # the generator's textField for an enum column (a customised app's select is in the others)
    assert re.search(r'<label class="" for="hub_kind">Kind</label>\s*<input type="text" name="kind"', form)
    hub_id = re.search(r"ShowHub\?hubId=([0-9a-f-]{36})", index)
    assert hub_id is not None
    show = _page(sandbox, f"/ShowHub?hubId={hub_id.group(1)}")
    assert "<dl" in show and "<table" not in show  # the record, and no child records
    new_widget = _page(sandbox, f"/Widgets/new?hubId={hub_id.group(1)}")
    assert re.search(r'<label class="" for="widget_hubId">Hub Id</label>\s*<input type="text" name="hubId"', new_widget)
    assert 'value="00000000-0000-0000-0000-000000000000"' in new_widget
    consumers = _page(sandbox, "/ApiConsumers")
    assert "<th>Hub Capability Manifest Id</th>" in consumers and "API Key" not in consumers


def test_custom_markup_has_look_alikes_outside_main(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory(markup="custom")
    form = _page(sandbox, "/Hubs/new")
    nav = form.split("<main")[0]
    assert '<label for="navbar-search">Name</label>' in nav and ">Create Hub</button>" in nav
    assert re.search(r'<label for="hub_name">Name <span class="text-danger" title="required">\*</span></label>', form)
    assert "<option selected>Choose…</option>" in form and 'class="card' in form
    # no Logout control on screen: "Sign out" waits in a closed account menu
    assert "Logout" not in form and re.search(r'<div class="dropdown-menu">\s*<form[^>]*>\s*<button[^>]*>Sign out<', form)
    with httpx.Client(base_url=sandbox.base_url) as client:
        refused = client.post("/CreateSession", data={"email": "admin@sandbox.local", "password": "wrong"})
    assert "The e-mail address or the password is not right." in refused.text


def test_another_hubs_records_on_ihps_generated_indexes_are_not_taken_for_the_hubs(
    sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser
) -> None:
    # IHP's generated WidgetsAction and manifests index list every hub's records (a "Hub Id"
    # column), and its generated show page lists none: another hub's widgets of the same names
    # and manifest of the same version must not be taken for ops-hub's.
    sandbox = sandbox_factory(markup="scaffold")
    tool = Tool(sandbox, tmp_path, browser)
    other = tmp_path / "other-seeds"
    other.mkdir()
    for seed in (PROJECT / "seeds").glob("*.json"):
        text = seed.read_text().replace("ops-hub", "other-hub").replace('"ops.', '"other.').replace("Ops Hub", "Other Hub")
        (other / seed.name).write_text(text.replace("ops.coulomb.social", "other.coulomb.social"))
    code, first, stderr = tool.json("apply", "--seeds", str(other), key_sink=f"file:{tmp_path / 'other.key.json'}")
    assert code == ExitCode.OK and first["changes"] == 12, stderr

    code, plan, stderr = tool.json("plan", "--detailed-exitcode")
    assert code == ExitCode.CHANGES_PENDING and plan["pending"] == 12, stderr  # nothing of ops-hub's there yet
    code, report, stderr = tool.json("apply")
    assert code == ExitCode.OK and report["changes"] == 12, stderr
    assert all(c["ok"] for c in report["verification"]), report["verification"]
    hubs = {h.id: h.slug for h in rows(sandbox, "hubs") if h.slug in ("ops-hub", "other-hub")}  # (and the sandbox's own)
    manifests = sorted((hubs[m.hub_id], m.version, m.status) for m in rows(sandbox, "manifests") if m.hub_id in hubs)
    assert manifests == [("ops-hub", "1.0", "active"), ("other-hub", "1.0", "active")]
    by_hub = sorted((hubs[w.hub_id], w.name) for w in rows(sandbox, "widgets") if w.hub_id in hubs)
    names = sorted(w.name for w in rows(sandbox, "widgets") if hubs[w.hub_id] == "ops-hub")
    assert by_hub == sorted([("other-hub", n) for n in names] + [("ops-hub", n) for n in names]) and len(names) == 6
    code, plan, stderr = tool.json("plan", "--detailed-exitcode")
    assert code == ExitCode.OK and plan["pending"] == 0, stderr

    # one of ops-hub's widgets gone: other-hub's of that name on the same index is not it
    w = sandbox.sandbox.t.widgets
    ops_hub_id = next(i for i, slug in hubs.items() if slug == "ops-hub")
    with sandbox.sandbox.engine.begin() as conn:
        conn.execute(delete(w).where(w.c.hub_id == ops_hub_id, w.c.name == names[0]))
    code, plan, stderr = tool.json("plan", "--detailed-exitcode")
    assert code == ExitCode.CHANGES_PENDING and plan["pending"] == 1, stderr
    code, report, stderr = tool.json("apply")
    assert code == ExitCode.OK and report["changes"] == 1, stderr
    assert sorted(x.name for x in rows(sandbox, "widgets") if x.hub_id == ops_hub_id) == names
