"""The browser of a run: Chromium launched with the flags that work on closed networks,
one context holding the admin session (password login, injected ``SESSION`` cookie, or a
saved storage state), one page, and the context's trace recorder."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import stat
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from flows.errors import BadInputError, StepFailed
from flows.guard_proxy import GuardProxy, Upstream
from flows.network import corporate_proxy
from flows.provision import CHROMIUM_ARGS, NoBrowser, find_browser
from flows.settings import SessionMode, Settings
from flows.workdir import private_directory
from pages.base import first_line, redirect_chain
from pages.origins import origin, scheme_host_port


@dataclass(frozen=True)
class BrowserOptions:
    headed: bool = False
    slow_mo_ms: int = 0
    trace_dir: Path | None = None  # where trace chunks go; None: no trace
    # An already running Chromium to open this run's context in (tests, benchmarks); the run
    # closes only its own context then. None: launch one for the run.
    browser: Browser | None = None
    # TMPDIR of Playwright's driver and of the Chromium it launches (the run's private work
    # directory: trace files in progress and the browser profile hold secrets). None: as is.
    driver_tmp: Path | None = None


# Variables that make Playwright print what it sends and receives (filled passwords, the key
# page, cookies) on stderr, past every redaction. Honoured only with --playwright-debug.
DEBUG_VARIABLES = ("DEBUG", "DEBUG_FILE", "DEBUGP", "PWDEBUG")
PLAYWRIGHT_DEBUG_ENV = "IHUB_PLAYWRIGHT_DEBUG"


def playwright_debug_allowed() -> bool:
    return os.environ.get(PLAYWRIGHT_DEBUG_ENV) == "1"


COMPILE_CACHE_ENV = "NODE_COMPILE_CACHE"


def compile_cache_dir() -> Path | None:
    """Where Node keeps the Playwright driver's compiled code from one run to the next: the
    driver's start is mostly Node compiling Playwright's code (0.35 s; 0.25 s from the cache),
    paid by every run. ``$XDG_CACHE_HOME/ihub-bootstrap/node-compile-cache``, 0700, by its real
    path (a symbolic link on the way could be re-pointed after the check).

    The cache holds code the driver runs, so it is used only when no one but this user can
    have written it or can swap it: each directory above it belongs to this user or root and
    is closed to others or sticky, checked before anything is made in them (so a root run with
    another user's HOME neither uses nor makes a cache there); its own two directories are
    made 0700 (whatever the umask), and tightened to that if this user's and looser; and
    everything in it is this user's, closed to others, a plain file or directory. None (no
    cache: the driver compiles afresh, a run is never stopped for a speed-up) otherwise."""
    try:
        home = Path(os.path.realpath(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"))
        above = [home, *home.parents]
        if not all(_unswappable(d) for d in above if os.path.lexists(d)):
            return None
        own = home / "ihub-bootstrap"
        path = own / "node-compile-cache"
        for directory in reversed(above):  # what is missing, from the root down, one level at a time
            if not os.path.lexists(directory):
                os.mkdir(directory, 0o700)
        private_directory(own)  # first: once it is closed, nothing in it can be swapped
        private_directory(path)
        if all(map(_unswappable, above)) and _holds_only_mine(path):
            return path
    except Exception:  # noqa: BLE001  (no home, a file in the way, ...): no cache, the run goes on
        pass
    return None


def _mine_alone(path: Path) -> bool:
    info = path.lstat()
    kind = stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)
    return kind and info.st_uid == os.geteuid() and not info.st_mode & 0o022


def _unswappable(directory: Path) -> bool:
    """No one but this user or root can rename what is in it."""
    info = directory.lstat()
    if info.st_uid not in (0, os.geteuid()):
        return False
    return not info.st_mode & 0o022 or bool(info.st_mode & stat.S_ISVTX)


def _holds_only_mine(directory: Path) -> bool:
    """Everything below ``directory`` passes :func:`_mine_alone` (links are not followed)."""
    for parent, dirs, files in os.walk(directory, onerror=_raise):
        for name in [*dirs, *files]:
            if not _mine_alone(Path(parent) / name):
                return False
    return True


def _raise(error: OSError) -> None:
    raise error


@contextlib.contextmanager
def driver_environment(tmp: Path | None) -> Iterator[None]:
    """The environment Playwright's driver starts with (it copies ``os.environ`` once): no
    debug output, the run's private TMPDIR, Node's compile cache (unless the operator's
    environment names one, or sets ``NODE_DISABLE_COMPILE_CACHE=1``); and a session of its own
    (see :func:`_driver_in_own_session`)."""
    with _driver_in_own_session(), _driver_variables(tmp):
        yield


@contextlib.contextmanager
def _driver_in_own_session() -> Iterator[None]:
    """Playwright's driver started as the leader of a session of its own (POSIX), out of the
    tool's process group: a SIGTERM or SIGHUP sent to that group (``timeout``, a closed
    terminal, ``kill -- -PGID``) reaches the tool, which ends the run and saves its trace, and
    not the driver, which would close the browser at once (its handler for them) and lose the
    trace. Chromium is in a group of its own already (Playwright starts it detached). The
    driver still ends with the tool: it exits when its stdin closes, even after a SIGKILL.

    Playwright starts the driver with ``asyncio.create_subprocess_exec``, and has no option
    for this: the call is given ``start_new_session`` while ``sync_playwright()`` starts.
    (Should a Playwright release start it otherwise, the driver stays in the group, as before;
    tests/test_secrets_adversarial.py's group signals say so.)"""
    if os.name != "posix":
        yield
        return
    with _DRIVER_START:  # one start at a time: each puts back what it found
        real = asyncio.create_subprocess_exec

        def in_own_session(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            if "run-driver" in args:  # the driver's command line; any other process as asked
                kwargs.setdefault("start_new_session", True)
            return real(*args, **kwargs)

        asyncio.create_subprocess_exec = in_own_session  # type: ignore[assignment]
        try:
            yield
        finally:
            asyncio.create_subprocess_exec = real  # type: ignore[assignment]


_DRIVER_START = threading.Lock()


@contextlib.contextmanager
def _driver_variables(tmp: Path | None) -> Iterator[None]:
    saved = dict(os.environ)
    own_choice = COMPILE_CACHE_ENV in os.environ or os.environ.get("NODE_DISABLE_COMPILE_CACHE")
    if not own_choice and (cache := compile_cache_dir()) is not None:
        os.environ[COMPILE_CACHE_ENV] = str(cache)
    if not playwright_debug_allowed():
        for name in DEBUG_VARIABLES:
            os.environ.pop(name, None)
        saved.pop("DEBUGP", None)  # read by the Python client on every message: gone for good
    if tmp is not None:
        for name in ("TMPDIR", "TMP", "TEMP"):
            os.environ[name] = str(tmp)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


# The WebSocket scheme that goes with each HTTP one.
_WEBSOCKET = {"http": "ws", "https": "wss"}


def _as_http(url: str) -> str:
    """A WebSocket URL as the http(s) URL of the same host and port."""
    for http, ws in _WEBSOCKET.items():
        if url[: len(ws) + 1].lower() == ws + ":":
            return http + url[len(ws) :]
    return url


def bypass_rules(base: str) -> str:
    """Chromium's proxy bypass list that lets only the base through, direct: its scheme, host
    and port (and the WebSocket scheme that goes with it). ``<-loopback>`` first: Chromium
    otherwise never proxies loopback addresses, so every other local port would be reachable
    (Playwright adds it too, unless PLAYWRIGHT_DISABLE_FORCED_CHROMIUM_PROXIED_LOOPBACK is set;
    given here, it holds whatever the environment says)."""
    scheme, host, port = scheme_host_port(base)
    rules = ["<-loopback>", f"{scheme}://{host}:{port}"]
    if ws := _WEBSOCKET.get(scheme):
        rules.append(f"{ws}://{host}:{port}")
    return ",".join(rules)


def launch_args(base: str) -> list[str]:
    """Chromium's flags for a run against ``base``: :data:`CHROMIUM_ARGS`, and host resolver
    rules under which no name resolves but the base's host (and 127.0.0.1, where the origin
    guard's proxy listens). A request elsewhere goes to that proxy, which refuses it; but
    Chromium still looked its name up first, so a page's script could spell what it read into a
    name that DNS would carry off the machine."""
    host = scheme_host_port(base)[1].strip("[]")  # an IPv6 address unbracketed, as the rules want it
    excluded = dict.fromkeys(["127.0.0.1", host])
    return [*CHROMIUM_ARGS, "--host-resolver-rules=MAP * ~NOTFOUND, " + ", ".join(f"EXCLUDE {h}" for h in excluded)]


class OriginGuard:
    """Keeps the browser on the base's origin (scheme, host, port): no request to anywhere else
    leaves (a redirect's hop included: Chromium asks its proxy for each), and each one tried is
    remembered for the error.

    The context's own proxy settings do it. Without a corporate proxy, every request goes to a
    "proxy" that refuses every connection (a loopback port this process holds bound and never
    listens on), except those to the base (:func:`bypass_rules`), which Chromium sends direct.
    Behind one (``upstream``), which the base's traffic must go through, every request goes to
    a :class:`GuardProxy` on loopback, which relays the base's to it and refuses the rest."""

    def __init__(self, base: str, *, upstream: Upstream | None = None):
        self.base = origin(base)
        self.target = scheme_host_port(base)
        # every origin refused, in order: where the browser itself was sent (see _sent), and
        # what a page asked for
        self.sent: list[str] = []
        self.asked: list[str] = []
        self._since_sent = self._since_asked = 0  # where the current step's entries start
        self._popups: weakref.WeakSet[Page] = weakref.WeakSet()  # pages a page's script opened
        self.upstream = upstream
        self._refuser: socket.socket | None = None
        self._relay: GuardProxy | None = None

    def proxy(self) -> dict[str, str]:
        """The context's ``proxy`` option."""
        if self.upstream is not None:
            if self._relay is None:
                self._relay = GuardProxy(self.base, self.upstream)
            try:
                relay = self._relay.start()
            except OSError as exc:
                raise StepFailed(
                    f"cannot start the browser's proxy on 127.0.0.1: {exc.strerror or exc}",
                    where="the origin guard (behind a corporate proxy)",
                    hint="free a loopback port or file descriptors (ulimit -n), then run the command again",
                ) from None
            # nothing direct: <-loopback> sends loopback addresses through it too
            return {"server": relay, "bypass": "<-loopback>"}
        if self._refuser is None:
            self._refuser = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._refuser.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        return {"server": f"http://127.0.0.1:{self._refuser.getsockname()[1]}", "bypass": bypass_rules(self.base)}

    def install(self, context: BrowserContext) -> None:
        context.on("page", self._watch_page)
        context.on("requestfailed", self._failed)

    def _watch_page(self, page) -> None:  # noqa: ANN001
        # told as the popup is made, before its requests (Page.opener() would give the event
        # loop a turn inside a request's handler)
        page.on("popup", self._popups.add)
        # a WebSocket raises no requestfailed: each page names the ones it opens elsewhere
        # (the proxy refuses them like any other request)
        page.on("websocket", self._socket)

    def _elsewhere(self, url: str) -> bool:
        return url.startswith(("http:", "https:")) and scheme_host_port(url) != self.target

    def _record(self, url: str, *, sent: bool) -> None:
        (self.sent if sent else self.asked).append(origin(url))

    def _sent(self, request) -> bool:  # noqa: ANN001
        """Whether a request elsewhere is the browser being sent there: a page load in one of
        the tool's tabs (a link, a form's action, a redirect of one), or a script's request to
        the base that a redirect took elsewhere (IHP sends forms by XMLHttpRequest). Not what a
        page asks of another origin itself (an image, a stylesheet, a frame inside it, a
        popup its script opens, a script's beacon), nor an image or a script of the base's
        that redirects to a CDN."""
        try:
            if request.is_navigation_request():
                frame = request.frame
                return frame.parent_frame is None and frame.page not in self._popups
        except PlaywrightError:  # no frame yet (a popup's first request) or none (a service worker's)
            return False
        if request.resource_type not in ("xhr", "fetch"):
            return False
        return not self._elsewhere(redirect_chain(request)[-1].url)

    def _failed(self, request) -> None:  # noqa: ANN001
        if self._elsewhere(request.url):
            self._record(request.url, sent=self._sent(request))

    def _socket(self, socket) -> None:  # noqa: ANN001
        if scheme_host_port(_as_http(socket.url)) != self.target:
            self._record(socket.url, sent=False)

    def proxy_trouble(self) -> str | None:
        """What the corporate proxy last refused or could not be reached for during this step
        (None: nothing, or no corporate proxy)."""
        return self._relay.trouble if self._relay is not None else None

    def begin_step(self) -> None:
        """What follows is the next step's: :meth:`violation` names only what it saw."""
        self._since_sent, self._since_asked = len(self.sent), len(self.asked)
        if self._relay is not None:
            self._relay.trouble = None

    def violation(self) -> str | None:
        """The first origin the browser was sent to instead of the base during this step: why
        it failed."""
        sent = self.sent[self._since_sent :]
        return sent[0] if sent else None

    def refused(self) -> str | None:
        """The first origin a page asked for itself and was refused (an image, a stylesheet, a
        frame, an analytics beacon; a request's before a WebSocket's, such as a live-reload
        socket), during this step, else the last before it (a page a step reuses was loaded
        by an earlier one): no failure in itself, but what a page that needs it lacks. Named
        beside a step's own error."""
        for asked in (self.asked[self._since_asked :], self.asked[::-1]):
            requests = [a for a in asked if not a.startswith(("ws:", "wss:"))]
            if asked:  # requests are some of asked
                return (requests or asked)[0]
        return None

    def close(self) -> None:
        if self._refuser is not None:
            self._refuser.close()
            self._refuser = None
        if self._relay is not None:
            self._relay.close()
            self._relay = None


def executable(settings: Settings, *, headless: bool = False) -> str | None:
    """The Chromium to launch: the configured one, else what :func:`find_browser` finds (for a
    ``headless`` run, the headless shell where the system has it). None: Playwright's own."""
    if settings.browser is not None:
        path = settings.browser
        problem = (
            "does not exist" if not path.exists()
            else "is not a file" if not path.is_file()
            else "is not executable" if not os.access(path, os.X_OK)
            else None
        )
        if problem:
            raise BadInputError(
                f"browser {path} {problem}",
                where="setting IHUB_BROWSER / --browser",
                hint="point it at a Chromium executable, or unset it to use /usr/bin/chromium",
            )
        return str(path)
    try:
        found = find_browser(headless=headless)
    except NoBrowser as exc:
        raise BadInputError(
            f"{exc}",
            where="browser",
            hint="run `make test` or `python -m flows.provision` once, or set IHUB_BROWSER",
        ) from None
    return str(found) if found else None


class TraceRecorder:
    """Playwright tracing in parts, so that moments can be left out of the record.

    ``paused()`` stops the trace and starts a new one afterwards: nothing that happens inside
    (the login, the one-time API key on screen) is in any part. A whole stop is needed: a
    chunk boundary would still keep that moment's network traffic (the key page's HTML, the
    login form's POST body) in the next part.

    ``start=False``: a run that logs in first records from the end of its login on (the first
    ``paused()`` ends, or :meth:`begin`), not an empty part before it (its stop, writing and
    merging cost about 40 ms a run).
    """

    def __init__(self, context: BrowserContext, directory: Path, title: str, *, start: bool = True):
        self.context = context
        self.directory = directory
        self.chunks: list[Path] = []
        # DOM snapshots (each action's page before and after it, the filled values in them) and
        # the network log; no screencast film strip: its frames cost about as much as the rest of
        # the recording and show nothing the snapshots do not (see README, "Audit trail").
        self.options = {"screenshots": False, "snapshots": True, "sources": False, "title": title}
        directory.mkdir(parents=True, exist_ok=True)
        self.recording = False
        self.waiting = not start  # to start after the login
        self.given_up = False  # a page could not be cleaned: nothing more is recorded
        self.stopped_early: str | None = None  # why the recording ends before the run (for run-end)
        if start:
            self._start()

    def _start(self) -> None:
        self.context.tracing.start(**self.options)
        self.recording, self.waiting = True, False

    def begin(self) -> None:
        """Start recording if it waits to (see ``start``); if Playwright cannot, the run goes on
        unrecorded and says so (``stopped_early``), as after a pause."""
        if self.waiting and not self.given_up:
            try:
                self._start()
            except PlaywrightError as exc:
                self._give_up(f"Playwright could not start recording ({first_line(exc)}); nothing of the run was recorded")

    def _save(self) -> None:
        path = self.directory / f"part-{len(self.chunks)}.zip"
        self.recording = False
        try:
            self.context.tracing.stop(path=str(path))
        except BaseException as exc:  # a failure, or an interrupt while it was saved
            why = first_line(exc) if isinstance(exc, Exception) else f"interrupted: {getattr(exc, 'signal_name', 'Ctrl-C')}"
            ends = "the trace ends where its last saved part did" if self.chunks else "nothing of the run was kept"
            self._give_up(f"the part being recorded could not be saved ({why}); {ends}")
            raise
        self.chunks.append(path)

    def _give_up(self, why: str) -> None:
        """Nothing more is recorded this run; the first reason is what run-end reports."""
        self.given_up = True
        self.stopped_early = self.stopped_early or why

    @contextlib.contextmanager
    def paused(self, before_resume: Callable[[], None] | None = None) -> Iterator[None]:
        """Nothing inside is recorded. ``before_resume`` (leave the page, empty a field) runs
        before recording starts again, whatever happened inside; if it fails, recording does
        not start again for the rest of the run: a page that may still hold a secret is never
        recorded."""
        was_recording = self.recording or self.waiting
        if self.recording:
            self._save()
        try:
            yield
        finally:
            clean = True
            if before_resume is not None:
                try:
                    before_resume()
                except Exception:  # noqa: BLE001  (any failure: the page may still hold the secret)
                    clean = False
            if self.given_up or not was_recording:
                pass
            elif not clean:
                ends = "nothing after it was recorded" if self.chunks else "nothing of the run was recorded"
                self._give_up(f"a page that may hold a secret could not be cleaned; {ends}")
            else:
                try:
                    self._start()
                except PlaywrightError as exc:  # not raised: it would hide how the step inside ended
                    again, ends = ("again ", "nothing after it was recorded") if self.chunks else ("", "nothing of the run was recorded")
                    self._give_up(f"Playwright could not start recording {again}({first_line(exc)}); {ends}")

    def finish(self) -> list[Path]:
        """The parts saved; a last part that cannot be saved is named in ``stopped_early``."""
        if self.recording:
            with contextlib.suppress(PlaywrightError):
                self._save()
        return self.chunks


def unrecorded(trace: TraceRecorder | None, before_resume: Callable[[], None] | None = None):  # noqa: ANN201
    """Leave what happens inside out of the trace (when there is one); ``before_resume`` runs
    on the way out in any case (see :meth:`TraceRecorder.paused`)."""
    if trace is not None:
        return trace.paused(before_resume)
    return _then(before_resume)


@contextlib.contextmanager
def _then(cleanup: Callable[[], None] | None) -> Iterator[None]:
    try:
        yield
    finally:
        if cleanup is not None:
            with contextlib.suppress(Exception):
                cleanup()


@contextlib.contextmanager
def login_attempt(trace: TraceRecorder | None, login_page) -> Iterator[None]:  # noqa: ANN001
    """A login, by the tool or by the operator's hand, that nothing records: tracing stops
    before the form is filled, and before it starts again the page is left (the attempt
    failed: the form may still hold the password) or its password fields are emptied."""
    failed = True

    def forget() -> None:
        login_page.forget_password(leave=failed)

    with unrecorded(trace, forget):
        yield
        failed = False


class BrowserSession:
    """``with BrowserSession(...) as session:`` gives ``session.page``, logged-in state aside."""

    def __init__(self, settings: Settings, options: BrowserOptions, mode: SessionMode, title: str = "ihub-bootstrap"):
        self.settings = settings
        self.options = options
        self.mode = mode
        self.title = title
        self._stack = contextlib.ExitStack()
        self.playwright: Playwright | None = None
        self.browser: Browser | None = None
        self.context: BrowserContext | None = None
        self.page: Page | None = None
        self.trace: TraceRecorder | None = None
        # the corporate proxy of the environment, if any (see flows.network): the origin guard
        # sends the base's traffic through it
        self.guard = OriginGuard(settings.require_base(), upstream=corporate_proxy(settings.require_base()))

    def __enter__(self) -> BrowserSession:
        base = self.settings.require_base()
        if self.options.browser is not None:
            self.browser = self.options.browser
            return self._opened(base)
        path = executable(self.settings, headless=not self.options.headed)
        try:
            with driver_environment(self.options.driver_tmp):
                self.playwright = self._stack.enter_context(sync_playwright())
            self.browser = self.playwright.chromium.launch(
                executable_path=path,
                headless=not self.options.headed,
                slow_mo=self.options.slow_mo_ms or None,
                args=launch_args(base),
                # A SIGINT that reaches Playwright's driver (Ctrl-C at a terminal did, before the
                # driver had a session of its own; one sent to the whole cgroup still does) must
                # not make it close the browser at once: the trace could not be saved. The run
                # ends itself (flows/command.py) and closes the browser after saving it.
                handle_sigint=False,
            )
        except PlaywrightError as exc:
            self._stack.close()
            first = first_line(exc)
            hint = "headed mode needs a display (DISPLAY); run headless or under xvfb-run" if self.options.headed else (
                "check IHUB_BROWSER / that Chromium runs (`chromium --version`)"
            )
            raise StepFailed(f"cannot start Chromium: {first}", where=f"browser {path or 'bundled'}", hint=hint) from None
        return self._opened(base)

    def _opened(self, base: str) -> BrowserSession:
        try:
            return self._open_context(base)
        except BaseException:
            self.close()  # no __exit__ follows a failed __enter__: the browser, driver and guard end here
            raise

    def _open_context(self, base: str) -> BrowserSession:
        assert self.browser is not None
        storage = str(self.settings.storage_state) if self.mode == "storage-state" else None
        self.context = self.browser.new_context(
            base_url=base,
            storage_state=storage,
            viewport={"width": 1280, "height": 900},
            proxy=self.guard.proxy(),  # type: ignore[arg-type]
        )
        self.context.set_default_timeout(self.settings.timeout * 1000)
        self.context.set_default_navigation_timeout(self.settings.timeout * 1000)
        self.guard.install(self.context)
        if self.mode == "cookie" and self.settings.session_cookie is not None:
            self.context.add_cookies(
                [
                    {
                        "name": self.settings.session_cookie_name,
                        "value": self.settings.session_cookie.get_secret_value(),
                        "url": base,
                        "httpOnly": True,
                        "secure": base.startswith("https://"),
                        "sameSite": "Lax",
                    }
                ]
            )
        if self.options.trace_dir is not None:
            # A login comes first (by the tool or by hand): recording starts once it is done.
            logs_in = self.mode in ("password", "manual")
            self.trace = TraceRecorder(self.context, self.options.trace_dir, self.title, start=not logs_in)
        self.page = self.context.new_page()
        return self

    def cookie_values(self) -> list[str]:
        """Every cookie value this context holds (secret: the session among them)."""
        if self.context is None:
            return []
        try:
            return [c["value"] for c in self.context.cookies() if c.get("value")]
        except PlaywrightError:
            return []

    def close(self) -> None:
        context_closed = self.context is None
        with contextlib.suppress(PlaywrightError):
            if self.context is not None:
                self.context.close()
                context_closed = True
            if self.browser is not None and self.options.browser is None:
                self.browser.close()
        self._stack.close()
        if context_closed or self.options.browser is None:  # no context of ours lives on: its
            self.guard.close()  # "proxy" port may be given up (else it stays held by this process)

    def __exit__(self, *exc: object) -> None:
        self.close()
