"""The audit trail: a run folder an auditor can open, holding no secret.

Canary values (a distinctive password, a distinctive session cookie, the sandbox-generated
keys, every session token the sandbox issued) are looked for in every file of the run
folders, zip entries decompressed, and in stdout/stderr, by a scan written here
independently of the tool's own scanner. With scrubbing switched off (a test-only switch)
the same values are found, which proves the scan can see them."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import zipfile
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest
from playwright.sync_api import Browser
from sqlalchemy import insert, select

from flows.audit import UNSAFE_NO_SCRUB_ENV, RunEnd, RunStart, StepEvent, VerificationEvent, read_audit_log
from flows.apply import ApplyOptions, execute
from flows.console import Console
from flows.errors import ExitCode
from flows.seeds import load_seeds
from flows.settings import ExplicitSettings
from sandbox.web import sha256_hex
from tests.support import ADMIN_EMAIL, SandboxFactory, Tool, form_fills, login, rows

# Characters that Python's quote(), encodeURIComponent() and a browser's form encoding each
# treat differently, and that HTML escapes: every one of these forms must be caught.
CANARY_PASSWORD = "Canary P@ss!~*'(7f3a)<&>\"Q+X"
CANARY_COOKIE = "CanarySession-5e8d2b71c4a94f06b1d3e2f7a8c9d0e1"


def forms(secret: str) -> list[bytes]:
    """The secret as it could appear in a file: plain, URL-encoded the three ways a run may
    encode it, HTML-escaped, JSON-escaped, base64 at 3 alignments (written here, not taken
    from the tool, so that the test does not trust what it tests)."""
    found = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        quote(secret, safe="-_.!~*'()"),  # encodeURIComponent
        quote_plus(secret, safe="*-._").replace("~", "%7E"),  # a browser's form body
        html.escape(secret),
        json.dumps(secret)[1:-1],
    }
    raw = {f.encode() for f in found}
    for offset in range(3):
        encoded = base64.b64encode(b"x" * offset + secret.encode())
        raw.add(encoded[(offset * 4 + 2) // 3 + 1 : len(encoded) - 4])
    return [f for f in raw if len(f) >= 8]


def every_byte(folder: Path) -> dict[str, bytes]:
    out = {}
    for path in folder.rglob("*"):
        if path.is_file():
            out[str(path)] = path.read_bytes()
            if zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as z:
                    for name in z.namelist():
                        out[f"{path}!{name}"] = z.read(name)
    return out


def occurrences(secrets: list[str], *, folders: list[Path], texts: dict[str, str]) -> list[str]:
    hits = []
    blobs = {name: data for folder in folders for name, data in every_byte(folder).items()}
    blobs.update({name: text.encode() for name, text in texts.items()})
    for i, secret in enumerate(secrets):
        for name, data in blobs.items():
            if any(f in data for f in forms(secret)):
                hits.append(f"secret {i} in {name}")
    return hits


def canary_sandbox(sandbox_factory: SandboxFactory, submit: str):  # noqa: ANN201
    sandbox = sandbox_factory(submit=submit, admin_password=CANARY_PASSWORD)
    sb = sandbox.sandbox
    with sb.engine.begin() as conn:
        admin_id = conn.execute(select(sb.t.users.c.id).where(sb.t.users.c.email == ADMIN_EMAIL)).scalar_one()
        conn.execute(insert(sb.t.sessions).values(token=sha256_hex(CANARY_COOKIE), user_id=admin_id))
    return sandbox


def secrets_of(sandbox, tool: Tool) -> list[str]:  # noqa: ANN001
    """Every secret the runs saw: the canaries, all session tokens, the keys in the sink."""
    keys = [tool.stored_key()["api_key"]] if tool.key_file.exists() else []
    sessions = list(sandbox.sandbox.issued_session_tokens)
    return [CANARY_PASSWORD, CANARY_COOKIE, *sessions, *keys]


def run_twice(tool: Tool, **env: str) -> tuple[list, list[str], str]:  # noqa: ANN401
    """A password-mode fresh apply, then a cookie-mode apply that rotates the key."""
    first = tool("apply", "--json", password=CANARY_PASSWORD, trace=True, **env)
    first_key = tool.stored_key()["api_key"]
    second = tool("apply", "--json", "--rotate-key", email=None, password=None, session_cookie=CANARY_COOKIE, trace=True, **env)
    return [first, second], [first_key], f"{first.stdout}{first.stderr}{second.stdout}{second.stderr}"


@pytest.mark.parametrize("submit", ["js", "native"])
def test_no_secret_in_run_folders_or_output(sandbox_factory: SandboxFactory, tmp_path: Path, submit: str) -> None:
    sandbox = canary_sandbox(sandbox_factory, submit)
    tool = Tool(sandbox, tmp_path)
    results, old_keys, _ = run_twice(tool)
    for result in results:
        assert result.returncode == ExitCode.OK, result.stderr
    secrets = secrets_of(sandbox, tool) + old_keys
    assert len(secrets) >= 5
    texts = {f"run{i}.{stream}": getattr(r, stream) for i, r in enumerate(results) for stream in ("stdout", "stderr")}
    assert occurrences(secrets, folders=[tool.runs], texts=texts) == []
    for result in results:
        folder = Path(json.loads(result.stdout)["run_folder"])
        assert sorted(p.name for p in folder.iterdir()) == ["audit.jsonl", "summary.json", "trace.zip"]
        clean = tool("audit", "scan", str(folder), email=None, password=CANARY_PASSWORD, session_cookie=CANARY_COOKIE)
        assert clean.returncode == 0 and clean.stdout.startswith("clean:"), clean.stdout + clean.stderr


def test_without_scrubbing_the_scanner_finds_them(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    sandbox = canary_sandbox(sandbox_factory, "js")
    tool = Tool(sandbox, tmp_path)
    results, old_keys, output = run_twice(tool, **{UNSAFE_NO_SCRUB_ENV.removeprefix("IHUB_").lower(): "1"})
    for result in results:
        assert result.returncode == ExitCode.SECRET_LEAK, result.stderr
        assert "the run folder still holds a secret after scrubbing" in result.stderr
        assert re.search(r"trace\.zip!\d-trace\.network \(", result.stderr)
    hits = occurrences(secrets_of(sandbox, tool) + old_keys, folders=[tool.runs], texts={})
    assert any(h.startswith("secret 1 in") and "trace" in h for h in hits), hits  # the canary session cookie
    assert any("trace" in h for h in hits if not h.startswith(("secret 0 ", "secret 1 "))), hits  # sessions, keys
    # the login is never recorded, so the password is not in the trace even unscrubbed
    assert not any(h.startswith("secret 0 in") and "trace" in h for h in hits), hits
    # the tool's own output still holds none of them
    assert occurrences(secrets_of(sandbox, tool) + old_keys, folders=[], texts={"output": output}) == []
    folder = Path(json.loads(results[0].stdout)["run_folder"])
    scan = tool("audit", "scan", str(folder), email=None, password=CANARY_PASSWORD)
    assert scan.returncode == ExitCode.SECRET_LEAK
    assert "LEAK trace.zip!" in scan.stdout and CANARY_PASSWORD not in scan.stdout + scan.stderr


def test_trace_is_valid_and_lists_every_step(tool: Tool) -> None:
    code, report, stderr = tool.json("apply", trace=True)
    assert code == ExitCode.OK, stderr
    trace = Path(report["run_folder"]) / "trace.zip"
    with zipfile.ZipFile(trace) as z:
        assert z.testzip() is None
        names = z.namelist()
        traces = sorted(n for n in names if n.endswith(".trace"))
        # from the end of the login on (nothing before it: no empty first recording), stopped around the key
        assert traces == ["0-trace.trace", "1-trace.trace"]
        actions, urls = [], []
        for name in names:
            if name.endswith((".trace", ".network")):
                for line in z.read(name).decode().splitlines():
                    event = json.loads(line)  # every line is JSON
                    if event.get("type") == "before":
                        actions.append(event.get("method"))
                        urls.append(json.dumps(event.get("params", {})))
                    elif event.get("type") == "frame-snapshot":  # a page a submit landed on, used as is
                        urls.append(event["snapshot"].get("frameUrl", ""))
    assert {"goto", "fill", "click", "tracingGroup"} <= set(actions) and "selectOption" not in actions, set(actions)
    # each form's fields and values: one call per form, titled by the fields it fills, its
    # parameters holding each label and value (the hub's Kind, each widget's type: chosen)
    seeds = load_seeds()
    with zipfile.ZipFile(trace) as z:
        fills = form_fills(z)
    assert fills and all(f.ok for f in fills), fills  # each form in one call
    widgets = sorted((f.values["Name"], f.values["Widget Type"], f.values["Config"]) for f in fills if f.title == "Fill 'Hub', 'Name', 'Title', 'Widget Type', 'Config'")
    assert widgets == sorted((w.name, w.type, json.dumps(w.config, ensure_ascii=False)) for w in seeds.widgets), fills
    (hub,) = [f.values for f in fills if f.title == "Fill 'Name', 'Slug', 'Domain', 'Kind'"]
    assert hub == {"Name": seeds.hub.name, "Slug": seeds.hub.slug, "Domain": seeds.hub.domain, "Kind": seeds.hub.kind}
    seen = "\n".join(urls)
    for path in ("/Hubs/new", "/HubCapabilityManifests/new", "/EditHubCapabilityManifest", "/ShowHubCapabilityManifest", "/ApiConsumers/new", "/ShowApiConsumer", "/Widgets/new"):
        assert path in seen, path
    # left out entirely, network included: the login form's POST and the page showing the key
    with zipfile.ZipFile(trace) as z:
        recorded = b"".join(z.read(n) for n in z.namelist())
        requests = [
            json.loads(line)["snapshot"]["request"]["url"]
            for name in z.namelist()
            if name.endswith(".network")
            for line in z.read(name).decode().splitlines()
            if json.loads(line).get("type") == "resource-snapshot"
        ]
    assert requests and not [u for u in requests if "/CreateSession" in u or "/CreateApiKey" in u], requests
    assert b"apiKey_key" not in recorded and b"API key created" not in recorded


def test_audit_log_validates_and_tells_the_story(tool: Tool) -> None:
    code, report, stderr = tool.json("apply", trace=True)
    assert code == ExitCode.OK, stderr
    events = read_audit_log(Path(report["run_folder"]) / "audit.jsonl")
    assert isinstance(events[0], RunStart) and isinstance(events[-1], RunEnd)
    assert events[-1].trace_stopped_early is None and "trace is incomplete" not in stderr  # the whole run is recorded
    assert "trace_stopped_early" in report and report["trace_stopped_early"] is None  # --json says so too
    assert isinstance(events[-2], VerificationEvent) and events[-2].ok
    names = ["login", "hub", "manifest", "manifest-vocabulary", "activate", "api-consumer", "api-key", "widgets"]
    plan = [e for e in events if isinstance(e, StepEvent) and e.phase == "plan"]
    assert [s.step for s in plan] == names  # apply observes everything first and shows the plan
    assert plan[1].decision == "create" and plan[1].status == "create"
    steps = [plan[0]] + [e for e in events if isinstance(e, StepEvent) and e.phase == "apply"]
    assert [s.step for s in steps] == names
    start = events[0]
    assert start.target == tool.sandbox.base_url and start.session_mode == "password"
    assert {Path(s.file).name for s in start.seeds} == {"ops-hub.hub.json", "ops-hub-manifest.draft.json", "ops-hub-widgets.seed.json"}
    hub = steps[1]
    assert hub.decision == "create" and hub.status == "created" and hub.ids["hub_id"] == report["hub_id"]
    assert hub.writes[0]["action"] == "create hub" and hub.writes[0]["values"]["slug"] == "ops-hub"
    assert "/ShowHub?hubId=" in hub.url and hub.duration_ms > 0
    assert events[-1].exit_code == 0 and events[-1].changes == 12
    assert all(e.time.endswith("Z") for e in events)


def test_failed_run_leaves_a_complete_scrubbed_folder(tool: Tool, sandbox) -> None:  # noqa: ANN001
    with httpx.Client(base_url=sandbox.base_url) as admin:  # the validation error to come
        login(admin)
        admin.post("/CreateHub", data={"name": "Ops Hub", "slug": "ops-legacy", "domain": "legacy.x.org", "kind": "domain"})
    code, report, stderr = tool.json("apply", trace=True)
    assert code == ExitCode.STEP_FAILED
    folder = Path(report["run_folder"])
    assert sorted(p.name for p in folder.iterdir()) == ["audit.jsonl", "failure.png", "failure.txt", "summary.json", "trace.zip"]
    assert (folder / "failure.png").read_bytes().startswith(b"\x89PNG")
    failure = (folder / "failure.txt").read_text()
    assert "Name: This is already in use" in failure and "page: /Hubs/new" in failure.replace(tool.sandbox.base_url, "")
    events = read_audit_log(folder / "audit.jsonl")
    failed = [e for e in events if isinstance(e, StepEvent) and e.status == "failed"]
    assert [e.step for e in failed] == ["hub"] and "This is already in use" in (failed[0].error or "")
    assert isinstance(events[-1], RunEnd) and events[-1].exit_code == ExitCode.STEP_FAILED
    secrets = list(sandbox.sandbox.issued_session_tokens) + [tool.settings["password"]]
    assert occurrences(secrets, folders=[folder], texts={"stdout": json.dumps(report), "stderr": stderr}) == []


def test_a_password_typed_by_hand_is_not_recorded(
    sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser
) -> None:
    """Headed, no credentials: the operator logs in in the window; the tool never learns the
    password, so nothing could scrub it: it must never be recorded."""
    sandbox = sandbox_factory(admin_password=CANARY_PASSWORD)

    class Operator(Console):
        def info(self, text: str) -> None:
            super().info(text)
            if text.startswith("Log in to Inter-Hub in the browser window"):
                page = browser.contexts[-1].pages[-1]  # the run's window, as the operator sees it
                page.get_by_placeholder("E-Mail").fill(ADMIN_EMAIL)
                page.get_by_placeholder("Password").fill("a typo")
                page.get_by_role("button", name="Login").click()
                page.get_by_text("Invalid Credentials").wait_for()  # a typo: the run keeps waiting
                page.get_by_placeholder("Password").fill(CANARY_PASSWORD)
                page.get_by_role("button", name="Login").click()

    settings = ExplicitSettings(base=sandbox.base_url, runs_dir=tmp_path / "runs", key_sink=f"file:{tmp_path / 'k.json'}")
    output = io.StringIO()
    report = execute(settings, load_seeds(), ApplyOptions(headed=True, browser=browser), Operator(output))
    assert report.exit_code == ExitCode.OK, output.getvalue()
    assert report.steps[0].detail == "logged in by the operator (not recorded in the trace)"
    assert (report.run_folder / "trace.zip").is_file()
    assert occurrences([CANARY_PASSWORD], folders=[tool_runs := tmp_path / "runs"], texts={"console": output.getvalue()}) == []
    assert tool_runs.is_dir()


def test_a_failure_while_the_key_is_on_screen_records_no_key(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    """The key page changed (its field is not where the page object looks): the step fails
    while the key is displayed; the page is left before recording resumes or the failure
    screenshot is taken, so neither holds the key."""
    sandbox = sandbox_factory(relabel={"API key": "Your new key"})
    keys: list[str] = []
    sandbox.config.faults.on_api_key = keys.append
    tool = Tool(sandbox, tmp_path)
    code, report, stderr = tool.json("apply", trace=True, timeout="3")
    assert code == ExitCode.STEP_FAILED, stderr
    assert report["steps"][-1]["name"] == "api-key" and report["steps"][-1]["status"] == "failed"
    assert len(keys) == 1  # the key was generated and shown
    folder = Path(report["run_folder"])
    assert (folder / "failure.png").is_file() and (folder / "trace.zip").is_file()
    assert occurrences(keys, folders=[folder], texts={"stdout": json.dumps(report), "stderr": stderr}) == []


class _Tracing:
    """Stands in for a context's tracing: what the recorder asked of it, in order."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def start(self, **options: object) -> None:
        self.calls.append("start")

    def stop(self, path: str | None = None) -> None:
        self.calls.append("stop")
        if path:
            Path(path).write_bytes(b"")


def test_a_recorder_that_waits_for_the_login_records_only_after_it(tmp_path: Path) -> None:
    """start=False (a run that logs in first): nothing is recorded until the login's pause ends
    cleanly; a clean-up that fails there means nothing is ever recorded, whatever asks later;
    with start=True a pause cuts the recording in two parts around the moment."""
    from types import SimpleNamespace

    from flows.browser import TraceRecorder

    def recorder(start: bool) -> tuple[TraceRecorder, _Tracing]:
        tracing = _Tracing()
        return TraceRecorder(SimpleNamespace(tracing=tracing), tmp_path / str(start), "t", start=start), tracing  # type: ignore[arg-type]

    waiting, tracing = recorder(start=False)
    assert tracing.calls == [] and not waiting.recording
    with waiting.paused():  # the login
        assert tracing.calls == []
    assert tracing.calls == ["start"] and waiting.recording
    waiting.begin()  # the login step's call: recording already runs
    with waiting.paused():  # the API key on screen
        assert tracing.calls == ["start", "stop"]
    assert tracing.calls == ["start", "stop", "start"]
    assert [p.name for p in waiting.finish()] == ["part-0.zip", "part-1.zip"]

    def fails() -> None:
        raise RuntimeError("the page could not be left")

    given_up, tracing = recorder(start=False)
    with given_up.paused(fails):
        pass
    given_up.begin()
    with given_up.paused():
        pass
    assert tracing.calls == [] and given_up.finish() == []  # never recorded, never a part

    at_once, tracing = recorder(start=True)
    assert tracing.calls == ["start"]
    at_once.begin()  # nothing to do
    assert tracing.calls == ["start"]


class _FailingTracing(_Tracing):
    """Tracing whose calls named in ``failing`` raise as Playwright does when the browser is gone."""

    def __init__(self, *failing: str) -> None:
        super().__init__()
        self.failing = set(failing)

    def _maybe_fail(self, call: str) -> None:
        if call in self.failing:
            from playwright.sync_api import Error as PlaywrightError

            raise PlaywrightError(f"Tracing.{call}: Target page, context or browser has been closed\nCall log:\n  - a detail")

    def start(self, **options: object) -> None:
        self._maybe_fail("start")
        super().start(**options)

    def stop(self, path: str | None = None) -> None:
        self._maybe_fail("stop")
        super().stop(path)


class _Interrupted(_Tracing):
    """Ctrl-C while the last part is written (the first two calls, a pause's stop and start, pass)."""

    def stop(self, path: str | None = None) -> None:
        if len(self.calls) > 2:
            raise KeyboardInterrupt
        super().stop(path)


@pytest.mark.parametrize("when", ["saving the last part", "reading the cookies"])
def test_an_interrupt_while_the_browser_is_ended_keeps_the_trace_and_learns_the_cookies(tmp_path: Path, when: str) -> None:
    """Ctrl-C while the run ends its browser (saving the last trace part, reading the cookies
    to scrub): the parts saved before are kept for trace.zip (and why it ends early is said),
    the session cookie is still learnt, the browser is closed, and a second call does nothing."""
    from types import SimpleNamespace

    from flows.browser import TraceRecorder
    from flows.session import RunSession

    settings = ExplicitSettings(base="http://127.0.0.1:9", email=ADMIN_EMAIL, password="a-password", runs_dir=tmp_path / "runs")
    session = RunSession(settings, Console(io.StringIO()), command="doctor", browser=False)
    tracing = _Interrupted() if when == "saving the last part" else _Tracing()
    recorder = TraceRecorder(SimpleNamespace(tracing=tracing), tmp_path / "t", "t")  # type: ignore[arg-type]
    with recorder.paused():  # the login: part-0 before it
        pass
    reads: list[int] = []

    def cookie_values() -> list[str]:
        reads.append(1)
        if when == "reading the cookies" and len(reads) == 1:
            raise KeyboardInterrupt
        return ["session-cookie-value"]

    closed: list[bool] = []
    session.browser = SimpleNamespace(trace=recorder, cookie_values=cookie_values)  # type: ignore[assignment]
    session._stack.callback(closed.append, True)  # stands for the browser's context manager
    with pytest.raises(KeyboardInterrupt):
        session.end_browser()
    if when == "saving the last part":
        assert [p.name for p in session.chunks] == ["part-0.zip"]
        assert session.trace_stopped_early and session.trace_stopped_early.startswith("the part being recorded could not be saved (interrupted: Ctrl-C)")
        assert "session-cookie-value" in session.secrets.values
    else:
        assert [p.name for p in session.chunks] == ["part-0.zip", "part-1.zip"] and session.trace_stopped_early is None
    assert closed == [True] and session.browser is None
    session.end_browser()  # nothing left to end
    assert closed == [True] and len(session.chunks) >= 1


def test_a_trace_that_playwright_cannot_save_or_restart_is_reported_not_hidden(tmp_path: Path) -> None:
    """A recorder whose tracing fails (a browser gone, a session broken by a signal) says so in
    ``stopped_early`` (run-end and the warning read it); a restart that fails after a moment left
    out is not raised over how that moment ended, and nothing more is recorded."""
    from types import SimpleNamespace

    from flows.browser import TraceRecorder

    closed = "Target page, context or browser has been closed"
    tracing = _FailingTracing("stop")
    unsaved = TraceRecorder(SimpleNamespace(tracing=tracing), tmp_path / "a", "t")  # type: ignore[arg-type]
    assert unsaved.finish() == []
    assert unsaved.stopped_early == f"the part being recorded could not be saved (Tracing.stop: {closed}); nothing of the run was kept"

    tracing = _FailingTracing()
    restart = TraceRecorder(SimpleNamespace(tracing=tracing), tmp_path / "b", "t")  # type: ignore[arg-type]
    with pytest.raises(LookupError, match="the step's own failure"):
        with restart.paused():
            tracing.failing.add("start")
            raise LookupError("the step's own failure")
    assert restart.stopped_early == f"Playwright could not start recording again (Tracing.start: {closed}); nothing after it was recorded"
    tracing.failing.clear()
    restart.begin()
    with restart.paused():
        pass
    assert tracing.calls == ["start", "stop"] and [p.name for p in restart.finish()] == ["part-0.zip"]

    tracing = _FailingTracing()
    late = TraceRecorder(SimpleNamespace(tracing=tracing), tmp_path / "c", "t")  # type: ignore[arg-type]
    with late.paused():
        pass
    tracing.failing.add("stop")
    assert [p.name for p in late.finish()] == ["part-0.zip"]
    assert late.stopped_early == f"the part being recorded could not be saved (Tracing.stop: {closed}); the trace ends where its last saved part did"

    tracing = _Interrupted()
    cut = TraceRecorder(SimpleNamespace(tracing=tracing), tmp_path / "d", "t")  # type: ignore[arg-type]
    with cut.paused():
        pass
    with pytest.raises(KeyboardInterrupt):
        cut.finish()
    assert [p.name for p in cut.chunks] == ["part-0.zip"]  # kept: RunSession.end_browser merges it
    assert cut.stopped_early == "the part being recorded could not be saved (interrupted: Ctrl-C); the trace ends where its last saved part did"

    tracing = _FailingTracing("start")
    never = TraceRecorder(SimpleNamespace(tracing=tracing), tmp_path / "e", "t", start=False)  # type: ignore[arg-type]
    never.begin()  # a run that logged in with a session cookie: recording would start here
    assert never.stopped_early == f"Playwright could not start recording (Tracing.start: {closed}); nothing of the run was recorded"
    assert never.finish() == []


def test_a_trace_that_stopped_early_says_so(
    sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the page that showed the API key cannot be left, recording never resumes (a page
    that may hold the key is never recorded); the run goes on, and the operator and audit.jsonl's
    run-end say that the trace ends there, so an auditor does not take it for the whole run."""
    from pages.api_consumers import ApiConsumersPage

    def stuck(self: ApiConsumersPage) -> None:
        raise RuntimeError("the key page could not be left")

    monkeypatch.setattr(ApiConsumersPage, "leave_key_page", stuck)
    sandbox = sandbox_factory()
    settings = ExplicitSettings(
        base=sandbox.base_url, email=ADMIN_EMAIL, password=sandbox.config.admin_password,
        runs_dir=tmp_path / "runs", key_sink=f"file:{tmp_path / 'k.json'}",
    )
    output = io.StringIO()
    report = execute(settings, load_seeds(), ApplyOptions(browser=browser), Console(output))
    assert report.exit_code == ExitCode.OK, output.getvalue()
    said = "a page that may hold a secret could not be cleaned; nothing after it was recorded"
    assert f"warning: the trace is incomplete: {said}" in output.getvalue()
    end = read_audit_log(report.run_folder / "audit.jsonl")[-1]
    assert isinstance(end, RunEnd) and end.trace_stopped_early == said
    assert json.loads((report.run_folder / "summary.json").read_text())["trace_stopped_early"] == said  # and --json
    with zipfile.ZipFile(report.run_folder / "trace.zip") as z:  # what came before the key is there, nothing after it
        recorded = b"".join(z.read(n) for n in z.namelist())
    assert b"/CreateApiConsumer" in recorded and b"/CreateWidget" not in recorded

