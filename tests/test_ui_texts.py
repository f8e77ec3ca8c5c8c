"""UI texts are data: an Inter-Hub that names things differently (a relabelled sandbox) is
driven with a ui-texts file and no code change; doctor says what to put in that file; its
--capture folder holds the screens' shape and no secret."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from flows import ui_texts
from flows.audit import scan_folder
from flows.errors import ExitCode
from pages.hubs import HubsTexts
from tests.support import ADMIN_PASSWORD, SandboxFactory, Tool, snapshot
from tests.test_apply_e2e import assert_bootstrapped

# A release that renames a form label (and its column and show-page label), a button, the
# show page's heading, a vocabulary field (and its block's heading) and the key button.
RELABEL = {
    "Domain": "Hub domain",
    "Create Widget": "Add widget",
    "Show Hub": "Hub details",
    "Declared Event Types": "Event types",
    "Generate API key": "Issue key",
}
OVERRIDES = """\
[hubs]
domain = "Hub domain"
show_heading = "Hub details"

[widgets]
create_button = "Add widget"

[manifests.vocabulary]
declaredEventTypes = "Event types"

[api_consumers]
generate_button = "Issue key"
"""


# ---------------------------------------------------------------- the file


def test_defaults_print_as_a_file_that_loads_back(tool: Tool, tmp_path: Path) -> None:
    printed = tool("ui-texts")
    assert printed.returncode == 0, printed.stderr
    data = tomllib.loads(printed.stdout)
    assert data["hubs"]["domain"] == "Domain" and data["manifests"]["vocabulary"]["declaredEventTypes"] == "Declared Event Types"
    assert ui_texts.parse(printed.stdout, "defaults.toml") == ui_texts.defaults()
    as_json = json.loads(tool("ui-texts", "--json").stdout)
    assert as_json == data
    path = tmp_path / "all.toml"
    path.write_text(printed.stdout)
    checked = tool("ui-texts", "--check", str(path))
    assert checked.returncode == 0 and "ui-texts OK" in checked.stdout


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("typo.toml", '[hubs]\ndomian = "Hub domain"\n', "hubs.domian: unknown key in hubs (did you mean 'domain'?)"),
        ("section.toml", '[hub]\ndomain = "x"\n', "hub: unknown key in the file (did you mean 'hubs'?)"),
        ("nested.json", '{"manifests": {"vocabulary": {"declaredEvents": "x"}}}', "manifests.vocabulary.declaredEvents: unknown key"),
        ("path.toml", '[hubs]\nshow_path = "/Hub"\n', "hubs.show_path: must contain {id}"),
        ("type.json", '{"widgets": {"title": 3}}', "widgets.title: must be a text"),
        ("syntax.toml", "[hubs\n", "is not valid TOML"),
    ],
)
def test_a_bad_ui_texts_file_is_refused_naming_the_key(tool: Tool, sandbox, tmp_path: Path, name: str, content: str, message: str) -> None:  # noqa: ANN001
    path = tmp_path / name
    path.write_text(content)
    before = snapshot(sandbox)
    result = tool("apply", "--ui-texts", str(path))
    assert result.returncode == ExitCode.BAD_INPUT, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert snapshot(sandbox) == before  # refused before the browser
    assert tool("ui-texts", "--check", str(path)).returncode == ExitCode.BAD_INPUT


def test_overrides_apply_and_reset() -> None:
    try:
        ui_texts.apply(ui_texts.parse(OVERRIDES, "o.toml"))
        assert HubsTexts.DOMAIN == "Hub domain" and HubsTexts.NAME == "Name"
        assert ui_texts.current()["manifests"]["vocabulary"]["declaredWidgetTypes"] == "Declared Widget Types"
    finally:
        ui_texts.reset()
    assert HubsTexts.DOMAIN == "Domain"


# ---------------------------------------------------------------- a relabelled Inter-Hub


@pytest.mark.parametrize("markup", ["current", "scaffold"])
def test_doctor_shows_the_way_on_a_relabelled_ui(sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser, markup: str) -> None:
    sandbox = sandbox_factory(relabel=RELABEL, markup=markup)
    tool = Tool(sandbox, tmp_path, browser)
    code, report, stderr = tool.json("doctor")
    assert code == ExitCode.DOCTOR_MISMATCH, stderr
    bad = {(f["screen"], f["element"]): f for f in report["findings"] if f["status"] in ("missing", "ambiguous")}
    domain = bad[("new hub form", "domain")]
    assert domain["key"] == "hubs.domain" and domain["looked_for"] == "field 'Domain'"
    assert domain["candidates"][0] == "Hub domain"  # the closest first
    assert bad[("new widget form", "create button")]["candidates"][0] == "Add widget"
    assert bad[("new widget form", "create button")]["key"] == "widgets.create_button"
    assert bad[("hubs index", "hubs table")]["candidates"][0] == "columns: Name | Slug | Hub domain | Kind"

    text = tool("doctor")
    assert text.returncode == ExitCode.DOCTOR_MISMATCH
    assert re.search(r"looked for the field 'Domain'; the screen offers \(closest first\): 'Hub domain', ", text.stdout)
    assert "to change: hubs.domain (in a --ui-texts file" in text.stdout
    assert "`ihub-bootstrap ui-texts > ui-texts.toml`" in text.stdout


@pytest.mark.parametrize(
    ("relabel", "where", "message", "offered", "key", "changes"),
    [
        (
            {"Domain": "Hub domain"},
            "where: step login, screen Hubs, /Hubs\n",  # the login is checked on the hubs index
            "the table with the columns 'Name, Slug, Domain, Kind' is not on the screen",
            "'columns: Name | Slug | Hub domain | Kind'",
            "hubs.domain",
            0,
        ),
        (
            {"Create Widget": "Add widget"},
            "where: step widgets, screen Widgets, /Widgets/new?hubId=",
            "the button 'Create Widget' is not on the screen",
            "the screen offers: 'Add widget'",  # the closest first
            "widgets.create_button",
            6,  # hub, manifest, vocabulary, activation, consumer, key: kept for the next run
        ),
    ],
    ids=["at login", "at the widgets"],
)
def test_a_run_on_a_changed_ui_names_step_screen_element_and_candidates(
    sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser, relabel: dict[str, str], where: str, message: str, offered: str, key: str, changes: int
) -> None:
    sandbox = sandbox_factory(relabel=relabel, markup="custom")
    code, report, err = Tool(sandbox, tmp_path, browser).json("apply")
    assert code == ExitCode.STEP_FAILED, err
    assert "Traceback" not in err
    assert where in err and message in err and offered in err and key in err
    assert "what to do: run `ihub-bootstrap doctor`" in err
    assert report["changes"] == changes


@pytest.mark.parametrize(("markup", "submit"), [("current", "js"), ("scaffold", "native")])
def test_an_override_file_makes_a_relabelled_ui_pass(
    sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser, markup: str, submit: str
) -> None:
    sandbox = sandbox_factory(relabel=RELABEL, markup=markup, submit=submit)
    overrides = tmp_path / "inter-hub.ui-texts.toml"
    overrides.write_text(OVERRIDES)
    tool = Tool(sandbox, tmp_path, browser)
    tool.settings["ui_texts"] = str(overrides)  # IHUB_UI_TEXTS

    code, report, stderr = tool.json("doctor")
    assert code == ExitCode.OK, [f for f in report["findings"] if f["status"] in ("missing", "ambiguous")]
    code, report, stderr = tool.json("apply")
    assert code == ExitCode.OK, stderr
    assert report["changes"] == 12
    assert_bootstrapped(sandbox)
    code, again, stderr = tool.json("apply", "--ui-texts", str(overrides))  # the flag works as well
    assert code == ExitCode.OK and again["changes"] == 0, stderr


# ---------------------------------------------------------------- doctor --capture


def test_doctor_capture_saves_the_screens_without_secrets(sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser) -> None:
    sandbox = sandbox_factory(markup="custom")
    tool = Tool(sandbox, tmp_path, browser)
    assert tool("apply").returncode == ExitCode.OK
    key = tool.stored_key()["api_key"]
    capture = tmp_path / "ui-shape"

    result = tool("doctor", "--capture", str(capture))
    assert result.returncode == ExitCode.OK, result.stdout + result.stderr
    assert f"screens saved as HTML in: {capture}" in result.stdout
    saved = sorted(p.name for p in capture.iterdir())
    for screen in ("login-form.html", "hubs-index.html", "new-hub-form.html", "hub-page.html", "manifest-page.html", "api-consumer-page.html", "new-widget-form.html"):
        assert screen in saved
    form = (capture / "new-hub-form.html").read_text()
    assert '<label for="hub_domain">Domain <span class="text-danger" title="required">*</span></label>' in form  # the shape
    assert "<script" not in form
    login_form = (capture / "login-form.html").read_text()
    assert re.search(r'<input name="password" type="password"[^>]*>', login_form)
    assert not re.search(r'type="password"[^>]*value=', login_form)
    assert scan_folder(capture, [ADMIN_PASSWORD, key]) == []
    assert not any(ADMIN_PASSWORD in p.read_text() or key in p.read_text() for p in capture.iterdir())
