"""What a newcomer hit in their first hour (issue 11), one test per finding: each runs the
CLI as an operator would (a subprocess, real exit codes) against a sandbox on loopback."""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.confirm import approve_plan
from flows.console import Console, readers_may_leave, use_color
from flows.errors import Aborted, ExitCode
from flows.lock import lock_path, target_lock
from tests.support import PROJECT, SandboxFactory, Tool, refusing_origin, tool_env


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, cwd=cwd,
        env=env or tool_env(cwd), timeout=180, check=False,
    )


def help_text(command: str, cwd: Path) -> str:
    """``ihub-bootstrap COMMAND --help`` run by ``flows.cli.main`` in this process, in ``cwd``,
    80 columns wide as in a subprocess without a terminal: what it prints."""
    import contextlib

    from flows.cli import main

    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        patch.setenv("COLUMNS", "80")
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
            main([command, "--help"])
    assert exited.value.code in (0, None), (command, exited.value.code)
    return out.getvalue()


def test_blank_values_in_env_file_are_unset(tool: Tool, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("IHUB_STORAGE_STATE=\nIHUB_BROWSER=\nIHUB_KEY_SINK=\nIHUB_OPERATOR=\nIHUB_TIMEOUT=\n")
    result = tool("plan")
    assert result.returncode == ExitCode.OK, result.stderr
    assert "is not a file" not in result.stderr


def test_sandbox_takes_its_documented_options(tmp_path: Path) -> None:
    helped = cli("sandbox", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and "--port" in helped.stdout and "SANDBOX_PORT" in helped.stdout
    bad = cli("sandbox", "--gate", "ajar", cwd=tmp_path)
    assert bad.returncode == ExitCode.BAD_INPUT and "invalid choice" in bad.stderr


def test_default_seeds_are_those_of_the_current_directory(tmp_path: Path) -> None:
    env = tool_env(tmp_path)
    del env["IHUB_SEEDS"]
    result = cli("seeds", "check", cwd=tmp_path, env=env)
    assert result.returncode == ExitCode.BAD_INPUT
    assert "seed directory does not exist (relative to the current directory" in result.stderr
    assert "--seeds DIR" in result.stderr and "Traceback" not in result.stderr
    ok = cli("seeds", "check", "--seeds", str(PROJECT / "seeds"), cwd=tmp_path, env=env)
    assert ok.returncode == 0, ok.stderr
    (tmp_path / ".env").write_text(f"IHUB_SEEDS={PROJECT / 'seeds'}\n")
    from_env_file = cli("seeds", "check", cwd=tmp_path, env=env)
    assert from_env_file.returncode == 0 and str(PROJECT / "seeds") in from_env_file.stdout, from_env_file.stderr


def test_seeds_check_json_reports_errors_on_stdout(tmp_path: Path) -> None:
    env = tool_env(tmp_path)
    del env["IHUB_SEEDS"]
    result = cli("seeds", "check", "--json", cwd=tmp_path, env=env)
    assert result.returncode == ExitCode.BAD_INPUT
    report = json.loads(result.stdout)
    assert report["schema_version"] == 1 and report["command"] == "seeds check" and report["exit_code"] == 3
    assert report["ok"] is False and "--seeds" in report["error"]["hint"]
    usage = cli("plan", "--json", "--bogus", cwd=tmp_path)
    assert usage.returncode == ExitCode.BAD_INPUT and json.loads(usage.stdout)["error"]["where"] == "command line"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any directory")
def test_an_unwritable_runs_folder_is_a_named_error(tool: Tool, tmp_path: Path) -> None:
    runs = tmp_path / "locked"
    runs.mkdir(mode=0o500)
    result = tool("plan", runs_dir=str(runs))
    assert result.returncode == ExitCode.BAD_INPUT, result.stderr
    assert str(runs) in result.stderr and "Traceback" not in result.stderr


def test_a_runs_folder_that_cannot_be_created_is_a_named_error(tool: Tool, tmp_path: Path) -> None:
    # a run folder inside /proc cannot be made, even by root
    result = tool("plan", runs_dir="/proc/self/runs")
    assert result.returncode == ExitCode.BAD_INPUT, result.stderr
    assert "/proc/self/runs" in result.stderr and "Traceback" not in result.stderr
    assert "IHUB_RUNS_DIR" in result.stderr


def test_help_is_the_reference(tmp_path: Path) -> None:
    top = cli("--help", cwd=tmp_path)
    for word in ("IHUB_SESSION_COOKIE", "IHUB_STORAGE_STATE", "IHUB_EMAIL", "IHUB_PASSWORD", "login", "exit codes"):
        assert word in top.stdout, word
    assert cli("--version", cwd=tmp_path).stdout.startswith("ihub-bootstrap ")
    # each command's help in this process (the entry point was run above): ~0.7 s of start-up each saved
    plan = help_text("plan", tmp_path)
    assert "7 on drift" in plan and "IHUB_BASE" in plan and "exit codes:" in plan
    for command in ("seeds", "apply", "plan", "verify", "login", "doctor", "rehearse", "audit", "trace", "probe", "sql", "sandbox"):
        text = help_text(command, tmp_path)
        assert "exit codes:" in text, command

    import argparse

    from flows.cli import build_parser

    def parsers(parser: argparse.ArgumentParser, name: str):  # noqa: ANN202
        yield name, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    yield from parsers(sub, f"{name} {sub_name}")

    for name, parser in parsers(build_parser(), "ihub-bootstrap"):
        assert parser.description, f"{name} has no description"
        silent = [a.option_strings or a.dest for a in parser._actions if not a.help and not isinstance(a, argparse._SubParsersAction)]
        assert not silent, f"{name}: options without help: {silent}"


def test_colour_conventions() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert use_color(Tty(), {"TERM": "xterm"})
    assert use_color(Tty(), {"TERM": "xterm", "NO_COLOR": ""})  # empty: not set
    assert not use_color(Tty(), {"TERM": "xterm", "NO_COLOR": "1"})
    assert not use_color(Tty(), {"TERM": "dumb"})
    assert not use_color(io.StringIO(), {"TERM": "xterm"})
    assert use_color(io.StringIO(), {"FORCE_COLOR": "1"})


class _Failing(io.StringIO):
    """A stream whose writes fail with EIO: a terminal that hung up, or a file on a failing disk."""

    def __init__(self, terminal: bool):
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal

    def write(self, text: str) -> int:
        raise OSError(errno.EIO, "Input/output error")


def test_a_gone_reader_is_told_from_a_failing_file(monkeypatch: pytest.MonkeyPatch) -> None:
    # EIO on a terminal: it hung up, the rest is dropped; on a file: the command's own error
    monkeypatch.setattr(sys, "stdout", _Failing(terminal=True))
    with readers_may_leave():
        print("dropped")
        assert sys.stdout.gone  # type: ignore[attr-defined]
    monkeypatch.setattr(sys, "stdout", _Failing(terminal=False))
    with pytest.raises(OSError), readers_may_leave():
        print("lost on a failing disk")
    # closed before the start (`2>&-`): a reader that has gone, so no question is asked
    monkeypatch.setattr(sys, "stderr", None)
    with readers_may_leave(), pytest.raises(Aborted, match="cannot be shown"):
        approve_plan(Console(), 3, stdin=io.StringIO("y\n"))


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_result_that_cannot_be_written_is_a_named_error(tmp_path: Path) -> None:
    # `seeds check --json > file` on a full disk: said on stderr (exit 3), no traceback (the
    # JSON error envelope's own write failed again)
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "flows.cli", "seeds", "check", "--json"], stdout=full, stderr=subprocess.PIPE, text=True,
            cwd=tmp_path, env=tool_env(tmp_path), timeout=60, check=False,
        )
    assert result.returncode == ExitCode.BAD_INPUT, result.stderr
    assert "cannot write the output: No space left on device" in result.stderr and "Traceback" not in result.stderr


def test_the_plan_prompt_understands_no() -> None:
    out = io.StringIO()
    for answer in ("n\n", "no\n"):
        with pytest.raises(Aborted, match="did not approve"):
            approve_plan(Console(out), 3, stdin=io.StringIO(answer))


def test_no_lock_file_is_left_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    with target_lock("http://127.0.0.1:1"):
        assert lock_path("http://127.0.0.1:1").exists()
    assert not lock_path("http://127.0.0.1:1").exists()


def test_a_wrong_base_says_so(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    tool = Tool(sandbox, tmp_path)
    result = tool("plan", base=sandbox.base_url + "/api")
    # a path in the base is refused up front; a base that is not Inter-Hub answers 404 to /NewSession
    assert result.returncode == ExitCode.BAD_INPUT and "without a path" in result.stderr


def test_verify_against_an_unreachable_host_names_the_cause_once(tool: Tool) -> None:
    result = tool("verify", base="http://127.0.0.1:9")
    assert result.returncode == ExitCode.VERIFY_FAILED, result.stderr
    assert result.stderr.count("ConnectError") == 1 and "Connection refused" in result.stderr
    assert "IHUB_BASE" in result.stderr


def test_a_ui_mismatch_names_step_screen_element_and_doctor(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    # the pages also use another origin (a CDN stylesheet, a frame, analytics), which the tool
    # refuses: a page that needed a script from there would lack what it renders, so the
    # origin is named beside the error (not as its cause, and not as where the browser went)
    with refusing_origin() as elsewhere:
        sandbox = sandbox_factory(relabel={"Create Widget": "Add widget"}, third_party=elsewhere)
        result = Tool(sandbox, tmp_path)("apply", timeout="5")
    assert result.returncode == ExitCode.STEP_FAILED, result.stderr
    # issue 10's page objects say it themselves: the step, the screen, the element and what it offers
    assert "step widgets" in result.stderr and "/Widgets/new" in result.stderr and "Create Widget" in result.stderr
    assert "doctor" in result.stderr and "Traceback" not in result.stderr
    assert f"Inter-Hub's pages also asked for {elsewhere}, another origin" in result.stderr


def test_after_a_new_manifest_version_the_seed_line_to_change_is_named(tool: Tool) -> None:
    assert tool("apply").returncode == ExitCode.OK
    newer = tool("apply", "--new-manifest-version", "1.1")
    assert newer.returncode == ExitCode.OK, newer.stderr
    assert '"version": "1.1"' in newer.stderr and "ops-hub-manifest.draft.json, line" in newer.stderr
    later = tool("plan")
    assert later.returncode == ExitCode.NEEDS_DECISION, later.stderr
    assert "manifest 1.1 is the active one" in later.stderr and "ops-hub-manifest.draft.json, line" in later.stderr


def test_the_vocabulary_write_shows_its_keys(tool: Tool) -> None:
    code, report, stderr = tool.json("plan")
    assert code == ExitCode.OK, stderr
    vocabulary = next(s for s in report["steps"] if s["name"] == "manifest-vocabulary")
    values = vocabulary["planned"][0]["values"]
    assert "ops.incident-board" in [e["key"] for e in values["declaredWidgetTypes"]], values


def test_trace_of_a_missing_run_is_bad_input(tmp_path: Path) -> None:
    result = cli("trace", "runs/nothing", "--no-open", cwd=tmp_path)
    assert result.returncode == ExitCode.BAD_INPUT and "no run" in result.stderr



@pytest.mark.slow
def test_pip_install_outside_the_repository(tmp_path: Path) -> None:
    """`pip install .` into a new venv outside the repo: the command works, seeds from --seeds."""
    import shutil

    source = tmp_path / "clone"  # a copy: the build writes build/ and *.egg-info next to the sources
    for name in ("flows", "pages", "sandbox", "seeds"):
        shutil.copytree(PROJECT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT / name, source / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [str(venv / "bin/pip"), "install", "--quiet", "--disable-pip-version-check", str(source)],
        capture_output=True, text=True, timeout=900, check=False,
    )
    assert install.returncode == 0, install.stderr
    tool = venv / "bin/ihub-bootstrap"
    version = subprocess.run([str(tool), "--version"], capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False)
    assert version.returncode == 0 and version.stdout.startswith("ihub-bootstrap "), version.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("IHUB_")}
    check = subprocess.run(
        [str(tool), "seeds", "check", "--seeds", str(PROJECT / "seeds")],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60, check=False,
    )
    assert check.returncode == 0 and "seeds OK" in check.stdout, check.stderr
    missing = subprocess.run([str(tool), "seeds", "check"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60, check=False)
    assert missing.returncode == ExitCode.BAD_INPUT and "--seeds DIR" in missing.stderr


def test_after_an_interrupt_playwrights_logged_noise_is_not_printed(caplog: pytest.LogCaptureFixture) -> None:
    """Answers to driver calls that the interrupt abandoned come back while the run cleans up,
    and Playwright logs each with a traceback (seen in a Ctrl-C run: "Error occurred in event
    listener ... Cannot find command to respond"): not printed once the run is interrupted,
    printed before (a real error of a listener)."""
    import logging
    import signal

    from flows.command import Terminated, ending_signals

    log = logging.getLogger("playwright")  # where playwright._impl.connection logs it
    with ending_signals(Console(io.StringIO())):
        log.error("Error occurred in event listener (before)")
        try:
            os.kill(os.getpid(), signal.SIGTERM)  # its handler raises Terminated here
        except Terminated:
            pass
        log.error("Error occurred in event listener (after)")
    log.error("Error occurred in event listener (later)")
    logged = [r.getMessage() for r in caplog.records if r.name == "playwright"]
    assert [m.rsplit(" ", 1)[1] for m in logged] == ["(before)", "(later)"]


def test_ctrl_c_reports_what_was_done(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    """Ctrl-C at a terminal signals the whole process group (the tool, its driver, Chromium):
    stdout and summary.json say which records were created, as audit.jsonl does, and nothing
    but the message is printed."""
    import signal

    sandbox = sandbox_factory()
    tool = Tool(sandbox, tmp_path)
    env = tool_env(tmp_path, **tool.settings)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "apply", "--json", "--no-trace"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )

    def ctrl_c(n: int, path: str) -> None:
        if n == 4:  # login, hub, manifest done; this is the vocabulary's save
            os.killpg(proc.pid, signal.SIGINT)

    sandbox.config.faults.on_mutation = ctrl_c
    out, err = proc.communicate(timeout=120)
    sandbox.config.faults.on_mutation = None
    assert proc.returncode == ExitCode.ABORTED, err
    assert "Future exception" not in err and "Traceback" not in err, err
    report = json.loads(out)
    status = {s["name"]: s["status"] for s in report["steps"]}
    assert status["hub"] == "created" and status["manifest"] == "created", status
    assert status["manifest-vocabulary"] == "failed" and status["widgets"] == "skipped", status
    summary = json.loads((Path(report["run_folder"]) / "summary.json").read_text())
    assert {s["name"]: s["status"] for s in summary["steps"]} == status


def test_shell_completion(tmp_path: Path) -> None:
    """argcomplete: what bash and zsh get after `eval "$(register-python-argcomplete ihub-bootstrap)"`."""
    out = tmp_path / "completions"
    line = "ihub-bootstrap plan --det"
    env = {**tool_env(tmp_path), "_ARGCOMPLETE": "1", "COMP_LINE": line, "COMP_POINT": str(len(line)),
           "_ARGCOMPLETE_STDOUT_FILENAME": str(out)}
    tool = Path(sys.executable).parent / "ihub-bootstrap"
    result = subprocess.run([str(tool)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert out.read_text().split() == ["--detailed-exitcode"]
