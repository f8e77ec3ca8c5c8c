"""Widgets created side by side (``--parallel N``): the same end state as one at a time, writes
that really overlap on the server, a trace that shows each widget's filled form and holds no
secret, and faults at a widget write that name the widget and converge on a re-run.

The sequential path (``--parallel 1``) is run beside it in each of these; the rest of the
suite runs with the default (parallel on)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from flows.apply import DEFAULT_PARALLEL, ApplyOptions, Report
from flows.audit import StepEvent, read_audit_log
from flows.bench import widget_seeds
from flows.errors import ExitCode
from flows.seeds import SeedSet
from flows.settings import widget_pages
from sandbox.server import RunningSandbox
from tests.support import SandboxFactory, Tool, apply_in_process, form_fills, rows

SETUP_POSTS = 7  # login, hub, manifest, vocabulary, activate, consumer, key: then the widgets
SETUP_CHANGES = 6  # the same but the login
WIDGETS = 7  # not a multiple of the pages: the last round is a partial one


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> SeedSet:
    return widget_seeds(tmp_path_factory.mktemp("seeds"), WIDGETS)


def apply(sandbox, tmp_path: Path, browser: Browser, seeds: SeedSet, parallel: int) -> Report:  # noqa: ANN001
    return apply_in_process(sandbox, tmp_path, browser, seeds, parallel=parallel)


def widgets_of(sandbox) -> list[tuple[str, str, str, str]]:  # noqa: ANN001
    return sorted((w.name, w.title, w.widget_type, json.dumps(w.config if isinstance(w.config, dict) else json.loads(w.config), sort_keys=True)) for w in rows(sandbox, "widgets"))


def seeded(seeds: SeedSet) -> list[tuple[str, str, str, str]]:
    return sorted((w.name, w.title, w.type, json.dumps(w.config, sort_keys=True)) for w in seeds.widgets)


def test_the_default_is_parallel() -> None:
    assert DEFAULT_PARALLEL > 1 and ApplyOptions().parallel == DEFAULT_PARALLEL


@pytest.mark.parametrize(
    ("widgets", "parallel", "pages"),
    [(0, 4, 1), (1, 4, 1), (3, 4, 1), (4, 4, 2), (6, 4, 2), (7, 4, 3), (12, 4, 4), (200, 4, 4), (200, 1, 1), (7, 2, 2), (50, 16, 16)],
)
def test_a_page_of_its_own_for_every_three_widgets_up_to_parallel(widgets: int, parallel: int, pages: int) -> None:
    assert widget_pages(widgets, parallel) == pages


@pytest.mark.parametrize("parallel", [1, 4])
def test_side_by_side_or_one_at_a_time_the_same_widgets(
    sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser, seeds: SeedSet, parallel: int
) -> None:
    sandbox = sandbox_factory()
    # Slow writes, fast reads: pages that send side by side have several writes on the server at once.
    sandbox.config.faults.mutation_latency_ms = 1500
    report = apply(sandbox, tmp_path, browser, seeds, parallel)
    assert report.exit_code == ExitCode.OK, report.error and report.error.render()
    assert report.changes == SETUP_CHANGES + WIDGETS
    assert widgets_of(sandbox) == seeded(seeds)
    (widget_step,) = [s for s in report.steps if s.name == "widgets"]
    # the audit log says how the widgets were written, beside the --parallel limit it records
    side_by_side = "" if parallel == 1 else f" on {widget_pages(WIDGETS, parallel)} browser pages side by side"
    assert widget_step.status == "created" and widget_step.detail == f"{WIDGETS} created{side_by_side}"
    events = read_audit_log(Path(report.run_folder) / "audit.jsonl")
    assert [e.detail for e in events if isinstance(e, StepEvent) and e.step == "widgets" and e.phase == "apply"] == [widget_step.detail]
    # never more pages than the widgets pay for: 7 widgets take 3 pages when 4 are allowed
    most = sandbox.config.faults.most_mutations_in_flight
    assert most == 1 if parallel == 1 else 2 <= most <= widget_pages(WIDGETS, parallel) == 3, most
    sandbox.config.faults.mutation_latency_ms = 0
    again = apply(sandbox, tmp_path, browser, seeds, parallel)  # converged: a no-op
    assert again.exit_code == ExitCode.OK and again.changes == 0
    assert widgets_of(sandbox) == seeded(seeds)


@pytest.mark.parametrize("fault", ["500", "drop"])
@pytest.mark.parametrize("widget", [1, 3, WIDGETS])
def test_a_fault_at_a_widget_write_names_it_and_a_rerun_converges(
    sandbox_factory: SandboxFactory, tmp_path: Path, browser: Browser, seeds: SeedSet, fault: str, widget: int
) -> None:
    sandbox = sandbox_factory()
    faults = sandbox.config.faults
    if fault == "500":
        faults.fail_mutation = SETUP_POSTS + widget
    else:
        faults.drop_mutation = SETUP_POSTS + widget
    failed = apply(sandbox, tmp_path, browser, seeds, parallel=3)
    assert failed.exit_code == ExitCode.STEP_FAILED, failed.error and failed.error.render()
    assert failed.error is not None and "step widgets" in (failed.error.where or "")
    name = seeds.widgets[widget - 1].name
    message = failed.error.message
    assert f"create widget {name!r}" in message and "POST /CreateWidget" in message, message
    assert ("HTTP 500" in message) if fault == "500" else ("failed: net::" in message), message
    # the widgets sent before the failure were awaited and counted; none was started after it
    made = widgets_of(sandbox)
    assert name in {w[0] for w in made}  # the fault comes after the write (its answer is lost)
    assert failed.changes == SETUP_CHANGES + len(made) - 1, (failed.changes, made)
    # all three pages had a widget sent before the failure showed (the 4th waits for the 1st page)
    assert f"of {WIDGETS} widgets created in this run on {widget_pages(WIDGETS, 3)} browser pages side by side)" in message
    assert failed.steps[-1].status == "failed"
    # the screenshot and the page's words are of the page that failed, whichever lane it was on
    folder = Path(failed.run_folder)
    assert (folder / "failure.png").read_bytes().startswith(b"\x89PNG")
    said = (folder / "failure.txt").read_text(encoding="utf-8")
    assert "page: " + sandbox.base_url + "/Widgets/new?hubId=" in said, said  # the others show their widget
    if fault == "500":
        assert "page says: An error happened while processing your request (injected fault)." in said, said

    faults.fail_mutation = faults.drop_mutation = 0
    rerun = apply(sandbox, tmp_path, browser, seeds, parallel=3)
    assert rerun.exit_code == ExitCode.OK, rerun.error and rerun.error.render()
    assert rerun.changes == WIDGETS - len(made)
    assert widgets_of(sandbox) == seeded(seeds)


def test_a_parallel_run_trace_shows_every_widget_form_and_holds_no_secret(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory()
    tool = Tool(sandbox, tmp_path)
    seeds_dir = widget_seeds(tmp_path / "s", WIDGETS).directory
    code, report, stderr = tool.json("apply", "--parallel", "2", "--seeds", str(seeds_dir), trace=True)
    assert code == ExitCode.OK, stderr
    folder = Path(report["run_folder"])
    start = json.loads((folder / "audit.jsonl").read_text().splitlines()[0])
    assert start["options"]["parallel"] == 2
    snapshots: dict[str, set[tuple[str, str]]] = {}  # call id -> (phase, page) of its DOM snapshots
    with zipfile.ZipFile(folder / "trace.zip") as z:
        fills = form_fills(z)
        for name in z.namelist():
            if name.endswith(".trace"):
                for line in z.read(name).decode().splitlines():
                    event = json.loads(line)
                    if event.get("type") == "frame-snapshot":
                        snap = event["snapshot"]
                        snapshots.setdefault(snap["callId"], set()).add((snap["phase"], snap["pageId"]))
    # each widget's form was filled in one call, its name among the values, with a DOM snapshot
    # of the form after the fill, on two pages side by side: --parallel bounds them (7 widgets would take 3)
    names = {f"bench-widget-{i:03d}" for i in range(1, WIDGETS + 1)}
    name_fills = [fill.call_id for fill in fills if fill.values.get("Name") in names]
    assert sorted(fill.values["Name"] for fill in fills if fill.call_id in name_fills) == sorted(names), fills
    assert all(fill.ok for fill in fills), fills
    assert all(any(phase == "after" for phase, _ in snapshots.get(call, ())) for call in name_fills), "a fill without its snapshot"
    pages = {page for call in name_fills for _, page in snapshots[call]}
    assert len(pages) == 2 == widget_pages(WIDGETS, 2) < widget_pages(WIDGETS, 4), pages
    key = tool.stored_key()["api_key"]
    scan = tool("audit", "scan", str(folder), "--secret-env", "PLANTED", extra_env={"PLANTED": key})
    assert scan.returncode == 0 and scan.stdout.startswith("clean:"), scan.stdout + scan.stderr


@pytest.mark.parametrize("value", ["0", "17", "two", "-1"])
def test_parallel_takes_a_number_of_pages(tool: Tool, value: str) -> None:
    result = tool("apply", "--parallel", value)
    assert result.returncode == ExitCode.BAD_INPUT, result.stderr
    assert "is not a number of browser pages from 1 to 16" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(("env", "flag", "recorded"), [("2", None, 2), ("3", "1", 1)], ids=["setting", "flag wins"])
def test_ihub_parallel_sets_the_pages_and_the_flag_wins(
    sandbox: RunningSandbox, tmp_path: Path, browser: Browser, env: str, flag: str | None, recorded: int
) -> None:
    tool = Tool(sandbox, tmp_path, browser)  # the CLI in this process, its apply in the worker's Chromium
    code, report, stderr = tool.json("apply", *(["--parallel", flag] if flag else []), extra_env={"IHUB_PARALLEL": env})
    assert code == ExitCode.OK, stderr
    start = json.loads((Path(report["run_folder"]) / "audit.jsonl").read_text().splitlines()[0])
    assert start["options"]["parallel"] == recorded
    # and the run used them: the project's 6 widgets on 2 pages, or on the one page asked for
    (widgets,) = [s for s in report["steps"] if s["name"] == "widgets"]
    assert widgets["detail"] == ("6 created on 2 browser pages side by side" if recorded > 1 else "6 created"), widgets


def test_ihub_parallel_out_of_range_is_refused_by_name(tool: Tool) -> None:
    result = tool("apply", extra_env={"IHUB_PARALLEL": "17"})
    assert result.returncode == ExitCode.BAD_INPUT, result.stderr
    assert "IHUB_PARALLEL" in result.stderr and "16" in result.stderr and "Traceback" not in result.stderr
