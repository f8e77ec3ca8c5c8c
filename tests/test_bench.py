"""The benchmark harness (``make bench``) in its quick mode, one repetition, into a temporary
folder: every figure is in the JSON, the markdown has the table and the verdicts.

The harness runs as ``make bench`` runs it, ``python -m flows.bench``, in a process of its own
(it starts Playwright itself, which a test process whose fixtures hold one already cannot).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import PROJECT

MEASUREMENTS = ["http_floor", "playwright_script", "apply_fresh", "apply_noop", "apply_no_trace", "apply_api_fresh", "apply_api_noop"]
RATIOS = [
    "apply_vs_script",
    "noop_vs_fresh",
    "per_widget_ms",
    "per_widget_ms_low",
    "trace_overhead_pct",
    "apply_no_trace_vs_script",
    "apply_vs_http_floor",
    "script_vs_http_floor",
    "script_per_widget_ms",
    "api_vs_apply",
    "api_vs_http_floor",
    "page_per_widget_vs_apply",
]
TARGETS = {"apply_vs_script": 1.0, "noop_vs_fresh": 0.3, "per_widget_ms": 100.0, "trace_overhead_pct": 25.0}


@pytest.mark.slow
def test_quick_bench_writes_every_figure(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IHUB_") or k == "IHUB_BROWSER"}
    result = subprocess.run(
        [sys.executable, "-m", "flows.bench", "--quick", "--repeat", "1", "--warmup", "0", "--out", str(tmp_path)],
        check=False,
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]

    data = json.loads((tmp_path / "benchmarks.json").read_text(encoding="utf-8"))
    assert data["mode"] == "quick" and data["repetitions"] == 1
    sizes = data["widget_sizes"]
    assert len(sizes) == 3 and sizes == sorted(sizes)
    assert data["parallel_sweep"] == [1] and data["default_parallel"] > 1
    keys = MEASUREMENTS + [f"apply_widgets_{n}" for n in sizes] + [f"script_widgets_{sizes[1]}", "apply_parallel_1", "apply_page_per_widget"]
    keys += [f"apply_latency_parallel_{n}" for n in sorted({1, data["default_parallel"]})]
    assert sorted(data["measurements"]) == sorted(keys)
    for key in keys:
        m = data["measurements"][key]
        assert m["repetitions"] == 1 and len(m["runs_s"]) == 1
        assert 0 < m["min_s"] <= m["median_s"] <= m["max_s"], key
        assert m["cpu_median_s"] > 0 and len(m["cpu_runs_s"]) == 1, key
    # the floors are floors: posts alone beat a browser, and apply does more than the script
    measured = {k: data["measurements"][k]["median_s"] for k in keys}
    assert measured["http_floor"] < measured["playwright_script"]
    assert measured["apply_noop"] < measured["apply_fresh"]
    assert measured["apply_api_fresh"] < measured["apply_fresh"]  # no browser on the API path

    assert set(RATIOS) <= set(data["ratios"])
    assert all(isinstance(data["ratios"][k], (int, float)) for k in RATIOS)
    assert set(RATIOS) <= set(data["ratios_cpu"])
    by_key = {t["key"]: t for t in data["targets"]}
    assert {k: t["limit"] for k, t in by_key.items()} == TARGETS
    for t in by_key.values():
        assert t["verdict"] == ("PASS" if t["figure"] <= t["limit"] else "MISS")
        assert t["pass"] is (t["verdict"] == "PASS")
        assert isinstance(t["figure_cpu"], (int, float))

    assert data["machine"]["cpu_count"] == os.cpu_count()
    # Chromium's renderers are counted (Linux): then a browser run takes more CPU than wall time here
    assert data["cpu_includes_renderers"] is sys.platform.startswith("linux")
    versions = data["versions"]
    assert versions["chromium"] and versions["python"] and versions["playwright"]
    assert data["date_utc"].endswith("+00:00")

    markdown = (tmp_path / "benchmarks.md").read_text(encoding="utf-8")
    assert "make bench" in markdown
    assert "| target | figure | limit | verdict |" in markdown
    for m in data["measurements"].values():
        assert m["label"] in markdown
    assert markdown.count("**PASS**") + markdown.count("**MISS**") == len(TARGETS)
    # the table is printed too
    assert "| target | figure | limit | verdict |" in result.stdout


# A child that exits at once, leaving a grandchild that burns 0.5 s of CPU: what Chromium's
# zygote does with its renderers when the browser closes.
ORPHAN = """
import os, sys, time
from flows.bench import _cpu, adopt_orphans, reap_orphans
adopted = adopt_orphans() if sys.argv[1] == "adopt" else False
before = _cpu()
child = os.fork()
if child == 0:
    if os.fork() == 0:
        started = time.process_time()
        while time.process_time() - started < 0.5:
            pass
        os._exit(0)
    os._exit(0)
os.waitpid(child, 0)
left = reap_orphans() if adopted else []
print(adopted, round(_cpu() - before, 2), len(left))
"""


@pytest.mark.parametrize("how", ["adopt", "plain"])
def test_the_cpu_of_orphaned_grandchildren_is_counted(how: str) -> None:
    result = subprocess.run([sys.executable, "-c", ORPHAN, how], cwd=PROJECT, capture_output=True, text=True, timeout=60, check=True)
    adopted, cpu, left = result.stdout.split()
    if how == "adopt":
        assert adopted == "True" and left == "0"
        assert float(cpu) >= 0.45, cpu
    else:  # what the benchmark reported before it adopted them: the grandchild's time is lost
        assert float(cpu) < 0.25, cpu
