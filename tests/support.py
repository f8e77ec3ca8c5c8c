"""Shared test helpers and fixtures, registered as a plugin (``pytest_plugins`` in
``conftest.py``): a fresh sandbox per test (real HTTP on loopback, a real SQLite file), an
httpx client logged in as its admin, pytest-playwright's Chromium launched the way this
machine needs, the tool run as an operator runs it. Test modules import helpers from here."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser
from sqlalchemy import func, select

from flows.network import PROXY_VARIABLES
from flows.browser import launch_args
from flows.provision import find_browser
from sandbox.config import SandboxConfig
from sandbox.server import RunningSandbox, start_in_thread

ADMIN_EMAIL = "admin@sandbox.local"
ADMIN_PASSWORD = "Sandbox-Admin-Pw-1"
PROJECT = Path(__file__).resolve().parent.parent

# The tool must never pick up an operator's settings while under test.
KEEP = {"IHUB_BROWSER", "IHUB_TEST_PG_URL"}  # machine settings for the tests themselves
for name in list(os.environ):
    if name.startswith("IHUB_") and name not in KEEP:
        del os.environ[name]


def _without_proxies(env: MutableMapping[str, str]) -> None:
    """Nor the machine's proxy (a CI behind one): a proxy variable would change how the
    browser is kept on the base (flows.browser.OriginGuard). Both spellings: the lower-case one
    wins (flows.network). Tests about proxies set their own (``extra_env``, monkeypatch)."""
    for name in PROXY_VARIABLES:
        env.pop(name, None)
        env.pop(name.lower(), None)


_without_proxies(os.environ)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    found = find_browser(headless=browser_type_launch_args.get("headless", True))  # as apply picks
    # as the tool launches it: its flags, and no name resolving but localhost's (the sandboxes
    # listen on 127.0.0.1)
    args = {**browser_type_launch_args, "args": launch_args("http://localhost")}
    if found is not None:
        args["executable_path"] = str(found)
    return args


SandboxFactory = Callable[..., RunningSandbox]


_stopping: list[RunningSandbox] = []  # told to stop, not waited for: joined at the session's end


@pytest.fixture(scope="session", autouse=True)
def _sandboxes_stopped() -> Iterator[None]:
    yield
    for running in _stopping:
        running.join()


class _Redirecting(http.server.BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(302)
        self.send_header("Location", self.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serving(handler: type, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """The base URL of a loopback HTTP(S) server with ``handler``, for the time of the block."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def redirecting_origin(target: str) -> contextlib.AbstractContextManager[str]:
    """``http://127.0.0.1:PORT`` of a loopback server that answers every GET and POST with a
    redirect to the same path on ``target`` (a base whose Inter-Hub sends the browser there)."""
    return serving(type("Redirecting", (_Redirecting,), {"target": target}))


class _ForwardProxy(http.server.BaseHTTPRequestHandler):
    """A corporate proxy on loopback. A plain request's absolute URL names a host of
    ``upstreams`` (a name it resolves to a server's base URL) or, with ``upstreams`` empty,
    any server; a tunnel (``CONNECT``) goes to the host and port it names (a name of
    ``upstreams`` resolved the same way). ``redirects``: "METHOD host[:port]/path" answered
    with (status, location) instead. Every request is noted in ``seen`` ("METHOD
    host[:port]/path", "CONNECT host:port")."""

    upstreams: dict[str, str] = {}
    redirects: dict[str, tuple[int, str]] = {}
    seen: list[str] = []
    authorization: str | None = None  # the Proxy-Authorization it wants (else 407)
    protocol_version = "HTTP/1.1"

    def _authorized(self) -> bool:
        if self.authorization is None or self.headers.get("Proxy-Authorization") == self.authorization:
            return True
        self.send_response(407)
        self.send_header("Proxy-Authenticate", 'Basic realm="corp"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def _forward(self) -> None:
        url = httpx.URL(self.path)
        said = f"{self.command} {url.netloc.decode()}{url.path}"
        self.seen.append(said)
        if not self._authorized():
            return
        upstream = self.upstreams.get(url.host) if self.upstreams else f"{url.scheme}://{url.netloc.decode()}"
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if upstream is None:
            self.send_error(403)
            return
        if said in self.redirects:
            status, location = self.redirects[said]
            self.send_response(status)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "proxy-connection", "connection")}
        response = httpx.request(
            self.command, upstream + url.raw_path.decode(), headers=headers, content=body, follow_redirects=False, trust_env=False,
            timeout=60,  # a sandbox slowed by a busy machine
        )
        self.send_response(response.status_code)
        for key, value in response.headers.multi_items():
            if key.lower() not in ("transfer-encoding", "connection", "content-encoding", "content-length"):
                self.send_header(key, value.replace(upstream, f"http://{url.host}"))
        self.send_header("Content-Length", str(len(response.content)))
        self.end_headers()
        self.wfile.write(response.content)

    do_GET = do_POST = do_HEAD = _forward  # noqa: N815

    def do_CONNECT(self) -> None:  # noqa: N802
        self.seen.append(f"CONNECT {self.path}")
        if not self._authorized():
            return
        host, _, port = self.path.rpartition(":")
        if self.upstreams:
            if host not in self.upstreams:
                self.send_error(403)
                return
            target = httpx.URL(self.upstreams[host])
            host, port = target.host, str(target.port)
        with socket.create_connection((host, int(port)), timeout=30) as there:
            self.send_response(200, "Connection established")
            self.end_headers()
            self.close_connection = True

            def copy(source: socket.socket, sink: socket.socket) -> None:
                with contextlib.suppress(OSError):
                    while data := source.recv(65536):
                        sink.sendall(data)
                with contextlib.suppress(OSError):
                    sink.shutdown(socket.SHUT_WR)

            back = threading.Thread(target=copy, args=(there, self.connection), daemon=True)
            back.start()
            copy(self.connection, there)
            back.join(timeout=30)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def forward_proxy(
    upstreams: dict[str, str] | None = None, redirects: dict[str, tuple[int, str]] | None = None, authorization: str | None = None
) -> Iterator[tuple[str, list[str]]]:
    """A corporate proxy on loopback for the time of the block (see :class:`_ForwardProxy`):
    its URL, and the list of requests it saw."""
    seen: list[str] = []
    handler = type(
        "ForwardProxy",
        (_ForwardProxy,),
        {"upstreams": upstreams or {}, "redirects": redirects or {}, "seen": seen, "authorization": authorization},
    )
    with serving(handler) as url:
        yield url, seen


@contextlib.contextmanager
def refusing_origin() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a loopback port bound and never listening: every connection
    to it is refused (another origin that nothing answers on)."""
    with socket.socket() as refuser:
        refuser.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{refuser.getsockname()[1]}"


@pytest.fixture
def sandbox_factory(tmp_path: Path) -> Iterator[SandboxFactory]:
    started: list[RunningSandbox] = []

    def start(**options: Any) -> RunningSandbox:
        options.setdefault("db", str(tmp_path / f"sandbox-{len(started)}.sqlite3"))
        options.setdefault("admin_password", ADMIN_PASSWORD)
        running = start_in_thread(SandboxConfig(port=0, **options))
        started.append(running)
        return running

    yield start
    for running in started:  # each ends in the background (~0.2 s), while the next test runs
        running.stop(wait=False)
        _stopping.append(running)
    _stopping[:] = [r for r in _stopping if r.running]  # those ended need no join


@pytest.fixture
def sandbox(sandbox_factory: SandboxFactory) -> RunningSandbox:
    return sandbox_factory()


def apply_in_process(
    sandbox: RunningSandbox, tmp_path: Path, browser: Browser, seeds: Any = None, *, parallel: int | None = None,
    trace: bool = False, **options: Any,
) -> Any:
    """One ``apply`` in this process, in the worker's Chromium (no trace unless asked), password
    login, the key in a file under ``tmp_path``; ``options`` are the steps' options."""
    import io

    from flows.apply import ApplyOptions, execute
    from flows.console import Console
    from flows.seeds import load_seeds
    from flows.settings import ExplicitSettings
    from flows.steps import Options

    settings = ExplicitSettings(
        base=sandbox.base_url,
        email=ADMIN_EMAIL,
        password=ADMIN_PASSWORD,
        runs_dir=tmp_path / "runs",
        key_sink=f"file:{tmp_path / 'ops-hub.key.json'}",
        timeout=20,
    )
    opts = ApplyOptions(trace=trace, browser=browser, steps=Options(**options))
    if parallel is not None:
        opts.parallel = parallel
    return execute(settings, seeds or load_seeds(), opts, Console(io.StringIO()))


def login(client: httpx.Client, password: str = ADMIN_PASSWORD) -> httpx.Response:
    client.get("/NewSession")
    return client.post("/CreateSession", data={"email": ADMIN_EMAIL, "password": password})


@pytest.fixture
def admin(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url, follow_redirects=False) as client:
        response = login(client)
        assert response.status_code == 302, response.text
        yield client


def count(sandbox: RunningSandbox, table: str, **where: Any) -> int:
    """Rows in a sandbox table, read from its database directly."""
    t = getattr(sandbox.sandbox.t, table)
    query = select(func.count()).select_from(t)
    for column, value in where.items():
        query = query.where(t.c[column] == value)
    with sandbox.sandbox.engine.connect() as conn:
        return conn.execute(query).scalar_one()


def rows(sandbox: RunningSandbox, table: str) -> list[Any]:
    t = getattr(sandbox.sandbox.t, table)
    with sandbox.sandbox.engine.connect() as conn:
        return conn.execute(select(t)).all()


# ---------------------------------------------------------------- the tool as an operator runs it


# One parent per test process (each xdist worker is one), below which every test's work root
# lives, made at the first use (0700, a name nobody can take first) and removed when the
# process's session ends, whatever fixture or helper made the roots (module fixtures and helpers
# make them without a test's tmp_path). Kept short: Chromium puts Unix sockets below it (see
# flows/workdir.py).
_work_parent: Path | None = None


def work_dir_for(tmp_path: Path) -> str:
    """A short private work directory per test (IHUB_WORK_DIR), the same for the same tmp_path."""
    global _work_parent
    if _work_parent is None:
        _work_parent = Path(tempfile.mkdtemp(prefix="ihw"))
    digest = hashlib.sha256(str(tmp_path).encode()).hexdigest()[:10]
    return str(_work_parent / digest)


@pytest.fixture(scope="session", autouse=True)
def _work_dirs_removed() -> Iterator[None]:
    """The work roots (:func:`work_dir_for`) live outside pytest's temporary directories, which
    pytest prunes: removed at the end, or every run of the suite would leave hundreds in /tmp.
    (Each run of the tool removes its own folder below its root; the root itself is kept by
    design, see flows/workdir.py.)"""
    yield
    if _work_parent is not None:
        shutil.rmtree(_work_parent, ignore_errors=True)


def tool_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """A clean environment for the CLI: no operator settings, locks and keys under tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IHUB_") or k == "IHUB_BROWSER"}
    _without_proxies(env)  # again: a test may have set one in this process since
    env["XDG_RUNTIME_DIR"] = str(tmp_path / "runtime")
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    # short: Chromium's sockets live below it (see flows/workdir.py)
    env["IHUB_WORK_DIR"] = work_dir_for(tmp_path)
    env["IHUB_SEEDS"] = str(PROJECT / "seeds")  # the working directory is often tmp_path, without seeds/
    env.update({f"IHUB_{k.upper()}": v for k, v in settings.items()})
    return env


IN_PROCESS = ("apply", "plan", "doctor")  # the commands that open a browser run (flows.session.RunSession)


class Tool:
    """Runs ``ihub-bootstrap`` against one sandbox, with password login: in a subprocess, or,
    given a running ``browser``, ``apply``, ``plan`` and ``doctor`` in this process in a new context of that
    Chromium (what a test about the runbook's behaviour needs, without ~7 s of Python start-up
    and Chromium launch per call under load). Tests about the process itself (exit on signals,
    what reaches the terminal's file descriptors, the environment, headed windows) keep the
    subprocess: construct without ``browser``, or pass ``in_process=False``."""

    def __init__(self, sandbox: RunningSandbox, tmp_path: Path, browser: Browser | None = None):
        self.sandbox = sandbox
        self.browser = browser
        self.tmp_path = tmp_path
        self.runs = tmp_path / "runs"
        self.key_file = tmp_path / "keys" / "ops-hub.key.json"
        self.settings = {
            "base": sandbox.base_url,
            "email": ADMIN_EMAIL,
            "password": ADMIN_PASSWORD,
            "runs_dir": str(self.runs),
            "key_sink": f"file:{self.key_file}",
        }

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        wait: float = 180,
        trace: bool = False,
        extra_env: dict[str, str] | None = None,
        in_process: bool | None = None,
        **settings: str | None,
    ) -> subprocess.CompletedProcess[str]:
        """``trace=False`` adds ``--no-trace`` to apply and plan: recording costs ~40 % of a run,
        and only the tests about the audit trail (and some end-to-end ones) look at it."""
        if args and args[0] in ("apply", "plan") and not trace:
            args = (*args, "--no-trace")
        merged = {**self.settings, **settings}
        env = tool_env(self.tmp_path, **{k: v for k, v in merged.items() if v is not None})
        env.update(extra_env or {})
        if in_process is None:
            in_process = self.browser is not None and bool(args) and args[0] in IN_PROCESS and "--headed" not in args
        if in_process:
            return self._in_process(list(args), env, input)
        return subprocess.run(
            [sys.executable, "-m", "flows.cli", *args],
            capture_output=True,
            text=True,
            input=input,
            env=env,
            cwd=self.tmp_path,
            timeout=wait,
            check=False,
        )

    def _in_process(self, args: list[str], env: dict[str, str], input: str | None) -> subprocess.CompletedProcess[str]:
        """``flows.cli.main(args)`` as the subprocess would run it (its environment, working
        directory, stdin, stdout and stderr), its browser runs opened in ``self.browser``."""
        import dataclasses
        import io

        from flows import cli, session, ui_texts

        assert self.browser is not None, "in_process needs the test's browser"
        shared, real_init = self.browser, session.RunSession.__init__

        def init(run_session: Any, *args: Any, **kwargs: Any) -> None:
            if kwargs.get("browser", True) and not kwargs.get("headed") and kwargs.get("reuse_browser") is None:
                kwargs["reuse_browser"] = shared
            real_init(run_session, *args, **kwargs)

        out, err = io.StringIO(), io.StringIO()
        saved_env, saved_cwd, saved_stdin = dict(os.environ), os.getcwd(), sys.stdin
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(session.RunSession, "__init__", init)
            os.environ.clear()
            os.environ.update(env)
            os.chdir(self.tmp_path)
            sys.stdin = io.StringIO(input or "")
            try:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    try:
                        code = cli.main(args)
                    except SystemExit as exc:  # argparse
                        code = exc.code if isinstance(exc.code, int) else 1
            finally:
                sys.stdin = saved_stdin
                os.chdir(saved_cwd)
                os.environ.clear()
                os.environ.update(saved_env)
                ui_texts.reset()
        return subprocess.CompletedProcess(["ihub-bootstrap", *args], code, out.getvalue(), err.getvalue())

    def stored_key(self) -> dict[str, str]:
        """The entry the key file holds for this sandbox's consumer (the last one stored)."""
        from flows.keysink import FileSink

        entries = [e for e in FileSink(self.key_file).entries() if e.get("target") == self.sandbox.base_url]
        assert entries, f"no key for {self.sandbox.base_url} in {self.key_file}"
        return entries[-1]

    def json(self, *args: str, **kwargs: Any) -> tuple[int, dict[str, Any], str]:
        result = self(*args, "--json", **kwargs)
        try:
            data = json.loads(result.stdout)
        except json.JSONDecodeError:
            raise AssertionError(f"no JSON on stdout (exit {result.returncode}):\n{result.stdout}\n{result.stderr}") from None
        return result.returncode, data, result.stderr


@pytest.fixture
def tool(sandbox: RunningSandbox, tmp_path: Path) -> Tool:
    return Tool(sandbox, tmp_path)


@dataclass(frozen=True)
class FormFill:
    """A form filled in one call (pages.base.AdminPage.fill_form), as a trace records it."""

    title: str  # the trace viewer's group: "Fill 'Name', 'Title', ..."
    call_id: str  # the call's id, which its DOM snapshots name
    values: dict[str, str]  # each field's label -> the value put in
    ok: bool  # the call filled the form (else the fields were filled one by one after it)


def _decoded(value: dict[str, Any]) -> Any:
    """A value as Playwright's protocol serialises an evaluate's argument (strings and arrays
    are all a form fill sends)."""
    if "a" in value:
        return [_decoded(v) for v in value["a"]]
    return value.get("s")


def form_fills(trace: zipfile.ZipFile) -> list[FormFill]:
    """Every form a run filled, in the order the trace recorded them: each call that opens a
    group titled ``Fill …``, with the labels and values its parameters hold and whether its
    result says it filled them."""
    calls, results, title = [], {}, None
    for name in trace.namelist():
        if not name.endswith(".trace"):
            continue
        for line in trace.read(name).decode().splitlines():
            event = json.loads(line)
            if event.get("type") == "after":
                results[event["callId"]] = event.get("result", {}).get("value")
            if event.get("type") != "before":
                continue
            if event.get("method") == "tracingGroup":
                title = event.get("title") or event["params"].get("name")
                continue
            if title and title.startswith("Fill ") and "arg" in event.get("params", {}):
                entries = _decoded(event["params"]["arg"]["value"])
                calls.append((title, event["callId"], {label: value for label, _, value, _ in entries}))
            title = None
    return [FormFill(title, call, values, results.get(call) == {"b": True}) for title, call, values in calls]


def snapshot(sandbox: RunningSandbox) -> dict[str, list[tuple[Any, ...]]]:
    """Every table that the UI path writes, as sorted rows (sessions and tokens excluded)."""
    tables = ("hubs", "manifests", "widget_types", "event_types", "annotation_categories", "policy_scopes", "api_consumers", "api_keys", "widgets")
    return {name: sorted(tuple(str(v) for v in r) for r in rows(sandbox, name)) for name in tables}


@pytest.fixture(scope="session")
def xvfb_display() -> Iterator[str]:
    """An X display for headed runs: $DISPLAY, or a private Xvfb (skipped when not installed)."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("headed tests need an X display: apt-get install xvfb")
    read, write = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write), "-screen", "0", "1280x960x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()  # Xvfb writes its display number once it is ready
    display = f":{number}"
    os.environ["DISPLAY"] = display
    try:
        yield display
    finally:
        del os.environ["DISPLAY"]
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session", autouse=True)
def every_run_folder_is_clean(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the session: every run folder the suite's tests produced (except those made with
    scrubbing switched off on purpose) holds neither the admin password, in any spelling the
    scanner reads, nor an unscrubbed Cookie/Set-Cookie/Authorization value."""
    yield
    from flows.audit import UNSAFE_NO_SCRUB_ENV
    from flows.scrub import scan_folder

    leaks = []
    for log in tmp_path_factory.getbasetemp().rglob("runs/*/audit.jsonl"):
        with log.open(encoding="utf-8") as f:
            if UNSAFE_NO_SCRUB_ENV.removeprefix("IHUB_") in f.readline():
                continue  # a test that proves the scanner sees what scrubbing removes
        leaks += [f"{log.parent}: {leak}" for leak in scan_folder(log.parent, [ADMIN_PASSWORD])]
    assert not leaks, "run folders of this session hold secrets:\n" + "\n".join(leaks)


# ---------------------------------------------------------------- scheduling: the long tests first

# The longest tests (a run of their own, or many), longest first: `make test` hands tests out one
# at a time (--dist load --maxschedchunk 1), so starting these first keeps one of them from
# running alone at the end while the other workers idle. Substrings of node ids; the order is
# that of their durations in `make test` (--durations=0, 4 workers, 2026-11-28).
LONGEST_FIRST = (
    "test_bench.py::test_quick_bench",
    "test_readme.py::test_the_readme_instructions_hold",
    "test_newcomer.py::test_pip_install_outside_the_repository",
    "test_faults.py::test_a_slow_server_needs_no_tuning",
    "test_parallel.py::test_side_by_side_or_one_at_a_time_the_same_widgets",
    "test_secrets_property.py::test_a_real_apply",
    "test_faults.py::test_a_500_at_every_write",
    "test_plan_file.py::test_plan_show_apply_performs_exactly_the_plans_writes",
    "test_audit.py::test_no_secret_in_run_folders_or_output",
    "test_newcomer.py::test_after_a_new_manifest_version",
    "test_secrets_adversarial.py::test_two_hubs_sharing_a_key_file",
    "test_audit.py::test_without_scrubbing_the_scanner_finds_them",
    "test_markup.py::test_plan_apply_rerun_and_doctor",
    "test_newcomer.py::test_help_is_the_reference",
    "test_faults.py::test_chromium_killed_mid_run",
    "test_faults.py::test_session_expiry_mid_run",
    "test_apply_e2e.py::test_fresh_apply_then_nothing_to_do",
    "test_apply_e2e.py::test_rehearse_command",
)


def _rank(item: pytest.Item) -> int:
    for rank, part in enumerate(LONGEST_FIRST):
        if part in item.nodeid:
            return rank
    if item.get_closest_marker("slow") is not None:
        return len(LONGEST_FIRST)
    return len(LONGEST_FIRST) + 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # stable: within a rank, the modules' own order (every xdist worker sorts the same way)
    items.sort(key=_rank)
