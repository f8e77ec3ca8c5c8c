"""Exit codes and the errors an operator can act on.

Every expected failure is an :class:`IhubError`: the CLI prints its message, where it
happened and what to do, and exits with its code. No traceback for any of them.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented in README.md ("Exit codes"); scripts rely on these numbers."""

    OK = 0
    STEP_FAILED = 1  # a step of the run failed (UI or HTTP error)
    CHANGES_PENDING = 2  # plan --detailed-exitcode: there is something to do
    BAD_INPUT = 3  # seeds, settings or command line are invalid
    AUTH = 4  # not logged in: bad credentials, expired or invalid session
    VERIFY_FAILED = 5  # the runbook's validation did not pass
    SECRET_LEAK = 6  # the audit scanner found a secret in the run folder
    NEEDS_DECISION = 7  # drift or a key nobody holds: the operator must choose
    LOCKED = 8  # another apply holds the lock for this target
    ABORTED = 9  # the operator aborted at a confirmation prompt (or Ctrl-C)
    GATE_CLOSED = 10  # probe: the production API gate is closed, use the UI path
    PROBE_FAILED = 11  # probe: no verdict (network error, timeout, unexpected answer)
    DOCTOR_MISMATCH = 12  # doctor: the live UI no longer matches the page objects
    STALE_PLAN = 13  # apply PLAN: the plan is stale or altered (refused before any write)
    NOTHING_TO_SCAN = 14  # audit scan: no secret known to look for (a clean verdict would mean nothing)


class IhubError(Exception):
    """An expected failure, reported without a traceback."""

    exit_code: ExitCode = ExitCode.STEP_FAILED

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def render(self) -> str:
        lines = [f"error: {self.message}"]
        if self.where:
            lines.append(f"  where: {self.where}")
        if self.hint:
            lines.append(f"  what to do: {self.hint}")
        return "\n".join(lines)


class BadInputError(IhubError):
    exit_code = ExitCode.BAD_INPUT


class AuthError(IhubError):
    exit_code = ExitCode.AUTH


class StepFailed(IhubError):
    exit_code = ExitCode.STEP_FAILED


class NeedsDecision(IhubError):
    exit_code = ExitCode.NEEDS_DECISION


class LockedError(IhubError):
    exit_code = ExitCode.LOCKED


class Aborted(IhubError):
    exit_code = ExitCode.ABORTED


class SecretLeak(IhubError):
    exit_code = ExitCode.SECRET_LEAK


class StalePlan(IhubError):
    """A saved plan that no longer holds (Inter-Hub, seeds, target or tool changed) or whose
    file was altered: refused before any write."""

    exit_code = ExitCode.STALE_PLAN
