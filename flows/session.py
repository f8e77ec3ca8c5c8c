"""One run session: what every command that talks to Inter-Hub needs, in one place.

The target and transport checks (before anything starts), the run's known secrets and the
terminal's redaction, the run folder (``run-start`` to ``run-end``, scrubbed and scanned),
the trace folder, the per-target lock, the browser and closing all of it in order.
``apply``, ``plan``, ``verify`` and ``doctor`` use it; a new command gets all of it too::

    session = RunSession(settings, console, command="x", browser=True)   # checks; may raise BadInput
    session.begin(seeds, options={...})                                  # the run folder
    try:
        browser = session.open_browser(title="...")                      # lock (if asked), Chromium, trace
        ...
    finally:
        code, leaks = session.close(exit_code=..., changes=..., error=..., summary=...)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser

from flows.audit import UNSAFE_NO_SCRUB_ENV, RunFolder
from flows.browser import BrowserOptions, BrowserSession, executable
from flows.console import Console
from flows.known_secrets import KnownSecrets
from flows.lock import target_lock
from flows.settings import Settings
from flows.workdir import RunWorkDir


class RunSession:
    def __init__(
        self,
        settings: Settings,
        console: Console,
        *,
        command: str,
        browser: bool = True,
        headed: bool = False,
        reuse_browser: Browser | None = None,
    ):
        """Checks the target and its transport and how the run logs in: bad input is refused
        here, before any folder, browser or request."""
        self.settings = settings
        self.console = console
        self.command = command
        self.base = settings.require_base()
        settings.check_transport()
        self.mode: str = settings.session_mode(headed=headed) if browser else "none"
        if browser and reuse_browser is None:
            executable(settings, headless=not headed)  # a wrong IHUB_BROWSER is bad input: refused before anything starts
        self.reuse_browser = reuse_browser
        self.secrets = KnownSecrets(settings.secret_values())
        console.redact = self.secrets.redact
        self.folder: RunFolder | None = None
        self.browser: BrowserSession | None = None
        self.chunks: list[Path] = []
        self.trace_stopped_early: str | None = None
        self.work: RunWorkDir | None = None  # 0700: raw trace parts, the driver's and Chromium's files
        self._stack = contextlib.ExitStack()

    @property
    def path(self) -> Path:
        assert self.folder is not None
        return self.folder.path

    def begin(self, seeds: Any, options: dict[str, Any]) -> RunFolder:
        """The run folder, with its ``run-start`` event (a secret that stands in the seeds is
        refused first: redacting it would show where it stands)."""
        self.settings.check_secrets_against(seeds)
        self.folder = RunFolder(self.settings.runs_dir, self.command, self.secrets)
        self.folder.start(target=self.base, session_mode=self.mode, operator=self.settings.operator, seeds=seeds, options=options)
        if not self.folder.scrub:
            self.console.warn(f"{UNSAFE_NO_SCRUB_ENV}=1: artifacts are NOT scrubbed (a test switch); do not share {self.folder.path}")
        return self.folder

    def open_browser(
        self, *, title: str, headed: bool = False, slow_mo_ms: int = 0, trace: bool = True, lock: bool = False
    ) -> BrowserSession:
        """The lock for the target (writing commands), then Chromium with the admin session and
        the trace recorder; all released by :meth:`end_browser` / :meth:`close`."""
        if lock:
            self._stack.enter_context(target_lock(self.base))
        self.work = self.work or RunWorkDir(self.folder.path if self.folder else None)
        options = BrowserOptions(headed, slow_mo_ms, self.work.trace if trace else None, self.reuse_browser, self.work.tmp)
        self.browser = self._stack.enter_context(BrowserSession(self.settings, options, self.mode, title=title))  # type: ignore[arg-type]
        self.learn_cookies()
        return self.browser

    def lock_target(self) -> None:
        """The per-target lock without a browser (the API path); released by :meth:`close`."""
        self._stack.enter_context(target_lock(self.base))

    def learn_cookies(self, browser: BrowserSession | None = None) -> None:
        """Every cookie the browser (this run's, by default) holds is a secret of this run
        (scrubbed, never shown)."""
        browser = browser or self.browser
        if browser is not None:
            for value in browser.cookie_values():
                self.secrets.add(value)

    def end_browser(self) -> None:
        """Trace finished, cookies learnt, browser closed, lock released. Idempotent. An
        interrupt on the way (while the last part is saved, while the cookies are read) still
        keeps the parts saved before it, says why the trace ends early, learns the cookies and
        closes the browser."""
        browser, self.browser = self.browser, None
        recorder = browser.trace if browser is not None else None
        if browser is not None:
            browser.trace = None
        try:
            try:
                if recorder is not None:
                    recorder.finish()
            finally:
                if browser is not None:
                    self.learn_cookies(browser)  # after an interrupt too: the browser still answers
        finally:
            if recorder is not None:
                self.chunks, self.trace_stopped_early = list(recorder.chunks), recorder.stopped_early
            self._stack.close()

    def close(
        self, *, exit_code: int, changes: int, error: str | None, summary: Callable[[int, list[str]], dict[str, Any]]
    ) -> tuple[int, list[str]]:
        """Finish the run folder (trace merged and scrubbed, everything scanned, ``run-end``,
        ``summary.json``); returns the final exit code (6 when a secret is found) and findings."""
        try:
            self.end_browser()
        finally:
            try:
                assert self.folder is not None
                return self.folder.close(
                    self.chunks, exit_code=exit_code, changes=changes, error=error, summary=summary, trace_stopped_early=self.trace_stopped_early
                )
            finally:
                if self.work is not None:
                    self.work.close()
                if self.trace_stopped_early:
                    self.console.warn(f"the trace is incomplete: {self.trace_stopped_early} (audit.jsonl's run-end says so too)")
