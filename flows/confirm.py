"""Operator supervision at the terminal: each write is shown (what, where, which values) and
waits for yes / skip / abort. Answers are read line by line from stdin, so a script can
drive it too."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from flows.console import Console
from flows.errors import Aborted, BadInputError
from flows.steps import Approver, Write

ANSWERS = {"y": "yes", "yes": "yes", "s": "skip", "skip": "skip", "n": "skip", "no": "skip", "a": "abort", "abort": "abort", "q": "abort"}


def _show(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 160 else text[:157] + "..."


_WITHOUT_CONFIRM = "run it again with stderr on a terminal, or without --confirm"


def _ask(console: Console, question: str, where: str | None = None, hint: str = _WITHOUT_CONFIRM) -> None:
    """Show a question. One that cannot be shown (the reader of stderr has gone, see
    ``flows.console.readers_may_leave``) is no question answered: nothing is approved blind."""
    console.stream.write(question)
    console.stream.flush()
    if getattr(console.stream, "gone", False):
        raise Aborted("the confirmation prompt cannot be shown: nothing reads the tool's messages (stderr)", where=where, hint=hint)


class TerminalApprover(Approver):
    interactive = True

    def __init__(self, console: Console, base_url: str, stdin: TextIO | None = None):
        self.console = console
        self.base_url = base_url
        self.stdin = stdin or sys.stdin

    def approve(self, write: Write) -> bool:
        lines = [f"\nAbout to {write.action}", f"  step:  {write.step}", f"  where: {self.base_url}{write.where}"]
        lines += [f"  {name}: {_show(value)}" for name, value in write.values.items()]
        self.console.info("\n".join(lines))
        while True:
            _ask(self.console, "Proceed? [y]es / [s]kip / [a]bort: ", f"step {write.step}")
            line = self.stdin.readline()
            if not line:
                raise Aborted("no answer at the confirmation prompt (end of input)", where=f"step {write.step}")
            answer = ANSWERS.get(line.strip().lower())
            if answer == "yes":
                return True
            if answer == "skip":
                self.console.info(f"skipped: {write.action}")
                return False
            if answer == "abort":
                raise Aborted(f"aborted by the operator before: {write.action}", where=f"step {write.step}")
            self.console.info("please answer y, s or a")


def approve_plan(console: Console, pending: int, stdin: TextIO | None = None) -> None:
    """--confirm: the operator approves the plan as a whole before the first write."""
    stdin = stdin or sys.stdin
    while True:
        _ask(console, f"\nApply this plan ({pending} write(s), each asked again)? [y]es / [n]o: ")
        line = stdin.readline()
        if not line:
            raise Aborted("no answer at the plan prompt (end of input)")
        answer = ANSWERS.get(line.strip().lower())
        if answer == "yes":
            return
        if answer in ("abort", "skip"):  # n / no / a / abort: this plan is not approved
            raise Aborted("the operator did not approve the plan: nothing was written")
        console.info("please answer y (yes) or n (no)")


def confirm_target(base_url: str, *, loopback: bool, yes: bool, console: Console, stdin: TextIO | None = None) -> None:
    """A target other than this machine is confirmed once, unless ``--yes``."""
    if loopback or yes:
        return
    stdin = stdin or sys.stdin
    if not stdin.isatty():
        raise BadInputError(
            f"{base_url} is not this machine and there is no terminal to confirm it",
            where="--base",
            hint="pass --yes to apply to it without a prompt (run `ihub-bootstrap plan` first to see what would change)",
        )
    _ask(
        console, f"Apply changes to {base_url} (not this machine)? Type 'yes' to continue: ", "--base",
        hint="run it again with stderr on a terminal, or pass --yes",
    )
    if stdin.readline().strip().lower() != "yes":
        raise Aborted(f"not confirmed: nothing was changed on {base_url}")
