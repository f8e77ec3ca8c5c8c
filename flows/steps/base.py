"""What every runbook step shares: observations, decisions, writes, statuses, the run's pages.

A step has three parts, each with one job:

- ``observe(run, seen)`` reads the live state (pages, the key sink) and returns a typed
  :class:`Observation`: what was seen, with record ids and the fields it compares. It never
  writes. It may use the observations of earlier steps (``seen``), nothing else they left.
- ``decide(observation, seeds, options)`` is pure: a :class:`Decision` (an :class:`Action`,
  field-level :class:`Diff`\\ s and the exact :class:`Write`\\ s with their values).
- ``act(run, decision, seen)`` carries out the decision's writes, one at a time, each approved
  first, and nothing else; it returns what the record is now (an observation), for the steps
  after it.

A saved plan (``flows/plan.py``) is the list of observations and decisions; ``apply PLAN``
observes again, refuses when anything differs, and acts on the saved writes.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from enum import StrEnum
from collections.abc import Iterator
from typing import Any, ClassVar, Generic, TypeVar

from playwright.sync_api import Error as PlaywrightError
from pydantic import BaseModel, ConfigDict

from flows import hints
from flows.browser import OriginGuard
from flows.browser import unrecorded as _unrecorded
from flows.errors import AuthError, BadInputError, StepFailed
from flows.keysink import KeySink
from flows.known_secrets import KnownSecrets
from flows.seeds import SeedSet
from pages.api_consumers import ApiConsumersPage
from pages.base import FormError, NotAsExpected, OffTarget, PageError, SessionExpired
from pages.hubs import HubsPage
from pages.login import LoginPage
from pages.manifests import ManifestsPage
from pages.widgets import WidgetsPage

FRESH_SESSION_HINT = (
    "get a fresh session: `ihub-bootstrap login --base URL` saves a new storage state "
    "(IHUB_STORAGE_STATE), or copy the SESSION cookie of a logged-in browser into IHUB_SESSION_COOKIE"
)


class Action(StrEnum):
    """What a step decided."""

    CREATE = "create"
    UPDATE = "update"
    NONE = "none"
    DRIFT = "drift"
    BLOCKED = "blocked"


class Status(StrEnum):
    """A step's result. apply: ok, created, updated, unchanged, skipped; plan: create, update,
    unchanged; both: drift, blocked, failed. A str, so JSON and the terminal show its value."""

    OK = "ok"
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    CREATE = "create"
    UPDATE = "update"
    DRIFT = "drift"
    BLOCKED = "blocked"
    FAILED = "failed"


# How a plan shows each decision.
PLAN_STATUS = {
    Action.CREATE: Status.CREATE,
    Action.UPDATE: Status.UPDATE,
    Action.NONE: Status.UNCHANGED,
    Action.DRIFT: Status.DRIFT,
    Action.BLOCKED: Status.BLOCKED,
}


@dataclass(frozen=True)
class Diff:
    field: str
    seed: Any
    live: Any

    def __str__(self) -> str:
        return f"{self.field}: seeds {self.seed!r}, live {self.live!r}"


@dataclass(frozen=True)
class Write:
    """One change to Inter-Hub with the exact values it writes. Never a secret.

    ``where`` is the screen's path; a record that does not exist yet when the plan is made
    shows as ``<new hub>``-style placeholder, resolved from the earlier step's write."""

    step: str
    action: str
    where: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class Decision:
    action: Action
    detail: str = ""
    writes: list[Write] = field(default_factory=list)
    diffs: list[Diff] = field(default_factory=list)

    @property
    def pending(self) -> list[Write]:
        """The writes acting on this decision makes (blocked: none unless the operator says so)."""
        return list(self.writes) if self.action in (Action.CREATE, Action.UPDATE) else []


class Observation(BaseModel):
    """What a step saw, typed per step. ``seen`` says it in words; every other field is
    compared when a saved plan is applied (``COMPARED`` narrows that)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: str
    seen: str = ""
    # Nothing was read: it follows from an earlier step's observation ("the hub is not there yet").
    inferred: bool = False

    COMPARED: ClassVar[tuple[str, ...] | None] = None  # None: every field but step and seen

    @property
    def subject(self) -> str:
        """The record in an operator's words, for messages ("hub ops-hub")."""
        return f"step {self.step}"

    def compared(self) -> dict[str, Any]:
        """Field name -> value, one level of mappings opened up (``fields.domain`` is ``domain``)."""
        data = self.model_dump(mode="json")
        names = self.COMPARED if self.COMPARED is not None else [n for n in data if n not in ("step", "seen")]
        out: dict[str, Any] = {}
        for name in names:
            value = data.get(name)
            if isinstance(value, dict) and value and name not in ("ids",):
                out.update(value)
            else:
                out[name] = value
        return out


O = TypeVar("O", bound=Observation)
Observations = dict[str, Observation]


@dataclass
class StepResult:
    name: str
    status: Status
    detail: str = ""
    ids: dict[str, str] = field(default_factory=dict)
    writes: int = 0
    diffs: list[Diff] = field(default_factory=list)
    planned: list[Write] = field(default_factory=list)
    decision: Decision | None = None
    observation: Observation | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "ids": self.ids,
            "writes": self.writes,
            "diffs": [{"field": d.field, "seed": d.seed, "live": d.live} for d in self.diffs],
            "planned": [{"action": w.action, "where": w.where, "values": w.values} for w in self.planned],
        }


class Approver:
    """Says whether a write may happen. The default approves everything (``--confirm`` asks)."""

    interactive = False

    def approve(self, write: Write) -> bool:
        return True


@dataclass
class Options:
    rotate_key: bool = False
    update: bool = False  # reconcile drifted editable fields
    new_manifest_version: str | None = None


class Run:
    """What the steps use to read and write: the pages on one browser page, the key sink,
    the run's known secrets, the approver. Holds no state of any step. The API path's run
    (``flows/api_path.py``) offers the same resources through the v2 API."""

    via = "ui"
    session_how = "with the given session"  # how the login step says it got in without a form

    def __init__(
        self,
        *,
        seeds: SeedSet,
        page: Any,
        base_url: str,
        timeout_s: float,
        sink: KeySink,
        secrets: KnownSecrets,
        approver: Approver,
        options: Options,
        trace: Any = None,
        credentials: tuple[str, str] | None = None,
        manual_login: Any = None,
        guard: OriginGuard | None = None,
        parallel: int = 1,
    ):
        self.parallel = max(1, parallel)  # at most this many browser pages creating widgets side by side
        self.failure_page: Any = None  # the page a failure happened on, when not the run's own
        self.seeds = seeds
        self.sink = sink
        self.secrets = secrets
        self.approver = approver
        self.options = options
        self.trace = trace  # a TraceRecorder, or None
        self.credentials = credentials
        self.manual_login = manual_login  # callback(wait_s) telling the operator to log in by hand
        self.guard = guard  # what the browser was kept from (None: no browser, or a test's own)
        args = (page, base_url, timeout_s)
        self.login_page = LoginPage(*args)
        self.hubs = HubsPage(*args)
        self.manifests = ManifestsPage(*args)
        self.consumers = ApiConsumersPage(*args)
        self.widgets = WidgetsPage(*args)
        self.base_url = base_url
        self.writes = 0

    @property
    def manifest_version(self) -> str:
        return self.options.new_manifest_version or self.seeds.manifest.version

    def approve(self, write: Write) -> bool:
        return self.approver.approve(write)

    def entering(self, step: str) -> None:
        """Called as each step starts (the origin guard names what happens in it; the API path
        labels its requests with it)."""
        if self.guard is not None:
            self.guard.begin_step()

    @contextlib.contextmanager
    def widget_lanes(self, count: int) -> Iterator[list[Any]]:
        """``count`` widget pages side by side: the run's own page and new pages of the same
        browser context, so they share its session, its origin guard and its trace. Closed
        on the way out."""
        lanes: list[Any] = [self.widgets]
        extra = []
        try:
            for _ in range(max(1, count) - 1):
                page = self.widgets.page.context.new_page()
                extra.append(page)
                lanes.append(WidgetsPage(page, self.base_url, self.widgets.timeout_s))
            yield lanes
        finally:
            for page in extra:
                if page is not self.failure_page:  # kept for the failure's screenshot
                    with contextlib.suppress(PlaywrightError):
                        page.close()

    def close(self) -> None:
        """Release what the run holds beyond the browser (the API path's HTTP client)."""


# ---------------------------------------------------------------- comparison helpers


def words(camel: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r" \1", camel).lower()


_words = words


def normalize_text(text: str) -> str:
    return " ".join(text.split())


def _entries(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        return [{"invalid": str(value)}]
    out = []
    for entry in value:
        if isinstance(entry, dict):
            out.append({k: str(v) for k, v in entry.items() if not (k == "description" and v == "")})
        else:
            out.append({"invalid": str(entry)})
    return sorted(out, key=lambda e: e.get("key", ""))


def vocabulary_diffs(seed: dict[str, Any], live: dict[str, Any]) -> list[Diff]:
    diffs = []
    for name, seed_value in seed.items():
        want, have = _entries(seed_value), _entries(live.get(name, []))
        if want == have:
            continue
        want_keys = {e.get("key"): e for e in want}
        have_keys = {e.get("key"): e for e in have}
        missing = sorted(k for k in want_keys if k not in have_keys)
        extra = sorted(k for k in have_keys if k not in want_keys)
        changed = sorted(k for k in want_keys if k in have_keys and want_keys[k] != have_keys[k])
        summary = ", ".join(
            part
            for part in (
                f"missing {' '.join(map(str, missing))}" if missing else "",
                f"not in seeds {' '.join(map(str, extra))}" if extra else "",
                f"different {' '.join(map(str, changed))}" if changed else "",
            )
            if part
        )
        diffs.append(Diff(name, f"{len(want)} entries", summary or f"{len(have)} entries, other order or content"))
    return diffs


# ---------------------------------------------------------------- the step


class Step(Generic[O]):
    name = ""
    title = ""  # the runbook's words
    observation: type[Observation] = Observation
    settled_status = Status.UNCHANGED  # the result of a decision with nothing to do

    def observe(self, run: Run, seen: Observations) -> O:
        raise NotImplementedError

    def decide(self, observation: O, seeds: SeedSet, options: Options) -> Decision:
        raise NotImplementedError

    def act(self, run: Run, decision: Decision, seen: Observations) -> tuple[StepResult, Observation | None]:
        """Carry out ``decision.writes``; returns the result and what the record is now
        (``None``: as observed)."""
        raise NotImplementedError

    def result(self, status: Status, detail: str = "", **ids: str | None) -> StepResult:
        return StepResult(self.name, status, detail, {k: v for k, v in ids.items() if v})

    def settled(self, decision: Decision, **ids: str | None) -> StepResult | None:
        """The result of a decision with nothing to write (unchanged, or drift left alone)."""
        if decision.action not in (Action.NONE, Action.DRIFT):
            return None
        status = self.settled_status if decision.action == Action.NONE else Status.DRIFT
        result = self.result(status, decision.detail, **ids)
        result.diffs = decision.diffs
        return result


def unrecorded(run: Run, before_resume: Any = None) -> contextlib.AbstractContextManager[None]:
    """Leave what happens inside out of the trace (when there is one); ``before_resume`` (leave
    the page, empty a field) runs on the way out whatever happened (see ``TraceRecorder.paused``)."""
    return _unrecorded(run.trace, before_resume)


def off_target_failure(step: Step, base_url: str, elsewhere: str) -> BadInputError:
    return BadInputError(
        f"{step.title} stopped: Inter-Hub sent the browser to {elsewhere}, not to the base {base_url}; "
        "nothing was typed, sent or read there",
        where=f"step {step.name}",
        hint=hints.OFF_TARGET,
    )


def page_failure(step: Step, exc: PageError) -> StepFailed | AuthError | BadInputError:
    """A page error as an operator reads it: step, screen, field, the page's own message."""
    if isinstance(exc, OffTarget):
        return BadInputError(f"{step.title} stopped: {exc.message}", where=f"step {step.name}, screen {exc.screen}", hint=hints.OFF_TARGET)
    where = f"step {step.name}, screen {exc.screen}, {exc.url}"
    if exc.field:
        where += f", field {exc.field!r}"
    if isinstance(exc, SessionExpired):
        return AuthError(f"the session ended during step {step.name}: {exc.message}", where=where, hint=FRESH_SESSION_HINT)
    if isinstance(exc, FormError):
        hint = "fix the seed value the page refused (or the live record it conflicts with), then run apply again"
    elif exc.dialogs:  # a dialog got in the way: not a changed element, which doctor could name
        hint = hints.DIALOG
    elif isinstance(exc, NotAsExpected):  # the screen lacks what the page object looks for
        hint = hints.UI_CHANGED
    else:
        hint = hints.for_failure(exc.message)
    return StepFailed(f"{step.title} failed: {exc.message}", where=where, hint=hint)
