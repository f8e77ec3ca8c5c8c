"""Step 8, widgets: create each widget of the widget seed that the hub lacks (/Widgets/new?hubId=)."""

from __future__ import annotations

from types import SimpleNamespace

from pydantic import BaseModel, ConfigDict

from flows.seeds import SeedSet
from flows.steps.base import Action, Decision, Diff, Observation, Observations, Options, Run, Status, Step, StepResult, Write
from flows.steps.hub import HubObservation
from pages.widgets import WidgetsTexts

NEW_HUB = "<new hub>"


class WidgetRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    title: str
    type: str


class WidgetsObservation(Observation):
    step: str = "widgets"
    hub_id: str | None = None
    widgets: list[WidgetRow] = []  # the hub's widgets as its index lists them

    @property
    def subject(self) -> str:
        return "the hub's widgets"


class WidgetsStep(Step[WidgetsObservation]):
    name = "widgets"
    title = "Seed the widgets"
    observation = WidgetsObservation

    def observe(self, run: Run, seen: Observations) -> WidgetsObservation:
        hub = seen["hub"]
        assert isinstance(hub, HubObservation)
        if not hub.found or hub.hub_id is None:
            return WidgetsObservation(inferred=True, seen="the hub is not there yet")
        rows = [WidgetRow(name=w.name, title=w.title, type=w.type) for w in run.widgets.list(hub.hub_id)]
        return WidgetsObservation(hub_id=hub.hub_id, widgets=rows, seen=f"{len(rows)} widget(s) on the hub")

    def decide(self, observation: WidgetsObservation, seeds: SeedSet, options: Options) -> Decision:
        where = WidgetsTexts.NEW_PATH.format(hub_id=observation.hub_id or NEW_HUB)

        def write(w) -> Write:  # noqa: ANN001
            return Write(self.name, f"create widget {w.name}", where, {"name": w.name, "title": w.title, "type": w.type, "config": w.config})

        if observation.inferred:
            return Decision(Action.CREATE, observation.seen, [write(w) for w in seeds.widgets])
        live = {w.name: w for w in observation.widgets}
        missing = [w for w in seeds.widgets if w.name not in live]
        diffs = [
            Diff(f"{w.name}.{attr}", getattr(w, attr), getattr(live[w.name], attr))
            for w in seeds.widgets
            if w.name in live
            for attr in ("title", "type")
            if getattr(w, attr) != getattr(live[w.name], attr)
        ]
        if missing:
            detail = f"{len(missing)} of {len(seeds.widgets)} widgets missing"
            return Decision(Action.CREATE, detail, [write(w) for w in missing], diffs)
        if diffs:
            return Decision(Action.DRIFT, "widgets differ from the seeds; not changed", diffs=diffs)
        return Decision(Action.NONE, f"all {len(seeds.widgets)} widgets exist")

    def act(self, run: Run, decision: Decision, seen: Observations) -> tuple[StepResult, Observation | None]:
        hub = seen["hub"]
        before = seen[self.name]
        assert isinstance(hub, HubObservation) and isinstance(before, WidgetsObservation)
        if settled := self.settled(decision, hub_id=hub.hub_id):
            return settled, None
        if hub.hub_id is None:
            return self.result(Status.BLOCKED, "no hub to hold the widgets"), None
        created, skipped = [], []
        for write in decision.writes:
            if not run.approve(write):
                skipped.append(write.values["name"])
                continue
            run.widgets.create(hub.hub_id, SimpleNamespace(**write.values))
            run.writes += 1
            created.append(WidgetRow(name=write.values["name"], title=write.values["title"], type=write.values["type"]))
        status = Status.CREATED if created else Status.SKIPPED
        detail = f"{len(created)} created" + (f", {len(skipped)} skipped" if skipped else "")
        result = self.result(status, detail, hub_id=hub.hub_id)
        result.diffs = decision.diffs
        after = WidgetsObservation(hub_id=hub.hub_id, widgets=[*before.widgets, *created], seen=detail)
        return result, after
