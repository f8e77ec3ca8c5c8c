"""What every command line of the tool shares: usage errors exit with BAD_INPUT (3), not
argparse's 2 (which means "changes pending" here), and expected errors become a message
and their exit code, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from flows.console import Console
from flows.errors import ExitCode, IhubError
from flows.seeds import PROJECT_SEEDS


class Parser(argparse.ArgumentParser):
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


def run(command: Callable[[argparse.Namespace, Console], int], args: argparse.Namespace) -> int:
    console = Console()
    try:
        return int(command(args, console))
    except IhubError as exc:
        console.error(exc)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        console.info("interrupted")
        return int(ExitCode.ABORTED)
