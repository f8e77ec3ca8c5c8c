"""One run of the runbook: ``apply`` (observe, decide, then act), ``plan`` (observe and
decide only, optionally saved as a plan file) and ``apply PLAN`` (observe again, refuse a
stale plan, act on its writes), each in one run session (``flows/session.py``) with its run
folder, live progress and, for apply, the runbook's validation at the end."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from playwright.sync_api import Browser
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from flows import hints
from flows.api_path import choose_path, open_api_run, operator_credentials
from flows.audit import RunFolder, utc_now
from flows.confirm import TerminalApprover, approve_plan, confirm_target
from flows.console import Console
from flows.command import interrupted
from flows.errors import ExitCode, IhubError, SecretLeak, StepFailed
from flows.keysink import open_sink
from flows.network import corporate_proxy, network_way
from flows.plan import PlanFile, build_plan, check_context, check_decisions, check_observations, check_plan_out, load_plan, save_plan
from flows.seeds import SeedSet
from flows.session import RunSession
from flows.settings import DEFAULT_PARALLEL, Settings
from flows.steps import (
    PLAN_STATUS,
    STEPS,
    Action,
    Approver,
    Decision,
    Observations,
    Options,
    Run,
    Status,
    Step,
    StepResult,
    off_target_failure,
    page_failure,
)
from flows.verify import Check, verify
from pages.base import NotAsExpected, PageError, RequestFailed, first_line
from pages.widgets import WidgetsPage


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
    plan_out: Path | None = None  # plan: save the plan there
    plan_file: Path | None = None  # apply: carry out this saved plan
    via: str = "ui"  # ui, api (the v2 bootstrap API) or auto (the gate probe decides)
    parallel: int = DEFAULT_PARALLEL  # at most this many browser pages creating widgets side by side (1: one at a time)


T = TypeVar("T")


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
    plan_file: Path | None = None  # the saved plan written (plan --out) or carried out (apply PLAN)
    plan_sha256: str | None = None
    via: str = "ui"  # the path the run took
    via_reason: str = ""
    trace_stopped_early: str | None = None  # why the trace ends before the run did (run-end too)

    @property
    def pending(self) -> int:
        """Writes a plan found to do."""
        return sum(len(s.planned) for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "target": self.target,
            "via": self.via,
            "via_reason": self.via_reason,
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
            "trace_stopped_early": self.trace_stopped_early,
            "saved_plan": None
            if self.plan_file is None
            else {"file": str(self.plan_file), "sha256": self.plan_sha256, "role": "written" if self.command == "plan" else "applied"},
        }


def _exit_code(report: Report, detailed: bool) -> int:
    if report.leaks:
        return ExitCode.SECRET_LEAK
    if report.error is not None:
        return report.error.exit_code
    # Drift explains a failing verification (the registries lack what the seeds add): the
    # operator's decision comes first.
    if any(s.status in (Status.DRIFT, Status.BLOCKED) for s in report.steps):
        return ExitCode.NEEDS_DECISION
    if report.verification and not all(c.ok for c in report.verification):
        return ExitCode.VERIFY_FAILED
    if report.command == "plan" and detailed and report.pending:
        return ExitCode.CHANGES_PENDING
    return ExitCode.OK


def _record_failure(folder: RunFolder, run: Run | None, message: str) -> None:
    """A screenshot of the failing page (the key field masked) and its message."""
    folder.write_text("failure.txt", message + "\n")
    if run is not None and run.via != "ui":
        folder.write_text("failure.txt", f"{message}\nlast request: {run.hubs.url}\n")
    if run is None or run.via != "ui":
        return
    screen = run.hubs if run.failure_page is None else WidgetsPage(run.failure_page, run.base_url)
    with contextlib.suppress(PlaywrightError):
        screen.page.screenshot(
            path=str(folder.path / "failure.png"), full_page=True, mask=[run.consumers.key_field] if screen is run.hubs else [], timeout=10_000
        )
        page_message = screen.page_message()
        if page_message:
            folder.write_text("failure.txt", f"{message}\npage: {screen.url}\npage says: {page_message}\n")


def _failure(step: Step, run: Run, exc: BaseException) -> IhubError:
    guard = getattr(run, "guard", None)  # the API path has no browser to keep on the base
    if guard is None:
        return _as_error(step, run, exc)
    if (elsewhere := guard.violation()) is not None:  # a redirect took the browser elsewhere
        return off_target_failure(step, run.base_url, elsewhere)
    error = _as_error(step, run, exc)
    if isinstance(exc, RequestFailed) or (isinstance(exc, PlaywrightError) and not isinstance(exc, PlaywrightTimeoutError)):
        # a request that failed or never came back, not a page that shows something else (nor
        # a wait for an element that did not come)
        error.hint = hints.with_proxy_trouble(guard.proxy_trouble(), error.hint)
    if isinstance(exc, (NotAsExpected, PlaywrightTimeoutError)):
        # an element not there, nothing happening after a click: a page that needs what was
        # refused does not work without it
        error.hint = hints.with_refused(guard.refused(), error.hint)
    return error


def _as_error(step: Step, run: Run, exc: BaseException) -> IhubError:
    if isinstance(exc, PageError):
        return page_failure(step, exc)
    if isinstance(exc, IhubError):
        return exc
    if isinstance(exc, PlaywrightError):
        return _browser_failure(step, run, exc)
    # a bug: said as such, without a message that could hold a value
    return StepFailed(
        f"{step.title} failed unexpectedly ({exc.__class__.__name__})",
        where=f"step {step.name}",
        hint="this is a bug in ihub-bootstrap: report it with the run folder; run apply again to finish",
    )


def _log_step(folder: RunFolder, run: Run, step: Step, phase: str, decision: Decision | None, result: StepResult,
              started: str, t0: float, error: IhubError | None, seen: str = "") -> None:
    url = ""
    with contextlib.suppress(PlaywrightError):
        url = run.hubs.url
    writes = decision.writes if decision is not None and (phase == "plan" or result.status in (Status.CREATED, Status.UPDATED)) else []
    folder.event(
        "step",
        phase=phase,
        step=step.name,
        observed=seen or (decision.detail if decision else ""),
        decision=str(decision.action) if decision else Action.NONE,
        status=result.status,
        detail=result.detail,
        writes=[{"action": w.action, "where": w.where, "values": w.values} for w in writes],
        ids=result.ids,
        url=url,
        started_at=started,
        duration_ms=int((time.monotonic() - t0) * 1000),
        diffs=[{"field": d.field, "seed": d.seed, "live": d.live} for d in result.diffs],
        error=error.message if error else None,
    )


def _observe(
    run: Run, folder: RunFolder, console: Console, *, skip: tuple[str, ...] = (), label: str = "plan "
) -> tuple[list[StepResult], Observations, IhubError | None]:
    """Observe and decide every step, writing nothing; stop at the first error. Each result
    carries its observation and decision."""
    results: list[StepResult] = []
    seen: Observations = {}
    total = len(STEPS)
    for index, step in enumerate(STEPS, 1):
        if step.name in skip:
            continue
        console.step(index, total, f"{label}{step.name}", "running")
        run.entering(step.name)
        started, t0 = utc_now(), time.monotonic()
        decision: Decision | None = None
        error: IhubError | None = None
        try:
            observation = step.observe(run, seen)
            seen[step.name] = observation
            decision = step.decide(observation, run.seeds, run.options)
            status = step.settled_status if decision.action == Action.NONE else PLAN_STATUS[decision.action]
            result = step.result(status, decision.detail)
            result.planned = decision.pending
            result.diffs = decision.diffs
            result.decision = decision
            result.observation = observation
        except Exception as exc:  # noqa: BLE001  every failure becomes the operator's message
            error = _failure(step, run, exc)
            status = Status.BLOCKED if error.exit_code == ExitCode.NEEDS_DECISION else Status.FAILED
            result = step.result(status, error.message)
        results.append(result)
        console.step(index, total, f"{label}{step.name}", result.status, result.detail)
        if result.status != Status.CREATE:
            for diff in result.diffs:
                console.info(f"      {diff}")
        _log_step(folder, run, step, "plan", decision, result, started, t0, error, seen=getattr(result.observation, "seen", ""))
        if error is not None:
            return results, seen, error
    return results, seen, None


def _act(
    run: Run, planned: list[StepResult], seen: Observations, folder: RunFolder, console: Console, results: list[StepResult]
) -> tuple[list[StepResult], IhubError | None]:
    """Carry out each planned decision's writes, in order; settled steps keep their plan result.
    What a step wrote becomes the observation the steps after it act on. ``results`` (the
    caller's list) fills as the steps go."""
    total = len(STEPS)
    for index, (step, plan) in enumerate(zip(STEPS, planned, strict=True), 1):
        decision = plan.decision
        assert decision is not None
        if decision.action in (Action.NONE, Action.DRIFT):
            results.append(plan)
            continue
        console.step(index, total, step.name, "running")
        run.entering(step.name)
        started, t0 = utc_now(), time.monotonic()
        error: IhubError | None = None
        writes_before = run.writes
        try:
            result, after = step.act(run, decision, seen)
            if after is not None:
                seen[step.name] = after
        except Exception as exc:  # noqa: BLE001  every failure becomes the operator's message
            error = _failure(step, run, exc)
            status = Status.BLOCKED if error.exit_code == ExitCode.NEEDS_DECISION else Status.FAILED
            result = step.result(status, error.message)
        result.writes = run.writes - writes_before
        results.append(result)
        console.step(index, total, step.name, result.status, result.detail)
        if result.status in (Status.DRIFT, Status.UPDATED):
            for diff in result.diffs:
                console.info(f"      {diff}")
        _log_step(folder, run, step, "apply", decision, result, started, t0, error)
        if error is not None:
            return results, error
    return results, None


def _browser_failure(step: Step, run: Run, exc: PlaywrightError) -> StepFailed:
    text = exc.message or str(exc)
    first = first_line(exc)
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
    hint = hints.UI_CHANGED if element or "Timeout" in first else hints.for_failure(text)
    what = f"the element {element} is not on {screen} ({first})" if element else first
    return StepFailed(f"{step.title} failed: {what}", where=where, hint=hint)


def _needs_apply_phase(plan: list[StepResult]) -> bool:
    return any(r.status in (Status.CREATE, Status.UPDATE, Status.BLOCKED) for r in plan)


def execute(settings: Settings, seeds: SeedSet, opts: ApplyOptions, console: Console, *, detailed_exitcode: bool = False) -> Report:
    """Run apply or plan against ``settings.base``; never raises for expected failures."""
    command = "plan" if opts.plan else "apply"
    saved: PlanFile | None = None
    if opts.plan_file is not None:
        saved = load_plan(opts.plan_file)  # an altered file is refused before anything starts
        opts.steps = saved.options.steps()
    if opts.plan_out is not None:
        check_plan_out(opts.plan_out)
    settings.require_base()
    settings.check_transport()
    via, via_reason = choose_path(settings, opts.via)
    operator = operator_credentials(settings) if via == "api" else None
    session = RunSession(settings, console, command=command, headed=opts.headed, reuse_browser=opts.browser, browser=via == "ui")
    if via == "api":
        session.mode = "operator key"
    base, mode = session.base, session.mode
    if saved is not None:
        check_context(saved, target=base, seeds=seeds, path=opts.plan_file)  # type: ignore[arg-type]
    sink = open_sink(opts.key_sink or settings.key_sink, base_url=base, consumer_name=seeds.api_consumer.name)
    if not opts.plan:
        confirm_target(base, loopback=settings.is_loopback_target, yes=opts.yes, console=console)
    secrets = session.secrets
    proxy = corporate_proxy(base)
    way = network_way(base, proxy)
    options: dict[str, Any] = {
        "corporate_proxy": proxy.address if proxy is not None else None,
        "headed": opts.headed,
        "confirm": opts.confirm,
        "rotate_key": opts.steps.rotate_key,
        "update": opts.steps.update,
        "new_manifest_version": opts.steps.new_manifest_version,
        "key_sink": sink.description,
        "trace": opts.trace and via == "ui",
        "parallel": opts.parallel if via == "ui" else 1,
        "via": via,
        "via_reason": via_reason,
    }
    if saved is not None:
        options.update(plan_file=str(opts.plan_file), plan_sha256=saved.sha256)
    folder = session.begin(seeds, options)
    report = Report(command, folder.path, base, via=via, via_reason=via_reason)
    if saved is not None:
        report.plan_file, report.plan_sha256 = opts.plan_file, saved.sha256
    how = f"saved plan {opts.plan_file} (sha256 {saved.sha256[:12]}…)" if saved is not None else mode
    console.info(f"{command} {seeds.hub.slug} on {base} (session: {mode}); run folder {folder.path}")
    console.info(f"path: {'v2 bootstrap API' if via == 'api' else 'admin UI'} ({via_reason})")
    if way is not None:
        console.info(f"network: {way}")
    if saved is not None:
        console.info(f"carrying out {how}: every step is observed again first; any difference refuses the plan")
    approver: Approver = TerminalApprover(console, base) if opts.confirm else Approver()
    run: Run | None = None
    verifying: Future[list[Check]] | None = None
    seen: Observations = {}
    planned: list[StepResult] = []
    acted: list[StepResult] = []
    try:
        if via == "api":
            if not opts.plan:
                session.lock_target()
            assert operator is not None
            run = open_api_run(
                base=base, client_id=operator[0], key=operator[1], seeds=seeds, sink=sink, secrets=secrets,
                approver=approver, options=opts.steps, folder=folder, timeout_s=settings.timeout,
            )
        else:
            browser = session.open_browser(
                title=f"ihub-bootstrap {command} {seeds.hub.slug} {folder.run_id}",
                headed=opts.headed,
                slow_mo_ms=opts.slow_mo_ms,
                trace=opts.trace,
                lock=not opts.plan,
            )
            assert browser.page is not None
            credentials = None
            if mode == "password" and settings.email and settings.password is not None:
                credentials = (settings.email, settings.password.get_secret_value())

            def ask_for_manual_login(wait_s: float) -> None:
                console.info(
                    "Log in to Inter-Hub in the browser window; the run continues once you are in "
                    f"(waiting up to {wait_s:g} s; Ctrl-C stops it)."
                )

            run = Run(
                seeds=seeds,
                page=browser.page,
                base_url=base,
                timeout_s=settings.timeout,
                sink=sink,
                secrets=secrets,
                approver=approver,
                options=opts.steps,
                trace=browser.trace,
                credentials=credentials,
                manual_login=ask_for_manual_login if mode == "manual" else None,
                guard=browser.guard,
                parallel=opts.parallel,
            )
        try:
            # Phase 1, always: observe and decide everything, write nothing (this is all of `plan`).
            planned, seen, error = _observe(run, folder, console, label="re-observe " if saved is not None else "plan ")
            report.steps = planned
            if error is None and saved is not None:
                check_observations([(p.name, p.observation) for p in saved.steps], planned, f"plan file {opts.plan_file}")
                check_decisions(saved, planned, seeds, f"plan file {opts.plan_file}")
                console.info(f"the plan holds: {saved.sha256[:12]}… is carried out as it was approved")
            if error is None and opts.plan and opts.plan_out is not None:
                plan = build_plan(target=base, seeds=seeds, options=opts.steps, operator=settings.operator, results=planned)
                save_plan(plan, opts.plan_out, secrets)
                report.plan_file, report.plan_sha256 = opts.plan_out, plan.sha256
                console.info(f"plan written to {opts.plan_out} (sha256 {plan.sha256}); review it with `ihub-bootstrap show {opts.plan_out}`")
            if error is None and not opts.plan and _needs_apply_phase(planned):
                if opts.confirm and saved is None:
                    approve_plan(console, sum(len(r.planned) for r in planned))
                    # Time passed at the prompt: what was approved must still be what is there.
                    again, _, error = _observe(run, folder, console, skip=("login",), label="re-check ")
                    if error is None:
                        check_observations(
                            [(r.name, r.observation) for r in planned[1:]],
                            again,
                            "the plan approved at the prompt",
                            hint="Inter-Hub changed while the plan was on screen: run apply again to see the new plan",
                        )
                if error is None:
                    # Phase 2: act on the plan's writes; the session is kept. `acted` fills as
                    # it goes: what was done survives a Ctrl-C.
                    report.steps, error = _act(run, planned, seen, folder, console, acted)
            elif error is None and not opts.plan:
                console.info("nothing to write: Inter-Hub already matches the seeds")
            if error is not None:
                raise error
        except IhubError as exc:
            exc.hint = hints.for_command(exc.hint, command)
            report.error = exc
            _record_failure(folder, run, exc.render())
        except KeyboardInterrupt as exc:
            report.error = interrupted(
                exc, hints.again(command) if opts.plan else "run apply again to finish: nothing is created twice"
            )
            if acted and report.steps is not acted:  # the apply phase: what it did, then what it did not get to
                done = {r.name for r in acted}
                rest = [r.name for r in planned if r.name not in done]
                how = report.error.message.removeprefix("interrupted ")
                report.steps = acted + [
                    StepResult(name, Status.FAILED, f"interrupted {how} during this step: its write may have been made")
                    if i == 0
                    else StepResult(name, Status.SKIPPED, f"not done: interrupted {how} before this step")
                    for i, name in enumerate(rest)
                ]
        finally:
            report.changes = run.writes
            _ids(report, seen)
            run.close()
            incomplete = [s.name for s in report.steps if s.status in (Status.SKIPPED, Status.BLOCKED)]
            if not incomplete and report.error is None and opts.verify and not opts.plan:

                def validate() -> list[Check]:
                    stored = sink.load(report.api_consumer_id) if report.api_consumer_id else None
                    if stored is not None:
                        secrets.add(stored.api_key)
                    return verify(base, seeds, stored, secrets, settings.timeout, settings.ca_bundle)

                # over HTTP, needing nothing of the browser: it runs while the browser closes
                # and its trace is saved
                verifying = _in_background(validate, "verify")
            session.end_browser()
        if incomplete and report.error is None and not opts.plan:
            console.info(f"verify: not run, steps not done: {', '.join(incomplete)}")
        elif verifying is not None:
            console.info("verify: the runbook's validation over HTTP")
            report.verification = verifying.result()
            for check in report.verification:
                console.check(check.ok, check.check, check.detail)
            folder.event(
                "verification", checks=[c.to_json() for c in report.verification], ok=all(c.ok for c in report.verification)
            )
    except IhubError as exc:
        report.error = exc
        _record_failure(folder, run, exc.render())
    except KeyboardInterrupt as exc:  # during verify, or while the browser closed
        report.error = report.error or interrupted(exc, "run apply again to finish: nothing is created twice")
    finally:
        _close(session, report, console, detailed_exitcode)
    return report


def _in_background(work: Callable[[], T], name: str) -> Future[T]:
    """``work()`` in a thread of its own; its result (or exception) from the future."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(work())
        except BaseException as exc:  # noqa: BLE001  handed to whoever waits for the result
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


def _ids(report: Report, seen: Observations) -> None:
    hub, consumer = seen.get("hub"), seen.get("api-consumer")
    report.hub_id = getattr(hub, "hub_id", None) or next((r.ids["hub_id"] for r in report.steps if r.ids.get("hub_id")), None)
    report.api_consumer_id = getattr(consumer, "consumer_id", None) or next(
        (r.ids["api_consumer_id"] for r in report.steps if r.ids.get("api_consumer_id")), None
    )


def _close(session: RunSession, report: Report, console: Console, detailed: bool) -> None:
    """The report's exit code, the run folder finished (a secret found there overrides the
    exit code: 6), the error told once."""
    report.exit_code = _exit_code(report, detailed)

    def summary(exit_code: int, findings: list[str]) -> dict[str, Any]:
        report.trace_stopped_early = session.trace_stopped_early
        if findings:
            report.leaks = findings
            report.error = SecretLeak(
                "the run folder still holds a secret after scrubbing: " + "; ".join(findings),
                where=str(session.path),
                hint="do not share this run folder; delete it and report this as a bug",
            )
        report.exit_code = exit_code
        return report.to_json()

    session.close(
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
        if step.status in (Status.DRIFT, Status.UPDATE) or (report.command == "plan" and step.status != Status.CREATE):
            lines.extend(f"  {'':<20}   {diff}" for diff in step.diffs)
    if report.plan_file is not None and report.command == "plan":
        lines.append(f"plan saved: {report.plan_file} (sha256 {report.plan_sha256}); review: ihub-bootstrap show {report.plan_file}")
    elif report.plan_file is not None:
        lines.append(f"saved plan applied: {report.plan_file} (sha256 {report.plan_sha256})")
    elif report.command == "apply":
        lines.append("no saved plan: planned and applied in this run")
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
    session = RunSession(settings, console, command="verify", browser=False)
    base, secrets = session.base, session.secrets
    sink = open_sink(key_sink or settings.key_sink, base_url=base, consumer_name=seeds.api_consumer.name, for_writing=False)
    folder = session.begin(seeds, {"key_sink": sink.description})
    report = Report("verify", folder.path, base)
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
        _close(session, report, console, False)
    return report
