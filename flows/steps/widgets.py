"""Step 8, widgets: create each widget of the widget seed that the hub lacks (/Widgets/new?hubId=)."""

from __future__ import annotations

from types import SimpleNamespace

from pydantic import BaseModel, ConfigDict

from flows.errors import Aborted
from flows.seeds import SeedSet
from flows.settings import widget_pages
from flows.steps.base import Action, Decision, Diff, Observation, Observations, Options, Run, Status, Step, StepResult, Write
from flows.steps.hub import HubObservation
from pages.base import PageError
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
        listed = run.widgets.list(hub.hub_id, hub_slug=hub.slug)
        rows = [WidgetRow(name=w.name, title=w.title, type=w.type) for w in listed]
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
        created: list[WidgetRow] = []
        skipped: list[str] = []
        failures, pages = self._create(run, hub.hub_id, decision.writes, created, skipped)
        if failures:
            raise _failed(failures, len(created), len(decision.writes) - len(skipped), pages)
        status = Status.CREATED if created else Status.SKIPPED
        # for the audit log: how the run wrote them, beside the --parallel limit run-start records
        detail = f"{len(created)} created{_side_by_side(pages)}" + (f", {len(skipped)} skipped" if skipped else "")
        result = self.result(status, detail, hub_id=hub.hub_id)
        result.diffs = decision.diffs
        after = WidgetsObservation(hub_id=hub.hub_id, widgets=[*before.widgets, *created], seen=detail)
        return result, after

    def _create(
        self, run: Run, hub_id: str, writes: list[Write], created: list[WidgetRow], skipped: list[str]
    ) -> tuple[list[tuple[str, PageError]], int]:
        """Create the widgets on up to ``run.parallel`` pages side by side, one for every few
        widgets (:func:`flows.settings.widget_pages`): each page opens the form, fills and
        submits it, then the next page does the same while the first one's request is served;
        a page's outcome is awaited before it takes the next widget. Each write is approved
        just before it is sent (``skipped`` gets those the operator skips). After a failure,
        or the operator's abort, no new widget is started; those already sent are awaited
        (they may have been made, and are counted). ``created`` fills as outcomes arrive;
        returns the failures and the number of pages a widget was sent from."""
        failures: list[tuple[str, PageError]] = []
        n = 0  # widgets sent (or tried)
        with run.widget_lanes(widget_pages(len(writes), run.parallel)) as lanes:
            sent: dict[int, Write] = {}  # lane -> the write awaiting its outcome there

            def fail(lane: int, write: Write, exc: PageError) -> None:
                failures.append((write.values["name"], exc))
                if lane:  # the failure screenshot is of that page
                    run.failure_page = lanes[lane].page

            def settle(lane: int) -> None:
                write = sent.pop(lane)
                fields = SimpleNamespace(**write.values)
                try:
                    lanes[lane].await_created(fields)
                except PageError as exc:
                    fail(lane, write, exc)
                    return
                run.writes += 1
                created.append(WidgetRow(name=fields.name, title=fields.title, type=fields.type))

            for write in writes:
                try:
                    approved = run.approve(write)
                except Aborted:
                    for lane in list(sent):
                        settle(lane)
                    raise
                if not approved:
                    skipped.append(write.values["name"])
                    continue
                lane, n = n % len(lanes), n + 1
                if lane in sent:
                    settle(lane)
                if failures:
                    break
                try:
                    lanes[lane].send_new(hub_id, SimpleNamespace(**write.values))
                except PageError as exc:
                    fail(lane, write, exc)
                    break
                sent[lane] = write
            for lane in list(sent):  # in the order they were sent
                settle(lane)
            return failures, min(n, len(lanes))


def _side_by_side(pages: int) -> str:
    return f" on {pages} browser pages side by side" if pages > 1 else ""


def _failed(failures: list[tuple[str, PageError]], created: int, total: int, pages: int) -> PageError:
    """The first failure, named by its widget, telling the others and what was made."""
    name, first = failures[0]
    if repr(name) not in first.message:
        first.message = f"widget {name!r}: {first.message}"
    others = "; ".join(f"widget {n!r}: {e.message}" if repr(n) not in e.message else e.message for n, e in failures[1:])
    first.message += (f"; also failed: {others}" if others else "") + f" ({created} of {total} widgets created in this run{_side_by_side(pages)})"
    first.args = (first.message,)
    return first
