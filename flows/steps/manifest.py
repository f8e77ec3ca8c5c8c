"""Step 3, manifest: create the draft capability manifest of the seeds' version on the hub
(/HubCapabilityManifests/new?hubId=)."""

from __future__ import annotations

from typing import Any

from flows.seeds import SeedSet
from flows.steps.base import Action, Decision, Observation, Observations, Options, Run, Status, Step, StepResult, Write
from flows.steps.hub import HubObservation, hub_manifests
from pages.manifests import ManifestsTexts

NEW_HUB = "<new hub>"


class ManifestObservation(Observation):
    step: str = "manifest"
    version: str  # the version looked for (the seeds', or --new-manifest-version)
    hub_id: str | None = None
    found: bool = False
    manifest_id: str | None = None
    status: str | None = None
    capability_description: str | None = None
    contact: str | None = None
    vocabulary: dict[str, Any] = {}

    @property
    def subject(self) -> str:
        return f"manifest {self.version}"


class ManifestStep(Step[ManifestObservation]):
    name = "manifest"
    title = "Create the draft manifest"
    observation = ManifestObservation

    def observe(self, run: Run, seen: Observations) -> ManifestObservation:
        version = run.manifest_version
        hub = seen["hub"]
        assert isinstance(hub, HubObservation)
        if not hub.found:
            return ManifestObservation(version=version, inferred=True, seen="the hub is not there yet")
        found = next((m for m in hub.manifests if m.version == version), None)
        if found is None:
            return ManifestObservation(version=version, hub_id=hub.hub_id, seen=f"hub has no manifest {version}")
        live = run.manifests.show(found.id)
        return ManifestObservation(
            version=version,
            hub_id=hub.hub_id,
            found=True,
            manifest_id=live.id,
            status=live.status,
            capability_description=live.capability_description,
            contact=live.contact,
            vocabulary=live.vocabulary,
            seen=f"manifest {version} exists ({live.status})",
        )

    def decide(self, observation: ManifestObservation, seeds: SeedSet, options: Options) -> Decision:
        if observation.found:
            return Decision(Action.NONE, observation.seen)
        values = {
            "version": observation.version,
            "capabilityDescription": seeds.manifest.capability_description,
            "contact": seeds.manifest.contact,
        }
        where = ManifestsTexts.NEW_PATH.format(hub_id=observation.hub_id or NEW_HUB)
        return Decision(Action.CREATE, observation.seen, [Write(self.name, "create draft manifest", where, values)])

    def act(self, run: Run, decision: Decision, seen: Observations) -> tuple[StepResult, Observation | None]:
        before = seen[self.name]
        hub = seen["hub"]
        assert isinstance(before, ManifestObservation) and isinstance(hub, HubObservation)
        if decision.action == Action.NONE:
            return self.result(Status.UNCHANGED, decision.detail, manifest_id=before.manifest_id), None
        if hub.hub_id is None:
            return self.result(Status.BLOCKED, "no hub to hold the manifest"), None
        (write,) = decision.writes
        if not run.approve(write):
            return self.result(Status.SKIPPED, "skipped by the operator"), None
        v = write.values
        manifest_id = run.manifests.create(hub.hub_id, v["version"], v["capabilityDescription"], v["contact"])
        run.writes += 1
        if manifest_id is None:  # IHP's generated create lands on the index: find it as observing does
            listed = hub_manifests(run.hubs, run.manifests, hub.hub_id, hub.slug)
            found = next((m for m in listed if m.version == v["version"]), None)
            manifest_id = run.manifests.saved_id(found, f"the manifest {v['version']!r}", "the hub's page or the manifests index")
        after = ManifestObservation(
            version=v["version"],
            hub_id=hub.hub_id,
            found=True,
            manifest_id=manifest_id,
            status=ManifestsTexts.DRAFT,
            capability_description=v["capabilityDescription"],
            contact=v["contact"],
            vocabulary={name: [] for name in ManifestsTexts.VOCABULARY},
            seen=f"draft manifest {v['version']} created",
        )
        return self.result(Status.CREATED, f"draft manifest {v['version']}", manifest_id=manifest_id), after
