"""Step 4, manifest-vocabulary: the four ``declared*`` lists (and, on a draft that differs,
description and contact) written on the manifest's edit form."""

from __future__ import annotations

from typing import Any

from flows.seeds import SeedSet
from flows.steps.base import (
    Action,
    Decision,
    Diff,
    Observation,
    Observations,
    Options,
    Run,
    Status,
    Step,
    StepResult,
    Write,
    normalize_text,
    vocabulary_diffs,
    words,
)
from flows.steps.manifest import ManifestObservation
from pages.manifests import ManifestsTexts

NEW_MANIFEST = "<new manifest>"


class VocabularyObservation(Observation):
    """The manifest step's reading of the manifest page, as this step compares it."""

    step: str = "manifest-vocabulary"
    version: str
    manifest_id: str | None = None
    status: str | None = None
    capability_description: str | None = None
    contact: str | None = None
    vocabulary: dict[str, Any] = {}

    @property
    def subject(self) -> str:
        return f"manifest {self.version}"


class VocabularyStep(Step[VocabularyObservation]):
    name = "manifest-vocabulary"
    title = "Copy the vocabulary into the manifest"
    observation = VocabularyObservation

    def observe(self, run: Run, seen: Observations) -> VocabularyObservation:
        manifest = seen["manifest"]
        assert isinstance(manifest, ManifestObservation)
        if not manifest.found:
            return VocabularyObservation(version=manifest.version, inferred=True, seen="the manifest is not there yet")
        return VocabularyObservation(
            version=manifest.version,
            manifest_id=manifest.manifest_id,
            status=manifest.status,
            capability_description=manifest.capability_description,
            contact=manifest.contact,
            vocabulary=manifest.vocabulary,
            seen=f"manifest {manifest.version} ({manifest.status})",
        )

    def decide(self, observation: VocabularyObservation, seeds: SeedSet, options: Options) -> Decision:
        seed = seeds.manifest
        want = seed.vocabulary()
        where = ManifestsTexts.EDIT_PATH.format(id=observation.manifest_id or NEW_MANIFEST)
        write = Write(self.name, "save manifest vocabulary", where, dict(want))
        if observation.inferred:
            return Decision(Action.UPDATE, observation.seen, [write])
        diffs = vocabulary_diffs(want, observation.vocabulary)
        if normalize_text(observation.capability_description or "") != normalize_text(seed.capability_description):
            diffs.append(Diff("capabilityDescription", seed.capability_description, observation.capability_description))
        if normalize_text(observation.contact or "") != normalize_text(seed.contact):
            diffs.append(Diff("contact", seed.contact, observation.contact))
        if not diffs:
            return Decision(Action.NONE, "vocabulary matches the seeds")
        if observation.status == ManifestsTexts.DRAFT:
            differs = {d.field for d in diffs}  # the form keeps what matches already
            if "capabilityDescription" in differs:
                write.values["capabilityDescription"] = seed.capability_description
            if "contact" in differs:
                write.values["contact"] = seed.contact
            return Decision(Action.UPDATE, "draft manifest differs from the seeds", [write], diffs)
        return Decision(
            Action.DRIFT,
            f"manifest {observation.version} is {observation.status} and differs from the seeds; Inter-Hub does not "
            "change an active manifest: create a new version with `apply --new-manifest-version X`",
            diffs=diffs,
        )

    def act(self, run: Run, decision: Decision, seen: Observations) -> tuple[StepResult, Observation | None]:
        manifest = seen["manifest"]
        assert isinstance(manifest, ManifestObservation)
        if settled := self.settled(decision, manifest_id=manifest.manifest_id):
            return settled, None
        if manifest.manifest_id is None:
            return self.result(Status.BLOCKED, "no manifest to edit"), None
        (write,) = decision.writes
        if not run.approve(write):
            return self.result(Status.SKIPPED, "skipped by the operator"), None
        values = dict(write.values)
        description, contact = values.pop("capabilityDescription", None), values.pop("contact", None)
        run.manifests.save(manifest.manifest_id, values, capability_description=description, contact=contact)
        run.writes += 1
        after = VocabularyObservation(
            version=manifest.version,
            manifest_id=manifest.manifest_id,
            status=manifest.status,
            capability_description=description if description is not None else manifest.capability_description,
            contact=contact if contact is not None else manifest.contact,
            vocabulary=values,
            seen="vocabulary saved",
        )
        counts = ", ".join(f"{len(v)} {words(k.removeprefix('declared'))}" for k, v in values.items())
        result = self.result(Status.UPDATED, counts, manifest_id=manifest.manifest_id)
        result.diffs = decision.diffs
        return result, after
