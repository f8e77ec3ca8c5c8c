"""Issue 9: what an adversarial review broke, each as a test, and the structural guarantees.

Every run folder here is read by ``tests/secret_finder.py`` (written for the tests, not the
tool's scanner) for the password, every session id the sandbox handed out and every API key
it generated."""

from __future__ import annotations

import contextlib
import errno
import http.server
import io
import json
import os
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserType, Page
from playwright.sync_api import Error as PlaywrightError

from flows.apply import ApplyOptions, Report, execute
from flows.audit import UNSAFE_NO_SCRUB_ENV
from flows.browser import OriginGuard, bypass_rules, launch_args
from flows.provision import find_browser
from flows.guard_proxy import Upstream
from flows.console import Console
from flows.errors import BadInputError, ExitCode
from flows.keysink import EnvFileSink, FileSink, open_sink
from flows.seeds import PROJECT_SEEDS, load_seeds
from flows.settings import ExplicitSettings
from sandbox.config import SandboxConfig
from sandbox.server import RunningSandbox, start_in_thread
from tests.support import ADMIN_EMAIL, ADMIN_PASSWORD, PROJECT, SandboxFactory, Tool, count, forward_proxy, redirecting_origin, refusing_origin, rows, serving, tool_env, work_dir_for
from tests.secret_finder import where

# A quote, a backslash and non-ASCII: Playwright's JSON keeps it raw UTF-8 with \" and \\.
HOSTILE = 'Pw"q\\é-ß-€-😀-x'


class Keys:
    """Collects every API key the sandbox generates."""

    def __init__(self, sandbox: RunningSandbox):
        self.values: list[str] = []
        sandbox.config.faults.on_api_key = self.values.append


def secrets_of(sandbox: RunningSandbox, keys: Keys, *extra: str) -> list[str]:
    return [*extra, *sandbox.sandbox.issued_session_tokens, *keys.values]


def run_apply(
    sandbox: RunningSandbox,
    tmp_path: Path,
    browser: Browser,
    *,
    password: str | None = ADMIN_PASSWORD,
    headed: bool = False,
    console: Console | None = None,
    timeout: float = 20,
    seeds_dir: Path = PROJECT_SEEDS,
    plan: bool = False,
    key_file: Path | None = None,
) -> tuple[Report, str]:
    stream = io.StringIO()
    settings = ExplicitSettings(
        base=sandbox.base_url,
        email=ADMIN_EMAIL if password is not None else None,
        password=password,
        runs_dir=tmp_path / "runs",
        key_sink=f"file:{key_file or tmp_path / 'keys.json'}",
        timeout=timeout,
    )
    opts = ApplyOptions(plan=plan, headed=headed, trace=True, browser=browser)
    report = execute(settings, load_seeds(seeds_dir), opts, console or Console(stream))
    return report, stream.getvalue()


# ---------------------------------------------------------------- 1. a failed login is never recorded


@pytest.mark.parametrize("how", ["dropped", "slower-than-timeout"])
def test_a_failed_login_leaves_no_password_even_unscrubbed(
    how: str, sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(UNSAFE_NO_SCRUB_ENV, "1")  # nothing is scrubbed: what is there was recorded
    sandbox = sandbox_factory(admin_password=HOSTILE)
    if how == "dropped":
        sandbox.config.faults.drop_mutation = 1  # the login POST is handled, its answer lost
    else:
        release = threading.Event()
        sandbox.config.faults.on_mutation = lambda n, path: release.wait(4) if n == 1 else None

    report, output = run_apply(sandbox, tmp_path, browser, password=HOSTILE, timeout=2)

    # unscrubbed, the session cookies are in the trace (exit 6); the password must not be
    assert report.exit_code in (ExitCode.STEP_FAILED, ExitCode.AUTH, ExitCode.SECRET_LEAK)
    assert "refused the login" in output or "log in" in output
    assert (report.run_folder / "trace.zip").is_file()
    assert (report.run_folder / "failure.txt").is_file()
    assert where(report.run_folder, [HOSTILE], {"console": output}) == []


class TypingOperator(Console):
    """The operator of a headed run: types the password (which the tool is never told) when
    the tool asks for a manual login."""

    def __init__(self, browser: Browser, password: str):
        super().__init__(io.StringIO())
        self.browser = browser
        self.password = password

    def info(self, text: str) -> None:
        super().info(text)
        if text.startswith("Log in to Inter-Hub in the browser window"):
            page = self.browser.contexts[-1].pages[0]
            page.get_by_placeholder("E-Mail", exact=True).fill(ADMIN_EMAIL)
            page.get_by_placeholder("Password", exact=True).fill(self.password)
            page.get_by_role("button", name="Login", exact=True).click()


@pytest.mark.parametrize("markup", ["current", "custom"])  # custom: no Logout control on screen
def test_a_manual_login_is_never_recorded(
    sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser, monkeypatch: pytest.MonkeyPatch, markup: str
) -> None:
    monkeypatch.setenv(UNSAFE_NO_SCRUB_ENV, "1")
    sandbox = sandbox_factory(admin_password=HOSTILE, markup=markup)
    operator = TypingOperator(browser, HOSTILE)
    report, _ = run_apply(sandbox, tmp_path, browser, password=None, headed=True, console=operator, plan=True)
    assert report.exit_code in (ExitCode.OK, ExitCode.SECRET_LEAK)  # unscrubbed: the cookies are there
    assert [s.status for s in report.steps][0] == "ok"
    assert (report.run_folder / "trace.zip").is_file()
    assert where(report.run_folder, [HOSTILE], {"console": operator.stream.getvalue()}) == []


# ---------------------------------------------------------------- 3. U+2028 / U+0085 in seeds


def test_line_separators_in_seeds_do_not_break_scrubbing(
    sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser
) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for f in PROJECT_SEEDS.glob("*.json"):
        (seeds / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    widgets = seeds / "ops-hub-widgets.seed.json"
    data = json.loads(widgets.read_text(encoding="utf-8"))
    data["widgets"][0]["title"] = "Open\u2028incidents\u0085now"
    widgets.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    sandbox = sandbox_factory(admin_password=HOSTILE)
    keys = Keys(sandbox)

    report, output = run_apply(sandbox, tmp_path, browser, password=HOSTILE, seeds_dir=seeds)

    assert report.exit_code == ExitCode.OK, report.error and report.error.render()
    assert (report.run_folder / "trace.zip").is_file()
    assert where(report.run_folder, secrets_of(sandbox, keys, HOSTILE), {"console": output}) == []


# ---------------------------------------------------------------- 4. every way a run ends


# The CLI with SIGHUP at its default, whatever this test run inherited (a suite started under
# nohup, as some CI runners do, would hand its ignore down: the tool keeps an ignored SIGHUP
# ignored).
_CLI_WITH_DEFAULT_SIGHUP = (
    "import runpy, signal, sys; signal.signal(signal.SIGHUP, signal.SIG_DFL); "
    "sys.argv[0] = 'ihub-bootstrap'; runpy.run_module('flows.cli', run_name='__main__')"
)


def _start_cli(tool: Tool, *args: str, own_group: bool = False, **env: str) -> subprocess.Popen[str]:
    """The CLI in a process of its own, SIGHUP at its default; ``own_group``: the leader of a
    process group, as a command started at a terminal is (Ctrl-C there signals the whole group)."""
    merged = tool_env(tool.tmp_path, **tool.settings) | env
    return subprocess.Popen(
        [sys.executable, "-c", _CLI_WITH_DEFAULT_SIGHUP, *args],
        env=merged,
        cwd=tool.tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=own_group,
    )


def _wait_for_step(tool: Tool, name: str, timeout: float = 60) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for log in tool.runs.glob("*/audit.jsonl"):
            if any(json.loads(line).get("step") == name for line in log.read_text().splitlines() if line):
                return log.parent
        time.sleep(0.05)
    raise AssertionError(f"no step {name} within {timeout} s")


def _work_dirs(tool: Tool) -> list[Path]:
    root = Path(work_dir_for(tool.tmp_path))
    return list(root.iterdir()) if root.is_dir() else []


@pytest.mark.parametrize("how", ["SIGTERM", "SIGHUP", "Ctrl-C", "SIGTERM to the group", "SIGHUP to the group"])
def test_sigterm_sighup_and_ctrl_c_end_a_run_with_its_trace(how: str, sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    """SIGTERM or SIGHUP sent to the tool alone (``kill PID``) or to its whole process group
    (``timeout``, a closed terminal), and Ctrl-C (SIGINT to the group) each end a run like the
    others: exit 9, run folder finished, and the trace up to that moment kept. (Before, Ctrl-C
    and a group's SIGTERM or SIGHUP reached Playwright's driver, which closed the browser at
    once, and a signal inside Playwright's dispatch broke the session: no trace.)"""
    sandbox = sandbox_factory(admin_password=HOSTILE)
    sandbox.config.faults.latency_ms = 150  # a run long enough to be stopped in the middle
    keys = Keys(sandbox)
    tool = Tool(sandbox, tmp_path)
    tool.settings["password"] = HOSTILE
    to_group = how == "Ctrl-C" or how.endswith(" to the group")
    signum = signal.SIGINT if how == "Ctrl-C" else signal.Signals[how.split()[0]]
    proc = _start_cli(tool, "apply", "--json", own_group=to_group)
    folder = _wait_for_step(tool, "hub")
    if to_group:
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=120)

    assert proc.returncode == ExitCode.ABORTED, stderr
    assert f"interrupted ({'Ctrl-C' if how == 'Ctrl-C' else signum.name})" in stderr
    assert "incomplete" not in stderr
    events = [json.loads(line) for line in (folder / "audit.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "run-end" and events[-1]["trace_stopped_early"] is None
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["exit_code"] == ExitCode.ABORTED
    assert (folder / "trace.zip").is_file()
    assert _work_dirs(tool) == []  # nothing raw left behind
    assert where(folder, secrets_of(sandbox, keys, HOSTILE), {"stdout": stdout, "stderr": stderr}) == []


@pytest.mark.parametrize("reader", ["pipe", "terminal"])
def test_a_reader_that_goes_away_does_not_end_a_run(sandbox_factory: SandboxFactory, tmp_path: Path, reader: str) -> None:
    """``apply ... | head`` (pipe: before the run writes its first line), or a terminal that
    hangs up once it has (its writes fail with EIO; a terminal that is not the process's own
    sends no SIGHUP): stdout and stderr lose their reader. The run goes on to its end and exit code, and
    leaves its run folder (each next line used to fail the command: "cannot use a file: Broken
    pipe", exit 3, and a traceback with --json); a result nobody reads is dropped quietly."""
    sandbox = sandbox_factory()
    tool = Tool(sandbox, tmp_path)
    env = tool_env(tool.tmp_path, **tool.settings)
    command = [sys.executable, "-m", "flows.cli", "apply", "--json"]
    if reader == "pipe":
        proc = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()
    else:
        try:
            controller, terminal = os.openpty()
        except OSError as exc:  # a container without /dev/pts
            pytest.skip(f"no pseudo-terminal here: {exc}")
        proc = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=terminal, stderr=terminal)
        os.close(terminal)
        try:
            spoke, _, _ = select.select([controller], [], [], 60)  # the run's first words, on the terminal
            assert spoke, "the run wrote nothing to its terminal within 60 s"
            os.read(controller, 1)
        except BaseException:
            proc.kill()
            raise
        finally:
            os.close(controller)  # then it hangs up
    assert proc.wait(timeout=120) == ExitCode.OK
    (folder,) = tool.runs.iterdir()
    assert json.loads((folder / "summary.json").read_text())["exit_code"] == ExitCode.OK
    assert (folder / "trace.zip").is_file() and _work_dirs(tool) == []
    assert count(sandbox, "hubs", slug="ops-hub") == 1
    if reader == "terminal":
        return
    # a result cut short: the rest dropped, nothing said on stderr, the command's own exit code
    checked = _start_cli(tool, "seeds", "check", "--json")
    assert checked.stdout is not None
    checked.stdout.close()
    assert checked.wait(timeout=60) == ExitCode.OK
    assert checked.communicate()[1] == ""


def test_a_prompt_nobody_can_see_approves_nothing(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    """``apply --confirm`` whose stderr has no reader: its questions cannot be shown, so the
    answers waiting on stdin approve nothing (exit 9, nothing written)."""
    sandbox = sandbox_factory()
    tool = Tool(sandbox, tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "apply", "--confirm"], env=tool_env(tool.tmp_path, **tool.settings), cwd=tmp_path,
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdin is not None and proc.stderr is not None
    proc.stderr.close()
    proc.stdin.write("y\n" * 20)
    proc.stdin.close()
    assert proc.wait(timeout=120) == ExitCode.ABORTED
    assert count(sandbox, "hubs", slug="ops-hub") == 0


@pytest.mark.skipif(shutil.which("nohup") is None, reason="needs the nohup command")
def test_a_run_started_under_nohup_survives_its_terminal(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    """``nohup ihub-bootstrap apply``, then the terminal closes (SIGHUP to its whole process
    group): the run goes on (the tool's own handler used to replace nohup's ignore: exit 9)."""
    sandbox = sandbox_factory()
    sandbox.config.faults.latency_ms = 150  # a run long enough to be signalled in the middle
    tool = Tool(sandbox, tmp_path)
    proc = subprocess.Popen(
        ["nohup", sys.executable, "-m", "flows.cli", "apply"], env=tool_env(tool.tmp_path, **tool.settings), cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    _wait_for_step(tool, "hub")
    os.killpg(proc.pid, signal.SIGHUP)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == ExitCode.OK, stderr
    assert count(sandbox, "hubs", slug="ops-hub") == 1


# A signal sent while the run waits in a Playwright call: "listener", while Playwright dispatches
# one of the driver's messages (a request listener runs inside that dispatch); "idle", while its
# event loop waits for the driver with nothing to do (a long wait on the page). Run in a process
# of its own: before the fix the first broke the session's connection to the driver, and a
# first version of the fix left the second's clean-up waiting until the driver next spoke.
_SIGNAL_IN_THE_LOOP = r"""
import io, json, os, signal, sys, threading, time
from playwright.sync_api import sync_playwright
from flows.command import Terminated, ending_signals
from flows.console import Console
from flows.provision import CHROMIUM_ARGS, find_browser

how, url, trace = sys.argv[1], sys.argv[2], sys.argv[3]
result = {}
with sync_playwright() as pw:
    found = find_browser(headless=True)
    browser = pw.chromium.launch(args=CHROMIUM_ARGS, executable_path=str(found) if found else None)
    context = browser.new_context()
    context.tracing.start(snapshots=True)
    page = context.new_page()
    seen = []

    def signal_now(request):
        seen.append(request.url)
        if len(seen) == 1:
            signal.raise_signal(signal.SIGTERM)  # its handler runs here, inside the dispatch

    with ending_signals(Console(io.StringIO())):
        try:
            if how == "listener":
                page.on("request", signal_now)
                page.goto(url)
            else:
                page.goto(url)
                threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
                page.wait_for_function("false", timeout=60000)  # the driver says nothing meanwhile
            result["call"] = "returned"
        except Terminated as exc:
            result["call"] = "Terminated " + exc.signal_name
        started = time.monotonic()
        try:
            context.tracing.stop(path=trace)
            result["trace"] = "saved"
        except Exception as exc:
            result["trace"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        result["stop_s"] = time.monotonic() - started
    browser.close()
print(json.dumps(result))
"""


@pytest.mark.parametrize("how", ["listener", "idle"])
def test_a_signal_inside_playwrights_event_loop_still_lets_the_trace_be_saved(
    how: str, sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    """A signal handler runs wherever the main thread is. While a run waits in a Playwright call,
    that is Playwright's event loop: often dispatching one of the driver's messages (a listener
    of the run's runs there too), else idle, waiting for the driver. Raised inside a dispatch,
    the interrupt ended the loop's task that reads the driver's pipe: the trace could not be
    saved, and a SIGTERM'd run ended without trace.zip (the fresh-clone suite caught it, 1 run
    in 4 under load). Now the interrupt reaches the call the run waits in, and the session saves
    the trace at once (an idle loop is woken, not left until the driver next speaks)."""
    sandbox = sandbox_factory()
    trace = tmp_path / "trace.zip"
    done = subprocess.run(
        [sys.executable, "-c", _SIGNAL_IN_THE_LOOP, how, sandbox.base_url + "/", str(trace)],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
        env=tool_env(tmp_path) | {"PYTHONPATH": str(PROJECT)},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {k: result[k] for k in ("call", "trace")} == {"call": "Terminated SIGTERM", "trace": "saved"}, done.stderr
    assert result["stop_s"] < 15, result  # not the wait's 60 s
    assert trace.is_file() and zipfile.is_zipfile(trace)


def test_what_a_sigkill_leaves_is_removed_by_the_next_command(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    sandbox.config.faults.latency_ms = 150
    tool = Tool(sandbox, tmp_path)
    proc = _start_cli(tool, "apply", "--json")
    folder = _wait_for_step(tool, "hub")
    proc.kill()
    proc.communicate(timeout=60)
    left = _work_dirs(tool)
    assert len(left) == 1 and any(p.is_file() for p in left[0].rglob("*")), "a SIGKILL leaves the raw work behind"

    after = tool("seeds", "check", "--seeds", str(PROJECT_SEEDS))

    assert after.returncode == ExitCode.OK
    assert "was killed" in after.stderr and str(folder.resolve()) in after.stderr
    assert _work_dirs(tool) == []
    assert (folder / "killed.txt").is_file()


# ---------------------------------------------------------------- 5. Playwright's debug output


def test_playwright_debug_variables_print_no_secret(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(admin_password=HOSTILE)
    keys = Keys(sandbox)
    tool = Tool(sandbox, tmp_path)
    tool.settings["password"] = HOSTILE
    proc = _start_cli(tool, "apply", "--no-trace", DEBUG="pw:api,pw:protocol,pw:browser", DEBUGP="1")
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == ExitCode.OK, stderr
    assert "ignored for Playwright" in stderr
    assert where(tmp_path / "nothing", secrets_of(sandbox, keys, HOSTILE), {"stdout": stdout, "stderr": stderr}) == []

    allowed = tool("--playwright-debug", "seeds", "check", "--seeds", str(PROJECT_SEEDS))
    assert allowed.returncode == ExitCode.OK and "shows passwords" in allowed.stderr


# ---------------------------------------------------------------- 6. the browser stays on the base


def test_a_redirect_to_another_origin_stops_the_run(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    elsewhere = sandbox_factory()  # another origin (another port) that would accept the login
    with redirecting_origin(elsewhere.base_url) as base:
        tool = Tool(elsewhere, tmp_path)
        result = tool("apply", base=base)
    assert result.returncode == ExitCode.BAD_INPUT, result.stderr
    assert elsewhere.base_url in result.stderr and base in result.stderr
    assert "nothing was typed, sent or read there" in result.stderr
    # Not even the redirected GET reached the other origin (behind a corporate proxy too: see
    # test_network), and no credentials were typed there.
    assert elsewhere.config.faults.requests_seen == 0
    assert [r for r in rows(elsewhere, "sessions") if r.user_id is not None] == []


@pytest.mark.parametrize("submit", ["js", "native"])
def test_a_pages_own_requests_elsewhere_do_not_stop_the_run(sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser, submit: str) -> None:
    # A customised app's third-party content: every page loads a stylesheet from another origin
    # (a loopback port bound and never listening), shows a frame of it, a logo the base
    # redirects there, and posts to it (analytics). The origin guard refuses each; that is no
    # failure of the page's own requests, and the run goes through (with native submits it
    # stopped at the login, "sent the browser elsewhere", for the post and then the frame).
    with refusing_origin() as collector:
        sandbox = sandbox_factory(submit=submit, third_party=collector)
        report, output = run_apply(sandbox, tmp_path, browser)
    assert report.exit_code == ExitCode.OK, output
    assert [s.status for s in report.steps].count("created") >= 5, output


class _Origin(http.server.BaseHTTPRequestHandler):
    """/ : a page with a cacheable script, and an image and a frame from ``other``, and an
    image of its own that redirects there (/logo.png, where there is an ``other``); /go : a
    redirect there; /blank : an empty page."""

    other = ""
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        self.hits.append(self.path)
        if self.path == "/go" or (self.path == "/logo.png" and self.other):
            self.send_response(302)
            self.send_header("Location", self.other + ("/landed" if self.path == "/go" else self.path))
            self.end_headers()
            return
        script = self.path == "/app.js"
        body = b"document.title = 'ok';" if script else b"<html></html>" if self.path == "/blank" else (
            f"<html><head><script src='/app.js'></script></head><body><img src='{self.other}/pixel.png'>"
            f"<iframe src='{self.other}/frame'></iframe><img src='/logo.png'></body></html>".encode()
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/javascript" if script else "text/html")
        self.send_header("Cache-Control", "max-age=600" if script else "no-store")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _until(page: Page, condition: Callable[[], bool], timeout_s: float = 10) -> bool:
    """Whether ``condition`` holds within ``timeout_s``, letting Playwright deliver the page's
    events meanwhile."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        page.wait_for_timeout(20)
    return True


@pytest.mark.parametrize("corporate", [False, True], ids=["direct", "behind a corporate proxy"])
def test_the_origin_guard_keeps_every_request_on_the_base(browser: Browser, corporate: bool) -> None:
    at_base, at_elsewhere = (type(name, (_Origin,), {"hits": []}) for name in ("base", "elsewhere"))
    with contextlib.ExitStack() as stack:
        base, elsewhere = stack.enter_context(serving(at_base)), stack.enter_context(serving(at_elsewhere))
        at_base.other = elsewhere  # read per request
        upstream = None
        if corporate:  # a proxy that would forward anything anywhere: the guard's own proxy chooses
            url, seen = stack.enter_context(forward_proxy())
            upstream = Upstream("127.0.0.1", int(url.rsplit(":", 1)[1]))
        guard = OriginGuard(base, upstream=upstream)
        stack.callback(guard.close)
        context = browser.new_context(proxy=guard.proxy())  # type: ignore[arg-type]
        stack.callback(context.close)
        guard.install(context)
        page = context.new_page()
        for _ in range(3):
            page.goto(base + "/")
            assert page.title() == "ok"
        # what the page asked of elsewhere (an image, a frame, an image redirected to a CDN) is
        # refused, and is no sign that the browser was sent there
        assert guard.violation() is None and guard.refused() == elsewhere
        # a redirect elsewhere: its hop is refused (Chromium asks its proxy for each) and named
        with pytest.raises(PlaywrightError):
            page.goto(base + "/go")
        assert guard.violation() == elsewhere and guard.sent == [elsewhere]
        other_scheme = base.replace("http://", "https://")  # the base's host and port, TLS
        localhost = elsewhere.replace("127.0.0.1", "localhost")
        for url in (elsewhere + "/direct", localhost + "/", other_scheme + "/"):
            with pytest.raises(PlaywrightError):
                page.goto(url)
        # WebSockets (from a page opened later, too): the base's goes through, one elsewhere is
        # stopped and named
        page = context.new_page()
        page.goto(base + "/")
        ws_base, ws_elsewhere = (u.replace("http://", "ws://") for u in (base, elsewhere))
        page.evaluate("urls => urls.forEach(u => new WebSocket(u))", [ws_base + "/live", ws_elsewhere + "/socket"])
        assert _until(page, lambda: ws_elsewhere in guard.asked and "/live" in at_base.hits)
        # a script's request to the base that a redirect takes elsewhere (IHP sends its forms
        # by XMLHttpRequest) is the browser sent there too
        page.evaluate("() => fetch('/go').catch(() => null)")
        assert _until(page, lambda: len(guard.sent) == 5)
        # a popup the page's script opens is the page's own, wherever it goes: not the tab
        # the tool works in
        with context.expect_page() as popup:
            page.evaluate("() => { window.open('/blank'); }")
        popup.value.wait_for_load_state()
        with popup.value.expect_event("requestfailed", lambda r: r.url == elsewhere + "/landed"):
            popup.value.evaluate("() => { location.href = '/go'; }")
        # sent elsewhere: by the redirect, then by each page load elsewhere, then by the
        # script's redirected request; the WebSocket is the page's own
        assert guard.sent == [elsewhere, elsewhere, localhost, other_scheme, elsewhere]
        assert ws_elsewhere in guard.asked and guard.refused() == elsewhere
        # the next step: only what happens in it is its violation
        guard.begin_step()
        assert guard.violation() is None
        with pytest.raises(PlaywrightError):
            page.goto(localhost + "/next")
        assert guard.violation() == localhost
        if corporate:  # the base's requests, the WebSocket's tunnel among them, went through it; nothing else did
            assert f"GET {base[7:]}/app.js" in seen and f"CONNECT {base[7:]}" in seen, seen
            assert not [s for s in seen if base[7:] not in s], seen
    # nothing reached elsewhere, and the HTTP cache works: the cacheable script was fetched once
    assert "/live" in at_base.hits
    assert at_elsewhere.hits == []
    assert at_base.hits.count("/app.js") == 1


_WEBRTC_GATHERS = """port => new Promise(done => {
    const pc = new RTCPeerConnection({iceServers: [{urls: 'stun:127.0.0.1:' + port}]});
    pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') done(true); };
    pc.createDataChannel('leak');
    pc.createOffer().then(o => pc.setLocalDescription(o));
    setTimeout(() => done(false), 3000);  // guarded, gathering may never complete
})"""


def _webrtc_datagrams(chromium: Browser, base: str) -> int:
    """How many datagrams a page's RTCPeerConnection sends to a loopback STUN port, once its
    ICE gathering is complete (the page of an origin-guarded context on ``base``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as collector:
        collector.bind(("127.0.0.1", 0))
        collector.setblocking(False)
        guard = OriginGuard(base)
        context = chromium.new_context(proxy=guard.proxy())  # type: ignore[arg-type]
        try:
            page = context.new_page()
            page.goto(base + "/blank")
            page.evaluate(_WEBRTC_GATHERS, collector.getsockname()[1])
            received = 0
            with contextlib.suppress(BlockingIOError):
                while collector.recvfrom(2048):
                    received += 1
            return received
        finally:
            context.close()
            guard.close()


def test_a_pages_script_cannot_send_by_webrtc_past_the_guard(browser: Browser, browser_type: BrowserType) -> None:
    # A script of the base's own (a self-hosted session recorder, say) that reads the page
    # and sends it over WebRTC: UDP goes past any proxy. Chromium's flags leave WebRTC only
    # what goes through the proxy, which refuses it: not one datagram arrives.
    with serving(type("WebRtc", (_Origin,), {"hits": []})) as base:
        assert _webrtc_datagrams(browser, base) == 0
        # the same page in a Chromium without that flag does send (else this test shows nothing here)
        found = find_browser(headless=True)
        unguarded = browser_type.launch(
            executable_path=str(found) if found else None,
            args=[a for a in launch_args(base) if not a.startswith("--force-webrtc-ip-handling-policy")],
        )
        try:
            if _webrtc_datagrams(unguarded, base) == 0:
                pytest.skip("this machine's Chromium sends no STUN request at all (no interface for it)")
        finally:
            unguarded.close()


def test_a_pages_script_cannot_send_by_webtransport_past_the_guard(browser: Browser, browser_type: BrowserType) -> None:
    # WebTransport is QUIC, UDP again: Chromium does not send it through an HTTP proxy, so
    # with the origin guard's proxy it sends nothing (no flag of the tool's needed; this holds
    # that on a Chromium update). The control: a context without the proxy does send.
    script = """port => { new WebTransport('https://127.0.0.1:' + port + '/x').ready.catch(() => null); }"""

    def datagrams(proxied: bool) -> int:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as collector, serving(type("Wt", (_Origin,), {"hits": []})) as base:
            collector.bind(("127.0.0.1", 0))
            collector.settimeout(3)
            guard = OriginGuard(base)
            context = browser.new_context(proxy=guard.proxy() if proxied else None)  # type: ignore[arg-type]
            try:
                page = context.new_page()
                page.goto(base + "/blank")  # a secure context (a loopback origin): WebTransport exists there
                page.evaluate(script, collector.getsockname()[1])
                with contextlib.suppress(TimeoutError):
                    collector.recvfrom(2048)
                    return 1
                return 0
            finally:
                context.close()
                guard.close()

    if datagrams(proxied=False) == 0:
        pytest.skip("this machine's Chromium sends no WebTransport datagram at all")
    assert datagrams(proxied=True) == 0


def test_no_name_is_looked_up_but_the_bases(browser_type: BrowserType, tmp_path: Path) -> None:
    # A page's requests elsewhere are refused by the proxy, but Chromium looked their names up
    # first: a script could spell what it read into a name, and DNS would carry it off. With
    # the tool's flags, only the base's host resolves (Chromium's own log of its resolver).
    netlog = tmp_path / "netlog.json"
    with refusing_origin() as nothing_there:
        base = nothing_there.replace("127.0.0.1", "localhost")
        _look_up_names(browser_type, base, netlog)
    log = json.loads(netlog.read_text())
    kinds = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    looked_up = {e["params"]["host"] for e in log["events"] if kinds.get(e["type"]) == "HOST_RESOLVER_MANAGER_REQUEST" and "host" in e.get("params", {})}
    if not looked_up:  # another Chromium's net log (Chromium 156 names its lookups so)
        pytest.skip("this Chromium's net log names no lookup the way this test reads it")
    assert not [h for h in looked_up if "l3ak" in h], looked_up
    assert any("localhost" in h for h in looked_up), looked_up  # the log does show lookups


def _look_up_names(browser_type: BrowserType, base: str, netlog: Path) -> None:
    """A page of a Chromium launched as the tool launches it (and logging its network) asks
    three other names, and loads ``base``."""
    found = find_browser(headless=True)
    chromium = browser_type.launch(executable_path=str(found) if found else None, args=[*launch_args(base), f"--log-net-log={netlog}"])
    guard = OriginGuard(base)
    try:
        page = chromium.new_context(proxy=guard.proxy()).new_page()  # type: ignore[arg-type]
        page.set_content("<img src='https://img-l3ak-pw.example.org/x.png'><link rel=dns-prefetch href='//pre-l3ak-pw.example.org'>")
        page.evaluate("() => fetch('https://fetch-l3ak-pw.example.org/').catch(() => null)")
        with contextlib.suppress(PlaywrightError):
            page.goto(base + "/")  # the base's own host is looked up (nothing answers there)
    finally:
        chromium.close()
        guard.close()


@pytest.mark.parametrize(
    ("base", "rules"),
    [
        ("http://127.0.0.1:8000", "<-loopback>,http://127.0.0.1:8000,ws://127.0.0.1:8000"),
        ("https://Hub.Example.COM/admin/", "<-loopback>,https://hub.example.com:443,wss://hub.example.com:443"),
        ("http://localhost", "<-loopback>,http://localhost:80,ws://localhost:80"),
        ("http://[::1]:9000/x?y=1", "<-loopback>,http://[::1]:9000,ws://[::1]:9000"),
    ],
)
def test_only_the_base_bypasses_the_refusing_proxy(base: str, rules: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # <-loopback> is ours: Playwright would leave it out with this variable set, and then every
    # other port of this machine would be reachable.
    monkeypatch.setenv("PLAYWRIGHT_DISABLE_FORCED_CHROMIUM_PROXIED_LOOPBACK", "1")
    assert bypass_rules(base) == rules
    guard = OriginGuard(base)
    try:
        proxy = guard.proxy()
        assert proxy is not None and proxy["bypass"] == rules
        assert proxy["server"].startswith("http://127.0.0.1:")
        with pytest.raises(ConnectionRefusedError):  # the "proxy" refuses every connection
            socket.create_connection(("127.0.0.1", int(proxy["server"].rsplit(":", 1)[1])), timeout=5).close()
    finally:
        guard.close()


# ---------------------------------------------------------------- 7, 8, 9. files that hold secrets


def test_a_symlinked_key_sink_or_storage_state_is_refused(tool: Tool, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.json"
    target.write_text("{}")
    link = tmp_path / "keys.json"
    link.symlink_to(target)
    result = tool("apply", key_sink=f"file:{link}")
    assert result.returncode == ExitCode.BAD_INPUT and "symbolic link" in result.stderr
    assert link.is_symlink() and target.read_text() == "{}"

    state_link = tmp_path / "state.json"
    state_link.symlink_to(target)
    result = tool("login", "--out", str(state_link), extra_env={"DISPLAY": ":987"})  # past the display check
    assert result.returncode == ExitCode.BAD_INPUT and "symbolic link" in result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_an_envfile_of_another_user_is_refused(tool: Tool, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.env"
    foreign.write_text("OTHER=1\n")
    os.chown(foreign, 4242, 4242)
    result = tool("apply", key_sink=f"envfile:{foreign}")
    assert result.returncode == ExitCode.BAD_INPUT and "another user" in result.stderr
    assert foreign.read_text() == "OTHER=1\n"


def test_a_key_sink_in_a_directory_others_can_write_is_refused(tool: Tool, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    result = tool("apply", key_sink=f"envfile:{shared / 'keys.env'}")
    assert result.returncode == ExitCode.BAD_INPUT and "other users can write" in result.stderr


def test_a_file_sink_keeps_each_hubs_key(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    FileSink(path, "http://127.0.0.1:1").store("c1", "ops-hub", "key-one-aaaaaaaa")
    FileSink(path, "http://127.0.0.1:2").store("c2", "ops-hub", "key-two-bbbbbbbb")
    FileSink(path, "http://127.0.0.1:2").store("c3", "other-hub", "key-three-cccccc")
    assert FileSink(path, "http://127.0.0.1:1").load("c1").api_key == "key-one-aaaaaaaa"  # type: ignore[union-attr]
    assert FileSink(path, "http://127.0.0.1:2").find("ops-hub").api_key == "key-two-bbbbbbbb"  # type: ignore[union-attr]
    assert FileSink(path, "http://127.0.0.1:1").find("other-hub") is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # a regeneration replaces only its own (revoked) key
    FileSink(path, "http://127.0.0.1:1").store("c1", "ops-hub", "key-one-rotated")
    assert sorted(FileSink(path).keys()) == ["key-one-rotated", "key-three-cccccc", "key-two-bbbbbbbb"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="names fsynced descriptors through /proc")
@pytest.mark.parametrize("sink", ["file", "envfile"])
def test_a_stored_key_is_on_disk_before_the_store_returns(sink: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Durable, not only written: the key file, then the directory that holds its new entry and
    the parent of each directory made for it (made 0700, each) are fsynced (a crash after a
    rotation must not bring back a file without the new key: the old one is revoked). The
    envfile's append was not fsynced at all, nor were new directories."""
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    path = tmp_path / "a" / "b" / f"ops.key.{'json' if sink == 'file' else 'env'}"

    def store(key: str) -> list[str]:
        synced.clear()
        open_sink(f"{sink}:{path}", base_url="http://127.0.0.1:1", consumer_name="ops-hub").store("c1", "ops-hub", key)
        assert key in path.read_text()
        files = [p for p in synced if not os.path.isdir(p)]
        assert len(files) == 1, synced
        if sink == "file":  # written as a copy beside it, then renamed
            assert Path(files[0]).parent == path.parent and ".ihub-" in Path(files[0]).name, synced
        else:
            assert files == [str(path)], synced
        return synced[synced.index(files[0]) + 1 :]  # the directories, after the key

    assert sorted(store("key-one-aaaaaaaa")) == sorted(map(str, [path.parent, tmp_path / "a", tmp_path]))
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert store("key-one-rotated") == [str(path.parent)]  # no directory made this time


@pytest.mark.parametrize("sink", ["file", "envfile"])
@pytest.mark.parametrize("new_directory", [True, False])
@pytest.mark.parametrize(("error", "refused"), [(errno.EINVAL, False), (errno.EIO, True)])
def test_a_directory_fsync_a_file_system_refuses_is_no_failure_a_failing_disk_is(
    error: int, refused: bool, new_directory: bool, sink: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing disk is reported, and only once the key is written: never instead of writing it.
    (With a new directory, the fsync of its entry came before the key was written in 144cf3a.)"""
    real = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(error, os.strerror(error))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    path = tmp_path / "keys" / f"ops.key.{'json' if sink == 'file' else 'env'}"
    if not new_directory:
        path.parent.mkdir(mode=0o700)
    opened = open_sink(f"{sink}:{path}", base_url="http://127.0.0.1:1", consumer_name="ops-hub")
    if refused:
        with pytest.raises(OSError, match=os.strerror(errno.EIO)):
            opened.store("c1", "ops-hub", "key-one-aaaaaaaa")
    else:
        opened.store("c1", "ops-hub", "key-one-aaaaaaaa")
    stored = open_sink(f"{sink}:{path}", base_url="http://127.0.0.1:1", consumer_name="ops-hub").load("c1")
    assert stored is not None and stored.api_key == "key-one-aaaaaaaa"


def test_an_envfile_sink_never_gives_one_targets_key_to_another(tmp_path: Path) -> None:
    # Its variable names are the consumer's alone: with two targets in one file, the last key
    # would be read (and verify would send it) for the other target, and the first one's lost.
    path = tmp_path / "keys.env"
    prod, staging = "http://127.0.0.1:1", "http://127.0.0.1:2"
    open_sink(f"envfile:{path}", base_url=prod, consumer_name="ops-hub").store("c1", "ops-hub", "key-one-aaaaaaaa")
    assert EnvFileSink(path, prod).find("ops-hub").api_key == "key-one-aaaaaaaa"  # type: ignore[union-attr]
    assert "IHUB_OPS_HUB_TARGET=http://127.0.0.1:1\n" in path.read_text()
    with pytest.raises(BadInputError, match="holds IHUB_OPS_HUB_API_KEY for http://127.0.0.1:1, not http://127.0.0.1:2"):
        open_sink(f"envfile:{path}", base_url=staging, consumer_name="ops-hub")  # before any key is generated
    assert EnvFileSink(path, staging).find("ops-hub") is None and EnvFileSink(path, staging).load("c1") is None
    assert EnvFileSink(path, "HTTP://127.0.0.1:1/").load("c1").api_key == "key-one-aaaaaaaa"  # type: ignore[union-attr]
    # a line written before targets were recorded names none: read for any target, as before;
    # but a key for another consumer id is not hidden under a new one (it may be another target's)
    legacy = tmp_path / "legacy.env"
    legacy.write_text("IHUB_OPS_HUB_API_CONSUMER_ID=c9\nIHUB_OPS_HUB_API_KEY=key-nine-zzzzzzz\n")
    assert EnvFileSink(legacy, staging).find("ops-hub").api_key == "key-nine-zzzzzzz"  # type: ignore[union-attr]
    EnvFileSink(legacy, staging).check_writable("ops-hub", "c9")  # its own consumer's key: rotated over
    with pytest.raises(BadInputError, match="holds IHUB_OPS_HUB_API_KEY of another consumer"):
        EnvFileSink(legacy, staging).check_writable("ops-hub", "c-new")


def test_sink_and_plan_files_an_earlier_version_or_mktemp_left_are_taken(tmp_path: Path) -> None:
    from flows.plan import check_plan_out

    # an earlier version stored an empty key when the field read empty: no key, not a refusal
    old = tmp_path / "old.key.json"
    old.write_text('{"format": 2, "keys": [{"target": "http://127.0.0.1:1", "api_consumer_id": "c1", "api_key": ""}]}')
    sink = open_sink(f"file:{old}", base_url="http://127.0.0.1:1", consumer_name="ops-hub")
    assert sink.load("c1") is None
    sink.store("c1", "ops-hub", "key-one-aaaaaaaa")
    assert sink.load("c1").api_key == "key-one-aaaaaaaa"  # type: ignore[union-attr]
    empty = tmp_path / "plan.json"
    empty.touch()
    check_plan_out(empty)  # `plan --out "$(mktemp)"`
    empty.write_text("{}")
    with pytest.raises(BadInputError, match="not a plan file"):
        check_plan_out(empty)


def test_two_hubs_sharing_a_key_file_both_keep_their_key(
    sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser
) -> None:
    first, second = sandbox_factory(), sandbox_factory()
    shared = tmp_path / "shared-keys.json"
    for sandbox in (first, second):
        report, _ = run_apply(sandbox, tmp_path, browser, key_file=shared)
        assert report.exit_code == ExitCode.OK, report.error and report.error.render()
    again, _ = run_apply(first, tmp_path, browser, key_file=shared, plan=True)
    assert again.exit_code == ExitCode.OK and again.pending == 0, again.error and again.error.render()
    assert len(FileSink(shared).keys()) == 2


# ---------------------------------------------------------------- 10, 11. audit scan, CLI, settings


def test_audit_scan_that_knows_no_secret_says_so(tool: Tool, tmp_path: Path) -> None:
    folder = tmp_path / "some-run"
    folder.mkdir()
    (folder / "audit.jsonl").write_text('{"password": "Leaked-' + 'value-123"}\n')
    blank = {"base": None, "email": None, "password": None, "key_sink": None}
    result = tool("audit", "scan", str(folder), **blank)
    assert result.returncode == ExitCode.NOTHING_TO_SCAN, result.stdout + result.stderr
    assert "no secret known" in result.stderr
    planted = tool("audit", "scan", str(folder), "--secret-env", "PLANTED", **blank)
    assert planted.returncode == ExitCode.BAD_INPUT  # the variable is not set: said, not ignored
    env = tool_env(tmp_path) | {"PLANTED": "Leaked-value-123"}
    found = subprocess.run(
        [sys.executable, "-m", "flows.cli", "audit", "scan", str(folder), "--secret-env", "PLANTED"],
        env=env, cwd=tmp_path, capture_output=True, text=True, check=False,
    )
    assert found.returncode == ExitCode.SECRET_LEAK and "audit.jsonl" in found.stdout


def test_audit_scan_takes_every_run_folder_at_once(tool: Tool, tmp_path: Path) -> None:
    """`audit scan runs/*`, what an auditor types first: each folder read, a finding names its
    folder and file, one leak anywhere is exit 6; a folder that is not there is refused first."""
    runs = tmp_path / "runs"
    for name, line in (("20261128T0100Z-aaa", '{"detail": "nothing here"}'), ("20261128T0200Z-bbb", '{"detail": "Leaked-value-123"}')):
        (runs / name).mkdir(parents=True)
        (runs / name / "audit.jsonl").write_text(line + "\n")
    env = tool_env(tmp_path) | {"PLANTED": "Leaked-value-123"}

    def scan(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "flows.cli", "audit", "scan", *args, "--secret-env", "PLANTED"]
        return subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, check=False)

    every = scan("--json", *sorted(str(p.relative_to(tmp_path)) for p in runs.iterdir()))
    assert every.returncode == ExitCode.SECRET_LEAK, every.stderr
    body = json.loads(every.stdout)
    assert body["run_folders"] == ["runs/20261128T0100Z-aaa", "runs/20261128T0200Z-bbb"] and "run_folder" not in body
    assert body["leaks"] == ["runs/20261128T0200Z-bbb/audit.jsonl (known secret #1)"] and body["files"] == 2
    assert "runs/20261128T0200Z-bbb" in every.stderr and "20261128T0100Z-aaa" not in every.stderr
    text = scan(*(str(p) for p in sorted(runs.iterdir())))
    assert text.returncode == ExitCode.SECRET_LEAK and text.stdout.count("LEAK ") == 1
    clean = scan(str(runs / "20261128T0100Z-aaa"))
    assert clean.returncode == ExitCode.OK and "clean: 1 file(s) in" in clean.stdout
    missing = scan(str(runs / "20261128T0100Z-aaa"), str(runs / "no-such-run"))
    assert missing.returncode == ExitCode.BAD_INPUT and "no-such-run is not a run folder" in missing.stderr
    # a folder given twice, spelt otherwise, is read once; findings name their folder even alone
    twice = scan("--json", "runs/20261128T0200Z-bbb", "./runs/20261128T0200Z-bbb/", str(runs / "20261128T0200Z-bbb"))
    body = json.loads(twice.stdout)
    assert body["run_folder"] == "runs/20261128T0200Z-bbb" and body["files"] == 1
    assert body["leaks"] == ["audit.jsonl (known secret #1)"]
    assert body["findings"] == [{"run_folder": "runs/20261128T0200Z-bbb", "where": "audit.jsonl (known secret #1)"}]
    assert [f["run_folder"] for f in json.loads(every.stdout)["findings"]] == ["runs/20261128T0200Z-bbb"]
    # a folder inside another one given is read with it, once
    nested = scan("--json", "runs/20261128T0200Z-bbb", "runs", "runs/20261128T0100Z-aaa/")
    body = json.loads(nested.stdout)
    assert body["run_folder"] == "runs" and body["files"] == 2
    assert body["leaks"] == ["20261128T0200Z-bbb/audit.jsonl (known secret #1)"]


def test_abbreviated_flags_are_refused(tool: Tool) -> None:
    result = tool("apply", "--rot")
    assert result.returncode == ExitCode.BAD_INPUT and "unrecognized arguments: --rot" in result.stderr


def test_no_setting_value_is_echoed(tool: Tool) -> None:
    pasted = "SESSION=Pasted-Cookie-Value-9f8e7d"
    result = tool("plan", session_cookie_name=pasted)
    assert result.returncode == ExitCode.BAD_INPUT
    assert "Pasted-Cookie-Value" not in result.stderr + result.stdout
    result = tool("plan", base="https://user:Sekret-Pw-77@hub.example.org")
    assert result.returncode == ExitCode.BAD_INPUT and "Sekret-Pw-77" not in result.stderr + result.stdout


def test_only_localhost_and_loopback_addresses_may_use_plain_http(tool: Tool) -> None:
    result = tool("plan", base="http://hub.localhost:8080")
    assert result.returncode == ExitCode.BAD_INPUT and "plain http" in result.stderr


def test_a_password_that_stands_in_the_seeds_is_refused(tool: Tool) -> None:
    result = tool("plan", password="framework")
    assert result.returncode == ExitCode.BAD_INPUT and "occurs in the seeds" in result.stderr
    assert "framework" not in result.stderr.replace("framework:", "")


# ---------------------------------------------------------------- 12. the sandbox


def test_sandbox_password_never_on_the_command_line_and_its_database_private(tmp_path: Path) -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "sandbox", "--admin-password", "x" * 12, "--port", "0"],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert refused.returncode != 0 and "--admin-password" in refused.stderr
    db = tmp_path / "sb.sqlite3"
    running = start_in_thread(SandboxConfig(port=0, db=str(db), admin_password=ADMIN_PASSWORD))
    try:
        import httpx

        with httpx.Client(base_url=running.base_url) as client:
            client.post("/CreateSession", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
            token = client.cookies.get("SESSION")
        assert token and token in running.sandbox.issued_session_tokens
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        stored = [r.token for r in rows(running, "sessions")]
        assert token not in stored and len(stored) >= 1
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("sb.sqlite3*"))
        assert token.encode() not in raw
    finally:
        running.stop()


def test_sandbox_takes_its_password_from_a_file(tmp_path: Path) -> None:
    from sandbox.config import from_args

    secret_file = tmp_path / "pw"
    secret_file.write_text("From-A-File-Pw-1\n")
    assert from_args(["--admin-password-file", str(secret_file)]).admin_password == "From-A-File-Pw-1"
    # only a line feed ends the line: U+2028, U+0085 and a form feed are the password's own
    secret_file.write_text('Pw"q\'é\u2028x\u0085y\x0cz\r\nsecond line\n', encoding="utf-8", newline="")
    assert from_args(["--admin-password-file", str(secret_file)]).admin_password == 'Pw"q\'é\u2028x\u0085y\x0cz'
    os.environ["SANDBOX_ADMIN_PASSWORD"] = "From-The-Env-Pw-2"
    try:
        assert from_args([]).admin_password == "From-The-Env-Pw-2"
    finally:
        del os.environ["SANDBOX_ADMIN_PASSWORD"]


def test_scrub_failure_deletes_the_trace_and_exits_6(tmp_path: Path) -> None:
    from flows.audit import RunFolder
    from flows.known_secrets import KnownSecrets

    folder = RunFolder(tmp_path, "apply", KnownSecrets(["Some-Secret-Value"]))
    chunk = tmp_path / "part-0.zip"
    with zipfile.ZipFile(chunk, "w") as z:
        z.writestr("trace.network", b'{"a": "Some-Secret-Value"}\nnot json Some-Secret-Value\n')
    code, findings = folder.close([chunk], exit_code=0, changes=0, error=None, summary=lambda c, f: {"exit_code": c})
    assert code == ExitCode.SECRET_LEAK
    assert any("trace.zip" in f and "deleted" in f for f in findings)
    assert not (folder.path / "trace.zip").exists()
    assert json.loads((folder.path / "summary.json").read_text())["exit_code"] == ExitCode.SECRET_LEAK


def test_a_refused_request_is_named_before_a_refused_websocket() -> None:
    """A page's WebSocket elsewhere (a live-reload socket) is named beside a failure only when
    the page asked for nothing else elsewhere; neither is where the browser was sent."""
    guard = OriginGuard("http://127.0.0.1:8000")
    assert guard.violation() is None and guard.refused() is None
    guard.asked += ["ws://127.0.0.1:35729", "http://127.0.0.1:9999"]
    assert guard.refused() == "http://127.0.0.1:9999" and guard.violation() is None
    guard.asked = ["wss://elsewhere.example"]
    assert guard.refused() == "wss://elsewhere.example" and guard.violation() is None


def test_a_sink_where_git_cannot_answer_or_others_can_take_the_name_is_refused(tmp_path: Path) -> None:
    from flows.keysink import check_secret_path

    # a repository of another user: git refuses to answer ("dubious ownership"); it failed open
    # (giving it to another user takes root, which CI is)
    if os.geteuid() == 0:
        repo = tmp_path / "repo"
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        os.chown(repo, 65534, 65534)
        os.chown(repo / ".git", 65534, 65534)
        with pytest.raises(BadInputError, match="Git cannot say whether it is ignored"):
            check_secret_path(repo / "ops.key.json", "--key-sink")
    # a sticky directory others can write to (/tmp): they can take the file's name, or its lock, first
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    with pytest.raises(BadInputError, match="other users can write to"):
        check_secret_path(sticky / "ops.key.json", "--key-sink")
    check_secret_path(tmp_path / "mine" / "ops.key.json", "--key-sink")  # a directory of one's own is fine


def test_a_key_files_temporary_copy_is_out_of_gits_reach_and_the_rename_durable(tmp_path: Path) -> None:
    from flows.keysink import check_secret_path, temporary_sibling

    # a crash between writing the copy and the rename leaves the copy: the rule that ignores the
    # file must ignore it too (it was ".ops.key.json.<pid>.<rand>.tmp", which "*.key.json" misses)
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitignore").write_text("*.key.json\nstorage-state*.json\n/exact.json\n")
    for name in ("ops.key.json", "storage-state.json"):
        copy = temporary_sibling(repo / name, "123-abcd")
        assert copy.parent == repo and copy.name != name
        ignored = subprocess.run(["git", "-C", str(repo), "check-ignore", "-q", str(copy)], check=False)
        assert ignored.returncode == 0, copy.name
        check_secret_path(repo / name, "--key-sink", replaced=True)
    assert temporary_sibling(tmp_path / ".env", "1-2").name == ".env.ihub-1-2"
    # a rule naming the file alone does not cover the copy: refused, saying what to ignore; doing
    # that is enough
    with pytest.raises(BadInputError, match="not the copy the tool writes beside it") as refused:
        check_secret_path(repo / "exact.json", "--key-sink", replaced=True)
    assert "exact.ihub-<pid>-<random>.json" in refused.value.message and "exact*.json in .gitignore" in refused.value.hint
    check_secret_path(repo / "exact.json", "--key-sink")  # appended to in place (an envfile): no copy
    (repo / ".gitignore").write_text("*.key.json\nstorage-state*.json\nexact*.json\n")
    check_secret_path(repo / "exact.json", "--key-sink", replaced=True)
    # a tracked file is committed whatever the ignore rules say: said as such
    (repo / "tracked.key.json").write_text("{}")
    subprocess.run(["git", "-C", str(repo), "add", "-f", "tracked.key.json"], check=True)
    with pytest.raises(BadInputError, match="Git tracks it"):
        check_secret_path(repo / "tracked.key.json", "--key-sink", replaced=True)

    sink = FileSink(repo / "ops.key.json", "http://127.0.0.1:1")
    sink.store("c1", "ops-hub", "key-one-aaaaaaaa")
    assert sorted(p.name for p in repo.iterdir()) == [".git", ".gitignore", "ops.ihub-lock.key.json", "ops.key.json", "tracked.key.json"]
    # nothing the sink left beside the file shows as untracked (its lock is ignored as the file is)
    status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=all"], check=True, capture_output=True, text=True)
    assert status.stdout.splitlines() == ["A  tracked.key.json", "?? .gitignore"], status.stdout


def test_a_key_file_lock_of_an_earlier_version_is_honoured_while_it_exists(tmp_path: Path) -> None:
    # an earlier version locks ".ops.key.json.lock" only: a run of this one holds that too while
    # it exists, so two runs storing into one file (two targets share it) never lose a key
    import fcntl
    import threading

    path = tmp_path / "ops.key.json"
    old = tmp_path / ".ops.key.json.lock"
    old.touch()
    held = os.open(old, os.O_WRONLY)
    fcntl.flock(held, fcntl.LOCK_EX)  # the earlier version, storing
    sink = FileSink(path, "http://127.0.0.1:1")
    storing = threading.Thread(target=sink.store, args=("c1", "ops-hub", "key-one-aaaaaaaa"), daemon=True)
    try:
        storing.start()
        storing.join(1.0)
        assert storing.is_alive() and not path.exists()  # waits its turn
    finally:
        os.close(held)
    storing.join(30)
    assert not storing.is_alive() and sink.load("c1").api_key == "key-one-aaaaaaaa"  # type: ignore[union-attr]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".ops.key.json.lock", "ops.ihub-lock.key.json", "ops.key.json"]
    # one that cannot be opened for reading (another's, a link) is passed over: the key is stored
    old.unlink()
    old.symlink_to(tmp_path / "elsewhere")
    sink.store("c2", "ops-hub", "key-two-bbbbbbbb")
    assert sink.load("c2").api_key == "key-two-bbbbbbbb"  # type: ignore[union-attr]


def test_a_first_format_entry_is_not_given_to_any_target_by_name(tmp_path: Path) -> None:
    # the first format names no target; a consumer's name is the same on every target, so a key
    # found by name alone could be sent to another server than the one it is for
    old = tmp_path / "custom.json"
    old.write_text('{"api_consumer_id": "c1", "api_consumer_name": "ops-hub", "api_key": "key-old-aaaaaaaa"}')
    sink = open_sink(f"file:{old}", base_url="http://127.0.0.1:2", consumer_name="ops-hub", for_writing=False)
    assert sink.find("ops-hub") is None
    assert sink.load("c1").api_key == "key-old-aaaaaaaa"  # type: ignore[union-attr]  # an id is a server's own
    # at the default path, the path names the host: the file is this target's
    assert FileSink(old, "http://127.0.0.1:2", per_target=True).find("ops-hub").api_key == "key-old-aaaaaaaa"  # type: ignore[union-attr]


def test_audit_scan_knows_an_envfiles_rotated_keys(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from flows.audit import secrets_on_record

    path = tmp_path / "keys.env"
    sink = open_sink(f"envfile:{path}", base_url="http://127.0.0.1:1", consumer_name="ops-hub")
    sink.store("c1", "ops-hub", "key-first-aaaaaaa")
    sink.store("c1", "ops-hub", "key-second-bbbbbb")  # a rotation: the first key is revoked, still in the file
    assert sink.find("ops-hub").api_key == "key-second-bbbbbb"  # type: ignore[union-attr]
    settings = SimpleNamespace(secret_values=lambda: [], storage_state=None, key_sink=None, base="http://127.0.0.1:1")
    known = secrets_on_record(settings, f"envfile:{path}", "ops-hub")
    assert {"key-first-aaaaaaa", "key-second-bbbbbb"} <= set(known.values)
