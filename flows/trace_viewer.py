"""``ihub-bootstrap trace RUN``: a run's audit trace in Playwright's trace viewer, opened with
the Chromium this tool uses.

``playwright show-trace`` alone opens the viewer in Playwright's *own* Chromium, which a
machine provisioned with the system Chromium does not have. So the viewer's web app is
served by the Playwright driver on loopback (``show-trace --host 127.0.0.1 --port 0``, which
serves and prints its address) and this tool's Chromium opens that address. The driver runs
without a display, so it never opens a browser of its own; ``--no-open`` (or no display at
all) prints the address for any browser on this machine instead.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

from playwright._impl._driver import compute_driver_executable
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from flows.console import Console
from flows.errors import BadInputError, StepFailed
from flows.provision import CHROMIUM_ARGS
from pages.base import first_line

_LISTENING = re.compile(r"Listening on (http://\S+)")
START_TIMEOUT_S = 60


def find_trace(run: Path, runs_dir: Path) -> Path:
    """The trace of ``run``: a run folder, its ``trace.zip``, or a run id under ``runs_dir``."""
    candidates = [run, runs_dir / run] if not run.is_absolute() else [run]
    for candidate in candidates:
        if candidate.is_file() and candidate.suffix == ".zip":
            return candidate.resolve()
        if (candidate / "trace.zip").is_file():
            return (candidate / "trace.zip").resolve()
        if candidate.is_dir():
            raise BadInputError(
                f"run folder {candidate} has no trace.zip",
                where="RUN",
                hint="the run was made with --no-trace, or it is not a run folder; give another run",
            )
    raise BadInputError(
        f"no run {run} (looked for {' and '.join(str(c) for c in candidates)})",
        where="RUN",
        hint="give a run folder (runs/<UTC timestamp>-<id>), its trace.zip, or a run id under --runs-dir",
    )


@contextlib.contextmanager
def serve(trace: Path) -> Iterator[str]:
    """The trace viewer serving ``trace`` on loopback; yields its address."""
    node, cli = compute_driver_executable()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER")}
    proc = subprocess.Popen(
        [str(node), str(cli), "show-trace", "--host", "127.0.0.1", "--port", "0", str(trace)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        output: list[str] = []
        for line in proc.stdout:  # the driver prints the address once it serves
            output.append(line.rstrip())
            if match := _LISTENING.search(line):
                yield match.group(1).replace("0.0.0.0", "127.0.0.1")
                return
        raise StepFailed(
            f"the trace viewer did not start (exit {proc.wait()}): {' '.join(output)[-300:]}",
            where=f"playwright show-trace {trace}",
            hint="check the trace file (`unzip -l` lists it) and that `python -m playwright --version` runs",
        )
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        if proc.poll() is None:
            proc.kill()


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_trace(trace: Path, executable: str | None, console: Console, *, open_browser: bool) -> None:
    """Serve the viewer; open it in this tool's Chromium (until its window is closed), or
    print the address and serve until Ctrl-C."""
    with serve(trace) as url:
        if open_browser and not has_display():
            console.info("no display (DISPLAY is not set): open the address below in a browser on this machine")
            open_browser = False
        if not open_browser:
            print(url, flush=True)
            console.info(f"trace viewer for {trace} on {url}; Ctrl-C ends it")
            stop = signal.getsignal(signal.SIGTERM)

            def interrupt(signum: int, frame: object) -> None:
                raise KeyboardInterrupt

            signal.signal(signal.SIGTERM, interrupt)  # `kill` ends it as cleanly as Ctrl-C: the server too
            try:
                with contextlib.suppress(KeyboardInterrupt):
                    while True:
                        signal.pause()
            finally:
                signal.signal(signal.SIGTERM, stop)
            return
        console.info(f"trace viewer for {trace}: close its window to end")
        with sync_playwright() as pw:
            try:
                browser = pw.chromium.launch(executable_path=executable, headless=False, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                page.goto(url)
            except PlaywrightError as exc:
                first = first_line(exc)
                raise StepFailed(
                    f"cannot show the trace viewer: {first}",
                    where=f"browser {executable or 'bundled'}",
                    hint="run `ihub-bootstrap trace RUN --no-open` and open the printed address in any browser",
                ) from None
            with contextlib.suppress(PlaywrightError):  # closing the window ends the browser too
                page.wait_for_event("close", timeout=0)
            with contextlib.suppress(PlaywrightError):
                browser.close()
