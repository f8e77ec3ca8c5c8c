"""What every command line of the tool shares: usage errors exit with BAD_INPUT (3), not
argparse's 2 (which means "changes pending" here); expected errors become a message and their
exit code, never a traceback; SIGTERM and SIGHUP end a run the way Ctrl-C does (run folder
scrubbed, scanned and finished, exit code 9); what a killed run left behind is cleaned first."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flows.console import Console
from flows.errors import Aborted, ExitCode, IhubError
from flows.seeds import PROJECT_SEEDS


class Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any):
        kwargs["allow_abbrev"] = False  # `--rot` must not mean `--rotate-key` (which revokes a key)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        sys.exit(ExitCode.BAD_INPUT)


def seeds_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--seeds",
        type=Path,
        default=PROJECT_SEEDS,
        metavar="DIR",
        help="directory of the hub's seed files (default: the project's seeds/)",
    )


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the run is, so that it ends like Ctrl-C does."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signal_name = signal.Signals(signum).name


def interrupted(exc: KeyboardInterrupt, hint: str) -> Aborted:
    how = exc.signal_name if isinstance(exc, Terminated) else "Ctrl-C"
    return Aborted(f"interrupted ({how})", hint=hint)


@contextmanager
def ending_signals(console: Console) -> Iterator[None]:
    """The first SIGINT, SIGTERM or SIGHUP interrupts the run; the next ones, while it cleans
    up, are noted and ignored; a third ends the process at once (its leftovers are removed by
    the next run)."""
    received: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        received.append(signum)
        if len(received) == 1:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise Terminated(signum)
        if len(received) == 2:
            console.warn("finishing the run folder (scrubbing, scanning); signal again to stop at once")
            return
        os._exit(int(ExitCode.ABORTED))

    names = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, handler) for s in names}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def run(command: Callable[[argparse.Namespace, Console], int], args: argparse.Namespace) -> int:
    from flows.workdir import clean_abandoned

    console = Console()
    try:
        with ending_signals(console):
            clean_abandoned(console.warn)
            return int(command(args, console))
    except IhubError as exc:
        console.error(exc)
        return int(exc.exit_code)
    except KeyboardInterrupt as exc:
        console.info(f"interrupted ({exc.signal_name if isinstance(exc, Terminated) else 'Ctrl-C'})")
        return int(ExitCode.ABORTED)
