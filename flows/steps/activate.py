"""Step 5, activate: press Activate on the manifest's page and accept its ``confirm()``."""

from __future__ import annotations

from flows.errors import NeedsDecision
from flows.seeds import SeedSet
from flows.steps.base import Action, Decision, Observation, Observations, Options, Run, Status, Step, StepResult, Write
from flows.steps.manifest import ManifestObservation
from pages.manifests import ManifestsTexts

NEW_MANIFEST = "<new manifest>"


class ActivateObservation(Observation):
    step: str = "activate"
    version: str
    manifest_id: str | None = None
    active_version: str | None = None  # the hub's active manifest, when another version is active
    status: str | None = None  # draft, active, retired ... as the manifest page shows it

    @property
    def subject(self) -> str:
        return f"manifest {self.version}"


class ActivateStep(Step[ActivateObservation]):
    name = "activate"
    title = "Activate the manifest"
    observation = ActivateObservation

    def observe(self, run: Run, seen: Observations) -> ActivateObservation:
        manifest = seen["manifest"]
        assert isinstance(manifest, ManifestObservation)
        if not manifest.found:
            return ActivateObservation(version=manifest.version, inferred=True, seen="the manifest is not there yet")
        hub = seen.get("hub")
        active = [m.version for m in getattr(hub, "manifests", []) if m.status == ManifestsTexts.ACTIVE]
        return ActivateObservation(
            version=manifest.version,
            manifest_id=manifest.manifest_id,
            status=manifest.status,
            active_version=active[0] if active and active[0] != manifest.version else None,
            seen=f"manifest {manifest.version} is {manifest.status}",
        )

    def decide(self, observation: ActivateObservation, seeds: SeedSet, options: Options) -> Decision:
        where = ManifestsTexts.SHOW_PATH.format(id=observation.manifest_id or NEW_MANIFEST)
        write = Write(self.name, "activate manifest (confirm dialog accepted)", where, {"version": observation.version})
        if observation.inferred:
            return Decision(Action.UPDATE, observation.seen, [write])
        if observation.status == ManifestsTexts.DRAFT:
            return Decision(Action.UPDATE, "manifest is a draft", [write])
        if observation.status == ManifestsTexts.ACTIVE:
            return Decision(Action.NONE, f"manifest {observation.version} is active")
        return Decision(
            Action.BLOCKED,
            f"manifest {observation.version} is {observation.status} and cannot be activated again: "
            + version_hint(seeds, observation.active_version),
        )

    def act(self, run: Run, decision: Decision, seen: Observations) -> tuple[StepResult, Observation | None]:
        manifest = seen["manifest"]
        assert isinstance(manifest, ManifestObservation)
        if decision.action == Action.NONE:
            return self.result(Status.UNCHANGED, decision.detail, manifest_id=manifest.manifest_id), None
        if decision.action == Action.BLOCKED:
            raise NeedsDecision(decision.detail, where=f"step {self.name}")
        if manifest.manifest_id is None:
            return self.result(Status.BLOCKED, "no manifest to activate"), None
        (write,) = decision.writes
        if not run.approve(write):
            return self.result(Status.SKIPPED, "skipped by the operator"), None
        # done once the page shows the status "active"; the show page saving the vocabulary landed on is used
        run.manifests.activate(manifest.manifest_id, reuse_open_page=True)
        run.writes += 1
        after = ActivateObservation(
            version=manifest.version, manifest_id=manifest.manifest_id, status=ManifestsTexts.ACTIVE, seen="activated"
        )
        return self.result(Status.UPDATED, f"manifest {manifest.version} active", manifest_id=manifest.manifest_id), after


def version_hint(seeds: SeedSet, active: str | None = None) -> str:
    """Where the seeds' manifest version is, exactly: the line to change (to the active
    version, after `--new-manifest-version X`)."""
    file = seeds.manifest_file
    line = next((i for i, text in enumerate(file.read_text(encoding="utf-8").splitlines(), 1) if '"version"' in text), None)
    at = f"{file}, line {line}" if line else str(file)
    if active:
        return (
            f"manifest {active} is the active one (made with --new-manifest-version?): set \"version\": "
            f"\"{active}\" in {at} ($.version), or pass --new-manifest-version X for a newer one"
        )
    return f"give the seeds a new version in {at} ($.version), or pass --new-manifest-version X"
