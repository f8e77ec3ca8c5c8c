"""What the operator sees on the terminal: live step progress, messages, confirmation prompts.

Progress and messages go to stderr (stdout is kept for results and ``--json``). Every line
passes through the run's known secrets first, so a value that must not be shown never is.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from flows.errors import IhubError

STATUS_MARK = {
    "running": "…",
    "ok": "✓",
    "create": "+",
    "update": "~",
    "created": "+",
    "updated": "~",
    "unchanged": "=",
    "skipped": "-",
    "blocked": "!",
    "failed": "x",
    "drift": "!",
    "pass": "✓",
    "fail": "✗",
}
COLORS = {"created": "32", "updated": "33", "unchanged": "2", "failed": "31", "fail": "31", "pass": "32", "blocked": "33", "drift": "33"}


def use_color(stream: TextIO, env: dict[str, str] | None = None) -> bool:
    """The usual conventions: FORCE_COLOR (non-empty) forces colour, NO_COLOR (non-empty,
    no-color.org) turns it off, and there is none when the stream is not a terminal or the
    terminal is ``dumb``."""
    env = os.environ if env is None else env
    if env.get("FORCE_COLOR") and env.get("FORCE_COLOR") != "0":
        return True
    if env.get("NO_COLOR"):
        return False
    return stream.isatty() and env.get("TERM", "") != "dumb"


class Console:
    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        redact: Callable[[str], str] = lambda s: s,
        quiet: bool = False,
    ):
        self.stream = stream or sys.stderr
        self.redact = redact
        self.quiet = quiet
        self.color = use_color(self.stream)

    def _write(self, text: str) -> None:
        self.stream.write(self.redact(text) + "\n")
        self.stream.flush()

    def _paint(self, status: str, text: str) -> str:
        code = COLORS.get(status)
        return f"\033[{code}m{text}\033[0m" if self.color and code else text

    def info(self, text: str) -> None:
        if not self.quiet:
            self._write(text)

    def warn(self, text: str) -> None:
        self._write(f"warning: {text}")

    def error(self, exc: IhubError) -> None:
        self._write(exc.render())

    def step(self, index: int, total: int, name: str, status: str, detail: str = "") -> None:
        """A step's progress line; on a terminal the "running" line is replaced by the result."""
        if self.quiet:
            return
        mark = STATUS_MARK.get(status, "?")
        line = self._paint(status, f"[{index}/{total}] {mark} {name:<20} {status}") + (f"  {detail}" if detail else "")
        if self.stream.isatty() and os.environ.get("TERM", "") != "dumb":
            self.stream.write("\r\033[K" + self.redact(line) + ("" if status == "running" else "\n"))
            self.stream.flush()
        else:
            self._write(line)

    def check(self, ok: bool, name: str, detail: str) -> None:
        status = "pass" if ok else "fail"
        self._write(self._paint(status, f"  {STATUS_MARK[status]} {status.upper():<4} {name}") + f"  {detail}")


class _ReaderMayLeave:
    """A standard stream whose reader may go away (``| head``, ``| jq`` that stops early; a
    terminal that hangs up, which also sends SIGHUP, see flows.command): what is written
    after that is dropped, as a pipeline expects, and the command goes on to its own end and
    exit code (a run finishes and leaves its run folder) instead of failing on its next line
    ("cannot use a file: Broken pipe"). A question cannot be asked then (flows.confirm). The
    descriptor is pointed at /dev/null, so that Python's last flush at exit, and a process
    started afterwards, write nowhere rather than fail."""

    def __init__(self, stream: Any):
        self._stream = stream
        self.gone = False
        try:  # asked now: a terminal that has hung up is no terminal any more
            self._terminal = bool(stream.isatty())
        except (OSError, ValueError, AttributeError):
            self._terminal = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return int(self._stream.write(text))
            except OSError as exc:
                self._leave(exc)
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._stream.flush()
            except OSError as exc:
                self._leave(exc)

    def _leave(self, exc: OSError) -> None:
        """The reader has gone (a broken pipe or connection, a terminal hung up); any other
        error, an EIO of a file included (a failing disk), is the caller's."""
        if not isinstance(exc, (BrokenPipeError, ConnectionResetError)) and not (self._terminal and exc.errno == errno.EIO):
            raise exc
        self.gone = True
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self._stream.fileno())
            finally:
                os.close(devnull)

    def isatty(self) -> bool:
        return not self.gone and bool(self._stream.isatty())

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, buffer ...
        return getattr(self._stream, name)


@contextlib.contextmanager
def readers_may_leave() -> Iterator[None]:
    """stdout and stderr as :class:`_ReaderMayLeave` for the time of a command (one that is
    not there at all, a descriptor closed before the start, as one whose reader has gone)."""
    saved = sys.stdout, sys.stderr
    with contextlib.ExitStack() as stack:
        wrapped = []
        for stream in saved:
            if stream is None:  # a real file: Playwright hands its descriptor to its driver
                stream = _ReaderMayLeave(stack.enter_context(open(os.devnull, "w", encoding="utf-8")))
                stream.gone = True
            else:
                stream = _ReaderMayLeave(stream)
            wrapped.append(stream)
        sys.stdout, sys.stderr = wrapped  # type: ignore[assignment]
        try:
            yield
        finally:
            try:
                for stream in wrapped:
                    stream.flush()
            finally:
                sys.stdout, sys.stderr = saved
