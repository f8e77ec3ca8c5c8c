"""``ihub-bootstrap doctor``: does the live admin UI still match the page objects?

Read-only. Logs in, opens every screen the flow uses (the new-record forms included, never
submitted) and checks that every locator of the page objects resolves to exactly one
element. Prints a table (screen, element, locator, OK / missing / ambiguous) and exits 12
when anything is missing or ambiguous: run it before a production run, and after every
Inter-Hub release. For each miss it lists what the screen offers instead (labels, buttons,
headings, table columns; the closest first) and the ui-texts key to set.

``--capture DIR`` saves every screen it opened as HTML (password inputs and shown keys
emptied, the run's known secrets redacted, the folder scanned afterwards): the shape of the
real UI, for whoever maintains the page objects.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator

from flows.audit import scan_folder
from flows.browser import BrowserSession, login_attempt
from flows.command import interrupted
from flows.console import Console
from flows.errors import AuthError, ExitCode, IhubError
from flows.seeds import SeedSet
from flows.session import RunSession
from flows.settings import Settings
from flows.steps import FRESH_SESSION_HINT
from flows.steps.hub import hub_manifests
from pages.manifests import MANIFESTS_ON_INDEX
from pages.api_consumers import ApiConsumersPage, ApiConsumersTexts
from pages.base import AdminPage, FormError, PageError, SessionExpired, Target, candidates, first_line, norm
from pages.hubs import HubsPage, HubsTexts
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
    key: str = ""  # the ui-texts key that sets the text looked for
    looked_for: str = ""  # e.g. "field 'Domain'"
    candidates: list[str] = field(default_factory=list)  # what the screen offers instead, closest first

    @property
    def bad(self) -> bool:
        return self.status in ("missing", "ambiguous", "page error", "incompatible", "not in API", "refused")

    def to_json(self) -> dict[str, Any]:
        return {
            "screen": self.screen,
            "element": self.element,
            "locator": self.locator,
            "status": self.status,
            "detail": self.detail,
            "key": self.key,
            "looked_for": self.looked_for,
            "candidates": self.candidates,
        }


# the page objects' scope, <main> or else the body (AdminPage.root), said once
_ROOT = re.compile(r'^internal:role=main >> internal:or="body >> internal:has-not=\\*"internal:role=main\\*"" >> ')


def describe(locator: Locator) -> str:
    """The selector Playwright builds for a locator, e.g. (main) internal:label=/^Name$/i."""
    match = re.search(r"selector='(.*)'>?$", repr(locator))
    selector = match.group(1) if match else repr(locator)
    return _ROOT.sub("(main) ", selector).replace("\\\\", "\\")  # repr doubled the backslashes


# Emptied before a screen is saved: what a password field holds, and a key shown once
# (read-only inputs: IHP shows a new key in one). The run's known secrets are redacted too.
_CAPTURE_JS = """() => {
    const doc = document.documentElement.cloneNode(true);
    doc.querySelectorAll('input').forEach(i => {
        if (i.type === 'password' || i.readOnly || i.type === 'hidden' && /key|token|secret/i.test(i.name)) {
            i.removeAttribute('value');
            if (i.readOnly) i.setAttribute('value', '[stripped]');
        }
    });
    doc.querySelectorAll('script').forEach(s => s.remove());
    return '<!DOCTYPE html>\\n' + doc.outerHTML;
}"""


def _count(page: AdminPage, target: Locator | Target) -> int:
    if isinstance(target, Target) and target.kind == "label":  # a value's label, whatever holds it
        return int(norm(target.text) in page.read_record())
    return (target.locator if isinstance(target, Target) else target).count()


def _finding(page: AdminPage, screen: str, element: str, target: Locator | Target, *, optional: bool) -> Finding:
    n = _count(page, target)
    status = "OK" if n == 1 else ("absent (optional)" if optional else "missing") if n == 0 else "ambiguous"
    detail = "" if n < 2 else f"{n} matches"
    if not isinstance(target, Target):
        return Finding(screen, element, describe(target), status, detail)
    near = candidates(page.root, target.kind, target.text) if status in ("missing", "ambiguous") else []
    return Finding(screen, element, describe(target.locator), status, detail, target.key, target.describe(), near)


def _check(page: AdminPage, screen: Any, capture: Path | None = None, redact: Any = None) -> list[Finding]:
    try:
        page._open(screen.path)
    except PageError as exc:
        return [Finding(screen.name, "(page)", screen.path, "page error", exc.message)]
    findings = []
    if capture is not None:
        name = re.sub(r"[^a-z0-9]+", "-", screen.name.lower()).strip("-")
        try:
            html = page.page.evaluate(_CAPTURE_JS)
            (capture / f"{name}.html").write_text(redact(html) if redact else html, encoding="utf-8")
        except (PlaywrightError, OSError) as exc:
            findings.append(Finding(screen.name, "(capture)", str(capture), "not captured", first_line(exc)))
    findings += [_finding(page, screen.name, element, target, optional=False) for element, target in screen.landmarks.items()]
    findings += [_finding(page, screen.name, element, target, optional=True) for element, target in screen.optional.items()]
    return findings


# When an index table is not found (the UI changed), the records to open the other screens
# with are taken from the index page's links: the row that mentions the seed, else the first.
_ID_FROM_LINKS_JS = """([param, hint]) => {
    const links = [...document.querySelectorAll('a[href*="' + param + '="]')];
    const near = links.find(a => (a.closest('tr, li, p, div') || a).textContent.includes(hint)) || links[0];
    return near ? new URL(near.href).searchParams.get(param) : null;
}"""


def _id_from_links(page: AdminPage, path: str, param: str, hint: str) -> str | None:
    try:
        page._open(path)
        return page.page.evaluate(_ID_FROM_LINKS_JS, [param, hint])
    except (PageError, PlaywrightError):
        return None


def _ids(
    hubs: HubsPage, manifests: ManifestsPage, consumers: ApiConsumersPage, seeds: SeedSet, problems: list[Finding]
) -> dict[str, str]:
    """Records to open show and edit screens with: the seeds' own if present, else any. A
    screen that does not read as expected is no reason to stop: doctor reports it when it
    checks that screen, and looks at the others. What only reading shows (a manifests index
    whose Hub column the run cannot read) goes to ``problems``."""
    ids: dict[str, str] = {}
    try:
        listed = hubs.list()
        hub = next((h for h in listed if h.slug == seeds.hub.slug), listed[0] if listed else None)
        hub_id = hub.id if hub else None
        hub_slug = hub.slug if hub else seeds.hub.slug
    except SessionExpired:
        raise
    except PageError:
        hub_id = _id_from_links(hubs, HubsTexts.INDEX_PATH, HubsTexts.ID_PARAM, seeds.hub.slug)
        hub_slug = seeds.hub.slug
    if hub_id:
        ids["hub_id"] = hub_id
        try:
            details = hubs.show(hub_id)
            if details.manifests is None:  # the hub's page lists none: the manifests index must
                ids[MANIFESTS_ON_INDEX] = hub_id
            listed_manifests = hub_manifests(hubs, manifests, hub_id, hub_slug, details)
        except SessionExpired:
            raise
        except PageError as exc:
            if MANIFESTS_ON_INDEX in ids:  # its landmarks may all be there, and the run still stop on it
                problems.append(Finding("manifests index", "hub's rows", exc.url, "page error", exc.message))
            manifest_id = _id_from_links(hubs, HubsTexts.SHOW_PATH.format(id=hub_id), HubsTexts.MANIFEST_ID_PARAM, "")
            if manifest_id:
                ids["manifest_id"] = manifest_id
        else:
            if listed_manifests:
                ids["manifest_id"] = listed_manifests[0].id
            draft = next((m for m in listed_manifests if m.status == ManifestsTexts.DRAFT), None)
            if draft is not None:
                ids["draft_manifest_id"] = draft.id
    try:
        found = consumers.list()
        consumer = next((c for c in found if c.name == seeds.api_consumer.name), found[0] if found else None)
        consumer_id = consumer.id if consumer else None
    except SessionExpired:
        raise
    except PageError:
        consumer_id = _id_from_links(consumers, ApiConsumersTexts.INDEX_PATH, ApiConsumersTexts.ID_PARAM, seeds.api_consumer.name)
    if consumer_id:
        ids["consumer_id"] = consumer_id
    return ids


@dataclass
class DoctorReport:
    findings: list[Finding]
    run_folder: str
    exit_code: int
    leaks: list[str]
    capture: str | None = None
    capture_leaks: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_folder": self.run_folder,
            "exit_code": self.exit_code,
            "findings": [f.to_json() for f in self.findings],
            "leaks": self.leaks,
            "capture": self.capture,
            "capture_leaks": self.capture_leaks,
        }


def run_doctor(settings: Settings, seeds: SeedSet, console: Console, *, capture: Path | None = None) -> DoctorReport:
    """doctor in its run session (run folder with audit log, trace, summary), like every command."""
    session = RunSession(settings, console, command="doctor")
    folder = session.begin(seeds, {})
    error: IhubError | None = None
    findings: list[Finding] = []
    code, leaks = ExitCode.OK, []
    if capture is not None:
        capture.mkdir(parents=True, exist_ok=True)
    try:
        browser = session.open_browser(title="ihub-bootstrap doctor")
        findings = doctor(browser, settings, seeds, session.mode, capture=capture, redact=session.secrets.redact)  # type: ignore[arg-type]
    except IhubError as exc:
        error = exc
    except KeyboardInterrupt as exc:
        error = interrupted(exc, "run doctor again")
    finally:
        code = int(error.exit_code) if error else exit_code(findings)
        code, leaks = session.close(
            exit_code=code,
            changes=0,
            error=error.message if error else None,
            summary=lambda c, found: {
                "exit_code": c, "findings": [f.to_json() for f in findings], "leaks": found, "trace_stopped_early": session.trace_stopped_early
            },
        )
    if error is not None:
        raise error
    capture_leaks: list[str] = []
    if capture is not None:
        capture_leaks = [str(leak) for leak in scan_folder(capture, session.secrets.values)]
        if capture_leaks:
            code = ExitCode.SECRET_LEAK
    return DoctorReport(findings, str(folder.path), code, leaks, str(capture) if capture else None, capture_leaks)


def doctor(
    session: BrowserSession, settings: Settings, seeds: SeedSet, mode: str, *, capture: Path | None = None, redact: Any = None
) -> list[Finding]:
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
        findings.extend(_check(login, login.screens({})[0], capture, redact))
    try:
        if mode == "password" and settings.email and settings.password is not None:
            with login_attempt(session.trace, login):  # the password's POST, the filled form
                login.log_in(settings.email, settings.password.get_secret_value())
        ids = _ids(hubs, manifests, consumers, seeds, findings)
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
                findings.extend(_check(page, screen, capture, redact))
            except PlaywrightError as exc:
                findings.append(Finding(screen.name, "(page)", screen.path, "page error", first_line(exc)))
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
        if f.bad and f.looked_for:
            offered = ", ".join(repr(c) for c in f.candidates) or "nothing of that kind"
            lines.append(f"    looked for the {f.looked_for}; the screen offers (closest first): {offered}")
            lines.append(f"    to change: {f.key} (in a --ui-texts file; `ihub-bootstrap ui-texts` prints them all)")
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
        f"{len(bad)} element(s) missing or ambiguous: the UI changed; set the texts named above in a ui-texts file "
        "(`ihub-bootstrap ui-texts > ui-texts.toml`, then `--ui-texts ui-texts.toml`) and run doctor again"
        if bad
        else f"all {sum(f.status == 'OK' for f in findings)} checked elements found exactly once"
    )
    out.write("\n".join(lines) + "\n")
