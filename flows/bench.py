"""``make bench``: how fast ``apply`` is, against floors, on a local sandbox (loopback only).

One run measures, each repeated ``--repeat`` times, the median quoted with min and max:

(a) the HTTP floor: the form posts of the UI path sent with httpx (redirects followed as a
    browser follows them), no browser at all;
(b) a straight-line Playwright script: the same form visits and submits, nothing observed,
    nothing checked beyond waiting for the next page; it launches its own Chromium;
(c) ``apply`` on a fresh sandbox, in-process, default options (trace on, verify on), as an
    operator runs it;
(d) ``apply`` again on the same sandbox: the no-op re-run;
(e) ``apply`` with N generated widgets (6, 50, 200) on fresh sandboxes: the cost of one more widget;
(f) ``apply`` on a fresh sandbox without the trace (``ApplyOptions(trace=False)``): against (c),
    what recording the trace and scrubbing it costs;
(g) ``apply --via api`` on a fresh sandbox with the gate open: the v2 bootstrap API path, the
    same steps and verify, no browser; (h) the same again, the API path's no-op re-run;
(i) ``apply`` with the middle widget count at other ``--parallel`` values than the default;
(j) one page and the default against a sandbox answering 50 ms later: the measurements the
    default is chosen by.

Every fresh run gets its own sandbox (a new SQLite file, a free port on 127.0.0.1), started
before the clock starts. Times are wall-clock (``time.perf_counter``) of the whole operation,
Chromium's launch included for (b)-(f). The tool's console goes to a buffer, not the terminal.

The figures are checked against the targets of the project's issue 14 and written to
``docs/benchmarks.json`` and ``docs/benchmarks.md`` (``--out DIR`` elsewhere). ``--quick`` is a
smoke test of the harness (one repetition, small widget counts, under a minute); without
``--out`` it writes into a temporary folder so that it never replaces the published figures.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import io
import json
import os
import platform
import resource
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.sync_api import Page, sync_playwright

from flows.apply import DEFAULT_PARALLEL, ApplyOptions, Report, execute
from flows.console import Console
from flows.browser import launch_args
from flows.provision import browser_name, find_browser
from flows.seeds import PROJECT_SEEDS, SeedSet, load_seeds
from flows import settings
from flows.settings import WIDGETS_PER_PAGE, ExplicitSettings, widget_pages
from sandbox.config import Faults, SandboxConfig
from sandbox.server import RunningSandbox, start_in_thread

PROJECT = Path(__file__).resolve().parent.parent
DOCS = PROJECT / "docs"
HOST = "127.0.0.1"  # the only target: the sandbox on loopback

# A full `make bench` takes about 7 minutes with these on the project's 2-core machines (the
# 200-widget runs are half of it); more when other work shares the machine.
DEFAULT_REPEAT = 3
DEFAULT_WARMUP = 1
WIDGET_SIZES = (6, 50, 200)
QUICK_WIDGET_SIZES = (1, 2, 3)

# Besides the default (DEFAULT_PARALLEL, in (e)), the widget pages tried side by side in (i),
# on the middle widget count: with (j), the measurement the default is chosen by.
PARALLEL_SWEEP = (1, 2)
QUICK_PARALLEL_SWEEP = (1,)
# A server farther away than loopback: every response LATENCY_MS later (the sandbox's fault
# injection), the middle widget count, one page and the default: what pages side by side hide.
LATENCY_MS = 50

# The targets of issue 14 (issue 5 had 1.5× and 0.5×).
TARGETS = {
    "apply_vs_script": ("apply fresh / straight-line script (c/b)", 1.0, "×"),
    "noop_vs_fresh": ("no-op re-run / apply fresh (d/c)", 0.3, "×"),
    "per_widget_ms": ("cost of one more widget (slope {lo}→{hi})", 100.0, "ms"),
    "trace_overhead_pct": ("trace + scrub overhead (c vs f)", 25.0, "%"),
}


class BenchError(Exception):
    """A measured operation did not do what it should: its time would mean nothing."""


# ---------------------------------------------------------------- figures


@dataclass(frozen=True)
class Timing:
    wall: float  # seconds, time.perf_counter
    cpu: float  # seconds of CPU, user + system, of this process (sandbox thread included) and of every
    # process it started: Playwright's driver, Chromium, and Chromium's renderers (see adopt_orphans)


@dataclass
class Series:
    key: str
    letter: str
    label: str
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def add(self, timing: Timing) -> None:
        self.times.append(timing.wall)
        self.cpu.append(timing.cpu)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    def to_json(self) -> dict[str, Any]:
        return {
            "letter": self.letter,
            "label": self.label,
            "median_s": round(self.median, 4),
            "min_s": round(min(self.times), 4),
            "max_s": round(max(self.times), 4),
            "runs_s": [round(t, 4) for t in self.times],
            "cpu_median_s": round(self.cpu_median, 4),
            "cpu_runs_s": [round(t, 4) for t in self.cpu],
            "repetitions": len(self.times),
        }


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


def adopt_orphans() -> bool:
    """Become the reaper of this process's orphaned descendants (Linux). Chromium's renderers are
    forked by its zygote, which nobody waits for once the browser has exited: without this, their
    CPU time (a third of a run's) never reaches ``RUSAGE_CHILDREN``. False where that cannot be."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return False
    return bool(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)


def process_parents() -> dict[int, int]:
    """Every running process (Linux ``/proc``) and its parent's pid."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return parents


def _children() -> list[int]:
    me = os.getpid()
    return [pid for pid, parent in process_parents().items() if parent == me]


def reap_orphans(timeout_s: float = 10.0) -> list[int]:
    """Wait (up to ``timeout_s``) for the processes this one adopted to end and reap them, so their
    CPU time joins ``RUSAGE_CHILDREN``; returns those still running after that. Call it only when
    no child of this process is expected to live on (no Playwright open)."""
    deadline = time.monotonic() + timeout_s
    while True:
        running = []
        for pid in _children():
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    running.append(pid)
        left = deadline - time.monotonic()
        if not running or left <= 0:
            return running
        fds = []
        try:
            for pid in running:
                with contextlib.suppress(ProcessLookupError):
                    fds.append(os.pidfd_open(pid))
            if fds:
                select.select(fds, [], [], left)  # until one of them ends
        finally:
            for fd in fds:
                os.close(fd)


def _timed(fn: Callable[[], Any]) -> tuple[Timing, Any]:
    gc.collect()
    cpu, started = _cpu(), time.perf_counter()
    result = fn()
    wall = time.perf_counter() - started
    reap_orphans()  # after the clock: the renderers' CPU time, not their exit, is what counts
    return Timing(wall, _cpu() - cpu), result


# ---------------------------------------------------------------- sandboxes and seeds


@contextlib.contextmanager
def fresh_sandbox(root: Path, **options: Any) -> Iterator[tuple[RunningSandbox, Path]]:
    """A new sandbox on a free loopback port with a new SQLite file, and a folder for the run."""
    workdir = Path(tempfile.mkdtemp(prefix="run-", dir=root))
    config = SandboxConfig(host=HOST, port=0, db=str(workdir / "sandbox.sqlite3"), **options)
    running = start_in_thread(config)
    try:
        if urlsplit(running.base_url).hostname != HOST:
            raise BenchError(f"the sandbox is not on {HOST}: {running.base_url}")
        yield running, workdir
    finally:
        running.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def widget_seeds(root: Path, count: int) -> SeedSet:
    """A copy of the project's seeds whose widget seed holds ``count`` widgets of declared types."""
    directory = root / f"seeds-{count}-widgets"
    shutil.copytree(PROJECT_SEEDS, directory)
    base = load_seeds(directory)
    types = base.manifest.widget_type_keys()
    data = json.loads(base.widgets_file.read_text(encoding="utf-8"))
    data["widgets"] = [
        {
            "name": f"bench-widget-{i:03d}",
            "title": f"Bench widget {i}",
            "type": types[(i - 1) % len(types)],
            "config": {"index": i, "source": "flows.bench"},
        }
        for i in range(1, count + 1)
    ]
    base.widgets_file.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    seeds = load_seeds(directory)
    assert len(seeds.widgets) == count
    return seeds


# ---------------------------------------------------------------- (a) the HTTP floor


def _post(client: httpx.Client, path: str, data: dict[str, str], landing: str) -> httpx.Response:
    response = client.post(path, data=data)
    if response.status_code != 200 or response.url.path != landing or "is-invalid" in response.text or "alert-danger" in response.text:
        raise BenchError(f"HTTP floor: POST {urlsplit(path).path} ended on {response.url.path} (HTTP {response.status_code})")
    return response


def _param(url: httpx.URL | str, name: str) -> str:
    return parse_qs(urlsplit(str(url)).query)[name][0]


def http_floor(sandbox: RunningSandbox, seeds: SeedSet) -> None:
    """The UI path's form posts, nothing else: login, hub, manifest, vocabulary, activate,
    consumer, key, each widget. Redirects are followed (302 to a GET), as a browser does."""
    config, hub, manifest, consumer = sandbox.config, seeds.hub, seeds.manifest, seeds.api_consumer
    with httpx.Client(base_url=sandbox.base_url, follow_redirects=True, timeout=30) as client:
        _post(client, "/CreateSession", {"email": config.admin_email, "password": config.admin_password}, "/Hubs")
        hub_form = {"name": hub.name, "slug": hub.slug, "domain": hub.domain, "kind": hub.kind}
        hub_id = _param(_post(client, "/CreateHub", hub_form, "/ShowHub").url, "hubId")
        head = {"version": manifest.version, "capabilityDescription": manifest.capability_description, "contact": manifest.contact}
        show = "/ShowHubCapabilityManifest"
        manifest_id = _param(
            _post(client, "/CreateHubCapabilityManifest", {"hubId": hub_id, **head}, show).url, "hubCapabilityManifestId"
        )
        vocabulary = {k: json.dumps(v, indent=2, ensure_ascii=False) for k, v in manifest.vocabulary().items()}
        _post(client, f"/UpdateHubCapabilityManifest?hubCapabilityManifestId={manifest_id}", {**head, **vocabulary}, show)
        activated = _post(client, f"/ActivateHubCapabilityManifest?hubCapabilityManifestId={manifest_id}", {}, show)
        if "badge-active" not in activated.text:
            raise BenchError("HTTP floor: the manifest did not become active")
        consumer_form = {"name": consumer.name, "description": consumer.description, "hubCapabilityManifestId": manifest_id}
        consumer_id = _param(_post(client, "/CreateApiConsumer", consumer_form, "/ShowApiConsumer").url, "apiConsumerId")
        _post(client, f"/CreateApiKey?apiConsumerId={consumer_id}", {"scopes": " ".join(consumer.key_scopes)}, "/CreateApiKey")
        for widget in seeds.widgets:
            form = {
                "hubId": hub_id,
                "name": widget.name,
                "title": widget.title,
                "widgetType": widget.type,
                "config": json.dumps(widget.config, ensure_ascii=False),
            }
            _post(client, "/CreateWidget", form, "/ShowWidget")


# ---------------------------------------------------------------- (b) the straight-line script


def _heading(page: Page, name: str) -> None:
    page.get_by_role("heading", name=name, exact=True).wait_for()


def playwright_script(sandbox: RunningSandbox, seeds: SeedSet) -> str:
    """Raw Playwright, the UI path in a straight line: open each form, fill it by label, click,
    wait for the next page's heading. Returns Chromium's version."""
    config, hub, manifest, consumer = sandbox.config, seeds.hub, seeds.manifest, seeds.api_consumer
    found = find_browser(headless=True)  # what apply launches headless (and Playwright's default)
    with sync_playwright() as p:
        # with apply's own flags (flows.browser.launch_args), the resolver rules among them
        browser = p.chromium.launch(executable_path=str(found) if found else None, headless=True, args=launch_args(sandbox.base_url))
        chromium = browser.version
        context = browser.new_context(base_url=sandbox.base_url, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        label = page.get_by_label

        def click(button: str) -> None:
            page.get_by_role("button", name=button, exact=True).click()

        page.goto("/NewSession")
        page.get_by_placeholder("E-Mail", exact=True).fill(config.admin_email)
        page.get_by_placeholder("Password", exact=True).fill(config.admin_password)
        click("Login")
        page.get_by_role("table", name="Hubs", exact=True).wait_for()

        page.goto("/Hubs/new")
        label("Name", exact=True).fill(hub.name)
        label("Slug", exact=True).fill(hub.slug)
        label("Domain", exact=True).fill(hub.domain)
        label("Kind", exact=True).select_option(hub.kind)
        click("Create Hub")
        _heading(page, "Show Hub")
        hub_id = _param(page.url, "hubId")

        page.goto(f"/HubCapabilityManifests/new?hubId={hub_id}")
        label("Version", exact=True).fill(manifest.version)
        label("Capability Description", exact=True).fill(manifest.capability_description)
        label("Contact", exact=True).fill(manifest.contact)
        click("Create Hub Capability Manifest")
        _heading(page, "Show Hub Capability Manifest")
        manifest_id = _param(page.url, "hubCapabilityManifestId")

        page.goto(f"/EditHubCapabilityManifest?hubCapabilityManifestId={manifest_id}")
        labels = {
            "declaredWidgetTypes": "Declared Widget Types",
            "declaredEventTypes": "Declared Event Types",
            "declaredAnnotationCategories": "Declared Annotation Categories",
            "declaredPolicyScopes": "Declared Policy Scopes",
        }
        for name, value in manifest.vocabulary().items():
            label(labels[name], exact=True).fill(json.dumps(value, indent=2, ensure_ascii=False))
        click("Save Hub Capability Manifest")
        _heading(page, "Show Hub Capability Manifest")

        page.goto(f"/ShowHubCapabilityManifest?hubCapabilityManifestId={manifest_id}")
        page.once("dialog", lambda dialog: dialog.accept())
        click("Activate")
        page.locator(".badge-active").wait_for()

        page.goto("/ApiConsumers/new")
        label("Name", exact=True).fill(consumer.name)
        label("Description", exact=True).fill(consumer.description)
        label("Hub Capability Manifest", exact=True).select_option(manifest_id)
        click("Create Api Consumer")
        _heading(page, "Show Api Consumer")  # the key form is on this page

        label("Scopes", exact=True).fill(" ".join(consumer.key_scopes))
        click("Generate API key")
        _heading(page, "API key created")

        for widget in seeds.widgets:
            page.goto(f"/Widgets/new?hubId={hub_id}")
            label("Name", exact=True).fill(widget.name)
            label("Title", exact=True).fill(widget.title)
            label("Widget Type", exact=True).select_option(widget.type)
            label("Config", exact=True).fill(json.dumps(widget.config, ensure_ascii=False))
            click("Create Widget")
            _heading(page, "Show Widget")
        context.close()
        browser.close()
    return chromium


# ---------------------------------------------------------------- (c)-(f) apply


@contextlib.contextmanager
def widgets_per_page(count: int) -> Iterator[None]:
    """``apply`` in this process opens a page for every ``count`` widgets (k): the rule the
    default is measured against."""
    before = settings.WIDGETS_PER_PAGE
    settings.WIDGETS_PER_PAGE = count
    try:
        yield
    finally:
        settings.WIDGETS_PER_PAGE = before


def _settings(sandbox: RunningSandbox, workdir: Path) -> ExplicitSettings:
    return ExplicitSettings(
        base=sandbox.base_url,
        email=sandbox.config.admin_email,
        password=sandbox.config.admin_password,
        runs_dir=workdir / "runs",
        key_sink=f"file:{workdir / 'ops-hub.key.json'}",
        operator_client_id=sandbox.config.operator_client_id,
        operator_key=sandbox.config.operator_key,
    )


def run_apply(sandbox: RunningSandbox, workdir: Path, seeds: SeedSet, options: ApplyOptions, *, noop: bool = False) -> Timing:
    """``apply`` in-process, its console into a buffer; the wall time of ``execute``."""
    explicit = _settings(sandbox, workdir)
    buffer = io.StringIO()
    timing, report = _timed(lambda: execute(explicit, seeds, options, Console(buffer)))
    _check(report, buffer.getvalue(), noop=noop)
    return timing


def _check(report: Report, output: str, *, noop: bool) -> None:
    if report.exit_code != 0:
        tail = "\n".join(output.strip().splitlines()[-12:])
        raise BenchError(f"apply ended with exit code {int(report.exit_code)}:\n{tail}")
    if noop and report.changes:
        raise BenchError(f"the re-run was not a no-op: {report.changes} change(s)")
    if not noop and not report.changes:
        raise BenchError("the fresh apply wrote nothing")


# ---------------------------------------------------------------- the run


@dataclass
class Bench:
    repeat: int
    warmup: int
    sizes: tuple[int, ...]
    mode: str
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)
    series: dict[str, Series] = field(default_factory=dict)
    chromium: str = ""
    load: dict[str, list[float]] = field(default_factory=dict)  # the machine's load average, before and after
    base_widgets: int = 6  # widgets in the project's seeds, which (b) and (c) create
    sweep: tuple[int, ...] = PARALLEL_SWEEP
    renderers_counted: bool = False  # the CPU column includes Chromium's renderers (adopt_orphans)

    def __post_init__(self) -> None:
        for key, letter, label in [
            ("http_floor", "a", "HTTP floor: the UI path's form posts with httpx"),
            ("playwright_script", "b", "straight-line Playwright script (Chromium launch included)"),
            ("apply_fresh", "c", "apply, fresh sandbox (trace on, verify on)"),
            ("apply_noop", "d", "apply again, same sandbox (no-op)"),
        ]:
            self.series[key] = Series(key, letter, label)
        for n in self.sizes:
            label = f"apply, fresh sandbox, {n} widget{'s' if n != 1 else ''}"
            self.series[f"apply_widgets_{n}"] = Series(f"apply_widgets_{n}", "e", label)
        self.series["apply_no_trace"] = Series("apply_no_trace", "f", "apply, fresh sandbox, trace off")
        self.series["apply_api_fresh"] = Series("apply_api_fresh", "g", "apply --via api, fresh sandbox, gate open (verify on)")
        self.series["apply_api_noop"] = Series("apply_api_noop", "h", "apply --via api again, same sandbox (no-op)")
        mid = self.sizes[len(self.sizes) // 2]
        self.series[f"script_widgets_{mid}"] = Series(
            f"script_widgets_{mid}", "b", f"straight-line Playwright script, {mid} widgets (the per-widget floor)"
        )
        for n in self.sweep:
            self.series[f"apply_parallel_{n}"] = Series(
                f"apply_parallel_{n}", "i", f"apply, fresh sandbox, {mid} widgets, --parallel {n} (default {DEFAULT_PARALLEL}: (e))"
            )
        for n in sorted({1, DEFAULT_PARALLEL}):
            self.series[f"apply_latency_parallel_{n}"] = Series(
                f"apply_latency_parallel_{n}", "j", f"apply, fresh sandbox answering {LATENCY_MS} ms later, {mid} widgets, --parallel {n}"
            )
        self.series["apply_page_per_widget"] = Series("apply_page_per_widget", "k", self._page_per_widget_label())

    def _page_per_widget_label(self) -> str:
        n = self.base_widgets
        return (
            f"apply, fresh sandbox, the project's {n} widgets on {min(n, DEFAULT_PARALLEL)} pages, one each up to "
            f"{DEFAULT_PARALLEL} (c: {widget_pages(n, DEFAULT_PARALLEL)} pages, one for every {WIDGETS_PER_PAGE} widgets)"
        )

    def run(self, root: Path) -> None:
        self.load["start"] = _load()
        self.renderers_counted = adopt_orphans()
        project_seeds = load_seeds(PROJECT_SEEDS)
        self.base_widgets = len(project_seeds.widgets)
        self.series["apply_page_per_widget"].label = self._page_per_widget_label()
        sized = {n: widget_seeds(root, n) for n in self.sizes}
        for w in range(self.warmup):
            self.progress(f"warm-up {w + 1}/{self.warmup}")
            self._round(root, project_seeds, sized, record=False)
        for r in range(self.repeat):
            self.progress(f"repetition {r + 1}/{self.repeat}")
            self._round(root, project_seeds, sized, record=True)
        self.load["end"] = _load()

    def _measure(self, key: str, timing: Timing, record: bool) -> None:
        if record:
            self.series[key].add(timing)
        s = self.series[key]
        note = "" if record else " (warm-up, not counted)"
        self.progress(f"  ({s.letter}) {s.label}: {timing.wall:.3f} s (CPU {timing.cpu:.2f} s){note}")

    def _round(self, root: Path, seeds: SeedSet, sized: dict[int, SeedSet], *, record: bool) -> None:
        with fresh_sandbox(root) as (sandbox, _):
            timing, _ = _timed(lambda: http_floor(sandbox, seeds))
            self._measure("http_floor", timing, record)
        with fresh_sandbox(root) as (sandbox, _):
            timing, self.chromium = _timed(lambda: playwright_script(sandbox, seeds))
            self._measure("playwright_script", timing, record)
        with fresh_sandbox(root) as (sandbox, workdir):
            self._measure("apply_fresh", run_apply(sandbox, workdir, seeds, ApplyOptions()), record)
            self._measure("apply_noop", run_apply(sandbox, workdir, seeds, ApplyOptions(), noop=True), record)
        if not record:
            return  # the warm-up is for caches (disk, Chromium's profile start-up): one of each kind is enough
        with fresh_sandbox(root) as (sandbox, workdir):
            self._measure("apply_no_trace", run_apply(sandbox, workdir, seeds, ApplyOptions(trace=False)), record)
        with fresh_sandbox(root) as (sandbox, workdir), widgets_per_page(1):
            self._measure("apply_page_per_widget", run_apply(sandbox, workdir, seeds, ApplyOptions()), record)
        with fresh_sandbox(root, gate="open") as (sandbox, workdir):
            self._measure("apply_api_fresh", run_apply(sandbox, workdir, seeds, ApplyOptions(via="api")), record)
            self._measure("apply_api_noop", run_apply(sandbox, workdir, seeds, ApplyOptions(via="api"), noop=True), record)
        for n, widget_seed in sized.items():
            with fresh_sandbox(root) as (sandbox, workdir):
                self._measure(f"apply_widgets_{n}", run_apply(sandbox, workdir, widget_seed, ApplyOptions()), record)
        mid = self.sizes[len(self.sizes) // 2]
        with fresh_sandbox(root) as (sandbox, _):
            timing, _ = _timed(lambda: playwright_script(sandbox, sized[mid]))
            self._measure(f"script_widgets_{mid}", timing, record)
        for n in self.sweep:
            with fresh_sandbox(root) as (sandbox, workdir):
                self._measure(f"apply_parallel_{n}", run_apply(sandbox, workdir, sized[mid], ApplyOptions(parallel=n)), record)
        for n in sorted({1, DEFAULT_PARALLEL}):
            with fresh_sandbox(root, faults=Faults(latency_ms=LATENCY_MS)) as (sandbox, workdir):
                timing = run_apply(sandbox, workdir, sized[mid], ApplyOptions(parallel=n))
                self._measure(f"apply_latency_parallel_{n}", timing, record)

    # ------------------------------------------------------------ results

    def ratios(self, *, cpu: bool = False) -> dict[str, float]:
        m = {k: (s.cpu_median if cpu else s.median) for k, s in self.series.items()}
        lo, mid, hi = self.sizes[0], self.sizes[len(self.sizes) // 2], self.sizes[-1]
        return {
            "apply_vs_script": m["apply_fresh"] / m["playwright_script"],
            "noop_vs_fresh": m["apply_noop"] / m["apply_fresh"],
            "per_widget_ms": (m[f"apply_widgets_{hi}"] - m[f"apply_widgets_{lo}"]) / (hi - lo) * 1000,
            "per_widget_ms_low": (m[f"apply_widgets_{mid}"] - m[f"apply_widgets_{lo}"]) / (mid - lo) * 1000,
            # the floor under the per-widget target: the script's own cost of one more widget
            "script_per_widget_ms": (m[f"script_widgets_{mid}"] - m["playwright_script"])
            / ((mid - self.base_widgets) or 1)
            * 1000,
            "trace_overhead_pct": (m["apply_fresh"] / m["apply_no_trace"] - 1) * 100,
            # (c/b) without the trace: what stands between apply and the script is the trace
            "apply_no_trace_vs_script": m["apply_no_trace"] / m["playwright_script"],
            "apply_vs_http_floor": m["apply_fresh"] / m["http_floor"],
            "script_vs_http_floor": m["playwright_script"] / m["http_floor"],
            "api_vs_apply": m["apply_api_fresh"] / m["apply_fresh"],
            "api_vs_http_floor": m["apply_api_fresh"] / m["http_floor"],
            "page_per_widget_vs_apply": m["apply_page_per_widget"] / m["apply_fresh"],
        }

    def pairwise(self) -> dict[str, float]:
        """The ratios repetition by repetition, then their median: less touched by a drift of
        the machine's speed between repetitions (for information; the verdicts use the medians)."""
        t = {k: s.times for k, s in self.series.items()}

        def median_of(values: list[float]) -> float:
            return round(statistics.median(values), 3)

        return {
            "apply_vs_script": median_of([c / b for c, b in zip(t["apply_fresh"], t["playwright_script"])]),
            "noop_vs_fresh": median_of([d / c for d, c in zip(t["apply_noop"], t["apply_fresh"])]),
            "trace_overhead_pct": median_of([(c / f - 1) * 100 for c, f in zip(t["apply_fresh"], t["apply_no_trace"])]),
            "apply_no_trace_vs_script": median_of([f / b for f, b in zip(t["apply_no_trace"], t["playwright_script"])]),
            "page_per_widget_vs_apply": median_of([k / c for k, c in zip(t["apply_page_per_widget"], t["apply_fresh"])]),
        }

    def targets(self, ratios: dict[str, float], cpu: dict[str, float]) -> list[dict[str, Any]]:
        lo, hi = self.sizes[0], self.sizes[-1]
        out = []
        for key, (label, limit, unit) in TARGETS.items():
            figure = round(ratios[key], 3)  # the verdict is on the figure the report shows
            ok = figure <= limit
            out.append(
                {
                    "key": key,
                    "label": label.format(lo=lo, hi=hi),
                    "figure": figure,
                    "figure_cpu": round(cpu[key], 3),
                    "limit": limit,
                    "unit": unit,
                    "comparison": "<=",
                    "pass": ok,
                    "verdict": "PASS" if ok else "MISS",
                }
            )
        return out

    def to_json(self, total_s: float) -> dict[str, Any]:
        ratios = self.ratios()
        lo, mid, hi = self.sizes[0], self.sizes[len(self.sizes) // 2], self.sizes[-1]
        return {
            "schema": 1,
            "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "mode": self.mode,
            "repetitions": self.repeat,
            "warmup_rounds": self.warmup,
            "widget_sizes": list(self.sizes),
            "default_parallel": DEFAULT_PARALLEL,
            "widgets_per_page": WIDGETS_PER_PAGE,
            "parallel_sweep": list(self.sweep),
            "machine": {**machine(), "load_average": self.load},
            "cpu_includes_renderers": self.renderers_counted,
            "versions": {
                "python": platform.python_version(),
                "playwright": _version("playwright"),
                "chromium": self.chromium,
                "chromium_executable": browser_name(headless=True),
                "ihub_bootstrap": _version("ihub-bootstrap"),
            },
            "commit": _commit(),
            "target": "sandbox on 127.0.0.1 (in-process thread, SQLite), headless Chromium",
            "measurements": {k: s.to_json() for k, s in self.series.items()},
            "ratios": {k: round(v, 3) for k, v in ratios.items()},
            "ratio_notes": {
                "apply_vs_script": "median(c) / median(b)",
                "noop_vs_fresh": "median(d) / median(c)",
                "per_widget_ms": f"(median(e, {hi}) - median(e, {lo})) / {hi - lo} widgets",
                "per_widget_ms_low": f"(median(e, {mid}) - median(e, {lo})) / {mid - lo} widgets",
                "script_per_widget_ms": f"(median(b, {mid} widgets) - median(b)) / {mid - self.base_widgets} widgets",
                "trace_overhead_pct": "(median(c) / median(f) - 1) * 100",
                "apply_no_trace_vs_script": "median(f) / median(b)",
                "apply_vs_http_floor": "median(c) / median(a)",
                "script_vs_http_floor": "median(b) / median(a)",
                "page_per_widget_vs_apply": "median(k) / median(c)",
            },
            "ratios_pairwise": self.pairwise(),
            "ratios_cpu": {k: round(v, 3) for k, v in self.ratios(cpu=True).items()},
            "targets": self.targets(ratios, self.ratios(cpu=True)),
            "total_run_s": round(total_s, 1),
        }


def machine() -> dict[str, Any]:
    model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cpu_count": os.cpu_count(), "cpu_model": model, "platform": platform.platform()}


def _load() -> list[float]:
    """1, 5 and 15 minute load averages: above the core count, other work shared the machine."""
    with contextlib.suppress(OSError, AttributeError):
        return [round(x, 2) for x in os.getloadavg()]
    return []


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _commit() -> str | None:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], check=False, cwd=PROJECT, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain"], check=False, cwd=PROJECT, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + (" (work tree with changes)" if dirty.stdout.strip() else "")


# ---------------------------------------------------------------- the table


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.2f} s"


def _fmt_figure(figure: float, unit: str) -> str:
    if unit == "×":
        return f"{figure:.2f}×"
    if unit == "%":
        return f"{figure:+.1f} %"
    return f"{figure:.1f} ms"


def table(data: dict[str, Any]) -> str:
    """The markdown tables: the measurements, then each target with its verdict."""
    lines = [
        "| | measured | median | min | max | runs | CPU (median) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for m in data["measurements"].values():
        cells = [f"({m['letter']})", m["label"], *(_fmt_s(m[k]) for k in ("median_s", "min_s", "max_s"))]
        cells += [str(m["repetitions"]), _fmt_s(m["cpu_median_s"])]
        lines.append("| " + " | ".join(cells) + " |")
    sizes = data["widget_sizes"]
    lo, mid = sizes[0], sizes[len(sizes) // 2]
    r, c = data["ratios"], data["ratios_cpu"]
    lines += ["", "| target | figure | limit | verdict | same from CPU time |", "|---|---:|---:|---|---:|"]
    for t in data["targets"]:
        limit = _fmt_figure(t["limit"], t["unit"]).lstrip("+")
        figure, cpu = _fmt_figure(t["figure"], t["unit"]), _fmt_figure(t["figure_cpu"], t["unit"])
        lines.append(f"| {t['label']} | {figure} | ≤ {limit} | **{t['verdict']}** | {cpu} |")
    for label, key, unit in [
        (f"cost of one more widget (slope {lo}→{mid})", "per_widget_ms_low", "ms"),
        (f"straight-line script's cost of one more widget (slope to {mid}): the floor", "script_per_widget_ms", "ms"),
        ("apply without the trace / straight-line script (f/b)", "apply_no_trace_vs_script", "×"),
        ("apply fresh / HTTP floor (c/a)", "apply_vs_http_floor", "×"),
        ("straight-line script / HTTP floor (b/a)", "script_vs_http_floor", "×"),
        ("apply --via api / apply through the UI (g/c)", "api_vs_apply", "×"),
        ("apply --via api / HTTP floor (g/a)", "api_vs_http_floor", "×"),
        ("a page for every widget / one for every few (k/c)", "page_per_widget_vs_apply", "×"),
    ]:
        lines.append(f"| {label}, for information | {_fmt_figure(r[key], unit)} | | | {_fmt_figure(c[key], unit)} |")
    return "\n".join(lines)


def markdown(data: dict[str, Any]) -> str:
    v, mach = data["versions"], data["machine"]
    sizes = ", ".join(str(n) for n in data["widget_sizes"])
    n = data["repetitions"]
    quick = " **Quick mode: a smoke test of the harness, not figures to quote.**" if data["mode"] == "quick" else ""
    load = mach.get("load_average", {})
    intro = (
        "How long `apply` takes against a local sandbox, next to two floors, checked against the "
        f"targets of issue 14.{quick} Re-run with `make bench` (`.venv/bin/python -m flows.bench`; "
        "`--repeat N` for more repetitions, `--quick` for a smoke test under a minute): it rewrites "
        "this file and `benchmarks.json` beside it, which also holds every single run's time."
    )
    how = (
        "How it was measured: one process; the sandbox (SQLite) served from a thread of it, with a "
        "new database and a free port on 127.0.0.1 for every fresh run; headless Chromium. Each "
        f"figure is the median of {n} repetition{'s' if n != 1 else ''} (min and max beside it), after "
        f"{data['warmup_rounds']} warm-up round(s) not counted. The repetitions interleave the "
        "measurements, so a drift of the machine's speed touches all of them alike. Times are "
        "wall-clock (`time.perf_counter`) of the whole operation: for (b)-(f) that includes starting "
        "Playwright and launching Chromium, and for `apply` its run folder, the trace's scrubbing and "
        "scan, and the runbook's verification over HTTP. Sandbox start-up is not included; the tool's "
        "console output goes to a buffer. Beside the wall time, the CPU time of each operation "
        "(user + system, of the process, sandbox thread included, and of the Playwright driver and "
        "Chromium it starts, "
        + (
            "Chromium's renderers included: the benchmark adopts them when Chromium's zygote, which "
            "forks them, exits unwaited"
            if data.get("cpu_includes_renderers")
            else "**without Chromium's renderers**, which this system gave no way to count (a third "
            "of a run's CPU where they are counted)"
        )
        + "); CPU above wall time means more than one core was busy on average. It stretches less than wall "
        "time when other work shares the machine, so the targets are also shown computed from it, "
        "for information; the verdicts are on wall time."
    )
    what = [
        (
            "- (a) the form posts the UI path makes (login, hub, manifest, vocabulary, activate, API "
            "consumer, API key, each widget), sent with httpx, redirects followed as a browser does;"
        ),
        (
            "- (b) a straight-line Playwright script: each form opened, filled by label, submitted, the "
            "next page's heading awaited; nothing observed, nothing checked;"
        ),
        "- (c) `apply` as operators run it (default options: trace on, verify on);",
        "- (d) `apply` again on the same sandbox: the no-op;",
        f"- (e) `apply` with {sizes} generated widgets (names `bench-widget-NNN`, all of declared types), "
        f"created on up to {data.get('default_parallel', DEFAULT_PARALLEL)} browser pages side by side (the default `--parallel`), "
        f"one for every {data.get('widgets_per_page', WIDGETS_PER_PAGE)} widgets;",
        "- (f) `apply` with `ApplyOptions(trace=False)`, against (c) for the trace's cost;",
        "- (g) `apply --via api` on a fresh sandbox with the API gate open (no browser), (h) its no-op re-run;",
        "- (i) `apply` with the middle widget count and other `--parallel` values; (j) the same, one page and the "
        f"default, against a sandbox answering every request {LATENCY_MS} ms later (a server farther than loopback): "
        "what the default is chosen by; (k) `apply` as (c) with a page for every widget, against (c): a check on the "
        "pages' share of the widgets (chosen by pairwise runs, see `WIDGETS_PER_PAGE` in `flows/settings.py`).",
    ]
    start = (load.get("start") or [None])[0]
    busy = (
        "the machine was idle when it started"
        if start is not None and start < 1
        else "other work shared the machine and stretched the absolute times (the ratios hold better)"
    )
    where = (
        f"Machine: {mach['cpu_count']} cores ({mach['cpu_model'] or 'unknown CPU'}), {mach['platform']}; "
        f"Python {v['python']}, Playwright {v['playwright']}, Chromium {v['chromium']} "
        f"(`{v.get('chromium_executable', 'unknown')}`, for the script and `apply` alike). Load average "
        f"(1/5/15 min) {_loads(load.get('start'))} at the start, {_loads(load.get('end'))} at the end "
        f"(the benchmark's own processes count in the latter): {busy}. "
        f"Measured {data['date_utc']}, commit {data['commit'] or 'unknown'}; the whole run took "
        f"{data['total_run_s']:.0f} s."
    )
    return "\n\n".join(["# Benchmarks", intro, how, "\n".join(what), where, table(data)]) + "\n"


def _loads(values: list[float] | None) -> str:
    return "/".join(f"{x:.1f}" for x in values) if values else "unknown"


def write(out: Path, data: dict[str, Any]) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "benchmarks.json", out / "benchmarks.md"
    json_path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(markdown(data), encoding="utf-8")
    return json_path, md_path


# ---------------------------------------------------------------- command line


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m flows.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=None, metavar="N", help=f"repetitions of each measurement (default {DEFAULT_REPEAT}; quick: 1)")
    p.add_argument("--warmup", type=int, default=None, metavar="N", help=f"warm-up rounds, not counted (default {DEFAULT_WARMUP}; quick: 0)")
    p.add_argument("--quick", action="store_true", help="smoke test: 1 repetition, widget counts 1/2/3, no warm-up (< 1 minute)")
    p.add_argument("--widgets", default=None, metavar="N,N,N", help="widget counts for (e), smallest first (default 6,50,200)")
    p.add_argument("--out", type=Path, default=None, help="where benchmarks.json and .md go (default docs/; quick: a temporary folder)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else DEFAULT_REPEAT)
    warmup = args.warmup if args.warmup is not None else (0 if args.quick else DEFAULT_WARMUP)
    if args.widgets:
        sizes = tuple(sorted({int(n) for n in args.widgets.split(",")}))
    else:
        sizes = QUICK_WIDGET_SIZES if args.quick else WIDGET_SIZES
    if repeat < 1 or warmup < 0 or len(sizes) < 2 or sizes[0] < 1:
        print("error: --repeat >= 1, --warmup >= 0, at least two widget counts >= 1", file=sys.stderr)
        return 3
    out = args.out or (Path(tempfile.mkdtemp(prefix="ihub-bench-quick-")) if args.quick else DOCS)
    bench = Bench(repeat, warmup, sizes, "quick" if args.quick else "full", sweep=QUICK_PARALLEL_SWEEP if args.quick else PARALLEL_SWEEP)
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="ihub-bench-"))
    try:
        bench.run(root)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(root, ignore_errors=True)
    data = bench.to_json(time.perf_counter() - started)
    json_path, md_path = write(out, data)
    print(table(data))
    print(f"\nwritten: {json_path} and {md_path} (total {data['total_run_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
