"""Step 2, hub: create it from the seeds (/Hubs/new), or, with ``--update``, make its
drifted editable fields match (/EditHub)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pydantic import BaseModel, ConfigDict

from flows.seeds import SeedSet
from flows.steps.base import Action, Decision, Diff, Observation, Observations, Options, Run, Status, Step, StepResult, Write
from flows.steps.login import LoginObservation
from pages.hubs import HubDetails, HubsTexts
from pages.manifests import ManifestSummary

HUB_FIELDS = ("name", "slug", "domain", "kind", "hub_family", "vsm_function", "vsm_system")


class ManifestRef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    version: str
    status: str


class HubObservation(Observation):
    step: str = "hub"
    slug: str  # the seeds' slug, looked for on the index
    found: bool = False
    hub_id: str | None = None
    fields: dict[str, str] = {}  # the hub's fields as its page shows them
    manifests: list[ManifestRef] = []

    @property
    def subject(self) -> str:
        return f"hub {self.slug}"


class HubStep(Step[HubObservation]):
    name = "hub"
    title = "Create the hub"
    observation = HubObservation

    def observe(self, run: Run, seen: Observations) -> HubObservation:
        slug = run.seeds.hub.slug
        login = seen.get("login")
        listed = login.hubs if isinstance(login, LoginObservation) and login.hubs else run.hubs.list()
        found = next((h for h in listed if h.slug == slug), None)
        if found is None:
            return HubObservation(slug=slug, seen=f"no hub with slug {slug}")
        details = run.hubs.show(found.id)
        listed = hub_manifests(run.hubs, run.manifests, found.id, slug, details)
        manifests = [ManifestRef(id=m.id, version=m.version, status=m.status) for m in listed]
        return HubObservation(
            slug=slug, seen=f"hub {slug} ({found.id})", found=True, hub_id=found.id, fields=dict(details.values), manifests=manifests
        )

    def decide(self, observation: HubObservation, seeds: SeedSet, options: Options) -> Decision:
        want = seeds.hub
        if not observation.found:
            values = {k: v for k, v in want.model_dump().items() if v is not None}
            return Decision(Action.CREATE, "no hub with this slug", [Write(self.name, "create hub", HubsTexts.NEW_PATH, values)])
        diffs = [
            Diff(attr, getattr(want, attr), live)
            for attr, live in observation.fields.items()
            if getattr(want, attr, None) is not None and str(getattr(want, attr)) != live
        ]
        if not diffs:
            return Decision(Action.NONE, f"hub {want.slug} exists and matches the seeds")
        if options.update:
            where = HubsTexts.EDIT_PATH.format(id=observation.hub_id)
            write = Write(self.name, "update hub", where, {d.field: str(d.seed) for d in diffs})
            return Decision(Action.UPDATE, "hub differs from the seeds", [write], diffs)
        return Decision(Action.DRIFT, "hub differs from the seeds; not changed (pass --update to make it match)", diffs=diffs)

    def act(self, run: Run, decision: Decision, seen: Observations) -> tuple[StepResult, Observation | None]:
        before = seen[self.name]
        assert isinstance(before, HubObservation)
        if settled := self.settled(decision, hub_id=before.hub_id):
            return settled, None
        (write,) = decision.writes
        if not run.approve(write):
            return self.result(Status.SKIPPED, "skipped by the operator"), None
        if decision.action == Action.CREATE:
            saved = run.hubs.create(SimpleNamespace(**{k: write.values.get(k) for k in HUB_FIELDS}))
        else:
            assert before.hub_id
            saved = run.hubs.edit(before.hub_id, write.values)
        run.writes += 1
        hub_id = saved.id or run.hubs.listed_id(before.slug)  # IHP's generated create lands on the index
        # What the page now shows is what was just written; no need to read it back.
        fields = {**before.fields, **{k: str(v) for k, v in write.values.items()}}
        after = before.model_copy(update={"found": True, "hub_id": hub_id, "fields": fields, "inferred": False})
        detail = f"hub {before.slug}"
        if saved.optional_filled:
            detail += f"; VSM fields filled ({', '.join(saved.optional_filled)})"
        if saved.optional_absent:
            detail += "; this Inter-Hub has no VSM fields: the classification stays in the manifest description"
        status = Status.CREATED if decision.action == Action.CREATE else Status.UPDATED
        result = self.result(status, detail, hub_id=hub_id)
        result.diffs = decision.diffs
        return result, after


def hub_manifests(
    hubs: Any, manifests: Any, hub_id: str, hub_slug: str, details: HubDetails | None = None
) -> list[ManifestSummary]:
    """The hub's manifests as its page lists them, or, where it lists none (IHP's generated show
    page lists no child records), as the manifests index lists those naming the hub (``hubs``
    and ``manifests``: their pages, or the API path's). ``details``: the hub's page, read already."""
    details = details or hubs.show(hub_id)
    if details.manifests is not None:
        return details.manifests
    return manifests.list(hub_id, hub_slug=hub_slug)
