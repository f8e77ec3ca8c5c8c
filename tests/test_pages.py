"""Each page object against the sandbox directly (real Chromium, both submit modes where a
form is sent): what it reads, what it writes, and what the database holds afterwards."""

from __future__ import annotations

import contextlib
import re
import time
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from flows.seeds import load_seeds
from pages.api_consumers import ApiConsumersPage
from pages.base import CHOICE, PROBE_HEADER, REFERENCE, TEXT, FormError, NotAsExpected, OffTarget, Row, SessionExpired, first_line, norm, request_watch, tolerant
from pages.hubs import HubsPage, HubsTexts
from pages.login import LoginPage
from pages.manifests import ManifestsPage, ManifestsTexts
from pages.widgets import WidgetsPage
from tests.support import ADMIN_EMAIL, ADMIN_PASSWORD, SandboxFactory, refusing_origin, rows

SEEDS = load_seeds()
HUB = SimpleNamespace(name="Ops Hub", slug="ops-hub", domain="ops.coulomb.social", kind="domain", hub_family="vsm", vsm_function="OPS", vsm_system="S1")


def logged_in(page: Page, base: str) -> None:
    LoginPage(page, base, 10).log_in(ADMIN_EMAIL, ADMIN_PASSWORD)


@pytest.mark.parametrize("submit", ["js", "native"])
def test_login_page(page: Page, sandbox_factory: SandboxFactory, submit: str) -> None:
    base = sandbox_factory(submit=submit).base_url
    login = LoginPage(page, base, 10)
    with pytest.raises(FormError, match="Invalid Credentials"):
        login.log_in(ADMIN_EMAIL, "wrong password")
    with pytest.raises(SessionExpired):
        HubsPage(page, base, 10).list()  # no session yet: the login page shows instead
    login.log_in(ADMIN_EMAIL, ADMIN_PASSWORD)
    expect(login.logout_button).to_be_visible()


@pytest.mark.parametrize("submit", ["js", "native"])
def test_login_needs_no_logout_control_on_screen(page: Page, sandbox_factory: SandboxFactory, submit: str) -> None:
    # A customised layout: its "Sign out" waits in a closed account menu; no Logout anywhere.
    base = sandbox_factory(markup="custom", submit=submit).base_url
    login = LoginPage(page, base, 10)
    with pytest.raises(FormError, match="not right"):
        login.log_in(ADMIN_EMAIL, "wrong password")
    login.log_in(ADMIN_EMAIL, ADMIN_PASSWORD)
    expect(login.logout_button).to_have_count(0)
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    assert "ops-hub" not in [h.slug for h in HubsPage(page, base, 10).list()]  # the session holds: the index, not the login page


def test_an_operators_login_is_not_done_on_a_page_between(page: Page, sandbox_factory: SandboxFactory) -> None:
    # No Logout control anywhere (custom markup), and between the password and the admin pages
    # a step without a password box (a second factor): an operator's login waits on, while the
    # session does not open an admin page, a mistyped code that the page refuses (HTTP 4xx)
    # included; a control named as the layout's Logout ends it, and so does the next page once
    # the session opens the hubs index.
    base = sandbox_factory(markup="custom").base_url
    login = LoginPage(page, base, 10)
    login.open()
    page.evaluate(
        """() => {
            document.body.innerHTML = '<main><h1>Second factor</h1><form method=post action=/VerifyCode><label>Code <input name=code></label></form></main>';
            setTimeout(() => document.querySelector('form').submit(), 300);
        }"""
    )
    started = time.monotonic()
    with page.expect_response(base + "/VerifyCode") as refused:
        with pytest.raises(NotAsExpected, match="nothing happened within 2 s"):
            login.await_operator(what="log in by hand", timeout_s=2, admin_path=HubsTexts.INDEX_PATH)
    assert time.monotonic() - started >= 2 and refused.value.status >= 400
    assert request_watch(page).failures == []  # nor left for the next step to trip on
    # the second factor passed while the tool waits: the session is logged in, then the next page shows
    page.evaluate(
        """([email, password]) => setTimeout(async () => {
            await fetch('/CreateSession', {method: 'POST', body: new URLSearchParams({email, password})});
            history.pushState({}, '', '/Welcome');
        }, 500)""",
        [ADMIN_EMAIL, ADMIN_PASSWORD],
    )
    login.await_operator(what="log in by hand", timeout_s=10, admin_path=HubsTexts.INDEX_PATH)
    assert page.url == base + "/Welcome"
    expect(login.logout_button).to_have_count(0)


@pytest.mark.parametrize("elsewhere_answers", [False, True], ids=["refused", "answering"])
@pytest.mark.parametrize("submit", ["js", "native"])
def test_an_operators_login_that_inter_hub_sends_elsewhere_stops_at_once(
    page: Page, sandbox_factory: SandboxFactory, submit: str, elsewhere_answers: bool
) -> None:
    # Inter-Hub answers the login with a redirect to another origin (its own idea of its
    # address is not the base): the operator's wait, which lets the page's failures pass (a
    # mistyped code), stops at once there, naming that origin, not after its whole timeout.
    # Refused there (as the origin guard's proxy does), or answering with a login form of its
    # own (where nothing refuses it, the page objects' own check is the last line: a password
    # box elsewhere is not "logged in").
    base = sandbox_factory(submit=submit).base_url
    login = LoginPage(page, base, 10)
    login.open()
    with contextlib.ExitStack() as stack:
        elsewhere = sandbox_factory().base_url if elsewhere_answers else stack.enter_context(refusing_origin())
        page.route(base + "/CreateSession", lambda route: route.fulfill(status=302, headers={"Location": elsewhere + "/NewSession"}))
        login.email.fill(ADMIN_EMAIL)
        login.password.fill(ADMIN_PASSWORD)
        login.login_button.click()
        started = time.monotonic()
        said = f"the browser is on {elsewhere}, not on {base}" if elsewhere_answers and submit == "native" else (
            f"Inter-Hub sent the browser to {elsewhere}, not to {base}"
        )
        with pytest.raises(OffTarget, match=f"log in by hand: {said}"):
            login.await_operator(what="log in by hand", timeout_s=8, admin_path=HubsTexts.INDEX_PATH)
    assert time.monotonic() - started < 5


def test_an_operators_login_ends_on_a_logout_control(page: Page, sandbox_factory: SandboxFactory) -> None:
    # On a page between (no password box, the admin page does not open yet), a Logout control on
    # screen is what ends it: a collapsed menu's (in the accessibility tree, of no size) does not.
    base = sandbox_factory(markup="custom").base_url
    login = LoginPage(page, base, 10)
    login.open()
    page.evaluate("() => { document.body.innerHTML = '<main><h1>Second factor</h1></main>'; }")
    collapsed = '<a href="#" style="display:inline-block;width:0;height:0;overflow:hidden">Logout</a>'
    page.evaluate("html => document.body.insertAdjacentHTML('beforeend', html)", collapsed)
    with pytest.raises(NotAsExpected, match="nothing happened within 1 s"):
        login.await_operator(what="log in by hand", timeout_s=1, admin_path=HubsTexts.INDEX_PATH)
    page.evaluate("html => document.body.insertAdjacentHTML('beforeend', html)", '<a href="#">Logout</a>')
    login.await_operator(what="log in by hand", timeout_s=10, admin_path=HubsTexts.INDEX_PATH)


@pytest.mark.parametrize("submit", ["js", "native"])
def test_an_operators_login_needs_no_logout_control(page: Page, sandbox_factory: SandboxFactory, submit: str) -> None:
    # The customised layout keeps its "Sign out" in a closed menu, and a mistyped password comes
    # first: the operator's second try is in once the hubs index opens with the session.
    base = sandbox_factory(markup="custom", submit=submit).base_url
    login = LoginPage(page, base, 10)
    login.open()
    login.email.fill(ADMIN_EMAIL)
    login.password.fill("mistyped")
    login.login_button.click()
    expect(page.get_by_role("alert")).to_contain_text("not right")  # this layout's wording
    with pytest.raises(NotAsExpected, match="nothing happened within 1 s"):
        login.await_operator(what="log in by hand", timeout_s=1, admin_path=HubsTexts.INDEX_PATH)
    login.password.fill(ADMIN_PASSWORD)
    login.login_button.click()
    login.await_operator(what="log in by hand", timeout_s=10, admin_path=HubsTexts.INDEX_PATH)
    expect(login.logout_button).to_have_count(0)
    assert "ops-hub" not in [h.slug for h in HubsPage(page, base, 10).list()]  # the session holds


def test_an_operators_login_is_asked_once_per_address_and_again_after_no_answer(page: Page, sandbox_factory: SandboxFactory) -> None:
    # Logged in already, on a page with no password box and no Logout control (custom markup):
    # the hubs index is the proof. Its answers here: a redirect to a second factor's page (not
    # the login page: not in), then server errors (no answer: asked again after a while, a
    # longer one each time), then the page as it is.
    base = sandbox_factory(markup="custom").base_url
    login = LoginPage(page, base, 10)
    login.log_in(ADMIN_EMAIL, ADMIN_PASSWORD)
    assert login.admits(HubsTexts.INDEX_PATH, timeout_s=5) == "in"
    # a redirect is "out" even where it ends on a page that opens (the sandbox's / sends to /Hubs):
    # a second factor's gate may answer the admin page with its own
    assert login.admits("/", timeout_s=5) == "out"
    answers = [302, 500, 500]
    asked: list[float] = []

    def index(route) -> None:  # noqa: ANN001
        if PROBE_HEADER not in route.request.headers:
            route.continue_()
            return
        asked.append(time.monotonic())
        status = answers.pop(0) if answers else None
        if status == 302:
            route.fulfill(status=302, headers={"Location": "/SecondFactor"})
        elif status == 500:
            route.fulfill(status=500, body="busy")
        else:
            route.continue_()

    page.route(base + HubsTexts.INDEX_PATH, index)
    page.route(base + "/SecondFactor", lambda route: route.fulfill(status=200, content_type="text/html", body="<h1>Code</h1>"))
    with pytest.raises(NotAsExpected, match="nothing happened within 2 s"):
        login.await_operator(what="log in by hand", timeout_s=2, admin_path=HubsTexts.INDEX_PATH)
    assert len(asked) == 1  # redirected: not asked again while the address stays
    page.evaluate("() => history.pushState({}, '', '/Welcome')")  # the next page: two server errors, then in
    login.await_operator(what="log in by hand", timeout_s=10, admin_path=HubsTexts.INDEX_PATH)
    assert len(asked) == 4 and answers == []
    assert asked[2] - asked[1] >= 1 and asked[3] - asked[2] >= 2  # asked again after a while, then a longer one
    assert page.url == base + "/Welcome"  # the page was left as it was
    expect(login.logout_button).to_have_count(0)


def test_the_tools_own_requests_are_not_the_pages_failures(page: Page, sandbox_factory: SandboxFactory) -> None:
    # The session check (LoginPage.admits) asks from the operator's page; a request of its cut
    # off (the page moved on) is not a failure of the page's, even the redirect's next request,
    # which does not show the header yet; nor is one the page's script sends elsewhere. The
    # page's own cut-off request is one, and so is a page load elsewhere.
    login = LoginPage(page, sandbox_factory().base_url, 10)
    login.open()
    cut_off = """async header => {
        const stop = new AbortController();
        const r = await fetch('/Hubs', {headers: header ? {[header]: '1'} : {}, signal: stop.signal});
        stop.abort();
        return r.redirected;
    }"""
    with page.expect_event("requestfailed") as failed:
        assert page.evaluate(cut_off, PROBE_HEADER) is True  # to the login page, then cut off
    assert failed.value.redirected_from is not None and PROBE_HEADER not in failed.value.headers
    assert request_watch(page).failures == []
    # a page's script posting elsewhere (an analytics beacon; a loopback port that refuses), a
    # frame of another origin in the page (a help widget)
    with refusing_origin() as elsewhere, page.expect_event("requestfailed"):
        page.evaluate("url => fetch(url, {method: 'POST', mode: 'no-cors'}).catch(() => {})", elsewhere + "/api/event")
    add_frame = "url => { const f = document.createElement('iframe'); f.src = url; document.body.append(f); }"
    with refusing_origin() as elsewhere, page.expect_event("requestfailed") as failed:
        page.evaluate(add_frame, elsewhere + "/help")
    assert failed.value.resource_type == "document"
    # nor is a frame's that starts on the base (a help page there, gone)
    with page.expect_response(lambda r: r.url.endswith("/HelpWidget")) as answered:
        page.evaluate(add_frame, "/HelpWidget")
    assert answered.value.status == 404
    assert request_watch(page).failures == []
    with page.expect_event("requestfailed"):
        page.evaluate(cut_off, None)
    assert request_watch(page).failures == ["GET /NewSession failed: net::ERR_ABORTED"]
    # but a page load elsewhere is the page's own (a form whose action is another origin)
    request_watch(page).reset()
    with refusing_origin() as elsewhere, page.expect_event("requestfailed") as failed:
        page.evaluate(
            "url => { const f = document.createElement('form'); f.method = 'POST'; f.action = url; document.body.append(f); f.submit(); }",
            elsewhere + "/CreateHub",
        )
    assert request_watch(page).failures == [f"POST /CreateHub failed: {failed.value.failure}"]


def test_a_page_on_another_origin_is_named_by_its_origin(page: Page, sandbox_factory: SandboxFactory) -> None:
    base, elsewhere = sandbox_factory().base_url, sandbox_factory().base_url
    login = LoginPage(page, base, 10)
    page.goto(elsewhere + "/NewSession?next=/Hubs")
    with pytest.raises(OffTarget) as raised:
        login.ensure_on_target("log in")
    assert raised.value.message == f"log in: the browser is on {elsewhere}, not on {base}"
    assert raised.value.url == elsewhere
    # on no origin: a blank page, Chromium's error page for a load that failed (which the
    # failure itself names); and the base's origin at any path
    page.goto("about:blank")
    login.ensure_on_target("log in")
    page.goto(base + "/NewSession")
    with refusing_origin() as nowhere, pytest.raises(PlaywrightError):
        page.goto(nowhere + "/Hubs")
    expect(page).to_have_url(re.compile(r"^chrome-error:"))
    login.ensure_on_target("log in")


def test_a_logout_control_counts_where_the_body_has_no_height(page: Page, sandbox_factory: SandboxFactory) -> None:
    # An `or` lists <body> before what it holds: a body of no height (all its content fixed)
    # must not hide the Logout control on top of it.
    login = LoginPage(page, sandbox_factory().base_url, 10)
    page.set_content('<body style="margin:0;height:0"><nav style="position:fixed;top:0"><a href="#">Logout</a></nav></body>')
    expect(login.logged_in).to_be_visible()
    expect(login.logged_in).to_have_text("Logout")
    page.set_content('<body style="margin:0;height:0"><nav style="position:fixed;top:0">Welcome</nav></body>')
    expect(login.logged_in).to_have_count(0)
    page.set_content("<body><form><input placeholder=E-Mail><input type=password placeholder=Password></form></body>")
    expect(login.logged_in).to_have_count(0)


@pytest.mark.parametrize(("submit", "schema"), [("js", "older"), ("native", "newer")])
def test_hubs_page(page: Page, sandbox_factory: SandboxFactory, submit: str, schema: str) -> None:
    sandbox = sandbox_factory(submit=submit, schema=schema)
    logged_in(page, sandbox.base_url)
    hubs = HubsPage(page, sandbox.base_url, 10)
    assert "ops-hub" not in [h.slug for h in hubs.list()]
    saved = hubs.create(HUB)
    if schema == "newer":
        assert saved.optional_filled == ["hub_family", "vsm_function", "vsm_system"] and saved.optional_absent == []
    else:
        assert saved.optional_filled == [] and saved.optional_absent == ["hub_family", "vsm_function", "vsm_system"]
    listed = {h.slug: h for h in hubs.list()}
    assert listed["ops-hub"].id == saved.id and listed["ops-hub"].domain == "ops.coulomb.social"
    details = hubs.show(saved.id)
    assert details.values["domain"] == "ops.coulomb.social" and details.manifests == []
    assert ("vsm_system" in details.values) == (schema == "newer")

    hubs.edit(saved.id, {"domain": "ops.example.org"})  # only that field; the rest stays
    assert hubs.show(saved.id).values == {**details.values, "domain": "ops.example.org"}
    (row,) = [h for h in rows(sandbox, "hubs") if h.slug == "ops-hub"]
    assert (row.name, row.domain, row.kind) == ("Ops Hub", "ops.example.org", "domain")

    with pytest.raises(FormError) as refused:  # the framework hub's slug is taken
        hubs.create(SimpleNamespace(**{**vars(HUB), "slug": "inter-hub", "name": "Dup"}))
    assert "already in use" in refused.value.message and refused.value.field == "Slug"


@pytest.mark.parametrize("submit", ["js", "native"])
def test_saving_succeeds_where_ihps_generated_controllers_land(page: Page, sandbox_factory: SandboxFactory, submit: str) -> None:
    # IHP's generated controllers land on the index after a create and on the edit form after an
    # update, each with a success flash; the record's id is then found where it is listed
    sandbox = sandbox_factory(markup="scaffold", submit=submit)
    logged_in(page, sandbox.base_url)
    hubs = HubsPage(page, sandbox.base_url, 10)
    saved = hubs.create(HUB)
    assert saved.id is None and hubs.path == "/Hubs"  # the index, which names no id in its address
    (row,) = [h for h in rows(sandbox, "hubs") if h.slug == "ops-hub"]
    assert hubs.listed_id("ops-hub") == str(row.id)
    hubs.edit(str(row.id), {"domain": "ops.example.org"})
    assert hubs.path == "/EditHub" and hubs.saved_flash.is_visible()
    assert [h.domain for h in rows(sandbox, "hubs") if h.slug == "ops-hub"] == ["ops.example.org"]

    # A flash the form shows already says nothing about this submit (flashes live in the
    # session): one left by a request whose redirect was not followed is not taken for success.
    page.request.post(f"{sandbox.base_url}/UpdateHub?hubId={row.id}", form={"name": "Ops Hub", "slug": "ops-hub",
                      "domain": "ops.example.net", "kind": "domain"}, max_redirects=0)
    hubs.timeout_s = 3
    with pytest.raises(NotAsExpected, match="nothing happened"):
        hubs.edit(str(row.id), {"domain": "ops.example.com"})
    assert hubs.saved_flash.is_visible()  # the edit form, with the stale flash


@pytest.mark.parametrize("before_reading", [False, True], ids=["isolated context", "page context"])
def test_a_screen_is_checked_the_same_in_either_script_context(page: Page, sandbox_factory: SandboxFactory, before_reading: bool) -> None:
    """A show page's heading is counted in the page's own script context when the page is read
    next (pages.base.AdminPage.one): there, as in Playwright's isolated one, a heading that is
    not there or is there twice is named, with what the screen offers."""
    sandbox = sandbox_factory()
    logged_in(page, sandbox.base_url)
    hubs = HubsPage(page, sandbox.base_url, 10)
    hub_id = hubs.create(HUB).id
    with pytest.raises(NotAsExpected, match=r"the heading 'Show Hub' is not on the screen; the screen offers: 'Hubs"):
        hubs.list()
        hubs.one(hubs.show_heading, before_reading=before_reading)
    hubs.show(hub_id)
    assert hubs.one(hubs.show_heading, before_reading=before_reading).count() == 1
    with pytest.raises(NotAsExpected, match=r"the table with the columns 'Name, Slug, Domain, Kind' is not on the screen"):
        hubs.read_record(hubs.index_table)  # a scope that is not there is named as such
    page.evaluate("() => { const h = document.querySelector('h1'); h.after(h.cloneNode(true)); }")
    with pytest.raises(NotAsExpected, match=r"the heading 'Show Hub' matches 2 elements"):
        hubs.one(hubs.show_heading, before_reading=before_reading)


@pytest.mark.parametrize("submit", ["js", "native"])
def test_manifests_page(page: Page, sandbox_factory: SandboxFactory, submit: str) -> None:
    sandbox = sandbox_factory(submit=submit)
    logged_in(page, sandbox.base_url)
    hub_id = HubsPage(page, sandbox.base_url, 10).create(HUB).id
    manifests = ManifestsPage(page, sandbox.base_url, 10)
    seed = SEEDS.manifest
    manifest_id = manifests.create(hub_id, "1.0", seed.capability_description, seed.contact)
    draft = manifests.show(manifest_id)
    assert (draft.version, draft.status, draft.hub_slug) == ("1.0", ManifestsTexts.DRAFT, "ops-hub")
    assert draft.contact == seed.contact and all(v == [] for v in draft.vocabulary.values())

    manifests.save(manifest_id, seed.vocabulary(), contact="ops@coulomb.social")
    saved = manifests.show(manifest_id)
    assert saved.vocabulary["declaredWidgetTypes"][0]["key"] == seed.declared_widget_types[0].key
    assert len(saved.vocabulary["declaredEventTypes"]) == len(seed.declared_event_types)
    assert saved.contact == "ops@coulomb.social" and saved.capability_description == seed.capability_description

    manifests.activate(manifest_id)  # accepts the page's confirm()
    assert manifests.show(manifest_id).status == ManifestsTexts.ACTIVE
    assert [m.status for m in rows(sandbox, "manifests") if str(m.id) == manifest_id] == ["active"]


@pytest.mark.parametrize("submit", ["js", "native"])
def test_an_ihp_action_link_activates_after_its_confirm(page: Page, sandbox_factory: SandboxFactory, submit: str) -> None:
    # Activate as IHP's .js-delete link (DESIGN.md: "Delete/activate links that ask confirm()"),
    # in the scaffold markup, where every save lands where IHP's generated controllers send it
    # (and with IHP's generated forms, show page and indexes: a "Hub Id" box holding the nil
    # UUID, text boxes for Kind, no manifests on the hub's page, every hub's on the index)
    sandbox = sandbox_factory(markup="scaffold", submit=submit)
    logged_in(page, sandbox.base_url)
    hubs = HubsPage(page, sandbox.base_url, 10)
    manifests = ManifestsPage(page, sandbox.base_url, 10)
    other = SimpleNamespace(**{**vars(HUB), "name": "Other Hub", "slug": "other-hub"})
    for hub in (other, HUB):
        hubs.create(hub)
        hub_id = hubs.listed_id(hub.slug)
        page.goto(sandbox.base_url + ManifestsTexts.NEW_PATH.format(hub_id=hub_id))
        expect(page.get_by_label("Hub Id")).to_have_value("00000000-0000-0000-0000-000000000000")
        assert manifests.create(hub_id, "1.0", SEEDS.manifest.capability_description, SEEDS.manifest.contact) is None
    assert {str(m.hub_id) for m in rows(sandbox, "manifests")} == {str(h.id) for h in rows(sandbox, "hubs")}
    assert hubs.show(hub_id).manifests is None  # the generated show page lists no child records
    (listed,) = manifests.list(hub_id, hub_slug=HUB.slug)  # of the index's two 1.0 rows, the hub's
    manifest_id = listed.id
    assert [str(m.hub_id) for m in rows(sandbox, "manifests") if str(m.id) == manifest_id] == [hub_id]
    manifests.save(manifest_id, SEEDS.manifest.vocabulary())
    assert manifests.show(manifest_id).status == ManifestsTexts.DRAFT
    expect(manifests.root.get_by_role("link", name="Activate")).to_be_visible()  # no button, no form
    manifests.activate(manifest_id, reuse_open_page=True)  # accepts the link's confirm()
    assert [m.status for m in rows(sandbox, "manifests") if str(m.id) == manifest_id] == ["active"]


def test_a_hub_column_is_read_by_id_slug_or_link_and_never_guessed(page: Page) -> None:
    hub_id = "418d92c7-be27-4ef5-a688-3410531a3e01"
    other_id = "00000000-0000-0000-0000-000000000001"

    def belongs(cell: str, links: dict[str, str] | None = None, column: str = "Hub") -> bool | None:
        return Row({norm(column): cell}, {norm(k): v for k, v in (links or {}).items()}).belongs_to("Hub", hub_id, "ops-hub", "hubId")

    for column in ("Hub", "Hub Id"):  # a select's label, and IHP's generated index column
        assert belongs(hub_id, column=column) is True
        assert belongs(hub_id.upper(), column=column) is True
        assert belongs("ops-hub", column=column) is True
        assert belongs(other_id, column=column) is False
    assert belongs("Ops Hub", {"Ops Hub": f"/ShowHub?hubId={hub_id}"}) is True  # a name linking to the hub's page
    assert belongs("Other Hub", {"Other Hub": f"/ShowHub?hubId={other_id}"}) is False
    # a name or a slug without a link: another hub may bear it, or this one under other words
    for cell in ("Ops Hub", "ops", "opshub", "2024"):
        assert belongs(cell) is None, cell
    assert Row({"name": "x"}, {}).belongs_to("Hub", hub_id, "ops-hub", "hubId") is True  # no such column: the hub's index
    # a row that cannot be told stops the read, saying what the column must show
    widgets = WidgetsPage(page, "http://127.0.0.1:9", 5)
    mine = Row({"hubid": hub_id, "name": "a"}, {})
    assert widgets.rows_of([mine, Row({"hubid": other_id, "name": "a"}, {})], "Hub", hub_id, "ops-hub", "hubId") == [mine]
    with pytest.raises(NotAsExpected, match="cannot tell to be ops-hub or not: it reads that column where it gives"):
        widgets.rows_of([mine, Row({"hubid": "Ops Hub"}, {})], "Hub", hub_id, "ops-hub", "hubId")


def test_a_field_ihps_generator_writes_as_a_text_box_is_typed_into(page: Page) -> None:
    # Kind, Widget Type, the consumer's manifest: textField where a customised app has a select;
    # the Hub Id box: set unless it holds the hub's id; a box that takes no typing: said as such
    page.set_content(
        '<main><form><label for="k">Kind</label><input id="k" name="kind">'
        '<label for="h">Hub Id</label><input id="h" name="hubId" value="00000000-0000-0000-0000-000000000000">'
        '<label for="t">Widget Type</label><input id="t" name="widgetType" readonly></form></main>'
    )
    widgets = WidgetsPage(page, "http://127.0.0.1:9", 1)
    hubs = HubsPage(page, "http://127.0.0.1:9", 1)
    hubs._choose(hubs.kind, "domain")
    expect(page.get_by_label("Kind")).to_have_value("domain")
    widgets.set_reference(widgets.hub, "418D92C7-be27-4ef5-a688-3410531a3e01")
    expect(page.get_by_label("Hub Id")).to_have_value("418D92C7-be27-4ef5-a688-3410531a3e01")
    with pytest.raises(NotAsExpected, match="the Widget Type field is a text box that takes no typing"):
        widgets._choose(widgets.widget_type, "ops.incident-board")


_FORM = (
    '<main><form>'
    '<label for="n">Name</label><input id="n" name="name" value="old">'
    '<label for="h">Hub Id</label><input id="h" name="hubId" value="00000000-0000-0000-0000-000000000000">'
    '<label for="t">Widget Type</label><select id="t" name="widgetType"><option value="a">A</option><option value="b">B</option></select>'
    '<label for="c">Config</label><textarea id="c" name="config"></textarea>'
    '</form></main>'
    "<script>window.edits = []; document.addEventListener('input', e => edits.push(e.target.id));</script>"
)


_VALUES_JS = "() => [...document.querySelectorAll('input, select, textarea')].map(e => e.value)"


def _spied(page: Page, monkeypatch: pytest.MonkeyPatch) -> tuple[WidgetsPage, list[str]]:
    """The widgets page object, its field-by-field path recording the fields it is given (and
    setting nothing)."""
    widgets = WidgetsPage(page, "http://127.0.0.1:9", 1)
    called: list[str] = []
    for name in ("_fill_text", "_choose", "set_reference"):
        monkeypatch.setattr(WidgetsPage, name, lambda self, target, value, *rest: called.append(target.text))
    return widgets, called


def _fill_widget(widgets: WidgetsPage, *, hub: str = "418D92C7-be27-4ef5-a688-3410531a3e01", name: str = "new", config: str = "{}") -> None:
    widgets.fill_form(
        (widgets.hub, hub, REFERENCE),
        (widgets.name, name, TEXT),
        (widgets.widget_type, "b", CHOICE),
        (widgets.config, config, TEXT),
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(st.characters(blacklist_characters="\r\n"), max_size=40), config=st.text(max_size=80))
@example(name="O'Brien \"Zoë\" </textarea><script>", config='{"a": "b\n\tc"}\r\n')
def test_a_form_is_filled_in_one_call_with_the_values_as_given(page: Page, monkeypatch: pytest.MonkeyPatch, name: str, config: str) -> None:
    # every field there once and ready: one call sets them all, the Hub Id box included (unless
    # it holds the hub's id already), fires an input event for each, and the field-by-field path
    # is never taken; the value is what the page holds (quotes, accents, markup; a text area's
    # line breaks as a text area keeps them)
    page.set_content(_FORM)
    widgets, called = _spied(page, monkeypatch)
    _fill_widget(widgets, name=name, config=config)
    assert called == []
    assert page.get_by_label("Name").input_value() == name
    assert page.get_by_label("Config").input_value() == config.replace("\r\n", "\n").replace("\r", "\n")
    expect(page.get_by_label("Widget Type")).to_have_value("b")
    expect(page.get_by_label("Hub Id")).to_have_value("418D92C7-be27-4ef5-a688-3410531a3e01")
    assert page.evaluate("edits") == ["h", "n", "t", "c"]
    page.evaluate("edits.length = 0")
    widgets.fill_form((widgets.hub, "418d92c7-BE27-4ef5-a688-3410531a3e01", REFERENCE))  # holds it already, case aside
    assert called == [] and page.evaluate("edits") == []


def test_a_form_is_found_as_get_by_label_finds_it(page: Page, monkeypatch: pytest.MonkeyPatch) -> None:
    # no Hub field (a customised app fills it from the address, hidden), the fields in two
    # <main>s, one labelled by aria-label, one in an open shadow root: one call still fills them
    page.set_content(
        '<main><form><input type="hidden" name="hubId" value="x"><label for="n">Name</label><input id="n"></form></main>'
        '<main><select aria-label="Widget Type"><option value="b">B</option></select><div id="host"></div></main>'
        "<script>host.attachShadow({mode: 'open'}).innerHTML = '<label for=\"c\">Config</label><textarea id=\"c\"></textarea>';</script>"
    )
    widgets, called = _spied(page, monkeypatch)
    _fill_widget(widgets, config='{"a": 1}')
    assert called == []
    assert page.get_by_label("Name").input_value() == "new" and page.get_by_label("Config").input_value() == '{"a": 1}'
    assert page.evaluate("document.querySelector('[name=hubId]').value") == "x"


@pytest.mark.parametrize(
    ("label", "found"),
    [
        ("Name", True),
        ("Name *", True),
        ("  name: ", True),
        ("<span>Na</span><span>me</span>", True),
        ("Name<style>p { color: red }</style>", True),
        ("Name<script>window.x = 1</script>", True),
        ("Na me", False),
        ("_Name", False),
        ("Names", False),
    ],
)
def test_a_field_is_filled_in_one_call_exactly_where_get_by_label_finds_it(
    page: Page, monkeypatch: pytest.MonkeyPatch, label: str, found: bool
) -> None:
    # the one call finds a field by the locator's own pattern, the label's text read as
    # Playwright reads it (no <style>, no <script>): found where get_by_label finds it, into that
    # very element; where it does not, every field goes field by field (and says it is missing)
    page.set_content(_FORM.replace('<label for="n">Name</label>', f'<label for="n">{label}</label>'))
    assert (page.get_by_label(tolerant("Name")).count() == 1) == found
    widgets, called = _spied(page, monkeypatch)
    _fill_widget(widgets)
    if found:
        assert called == [] and page.get_by_label(tolerant("Name")).input_value() == "new"
    else:
        assert called == ["Hub", "Name", "Widget Type", "Config"] and page.locator("#n").input_value() == "old"


def test_a_form_is_filled_in_one_call_as_playwright_reads_labels_and_aria_disabled(page: Page, monkeypatch: pytest.MonkeyPatch) -> None:
    # a label holding what a regular expression means otherwise (a ui-texts label may), and a
    # form that says aria-disabled while each field says it is not (the nearest one counts)
    class Texts:
        UI_TEXTS_SECTION = "test"
        NOTE = "Note (opt.) $1 [x]|*"

    page.set_content(
        '<main><form aria-disabled="true"><label for="o">Note (opt.) $1 [x]|*</label><input id="o" aria-disabled="false"></form></main>'
    )
    widgets, called = _spied(page, monkeypatch)
    widgets.fill_form((widgets.field(Texts, "NOTE"), "v", TEXT))
    assert called == [] and page.locator("#o").input_value() == "v"


def test_a_hub_field_playwright_finds_is_never_skipped(page: Page, monkeypatch: pytest.MonkeyPatch) -> None:
    # a label whose text holds a <style>: Playwright finds the Hub Id box by it, so the one call
    # must too (a Hub field it missed would be left holding the nil UUID)
    page.set_content(_FORM.replace('<label for="h">Hub Id</label>', '<label for="h">Hub Id<style>p {}</style></label>'))
    widgets, called = _spied(page, monkeypatch)
    _fill_widget(widgets)
    assert called == [] and page.locator("#h").input_value() == "418D92C7-be27-4ef5-a688-3410531a3e01"


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ("n.disabled = true", "new"),
        ("n.readOnly = true", "new"),
        ("n.style.display = 'none'", "new"),
        ("n.style.visibility = 'hidden'", "new"),
        ("n.closest('form').setAttribute('aria-disabled', 'true')", "new"),
        ("n.setAttribute('aria-disabled', 'TRUE')", "new"),
        ("n.type = 'checkbox'", "new"),
        ("n.type = 'number'", "new"),
        ("n.maxLength = 2", "new"),
        ("", "two\nlines"),
        ("t.options[1].remove()", "new"),
        ("t.options[1].disabled = true", "new"),
        ("t.multiple = true", "new"),
        ("c.labels[0].htmlFor = 'x'", "new"),
        ("n.setAttribute('aria-labelledby', 't')", "new"),
        ("n.closest('form').insertAdjacentHTML('beforeend', '<label for=n2>Name:</label><input id=n2>')", "new"),
        ("n.closest('form').insertAdjacentHTML('beforeend', '<label>Config <input id=c2></label>')", "new"),
        ("n.closest('form').insertAdjacentHTML('beforeend', '<input aria-label=\"name\">')", "new"),
        ("h.remove(); n.closest('form').insertAdjacentHTML('beforeend', '<div role=combobox aria-label=Hub></div>')", "new"),
    ],
    ids=[
        "disabled", "read-only", "not shown", "invisible", "aria-disabled", "aria-disabled, any case", "not a text box", "a number box", "too long",
        "a line break in a one-line box", "no such option", "a disabled option", "a multiple select", "missing",
        "aria-labelledby wins over the label", "doubled", "doubled, nested label", "doubled, aria-label", "a Hub control that is no box",
    ],
)
def test_a_form_not_ready_as_a_whole_is_filled_field_by_field_untouched(
    page: Page, monkeypatch: pytest.MonkeyPatch, change: str, name: str
) -> None:
    # any field that is not there once and ready: nothing is set in the one call, and every
    # field goes the way of Playwright's own fill and select_option (their waits, their errors)
    page.set_content(_FORM)
    page.evaluate(f"() => {{ const [h, n, t, c] = ['h', 'n', 't', 'c'].map(id => document.getElementById(id)); {change}; }}")
    widgets, called = _spied(page, monkeypatch)
    before = page.evaluate(_VALUES_JS)
    _fill_widget(widgets, name=name)
    assert called == ["Hub", "Name", "Widget Type", "Config"]
    assert page.evaluate(_VALUES_JS) == before and page.evaluate("edits") == []


def test_a_value_the_page_did_not_keep_is_filled_again_field_by_field(page: Page, monkeypatch: pytest.MonkeyPatch) -> None:
    # a handler that replaces a later field when an earlier one changes: the value set went into
    # a field no longer there, so the fields are filled again one by one
    page.set_content(_FORM)
    page.evaluate("() => document.getElementById('t').addEventListener('change', () => { const c = document.getElementById('c'); c.replaceWith(c.cloneNode()); })")
    widgets, called = _spied(page, monkeypatch)
    _fill_widget(widgets)
    assert called == ["Hub", "Name", "Widget Type", "Config"]


def test_a_manifests_index_without_a_hub_column_is_not_read_as_the_hubs(page: Page, sandbox_factory: SandboxFactory) -> None:
    # where the hub's page lists no manifests the tool reads the manifests index, which IHP's
    # generator writes for every hub: without a Hub column nothing there says which are the hub's
    sandbox = sandbox_factory()  # the replica's own index: the hub's, with no Hub column
    logged_in(page, sandbox.base_url)
    hub_id = HubsPage(page, sandbox.base_url, 10).create(HUB).id
    manifests = ManifestsPage(page, sandbox.base_url, 10)
    manifests.create(hub_id, "1.0", SEEDS.manifest.capability_description, SEEDS.manifest.contact)
    with pytest.raises(NotAsExpected, match="table with the columns 'Version, Status, Hub or Hub Id' is not on the screen"):
        manifests.list(hub_id, hub_slug=HUB.slug)


def _active_manifest(page: Page, base: str) -> tuple[str, str]:
    hub_id = HubsPage(page, base, 10).create(HUB).id
    manifests = ManifestsPage(page, base, 10)
    manifest_id = manifests.create(hub_id, "1.0", SEEDS.manifest.capability_description, SEEDS.manifest.contact)
    manifests.save(manifest_id, SEEDS.manifest.vocabulary())
    manifests.activate(manifest_id)
    return hub_id, manifest_id


@pytest.mark.parametrize("submit", ["js", "native"])
def test_api_consumers_page(page: Page, sandbox_factory: SandboxFactory, submit: str) -> None:
    sandbox = sandbox_factory(submit=submit)
    logged_in(page, sandbox.base_url)
    _, manifest_id = _active_manifest(page, sandbox.base_url)
    consumers = ApiConsumersPage(page, sandbox.base_url, 10)
    assert consumers.find("ops-hub") is None
    consumer_id = consumers.create("ops-hub", SEEDS.api_consumer.description, manifest_id)
    found = consumers.find("ops-hub")
    assert found is not None and (found.id, found.manifest, found.key_prefix) == (consumer_id, "ops-hub 1.0", None)

    consumers.show(consumer_id)
    consumers.open_key_form(SEEDS.api_consumer.key_scopes)
    key = consumers.reveal_key()
    assert len(key) > 16 and consumers.key_on_screen() == key
    consumers.leave_key_page()
    assert consumers.key_on_screen() is None and page.url == "about:blank"
    details = consumers.show(consumer_id)
    assert details.key_prefix == key[:8] and details.key_scopes == SEEDS.api_consumer.key_scopes

    consumers.open_key_form(["framework:read"])
    second = consumers.reveal_key(replace_existing=True)  # accepts the page's confirm(): the first is revoked
    consumers.leave_key_page()
    assert second != key
    keys = sorted(rows(sandbox, "api_keys"), key=lambda k: k.revoked_at is None)
    assert [k.revoked_at is None for k in keys] == [False, True] and keys[1].key_prefix == second[:8]


@pytest.mark.parametrize("submit", ["js", "native"])
def test_widgets_page(page: Page, sandbox_factory: SandboxFactory, submit: str) -> None:
    sandbox = sandbox_factory(submit=submit)
    logged_in(page, sandbox.base_url)
    hub_id, _ = _active_manifest(page, sandbox.base_url)
    widgets = WidgetsPage(page, sandbox.base_url, 10)
    assert widgets.list(hub_id) == []
    first = SEEDS.widgets[0]
    widget_id = widgets.create(hub_id, first)
    (listed,) = widgets.list(hub_id)
    assert (listed.id, listed.name, listed.title, listed.type) == (widget_id, first.name, first.title, first.type)
    (row,) = rows(sandbox, "widgets")
    assert row.name == first.name and str(row.hub_id) == hub_id


@pytest.mark.parametrize(
    ("relabel", "message"),
    [
        ({"Title": "Widget title"}, r"the field 'Title' is not on the screen; the screen offers: 'Widget title'"),
        ({"Title": "Name"}, r"the field 'Name' matches 2 elements"),  # two fields labelled alike
        ({"Widget Type": "Kind of widget"}, r"the field 'Widget Type' is not on the screen; the screen offers: 'Kind of widget'"),
        ({"Create Widget": "Add widget"}, r"the button 'Create Widget' is not on the screen; the screen offers: 'Add widget'"),
    ],
    ids=["missing field", "ambiguous field", "missing select", "missing button"],
)
def test_a_form_element_not_there_once_is_named_without_waiting_for_the_timeout(
    page: Page, sandbox_factory: SandboxFactory, relabel: dict[str, str], message: str
) -> None:
    """Fields are not counted before they are filled (the action waits and is strict), a
    button only before its first click: when one is missing or doubled, the error still says
    what the screen offers, after a short look (pages.base._FIND_MS), not after the 30 s
    timeout."""
    sandbox = sandbox_factory(relabel=relabel)
    logged_in(page, sandbox.base_url)
    hub_id, _ = _active_manifest(page, sandbox.base_url)
    widgets = WidgetsPage(page, sandbox.base_url, 30)
    started = time.monotonic()
    with pytest.raises(NotAsExpected) as failed:
        widgets.create(hub_id, SEEDS.widgets[0])
    assert time.monotonic() - started < 15
    assert re.search(message, failed.value.message), failed.value.message
    assert "--ui-texts" in failed.value.message
    assert rows(sandbox, "widgets") == []


def test_a_slow_native_submit_is_sent_once(page: Page, sandbox_factory: SandboxFactory) -> None:
    """A form sent without JavaScript navigates, and the server takes longer to answer than the
    short look for a field (pages.base._FIND_MS): a click is never tried again, so the form is
    sent once."""
    sandbox = sandbox_factory(submit="native")
    logged_in(page, sandbox.base_url)
    hub_id, _ = _active_manifest(page, sandbox.base_url)
    sandbox.config.faults.mutation_latency_ms = 3000
    widgets = WidgetsPage(page, sandbox.base_url, 30)
    widgets.create(hub_id, SEEDS.widgets[0])
    assert [w.name for w in rows(sandbox, "widgets")] == [SEEDS.widgets[0].name]


BLOCKS = {  # what a customised app could do to the Create button, on every page loaded: (script, what is said)
    "covered": (
        "const d = document.createElement('a'); d.href = '/DeleteWidget'; d.className = 'cookie-banner';"
        " d.style.cssText = 'position:fixed;inset:0;z-index:99999';"
        " d.addEventListener('click', e => { e.preventDefault(); window.coverClicks = (window.coverClicks || 0) + 1; });"
        " document.body.appendChild(d);",
        "it is covered by <a.cookie-banner>",
    ),
    "disabled": ("document.querySelectorAll('form button').forEach(b => { b.disabled = true; });", "it is disabled"),
}


@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_a_button_that_cannot_be_pressed_is_never_clicked_through_and_said(page: Page, sandbox_factory: SandboxFactory, block: str) -> None:
    """Playwright's click waits for a button to be ready and never clicks what covers it
    (pages.base AdminPage._click; a click without that wait would press the cover): after the
    page's timeout, not Playwright's 30 s, the error says what kept the button from being
    pressed, and nothing was sent."""
    script, said = BLOCKS[block]
    sandbox = sandbox_factory()
    logged_in(page, sandbox.base_url)
    hub_id, _ = _active_manifest(page, sandbox.base_url)
    page.add_init_script(f"document.addEventListener('DOMContentLoaded', () => {{ {script} }});")
    posts = sandbox.config.faults.mutations_seen
    widgets = WidgetsPage(page, sandbox.base_url, 5)
    started = time.monotonic()
    with pytest.raises(NotAsExpected) as failed:
        widgets.create(hub_id, SEEDS.widgets[0])
    assert time.monotonic() - started < 20
    assert failed.value.message == f"the button 'Create Widget' cannot be pressed: {said} (waited 5 s for it)"
    assert sandbox.config.faults.mutations_seen == posts and rows(sandbox, "widgets") == []
    assert not page.evaluate("window.coverClicks")  # what covers the button never got a click



FOREIGN = "Also delete the old drafts?"
DIALOGS = {
    # what the page does around its own confirm(): (script, activated, how the foreign dialog was answered, said)
    "an alert first": ("window.foreign = 'shown'; alert('Session ends in 1 minute'); return c(m);", True, "shown", None),
    "another confirm first": (f"window.foreign = c({FOREIGN!r}); return c(m);", True, False, None),
    "a prompt first": ("window.foreign = prompt('Type ACTIVATE to go on'); return c(m);", True, None, None),
    "a prompt instead": ("window.foreign = prompt('Type ACTIVATE to go on'); return window.foreign !== null;", False, None, "a prompt dialog ('Type ACTIVATE to go on')"),
    "another confirm after": (f"return c(m) && (window.foreign = c({FOREIGN!r}));", False, False, f"another confirm dialog ({FOREIGN!r})"),
}


@pytest.mark.parametrize("dialogs", list(DIALOGS))
def test_only_the_buttons_own_confirmation_is_accepted(page: Page, sandbox_factory: SandboxFactory, dialogs: str) -> None:
    """Activate (and Regenerate) accept the one confirm() their button asks (its data-confirm
    text), before or after any other dialog; every other dialog is dismissed, never answered
    yes, and when the outcome does not come the error names it."""
    script, activated, foreign, said = DIALOGS[dialogs]
    sandbox = sandbox_factory()
    logged_in(page, sandbox.base_url)
    hub_id = HubsPage(page, sandbox.base_url, 10).create(HUB).id
    manifests = ManifestsPage(page, sandbox.base_url, 3)
    manifest_id = manifests.create(hub_id, "1.0", SEEDS.manifest.capability_description, SEEDS.manifest.contact)
    page.add_init_script(f"(() => {{ const real = window.confirm.bind(window); const c = m => real(m); window.confirm = m => {{ {script} }}; }})();")
    posts = sandbox.config.faults.mutations_seen
    if activated:
        manifests.activate(manifest_id)
        assert [m.status for m in rows(sandbox, "manifests") if str(m.id) == manifest_id] == ["active"]
    else:
        with pytest.raises(NotAsExpected) as failed:
            manifests.activate(manifest_id)
        assert failed.value.message.startswith("activate the manifest: nothing happened within 3 s")
        assert failed.value.message.endswith(f"; the page showed {said}: it was dismissed (only the button's own confirm() is accepted)")
        assert sandbox.config.faults.mutations_seen == posts
        assert [m.status for m in rows(sandbox, "manifests") if str(m.id) == manifest_id] == ["draft"]
        # the operator is pointed at the dialog, not at doctor (which cannot see dialogs)
        from flows import hints
        from flows.apply import _failure
        from flows.steps import STEPS

        activate = next(step for step in STEPS if step.name == "activate")
        assert failed.value.dialogs == [said]
        assert _failure(activate, SimpleNamespace(), failed.value).hint == hints.DIALOG
    assert page.evaluate("window.foreign") == foreign  # the foreign dialog was dismissed: false, null


def test_regenerate_names_a_stray_dialog_without_its_text(page: Page, sandbox_factory: SandboxFactory) -> None:
    """Regenerate runs while the page may show a key: a stray dialog is dismissed and named by
    its kind only (a page could put the key in its text)."""
    sandbox = sandbox_factory()
    logged_in(page, sandbox.base_url)
    _, manifest_id = _active_manifest(page, sandbox.base_url)
    consumers = ApiConsumersPage(page, sandbox.base_url, 3)
    consumer_id = consumers.create("ops-hub", SEEDS.api_consumer.description, manifest_id)
    consumers.open_key_form(SEEDS.api_consumer.key_scopes)
    consumers.reveal_key()
    consumers.show(consumer_id)
    page.add_init_script("window.confirm = m => prompt('Your key: iho_key_SECRETSECRET') !== null;")
    consumers.show(consumer_id)
    consumers.open_key_form(SEEDS.api_consumer.key_scopes)
    with pytest.raises(NotAsExpected) as failed:
        consumers.reveal_key(replace_existing=True)
    assert failed.value.message.endswith("; the page showed a prompt dialog: it was dismissed (only the button's own confirm() is accepted)")
    assert "SECRET" not in failed.value.message
    assert sum(k.revoked_at is None for k in rows(sandbox, "api_keys")) == 1  # nothing regenerated


def test_generate_names_a_dialog_it_dismissed_without_its_text(page: Page, sandbox_factory: SandboxFactory) -> None:
    """Generate (a first key) asks nothing: a dialog the page shows then is dismissed (a confirm
    too, never answered yes) and, when no key comes, named by its kind only."""
    sandbox = sandbox_factory()
    logged_in(page, sandbox.base_url)
    _, manifest_id = _active_manifest(page, sandbox.base_url)
    consumers = ApiConsumersPage(page, sandbox.base_url, 3)
    consumers.create("ops-hub", SEEDS.api_consumer.description, manifest_id)
    consumers.open_key_form(SEEDS.api_consumer.key_scopes)
    page.evaluate("""() => window.addEventListener('click', e => {
        if (!confirm('Send iho_key_SECRETSECRET to a stranger?')) { e.preventDefault(); e.stopImmediatePropagation(); }
    }, true)""")
    with pytest.raises(NotAsExpected) as failed:
        consumers.reveal_key()
    assert failed.value.message.endswith("; the page showed a confirm dialog: it was dismissed (the button asks no question)")
    assert "SECRET" not in failed.value.message and failed.value.dialogs == ["a confirm dialog"]
    assert rows(sandbox, "api_keys") == []  # nothing generated


def test_an_errors_first_line_is_what_a_one_line_report_shows(page: Page) -> None:
    # a real Playwright error: its message carries a call log after the first line
    with pytest.raises(PlaywrightError) as caught:
        page.goto("http://127.0.0.1:9/", timeout=5000)
    assert "\n" in caught.value.message
    assert first_line(caught.value) == caught.value.message.splitlines()[0].strip() != ""
    assert first_line(ValueError("\n  \n  second  \nthird")) == "second"
    assert first_line(ValueError()) == "ValueError"  # no text: the error's kind
    assert first_line(OSError(), "no answer") == "no answer"


def test_texts_compare_as_a_person_reads_them_ihps_unspaced_model_names_included() -> None:
    # IHP's generator writes "<h1>Show {singularName}</h1>": the model's name unspaced
    assert tolerant("Show Api Consumer").search("Show ApiConsumer")
    assert tolerant("Show Hub Capability Manifest").search("show hub_capability_manifest")
    assert tolerant("Name").search("  NAME *:") and not tolerant("Name").search("Hub Name")
    assert not tolerant("Show Hub").search("Show Hubs")
    assert norm("Hub Capability Manifest Id") == norm("hubCapabilityManifestId") == norm(" hub_capability_manifest_id * ")
    assert norm("Name") != norm("Names")
