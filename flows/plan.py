"""The saved plan: what one person prepares, another approves, and ``apply PLAN`` carries out.

``plan --out PLAN`` writes it: the target, the seed files' sha256 digests, the tool version,
the options, and per step what was observed (typed: what was seen, record ids, the fields
compared), the decision and the exact writes with their values (never a secret), sealed by a
sha256 over the canonical JSON of all that. ``show PLAN`` renders it for a reviewer.
``apply PLAN`` checks the seal, target, seeds and tool version, observes every step again and
refuses, before any write, when anything differs from what the plan saw (exit 13).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SerializeAsAny, ValidationError, ValidationInfo, field_validator

from flows.audit import operator_name, tool_version, utc_now
from flows.errors import BadInputError, StalePlan, StepFailed
from flows.keysink import write_private
from flows.known_secrets import KnownSecrets
from flows.seeds import SeedSet
from flows.steps import OBSERVATIONS, STEPS, Action, Decision, Diff, Observation, Options, StepResult, Write

PLAN_FORMAT = 1
REPLAN_HINT = "make a new plan (`ihub-bootstrap plan --out PLAN`), have it reviewed, and apply that one"


class PlanOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    update: bool = False
    rotate_key: bool = False
    new_manifest_version: str | None = None

    def steps(self) -> Options:
        return Options(rotate_key=self.rotate_key, update=self.update, new_manifest_version=self.new_manifest_version)


class PlannedStep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    observation: SerializeAsAny[Observation]
    decision: Action
    detail: str = ""
    diffs: list[Diff] = []
    writes: list[Write] = []

    @field_validator("observation", mode="before")
    @classmethod
    def _typed(cls, value: Any, info: ValidationInfo) -> Any:
        """Each step's observation as its own model (unknown fields are an error)."""
        if isinstance(value, dict):
            model = OBSERVATIONS.get(info.data.get("name", ""))
            if model is None:
                raise ValueError(f"no runbook step {info.data.get('name')!r}")
            return model.model_validate(value)
        return value

    @classmethod
    def of(cls, name: str, observation: Observation, decision: Decision) -> PlannedStep:
        d = decision
        return cls(name=name, observation=observation, decision=d.action, detail=d.detail, diffs=d.diffs, writes=d.writes)

    def to_decision(self) -> Decision:
        return Decision(self.decision, self.detail, list(self.writes), list(self.diffs))


class PlanFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal[1] = PLAN_FORMAT
    tool_version: str
    created_at: str
    operator: str
    target: str
    seeds: dict[str, str]  # seed file name -> sha256
    options: PlanOptions
    steps: list[PlannedStep]
    sha256: str = ""  # over the canonical JSON of everything above

    def canonical(self) -> str:
        return json.dumps(self.model_dump(mode="json", exclude={"sha256"}), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def digest(self) -> str:
        return hashlib.sha256(self.canonical().encode("utf-8")).hexdigest()

    @property
    def pending(self) -> int:
        return sum(len(s.to_decision().pending) for s in self.steps)


def seed_digests(seeds: SeedSet) -> dict[str, str]:
    return {Path(name).name: digest for name, digest in seeds.digests().items()}


def build_plan(*, target: str, seeds: SeedSet, options: Options, operator: str | None, results: list[StepResult]) -> PlanFile:
    steps = []
    for r in results:
        assert r.observation is not None and r.decision is not None, f"step {r.name} has no observation"
        steps.append(PlannedStep.of(r.name, r.observation, r.decision))
    plan = PlanFile(
        tool_version=tool_version(),
        created_at=utc_now(),
        operator=operator_name(operator),
        target=target,
        seeds=seed_digests(seeds),
        options=PlanOptions(update=options.update, rotate_key=options.rotate_key, new_manifest_version=options.new_manifest_version),
        steps=steps,
    )
    return plan.model_copy(update={"sha256": plan.digest()})


def check_plan_out(path: Path) -> None:
    """``plan --out PATH`` writes a new file or replaces an older plan, nothing else: not through
    a symbolic link, not over another file (a key sink given by mistake would lose its keys)."""
    hint = "give a new path (or the path of an older plan, which is replaced)"
    if path.is_symlink():
        raise BadInputError(f"refusing to write the plan to {path}: it is a symbolic link", where="--out", hint=hint)
    if path.is_dir():
        raise BadInputError(f"cannot write the plan to {path}: it is a directory", where="--out", hint=hint)
    if path.exists() and path.stat().st_size:  # an empty file (mktemp's) is for the taking
        try:
            PlanFile.model_validate_json(path.read_bytes())
        except (OSError, ValueError):
            raise BadInputError(f"refusing to overwrite {path}: it is not a plan file", where="--out", hint=hint) from None


def save_plan(plan: PlanFile, path: Path, secrets: KnownSecrets) -> None:
    """Written 0600, whole or not at all: it holds no secret (checked), but it is an approval record."""
    text = json.dumps(plan.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
    if secrets.redact(text) != text:  # a bug if ever: the plan holds only seeds and what pages show
        raise StepFailed("the plan would hold a secret: not written", where=str(path), hint="report this as a bug")
    check_plan_out(path)  # again: checked before the run, which took a while
    try:
        write_private(path, text)
    except OSError as exc:
        raise BadInputError(f"cannot write the plan to {path}: {exc.strerror or exc}", where="--out", hint="give a writable path") from None


def load_plan(path: Path) -> PlanFile:
    """The plan file, its seal checked: an altered file is refused (exit 13)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInputError(f"no plan file {path}", where="PLAN", hint="give the file `plan --out PLAN` wrote") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"cannot read the plan file {path} ({exc.__class__.__name__})", where="PLAN") from None
    try:
        plan = PlanFile.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(file)"
        raise StalePlan(
            f"{path} is not an intact plan file: {where}: {first['msg']}",
            where=f"plan file {path}",
            hint="it was altered or is not a plan: " + REPLAN_HINT,
        ) from None
    if plan.sha256 != plan.digest():
        raise StalePlan(
            f"the plan file {path} was altered after it was written: its sha256 does not match its content",
            where=f"plan file {path}",
            hint="do not edit a plan; " + REPLAN_HINT,
        )
    return plan


def check_context(plan: PlanFile, *, target: str, seeds: SeedSet, path: Path) -> None:
    """Target, seeds and tool version as the plan says, or a refusal naming the difference."""
    where = f"plan file {path}"
    if plan.target != target:
        raise StalePlan(f"the plan is for {plan.target}, not {target}", where=where, hint="apply it to its own target, or " + REPLAN_HINT)
    now = seed_digests(seeds)
    for name in sorted(set(plan.seeds) | set(now)):
        if plan.seeds.get(name) != now.get(name):
            what = "is not in the plan" if name not in plan.seeds else "is missing" if name not in now else "changed"
            raise StalePlan(f"stale plan: seed file {name} {what} since the plan", where=f"{where}, --seeds {seeds.directory}", hint=REPLAN_HINT)
    if plan.tool_version != tool_version():
        raise StalePlan(
            f"the plan was made by ihub-bootstrap {plan.tool_version}, this is {tool_version()}", where=where, hint=REPLAN_HINT
        )


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def differences(saved: Observation, fresh: Observation) -> list[str]:
    """What differs between the plan's observation and today's, one line per field."""
    old, new = saved.compared(), fresh.compared()
    return [
        f"{saved.subject}'s {name} changed since the plan (plan saw {_show(old.get(name))}, now {_show(new.get(name))})"
        for name in sorted(set(old) | set(new), key=lambda n: (list(old) + list(new)).index(n))
        if old.get(name) != new.get(name)
    ]


def check_observations(saved: list[tuple[str, Observation]], fresh: list[StepResult], origin: str, hint: str = REPLAN_HINT) -> None:
    """Every step observed again must see what the plan saw; the first difference is refused."""
    names = [name for name, _ in saved]
    if names != [r.name for r in fresh]:
        raise StalePlan(f"the plan's steps ({', '.join(names)}) are not this tool's", where=origin, hint=hint)
    for (name, observation), now in zip(saved, fresh, strict=True):
        assert now.observation is not None
        found = differences(observation, now.observation)
        if found:
            more = f" (and {len(found) - 1} more difference(s))" if len(found) > 1 else ""
            raise StalePlan(f"stale plan: {found[0]}{more}; nothing was written", where=f"step {name}, {origin}", hint=hint)


def check_decisions(saved: PlanFile, fresh: list[StepResult], seeds: SeedSet, origin: str) -> None:
    """The plan's decisions must be the ones its own observations, seeds and options give, and
    its writes the ones the run would make now (whose observations :func:`check_observations`
    found equal). Its sha256 proves no more than that the file is whole: anyone who can write
    the file can recompute it, so writes edited into a plan (another consumer name, wider
    scopes) are refused here instead of being carried out. (Decided from the plan's observation,
    not today's: what is not compared, such as how the run logged in, may differ without making
    the plan stale.)"""
    steps = {s.name: s for s in STEPS}
    options = saved.options.steps()
    for result, planned in zip(fresh, saved.steps, strict=True):
        again = PlannedStep.of(planned.name, planned.observation, steps[planned.name].decide(planned.observation, seeds, options))
        if again.model_dump(mode="json") != planned.model_dump(mode="json"):
            raise StalePlan(
                f"the plan's decision for step {planned.name} is not what its seeds, options and observations give "
                "(the file was edited and its sha256 recomputed?); nothing was written",
                where=f"step {planned.name}, {origin}",
                hint="do not edit a plan; " + REPLAN_HINT,
            )
        assert result.decision is not None
        writes = {"decision", "writes"}
        now = PlannedStep.of(planned.name, planned.observation, result.decision)
        if now.model_dump(mode="json", include=writes) != planned.model_dump(mode="json", include=writes):
            raise StalePlan(
                f"stale plan: step {planned.name} would now write other than the plan says; nothing was written",
                where=f"step {planned.name}, {origin}",
                hint=REPLAN_HINT,
            )


def render(plan: PlanFile, path: Path) -> str:
    """The plan as a reviewer reads it: what was seen, what will be written, with every value."""
    o = plan.options
    flags = [f for f, on in (("--update", o.update), ("--rotate-key", o.rotate_key)) if on]
    if o.new_manifest_version:
        flags.append(f"--new-manifest-version {o.new_manifest_version}")
    lines = [
        f"plan {path}",
        f"  sha256:   {plan.sha256} (intact)",
        f"  target:   {plan.target}",
        f"  made:     {plan.created_at} by {plan.operator} with ihub-bootstrap {plan.tool_version}",
        f"  options:  {' '.join(flags) or '(none)'}",
        "  seeds:",
        *[f"    {name}  sha256 {digest}" for name, digest in sorted(plan.seeds.items())],
        f"{plan.pending} write(s), in this order:",
    ]
    for step in plan.steps:
        decision = step.to_decision()
        lines.append(f"  {step.name:<20} {step.decision:<8} {step.detail}")
        seen = step.observation.seen + (" (inferred from an earlier step)" if step.observation.inferred else "")
        lines.append(f"  {'':<20} seen: {seen}")
        lines.extend(f"  {'':<20} diff {d}" for d in step.diffs)
        for write in decision.pending or ([] if step.decision != Action.BLOCKED else step.writes):
            prefix = "+" if decision.pending else "? (only if approved at the prompt)"
            lines.append(f"  {'':<20} {prefix} {write.action} at {write.where}")
            for name, value in write.values.items():
                if isinstance(value, list) and value and isinstance(value[0], dict):
                    lines.append(f"  {'':<22}   {name}: {len(value)} entries")
                    lines.extend(f"  {'':<22}     {_show(entry)}" for entry in value)
                else:
                    lines.append(f"  {'':<22}   {name}: {_show(value)}")
    return "\n".join(lines) + "\n"
