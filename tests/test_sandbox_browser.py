"""The sandbox in a real Chromium, where its JavaScript matters: IHP's XHR submit (no new
document, no load event, address bar updated) versus native submit, and the confirm()
guarding activation."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.support import ADMIN_EMAIL, ADMIN_PASSWORD, SandboxFactory, count, rows


def log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/NewSession")
    page.get_by_placeholder("E-Mail").fill(ADMIN_EMAIL)
    page.get_by_placeholder("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Login").click()
    expect(page.get_by_role("button", name="Logout")).to_be_visible()


@pytest.mark.parametrize("submit", ["js", "native"])
def test_submit_modes(page: Page, sandbox_factory: SandboxFactory, submit: str) -> None:
    running = sandbox_factory(submit=submit)
    base = running.base_url
    log_in(page, base)
    page.goto(f"{base}/Hubs/new")
    loads: list[str] = []
    page.on("load", lambda p: loads.append(p.url))
    page.evaluate("window.__sameDocument = true")  # survives only if no new document is loaded
    page.get_by_label("Name", exact=True).fill("Ops Hub")
    page.get_by_label("Slug", exact=True).fill("ops-hub")
    page.get_by_label("Domain", exact=True).fill("ops.coulomb.social")
    page.get_by_label("Kind", exact=True).select_option("domain")
    page.get_by_role("button", name="Create Hub").click()
    expect(page).to_have_url(re.compile(r"/ShowHub\?hubId=[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", name="Show Hub")).to_be_visible()
    same_document = page.evaluate("window.__sameDocument === true")
    if submit == "js":
        assert same_document and loads == [], "the XHR submit must swap the body in, without a page load"
    else:
        assert not same_document and len(loads) == 1
    assert count(running, "hubs", slug="ops-hub") == 1


@pytest.mark.parametrize("submit", ["js", "native"])
def test_validation_error_keeps_the_form(page: Page, sandbox_factory: SandboxFactory, submit: str) -> None:
    running = sandbox_factory(submit=submit)
    log_in(page, running.base_url)
    page.goto(f"{running.base_url}/Hubs/new")
    page.get_by_label("Name", exact=True).fill("Duplicate")
    page.get_by_label("Slug", exact=True).fill("inter-hub")  # the framework hub's slug
    page.get_by_label("Domain", exact=True).fill("dup.example.org")
    page.get_by_label("Kind", exact=True).select_option("domain")
    page.get_by_role("button", name="Create Hub").click()
    feedback = page.locator("#form-group-hub_slug .invalid-feedback")
    expect(feedback).to_have_text("This is already in use")
    expect(page.get_by_label("Slug", exact=True)).to_have_class(re.compile("is-invalid"))
    # IHP's XHR submit leaves the address bar alone on a re-rendered form
    expected_path = "/Hubs/new" if submit == "js" else "/CreateHub"
    assert page.url.endswith(expected_path)


def test_activation_asks_for_confirmation(page: Page, sandbox_factory: SandboxFactory) -> None:
    running = sandbox_factory()
    base = running.base_url
    log_in(page, base)
    (framework_hub,) = rows(running, "hubs")
    page.goto(f"{base}/HubCapabilityManifests/new?hubId={framework_hub.id}")
    page.get_by_label("Version", exact=True).fill("2.0")
    page.get_by_label("Capability Description", exact=True).fill("next version")
    page.get_by_label("Contact", exact=True).fill("platform@x.org")
    page.get_by_role("button", name="Create Hub Capability Manifest").click()
    expect(page.get_by_role("heading", name="Show Hub Capability Manifest")).to_be_visible()
    status = page.get_by_role("table", name="Hub Capability Manifest").get_by_role("row", name=re.compile("^Status"))

    dialogs: list[str] = []
    page.once("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.get_by_role("button", name="Activate").click()
    expect(status).to_contain_text("draft")
    assert dialogs and "Activate manifest 2.0" in dialogs[0]

    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Activate").click()
    expect(status).to_contain_text("active")
    expect(page.locator(".alert-success")).to_have_text("Manifest 2.0 activated")
    statuses = sorted(r.status for r in rows(running, "manifests"))
    assert statuses == ["active", "retired"]
