"""What every command line of the tool shares: usage errors exit with BAD_INPUT (3), not
argparse's 2 (which means "changes pending" here), and expected errors become a message
and their exit code, never a traceback; under ``--json`` the error is a JSON object on stdout
too, in the same envelope as every command's result (``schema_version``, ``command``,
``exit_code``). SIGTERM and SIGHUP end a run the way Ctrl-C does (run folder scrubbed, scanned
and finished, exit code 9); what a killed run left behind is cleaned first."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import greenlet  # Playwright's sync API runs on it (see raise_in_the_run)
from dotenv import dotenv_values

from flows.console import Console
from flows.errors import Aborted, BadInputError, ExitCode, IhubError
from flows.seeds import DEFAULT_SEEDS, SEEDS_ENV

# The --json output's format; raised when a field changes meaning or goes away (new fields do not).
JSON_SCHEMA_VERSION = 1


def envelope(command: str, exit_code: int, body: dict[str, Any]) -> dict[str, Any]:
    """Every command's --json object: the same first fields everywhere, then the command's own."""
    return {"schema_version": JSON_SCHEMA_VERSION, "command": command, "exit_code": int(exit_code), **body}


def error_json(exc: IhubError) -> dict[str, Any]:
    return {"message": exc.message, "where": exc.where, "hint": exc.hint}


def _command_name(argv: list[str]) -> str:
    words = [a for a in argv if not a.startswith("-")][:2]
    return " ".join(words[:2] if words[:1] in (["seeds"], ["audit"]) else words[:1]) or "ihub-bootstrap"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps descriptions' line breaks; adds "(default: X)" to an option's help unless its
    default says nothing (None, False) or the help already names it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" not in text
            and default not in (None, False, argparse.SUPPRESS)
            and action.option_strings
            and action.nargs != 0
        ):
            text += " (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs["allow_abbrev"] = False  # `--rot` must not mean `--rotate-key` (which revokes a key)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        print(f"  what to do: see `{self.prog} --help`", file=sys.stderr)
        if "--json" in sys.argv[1:]:
            exc = IhubError(message, where="command line", hint=f"see `{self.prog} --help`")
            body = {"ok": False, "error": error_json(exc)}
            print(json.dumps(envelope(_command_name(sys.argv[1:]), ExitCode.BAD_INPUT, body), indent=2))
        sys.exit(ExitCode.BAD_INPUT)


def default_seeds() -> Path:
    """$IHUB_SEEDS, else its line in ./.env, else ./seeds (an empty value is unset)."""
    value = os.environ.get(SEEDS_ENV)
    if not value and Path(".env").is_file():
        with contextlib.suppress(OSError, UnicodeDecodeError):
            value = dotenv_values(".env").get(SEEDS_ENV)
    return Path(value) if value else DEFAULT_SEEDS


def seeds_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--seeds",
        type=Path,
        default=default_seeds(),
        metavar="DIR",
        help=f"directory of the hub's seed files (env {SEEDS_ENV}; default: ./seeds of the current directory)",
    )


_PLACES = "--runs-dir DIR / IHUB_RUNS_DIR for run folders, --out for written files"


def file_system_error(exc: OSError) -> BadInputError:
    """A file-system problem (an unwritable runs folder, a full disk ...) as a named error."""
    problem = exc.strerror or exc.__class__.__name__
    if not exc.filename:  # a write to an open stream: the command's output, redirected to a file
        return BadInputError(
            f"cannot write the output: {problem}",
            where="stdout or stderr, or a file being written",
            hint=f"check where the output goes (its disk's space, its permissions), or choose another place: {_PLACES}",
        )
    where = f"{exc.filename}" + (f" -> {exc.filename2}" if exc.filename2 else "")
    hint = f"make the directory writable for this user, or choose another place: {_PLACES}"
    return BadInputError(f"cannot use {exc.filename}: {problem}", where=where, hint=hint)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the run is, so that it ends like Ctrl-C does."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signal_name = signal.Signals(signum).name


def interrupted(exc: KeyboardInterrupt, hint: str) -> Aborted:
    how = exc.signal_name if isinstance(exc, Terminated) else "Ctrl-C"
    return Aborted(f"interrupted ({how})", hint=hint)


def raise_in_the_run(exc: BaseException) -> None:
    """Raise ``exc``, from a signal handler, in the run's own code.

    A signal handler runs in whatever greenlet holds the main thread. While the run waits in a
    Playwright call, that is Playwright's event loop (or an event listener it runs), often in
    the middle of dispatching one of the driver's messages. An exception raised there ends the
    loop's task that reads the driver's pipe: the browser session is lost, and the trace can no
    longer be saved (what the run did goes unrecorded). So it is thrown into the run's own
    greenlet, where the call it waits in raises it; the loop stays where it was, and goes on
    when the run's clean-up calls Playwright again. (A listener of the run's that the signal
    came in is left where it was, never finished: the run is ending, and closing the browser
    does not wait for it.)
    """
    here = root = greenlet.getcurrent()
    while root.parent is not None:
        root = root.parent
    if root is here:
        raise exc
    # The loop may be idle, in a poll without a timeout that Python resumes after this handler:
    # woken now, it runs the clean-up's first call at once instead of when the driver next
    # speaks (up to a step's whole timeout).
    with contextlib.suppress(RuntimeError):
        asyncio.get_running_loop().call_soon_threadsafe(_nothing)
    root.throw(exc)  # back here (and on) only when the run next waits for Playwright


def _nothing() -> None:
    """A callback that only wakes the event loop."""


@contextlib.contextmanager
def ending_signals(console: Console) -> Iterator[None]:
    """The first SIGINT, SIGTERM or SIGHUP interrupts the run; the next ones, while it cleans
    up, are noted and ignored; a third ends the process at once (its leftovers are removed by
    the next run). A SIGHUP ignored when the tool started (``nohup``) stays ignored."""
    received: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        received.append(signum)
        if len(received) == 1:
            raise_in_the_run(KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum))
            return
        if len(received) == 2:
            console.warn("finishing the run folder (scrubbing, scanning); signal again to stop at once")
            return
        os._exit(int(ExitCode.ABORTED))

    # Answers to the Playwright calls the interrupt abandoned still come back from the driver,
    # and Playwright logs each one with a traceback ("Error occurred in event listener: Cannot
    # find command to respond"). Once the run is interrupted, that is noise for the operator,
    # not news.
    def before_an_interrupt(record: logging.LogRecord) -> bool:
        return not received

    playwright_log = logging.getLogger("playwright")
    playwright_log.addFilter(before_an_interrupt)
    # a SIGHUP ignored when the tool was started (nohup) stays ignored: a closed terminal then
    # does not end the run
    names = [s for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP) if not (s == signal.SIGHUP and signal.getsignal(s) == signal.SIG_IGN)]
    previous = {s: signal.signal(s, handler) for s in names}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
        playwright_log.removeFilter(before_an_interrupt)


def run(command: Callable[[argparse.Namespace, Console], int], args: argparse.Namespace) -> int:
    from flows.workdir import clean_abandoned

    # After an interrupt, calls abandoned in Playwright's connection can leave futures whose
    # exception nobody reads; asyncio would then print "Future exception was never retrieved"
    # at exit, after the run's own message: not for operators.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    console = Console()
    try:
        try:
            with ending_signals(console):
                clean_abandoned(console.warn)
                code = int(command(args, console))
                sys.stdout.flush()  # a result that cannot be written (a full disk) is this command's error
                return code
        except OSError as exc:  # expected failures the file system reports: never a traceback
            raise file_system_error(exc) from None
    except IhubError as exc:
        console.error(exc)
        if getattr(args, "json", False):
            # the error on stdout as well, for scripts: the same envelope as a result
            name = " ".join(w for w in (getattr(args, "command", None), getattr(args, "seeds_command", None), getattr(args, "audit_command", None)) if w)
            body = {"ok": False, "error": error_json(exc)}
            with contextlib.suppress(OSError):  # stdout itself may be what failed (a full disk): said on stderr
                sys.stdout.write(console.redact(json.dumps(envelope(name or "ihub-bootstrap", exc.exit_code, body), indent=2)) + "\n")
                sys.stdout.flush()
        return int(exc.exit_code)
    except KeyboardInterrupt as exc:
        console.info(f"interrupted ({exc.signal_name if isinstance(exc, Terminated) else 'Ctrl-C'})")
        return int(ExitCode.ABORTED)
