"""``ihub-bootstrap doctor``: does the live admin UI still match the page objects?

Read-only. Logs in, opens every screen the flow uses (the new-record forms included, never
submitted) and checks that every locator of the page objects resolves to exactly one
element. Prints a table (screen, element, locator, OK / missing / ambiguous) and exits 12
when anything is missing or ambiguous: run it before a production run, and after every
Inter-Hub release.
"""

from __future__ import annotations

import contextlib
import re
import sys
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator

from flows.browser import BrowserSession
from flows.console import Console
from flows.errors import AuthError, ExitCode, IhubError
from flows.seeds import SeedSet
from flows.session import RunSession
from flows.settings import Settings
from flows.steps import FRESH_SESSION_HINT
from pages.api_consumers import ApiConsumersPage
from pages.base import AdminPage, FormError, PageError, SessionExpired
from pages.hubs import HubsPage
from pages.login import LoginPage
from pages.manifests import ManifestsPage, ManifestsTexts
from pages.widgets import WidgetsPage


@dataclass(frozen=True)
class Finding:
    screen: str
    element: str
    locator: str
    status: str  # OK, missing, ambiguous, absent (optional), not checked
    detail: str = ""

    @property
    def bad(self) -> bool:
        return self.status in ("missing", "ambiguous", "page error", "incompatible", "not in API", "refused")

    def to_json(self) -> dict[str, Any]:
        return {"screen": self.screen, "element": self.element, "locator": self.locator, "status": self.status, "detail": self.detail}


def describe(locator: Locator) -> str:
    """The selector Playwright builds for a locator, e.g. internal:label="Name"s."""
    match = re.search(r"selector='(.*)'>?$", repr(locator))
    return match.group(1) if match else repr(locator)


def _check(page: AdminPage, screen: Any) -> list[Finding]:
    try:
        page._open(screen.path)
    except PageError as exc:
        return [Finding(screen.name, "(page)", screen.path, "page error", exc.message)]
    findings = []
    for element, locator in screen.landmarks.items():
        n = locator.count()
        status = "OK" if n == 1 else "missing" if n == 0 else "ambiguous"
        findings.append(Finding(screen.name, element, describe(locator), status, "" if n < 2 else f"{n} matches"))
    for element, locator in screen.optional.items():
        n = locator.count()
        status = "OK" if n == 1 else "absent (optional)" if n == 0 else "ambiguous"
        findings.append(Finding(screen.name, element, describe(locator), status, "" if n < 2 else f"{n} matches"))
    return findings


def _ids(hubs: HubsPage, consumers: ApiConsumersPage, seeds: SeedSet) -> dict[str, str]:
    """Records to open show and edit screens with: the seeds' own if present, else any."""
    ids: dict[str, str] = {}
    listed = hubs.list()
    hub = next((h for h in listed if h.slug == seeds.hub.slug), listed[0] if listed else None)
    if hub is not None:
        ids["hub_id"] = hub.id
        details = hubs.show(hub.id)
        if details.manifests:
            ids["manifest_id"] = details.manifests[0].id
        draft = next((m for m in details.manifests if m.status == ManifestsTexts.DRAFT), None)
        if draft is not None:
            ids["draft_manifest_id"] = draft.id
    found = consumers.list()
    consumer = next((c for c in found if c.name == seeds.api_consumer.name), found[0] if found else None)
    if consumer is not None:
        ids["consumer_id"] = consumer.id
    return ids


@dataclass
class DoctorReport:
    findings: list[Finding]
    run_folder: str
    exit_code: int
    leaks: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "run_folder": self.run_folder,
            "exit_code": self.exit_code,
            "findings": [f.to_json() for f in self.findings],
            "leaks": self.leaks,
        }


def run_doctor(settings: Settings, seeds: SeedSet, console: Console) -> DoctorReport:
    """doctor in its run session (run folder with audit log, trace, summary), like every command."""
    session = RunSession(settings, console, command="doctor")
    folder = session.begin(seeds, {})
    error: IhubError | None = None
    findings: list[Finding] = []
    code, leaks = ExitCode.OK, []
    try:
        browser = session.open_browser(title="ihub-bootstrap doctor")
        findings = doctor(browser, settings, seeds, session.mode)  # type: ignore[arg-type]
    except IhubError as exc:
        error = exc
    finally:
        code = int(error.exit_code) if error else exit_code(findings)
        code, leaks = session.close(
            exit_code=code,
            changes=0,
            error=error.message if error else None,
            summary=lambda c, found: {"exit_code": c, "findings": [f.to_json() for f in findings], "leaks": found},
        )
    if error is not None:
        raise error
    return DoctorReport(findings, str(folder.path), code, leaks)


def doctor(session: BrowserSession, settings: Settings, seeds: SeedSet, mode: str) -> list[Finding]:
    base = settings.require_base()
    findings: list[Finding] = []
    assert session.page is not None
    args = (session.page, base, settings.timeout)
    login, hubs, manifests, consumers, widgets = (
        LoginPage(*args), HubsPage(*args), ManifestsPage(*args), ApiConsumersPage(*args), WidgetsPage(*args)
    )
    if mode != "password":
        # With a session the login form is never used; it is checked only when logging in.
        findings.append(Finding("login form", "(all)", LoginPage.SCREEN, "not checked", f"session mode {mode}"))
    else:
        findings.extend(_check(login, login.screens({})[0]))
    try:
        if mode == "password" and settings.email and settings.password is not None:
            with session.trace.paused() if session.trace else contextlib.nullcontext():  # the password's POST
                login.log_in(settings.email, settings.password.get_secret_value())
        ids = _ids(hubs, consumers, seeds)
    except SessionExpired:
        raise AuthError("the session is not valid", where=f"{base}/Hubs", hint=FRESH_SESSION_HINT) from None
    except FormError as exc:
        raise AuthError(
            f"Inter-Hub refused the login: {exc.message}",
            where=exc.url,
            hint="check IHUB_EMAIL and IHUB_PASSWORD, or use a session (IHUB_SESSION_COOKIE / IHUB_STORAGE_STATE)",
        ) from None
    except PageError as exc:
        findings.append(Finding("hubs index", "(page)", exc.url, "page error", exc.message))
        return findings
    for page in (hubs, manifests, consumers, widgets):
        for screen in page.screens(ids):
            try:
                findings.extend(_check(page, screen))
            except PlaywrightError as exc:
                findings.append(Finding(screen.name, "(page)", screen.path, "page error", str(exc).splitlines()[0]))
    if "draft_manifest_id" not in ids:
        findings.append(
            Finding("edit manifest form (draft)", "(all)", "-", "not checked", "no draft manifest to open (only drafts are editable)")
        )
    if "consumer_id" not in ids:
        findings.append(Finding("api consumer page", "(all)", "-", "not checked", "no API consumer yet"))
    return findings


def exit_code(findings: list[Finding]) -> int:
    return ExitCode.DOCTOR_MISMATCH if any(f.bad for f in findings) else ExitCode.OK


def print_table(findings: list[Finding], stream: Any = None, *, api: bool = False) -> None:
    out = stream or sys.stdout
    widths = [max(len(getattr(f, col)) for f in findings) for col in ("screen", "element", "status")]
    header = f"{'screen':<{widths[0]}}  {'element':<{widths[1]}}  {'status':<{widths[2]}}  locator"
    lines = [header, "-" * len(header)]
    for f in findings:
        detail = f"  ({f.detail})" if f.detail else ""
        lines.append(f"{f.screen:<{widths[0]}}  {f.element:<{widths[1]}}  {f.status:<{widths[2]}}  {f.locator}{detail}")
    bad = [f for f in findings if f.bad]
    lines.append("")
    if api:
        lines.append(
            f"{len(bad)} operation(s) or field(s) the run needs are not offered: plan and apply --via api refuse "
            "before any write; update the seeds or the tool, or use --via ui"
            if bad
            else f"all {sum(f.status == 'OK' for f in findings)} operations and fields the run needs are offered"
        )
        out.write("\n".join(lines) + "\n")
        return
    lines.append(
        f"{len(bad)} element(s) missing or ambiguous: the UI changed; update the texts in pages/ before a run"
        if bad
        else f"all {sum(f.status == 'OK' for f in findings)} checked elements found exactly once"
    )
    out.write("\n".join(lines) + "\n")
