"""One run of the runbook: ``apply`` (observe, then act), ``plan`` (observe only), each with
its run folder, live progress and, for apply, the runbook's validation at the end."""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Browser
from playwright.sync_api import Error as PlaywrightError

from flows import hints
from flows.audit import UNSAFE_NO_SCRUB_ENV, RunFolder, utc_now
from flows.browser import BrowserOptions, BrowserSession, executable
from flows.confirm import TerminalApprover, approve_plan, confirm_target
from flows.console import Console
from flows.errors import Aborted, ExitCode, IhubError, SecretLeak, StepFailed
from flows.keysink import open_sink
from flows.known_secrets import KnownSecrets
from flows.lock import target_lock
from flows.seeds import SeedSet
from flows.settings import Settings
from flows.steps import STEPS, Approver, Decision, Options, Run, Step, StepResult, page_failure
from flows.verify import Check, verify
from pages.base import PageError

PLAN_STATUS = {"create": "create", "update": "update", "none": "unchanged", "drift": "drift", "blocked": "blocked"}


@dataclass
class ApplyOptions:
    plan: bool = False
    headed: bool = False
    slow_mo_ms: int = 0
    confirm: bool = False
    yes: bool = False
    trace: bool = True
    verify: bool = True
    key_sink: str | None = None
    steps: Options = field(default_factory=Options)
    browser: Browser | None = None  # reuse a running Chromium (tests, benchmarks)


@dataclass
class Report:
    command: str
    run_folder: Path
    target: str
    steps: list[StepResult] = field(default_factory=list)
    verification: list[Check] = field(default_factory=list)
    changes: int = 0
    hub_id: str | None = None
    api_consumer_id: str | None = None
    error: IhubError | None = None
    leaks: list[str] = field(default_factory=list)
    exit_code: int = ExitCode.OK

    @property
    def pending(self) -> int:
        """Writes a plan found to do."""
        return sum(len(s.planned) for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "target": self.target,
            "run_folder": str(self.run_folder),
            "exit_code": int(self.exit_code),
            "changes": self.changes,
            "pending": self.pending if self.command == "plan" else None,
            "hub_id": self.hub_id,
            "api_consumer_id": self.api_consumer_id,
            "steps": [s.to_json() for s in self.steps],
            "verification": [c.to_json() for c in self.verification],
            "error": None
            if self.error is None
            else {"message": self.error.message, "where": self.error.where, "hint": self.error.hint},
            "leaks": self.leaks,
        }


def _exit_code(report: Report, detailed: bool) -> int:
    if report.leaks:
        return ExitCode.SECRET_LEAK
    if report.error is not None:
        return report.error.exit_code
    # Drift explains a failing verification (the registries lack what the seeds add): the
    # operator's decision comes first.
    if any(s.status in ("drift", "blocked") for s in report.steps):
        return ExitCode.NEEDS_DECISION
    if report.verification and not all(c.ok for c in report.verification):
        return ExitCode.VERIFY_FAILED
    if report.command == "plan" and detailed and report.pending:
        return ExitCode.CHANGES_PENDING
    return ExitCode.OK


def _record_failure(folder: RunFolder, run: Run | None, message: str) -> None:
    """A screenshot of the failing page (the key field masked) and its message."""
    folder.write_text("failure.txt", message + "\n")
    if run is None:
        return
    with contextlib.suppress(PlaywrightError):
        run.hubs.page.screenshot(
            path=str(folder.path / "failure.png"), full_page=True, mask=[run.consumers.key_field], timeout=10_000
        )
        page_message = run.hubs.page_message()
        if page_message:
            folder.write_text("failure.txt", f"{message}\npage: {run.hubs.url}\npage says: {page_message}\n")


def _planned(step: Step, decision: Decision) -> StepResult:
    status = PLAN_STATUS[decision.action]
    result = step.result(status, decision.detail)  # type: ignore[arg-type]
    result.planned = list(decision.writes) if decision.action in ("create", "update") else []
    result.diffs = decision.diffs
    result.decision = decision
    return result


# Plan results the apply phase keeps as they are: nothing to write, nothing to ask.
SETTLED = ("ok", "unchanged", "drift")


def _run_steps(
    run: Run,
    steps: list[Step],
    folder: RunFolder,
    console: Console,
    *,
    phase: str,
    planned: list[StepResult] | None = None,
    fresh: bool = True,
    results: list[StepResult] | None = None,
) -> tuple[list[StepResult], IhubError | None]:
    """Observe (and, in the apply phase, act on) each step; stop at the first error.

    In the apply phase the plan's observations are used where they still hold: settled steps
    keep their plan result, and a write the plan decided from what it saw on a page is made
    without looking again, as long as the plan is ``fresh`` (no operator prompt in between).
    A decision inferred from an earlier step ("the hub is not there yet") is always observed
    again, after the writes before it.
    """
    results = [] if results is None else results  # the caller's list: what is done survives a Ctrl-C
    total = len(STEPS)
    label = "plan " if phase == "plan" else ""
    settled = {r.name: r for r in planned or [] if r.status in SETTLED}
    seen = {
        r.name: r.decision
        for r in planned or []
        if fresh and r.decision is not None and not r.decision.inferred and r.decision.action != "none"
    }
    for step in steps:
        index = STEPS.index(step) + 1
        if step.name in settled:
            results.append(settled[step.name])
            continue
        console.step(index, total, f"{label}{step.name}", "running")
        started, t0 = utc_now(), time.monotonic()
        decision = Decision("none")
        error: IhubError | None = None
        writes_before = run.writes
        try:
            decision = seen.get(step.name) or step.observe(run)
            if phase == "plan" and step.name != "login":
                result = _planned(step, decision)
            else:
                result = step.act(run, decision)
        except PageError as exc:
            error = page_failure(step, exc)
        except IhubError as exc:
            error = exc
        except PlaywrightError as exc:
            error = _browser_failure(step, run, exc)
        except Exception as exc:  # noqa: BLE001  a bug: said as such, without a message that could hold a value
            error = StepFailed(
                f"{step.title} failed unexpectedly ({exc.__class__.__name__})",
                where=f"step {step.name}",
                hint="this is a bug in ihub-bootstrap: report it with the run folder; run apply again to finish",
            )
        if error is not None:
            status = "blocked" if error.exit_code == ExitCode.NEEDS_DECISION else "failed"
            result = step.result(status, error.message)  # type: ignore[arg-type]
        result.writes = run.writes - writes_before
        results.append(result)
        console.step(index, total, f"{label}{step.name}", result.status, result.detail)
        if result.status in ("drift", "update") or (phase == "plan" and result.status != "create"):
            for diff in result.diffs:
                console.info(f"      {diff}")
        url = ""
        with contextlib.suppress(PlaywrightError):
            url = run.hubs.url
        folder.event(
            "step",
            phase=phase,
            step=step.name,
            observed=decision.detail,
            decision=decision.action,
            status=result.status,
            detail=result.detail,
            writes=[{"action": w.action, "where": w.where, "values": w.values} for w in decision.writes]
            if (phase == "plan" or result.status in ("created", "updated"))
            else [],
            ids=result.ids,
            url=url,
            started_at=started,
            duration_ms=int((time.monotonic() - t0) * 1000),
            diffs=[{"field": d.field, "seed": d.seed, "live": d.live} for d in result.diffs],
            error=error.message if error else None,
        )
        if error is not None:
            return results, error
    return results, None


def _browser_failure(step: Step, run: Run, exc: PlaywrightError) -> StepFailed:
    text = exc.message or str(exc)
    first = text.splitlines()[0]
    if run.hubs.browser_gone():  # killed, crashed
        return StepFailed(
            f"{step.title} failed: the browser stopped answering ({first})",
            where=f"step {step.name}",
            hint="run apply again: finished steps are kept, nothing is created twice",
        )
    url = ""
    with contextlib.suppress(PlaywrightError):
        url = run.hubs.url
    screen = urlsplit(url).path or url or "?"
    element = hints.element(text)
    where = f"step {step.name}, screen {screen}" + (f", element {element}" if element else "") + (f", {url}" if url else "")
    # most often an element the page object looks for is not on the page
    hint = hints.DOCTOR if element or "Timeout" in first else hints.for_failure(text)
    what = f"the element {element} is not on {screen} ({first})" if element else first
    return StepFailed(f"{step.title} failed: {what}", where=where, hint=hint)


def _needs_apply_phase(plan: list[StepResult]) -> bool:
    return any(r.status in ("create", "update", "blocked") for r in plan)


def execute(settings: Settings, seeds: SeedSet, opts: ApplyOptions, console: Console, *, detailed_exitcode: bool = False) -> Report:
    """Run apply or plan against ``settings.base``; never raises for expected failures."""
    command = "plan" if opts.plan else "apply"
    base = settings.require_base()
    settings.check_transport()
    mode = settings.session_mode(headed=opts.headed)
    if opts.browser is None:
        executable(settings)  # a wrong IHUB_BROWSER is bad input: refused before anything starts
    sink = open_sink(opts.key_sink or settings.key_sink, base_url=base, consumer_name=seeds.api_consumer.name)
    if not opts.plan:
        confirm_target(base, loopback=settings.is_loopback_target, yes=opts.yes, console=console)
    secrets = KnownSecrets(settings.secret_values())
    console.redact = secrets.redact
    folder = RunFolder(settings.runs_dir, command, secrets)
    report = Report(command, folder.path, base)
    folder.start(
        target=base,
        session_mode=mode,
        operator=settings.operator,
        seeds=seeds,
        options={
            "headed": opts.headed,
            "confirm": opts.confirm,
            "rotate_key": opts.steps.rotate_key,
            "update": opts.steps.update,
            "new_manifest_version": opts.steps.new_manifest_version,
            "key_sink": sink.description,
            "trace": opts.trace,
        },
    )
    if not folder.scrub:
        console.warn(f"{UNSAFE_NO_SCRUB_ENV}=1: artifacts are NOT scrubbed (a test switch); do not share {folder.path}")
    console.info(f"{command} {seeds.hub.slug} on {base} (session: {mode}); run folder {folder.path}")
    approver: Approver = TerminalApprover(console, base) if opts.confirm else Approver()
    raw = Path(tempfile.mkdtemp(prefix="ihub-trace-"))  # 0700, outside the run folder
    chunks: list[Path] = []
    run: Run | None = None
    try:
        with contextlib.ExitStack() as stack:
            if not opts.plan:
                stack.enter_context(target_lock(base))
            session = stack.enter_context(
                BrowserSession(
                    settings,
                    BrowserOptions(opts.headed, opts.slow_mo_ms, raw if opts.trace else None, opts.browser),
                    mode,
                    title=f"ihub-bootstrap {command} {seeds.hub.slug} {folder.run_id}",
                )
            )
            for value in session.cookie_values():
                secrets.add(value)
            assert session.page is not None
            credentials = None
            if mode == "password" and settings.email and settings.password is not None:
                credentials = (settings.email, settings.password.get_secret_value())

            def ask_for_manual_login() -> None:
                console.info("Log in to Inter-Hub in the browser window; the run continues once you are in.")

            run = Run(
                seeds=seeds,
                page=session.page,
                base_url=base,
                timeout_s=settings.timeout,
                sink=sink,
                secrets=secrets,
                approver=approver,
                options=opts.steps,
                trace=session.trace,
                credentials=credentials,
                manual_login=ask_for_manual_login if mode == "manual" else None,
            )
            try:
                # Phase 1, always: observe everything, write nothing (this is all of `plan`).
                planned: list[StepResult] = []
                report.steps = planned
                planned, error = _run_steps(run, STEPS, folder, console, phase="plan", results=planned)
                if error is None and not opts.plan and _needs_apply_phase(planned):
                    pending = sum(len(r.planned) for r in planned)
                    if opts.confirm:
                        approve_plan(console, pending)
                    # Phase 2: act, observing again each step that writes; the session is kept.
                    applied: list[StepResult] = []
                    report.steps = applied
                    report.steps, error = _run_steps(
                        run, STEPS, folder, console, phase="apply", planned=planned, fresh=not opts.confirm, results=applied
                    )
                elif error is None and not opts.plan:
                    console.info("nothing to write: Inter-Hub already matches the seeds")
                if error is not None:
                    raise error
            except IhubError as exc:
                exc.hint = hints.for_command(exc.hint, command)
                report.error = exc
                _record_failure(folder, run, exc.render())
            except KeyboardInterrupt:
                report.error = Aborted(
                    "interrupted (Ctrl-C)",
                    hint=hints.again(command) if opts.plan else "run apply again to finish: nothing is created twice",
                )
                if planned and report.steps is not planned:  # the apply phase: what it did, then what it did not get to
                    done = {r.name for r in report.steps}
                    rest = [r.name for r in planned if r.name not in done]
                    report.steps = report.steps + [
                        StepResult(name, "failed", "interrupted (Ctrl-C) during this step: its write may have been made")
                        if i == 0
                        else StepResult(name, "skipped", "not done: interrupted (Ctrl-C) before this step")
                        for i, name in enumerate(rest)
                    ]
            finally:
                report.changes = run.writes
                report.hub_id = run.hub_id or next((r.ids.get("hub_id") for r in report.steps if r.ids.get("hub_id")), None)
                report.api_consumer_id = run.api_consumer_id or next(
                    (r.ids.get("api_consumer_id") for r in report.steps if r.ids.get("api_consumer_id")), None
                )
                for value in session.cookie_values():
                    secrets.add(value)
                chunks = session.finish_trace()
        incomplete = [s.name for s in report.steps if s.status in ("skipped", "blocked")]
        if incomplete and report.error is None and not opts.plan:
            console.info(f"verify: not run, steps not done: {', '.join(incomplete)}")
        elif report.error is None and opts.verify and not opts.plan:
            console.info("verify: the runbook's validation over HTTP")
            stored = sink.load(run.api_consumer_id) if run and run.api_consumer_id else None
            if stored is not None:
                secrets.add(stored.api_key)
            report.verification = verify(base, seeds, stored, secrets, settings.timeout, settings.ca_bundle)
            for check in report.verification:
                console.check(check.ok, check.check, check.detail)
            folder.event(
                "verification", checks=[c.to_json() for c in report.verification], ok=all(c.ok for c in report.verification)
            )
    except IhubError as exc:
        report.error = exc
        _record_failure(folder, run, exc.render())
    finally:
        _close(folder, report, chunks, console, detailed_exitcode)
        shutil.rmtree(raw, ignore_errors=True)
    return report


def _close(folder: RunFolder, report: Report, chunks: list[Path], console: Console, detailed: bool) -> None:
    """The report's exit code, the run folder finished (a secret found there overrides the
    exit code: 6), the error told once."""
    report.exit_code = _exit_code(report, detailed)

    def summary(exit_code: int, findings: list[str]) -> dict[str, Any]:
        if findings:
            report.leaks = findings
            report.error = SecretLeak(
                "the run folder still holds a secret after scrubbing: " + "; ".join(findings),
                where=str(folder.path),
                hint="do not share this run folder; delete it and report this as a bug",
            )
        report.exit_code = exit_code
        return report.to_json()

    folder.close(
        chunks,
        exit_code=int(report.exit_code),
        changes=report.changes,
        error=report.error.message if report.error else None,
        summary=summary,
    )
    if report.error is not None:
        console.error(report.error)


def print_summary(report: Report, stream: Any = None) -> None:
    """The short human summary on stdout."""
    out = stream or sys.stdout
    if report.command == "plan":
        head = f"plan for {report.target}: {report.pending} write(s) pending"
    elif report.command == "verify":
        head = f"verify on {report.target}"
    else:
        nothing = report.changes == 0 and report.error is None and report.exit_code == ExitCode.OK
        head = f"apply on {report.target}: {report.changes} change(s)" + (" (nothing to do)" if nothing else "")
    lines = [head]
    for step in report.steps:
        lines.append(f"  {step.name:<20} {step.status:<10} {step.detail}")
        lines.extend(f"  {'':<20} + {w.action}" for w in step.planned)
        if step.status in ("drift", "update") or (report.command == "plan" and step.status != "create"):
            lines.extend(f"  {'':<20}   {diff}" for diff in step.diffs)
    if report.verification:
        passed = sum(c.ok for c in report.verification)
        lines.append(f"verification: {passed}/{len(report.verification)} checks passed")
    if report.hub_id:
        lines.append(f"hub id: {report.hub_id}")
    if report.api_consumer_id:
        lines.append(f"api consumer id: {report.api_consumer_id}")
    lines.append(f"run folder: {report.run_folder}")
    lines.append(f"exit code: {int(report.exit_code)}")
    out.write("\n".join(lines) + "\n")
    out.flush()


def run_verify(
    settings: Settings, seeds: SeedSet, console: Console, *, key_sink: str | None = None, consumer_id: str | None = None
) -> Report:
    """``ihub-bootstrap verify``: the validation alone, over HTTP, with its own run folder."""
    base = settings.require_base()
    settings.check_transport()
    sink = open_sink(key_sink or settings.key_sink, base_url=base, consumer_name=seeds.api_consumer.name)
    secrets = KnownSecrets(settings.secret_values())
    console.redact = secrets.redact
    folder = RunFolder(settings.runs_dir, "verify", secrets)
    report = Report("verify", folder.path, base)
    folder.start(target=base, session_mode="none", operator=settings.operator, seeds=seeds, options={"key_sink": sink.description})
    try:
        stored = sink.load(consumer_id) if consumer_id else sink.find(seeds.api_consumer.name)
        if stored is not None:
            secrets.add(stored.api_key)
            report.api_consumer_id = stored.api_consumer_id
        console.info(f"verify {seeds.hub.slug} on {base} (key from {sink.description})")
        report.verification = verify(base, seeds, stored, secrets, settings.timeout, settings.ca_bundle)
        for check in report.verification:
            console.check(check.ok, check.check, check.detail)
        folder.event("verification", checks=[c.to_json() for c in report.verification], ok=all(c.ok for c in report.verification))
    except IhubError as exc:
        report.error = exc
    finally:
        _close(folder, report, [], console, False)
    return report
