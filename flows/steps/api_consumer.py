"""Step 6, api-consumer: create the consumer (/ApiConsumers/new), bound to the active manifest."""

from __future__ import annotations

from flows.seeds import SeedSet
from flows.steps.activate import ActivateObservation
from flows.steps.base import Action, Decision, Diff, Observation, Observations, Options, Run, Status, Step, StepResult, Write, normalize_text
from pages.api_consumers import ApiConsumersTexts
from pages.manifests import ManifestsTexts


class ApiConsumerObservation(Observation):
    step: str = "api-consumer"
    name: str  # the seeds' consumer name, looked for on the index
    found: bool = False
    consumer_id: str | None = None
    description: str | None = None
    manifest: str | None = None  # as the index shows the binding, e.g. "ops-hub 1.0"
    key_prefix: str | None = None  # None: no key

    @property
    def subject(self) -> str:
        return f"API consumer {self.name}"


class ApiConsumerStep(Step[ApiConsumerObservation]):
    name = "api-consumer"
    title = "Create the API consumer"
    observation = ApiConsumerObservation

    def observe(self, run: Run, seen: Observations) -> ApiConsumerObservation:
        name = run.seeds.api_consumer.name
        found = run.consumers.find(name)
        if found is None:
            return ApiConsumerObservation(name=name, seen="no consumer with this name")
        # IHP's generated index shows no key: the consumer's page does
        key_prefix = found.key_prefix if found.key_listed else run.consumers.show(found.id).key_prefix
        manifest = _binding(found.manifest, seen, run.seeds.hub.slug)
        return ApiConsumerObservation(
            name=name,
            found=True,
            consumer_id=found.id,
            description=found.description,
            manifest=manifest,
            key_prefix=key_prefix,
            seen=f"consumer {name} ({found.id}) bound to {manifest}",
        )

    def decide(self, observation: ApiConsumerObservation, seeds: SeedSet, options: Options) -> Decision:
        want = seeds.api_consumer
        bound = f"{seeds.hub.slug} {options.new_manifest_version or seeds.manifest.version}"
        write = Write(
            self.name, "create API consumer", ApiConsumersTexts.NEW_PATH, {"name": want.name, "description": want.description, "manifest": bound}
        )
        if not observation.found:
            return Decision(Action.CREATE, "no consumer with this name", [write])
        diffs = []
        live_manifest = observation.manifest or ""
        if live_manifest.split(" ")[0] != seeds.hub.slug:
            diffs.append(Diff("manifest", bound, live_manifest))
        if normalize_text(observation.description or "") != normalize_text(want.description):
            diffs.append(Diff("description", want.description, observation.description))
        if diffs:
            return Decision(
                Action.DRIFT, "consumer differs from the seeds; not changed (the admin UI has no edit for consumers)", diffs=diffs
            )
        if live_manifest != bound:
            # Same hub, older manifest version: consumers keep their binding when a hub moves
            # to a new manifest version, and the admin UI cannot rebind one. Worth saying, not blocking.
            return Decision(Action.NONE, f"consumer {want.name} exists, still bound to {live_manifest} (seeds: {bound})")
        return Decision(Action.NONE, f"consumer {want.name} exists, bound to {bound}")

    def act(self, run: Run, decision: Decision, seen: Observations) -> tuple[StepResult, Observation | None]:
        before = seen[self.name]
        manifest = seen["activate"]
        assert isinstance(before, ApiConsumerObservation) and isinstance(manifest, ActivateObservation)
        if settled := self.settled(decision, api_consumer_id=before.consumer_id):
            return settled, None
        if manifest.manifest_id is None or manifest.status != ManifestsTexts.ACTIVE:
            return self.result(Status.BLOCKED, "no active manifest to bind the consumer to"), None
        (write,) = decision.writes
        if not run.approve(write):
            return self.result(Status.SKIPPED, "skipped by the operator"), None
        v = write.values
        consumer_id = run.consumers.create(v["name"], v["description"], manifest.manifest_id)
        run.writes += 1
        consumer_id = consumer_id or run.consumers.listed_id(v["name"])  # IHP's generated create lands on the index
        after = before.model_copy(
            update={"found": True, "consumer_id": consumer_id, "description": v["description"], "manifest": v["manifest"], "key_prefix": None}
        )
        return self.result(Status.CREATED, f"consumer {v['name']}", api_consumer_id=consumer_id), after


def _binding(manifest: str, seen: Observations, slug: str) -> str:
    """The consumer's manifest as the index words it ("ops-hub 1.0"), or, where it shows the
    manifest's id (IHP's generated index), in those words when the id is one of the hub's
    manifests (another hub's stays an id, which :meth:`ApiConsumerStep.decide` reports)."""
    versions = {m.id: m.version for m in getattr(seen.get("hub"), "manifests", [])}
    active = seen.get("activate")
    if isinstance(active, ActivateObservation) and active.manifest_id and active.version:
        versions[active.manifest_id] = active.version
    return f"{slug} {versions[manifest]}" if manifest in versions else manifest
