"""The README is executable: its ```sh blocks are run, in order, as a new operator would run
them, in a fresh directory holding only a copy of ``.env.example`` and ``seeds/`` (a clone's
working directory), against a sandbox on 127.0.0.1. ``.env`` is the example copied unchanged
except the base and the credentials. Every instruction line must be known here (so a README
change shows up) and must do what the README says (its exit code, its output).

``https://hub.coulomb.social`` in an instruction is replaced by the sandbox's address: nothing
here ever targets a host other than this machine.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from flows.errors import ExitCode
from sandbox.server import RunningSandbox
from tests.support import ADMIN_EMAIL, ADMIN_PASSWORD, PROJECT

README = PROJECT / "README.md"
TOOL = Path(sys.executable).parent / "ihub-bootstrap"
PRODUCTION = "https://hub.coulomb.social"


def instructions(text: str) -> Iterator[tuple[int, str]]:
    """(README line number, command) for every line of every ```sh block, comments removed."""
    inside = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith("```"):
            inside = line.strip() == "```sh" if not inside else False
            continue
        if inside:
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command and not command.startswith("#"):
                yield number, command


class Newcomer:
    """A working directory like a fresh clone's, and the commands run there as a shell would."""

    def __init__(self, tmp: Path, sandbox: RunningSandbox):
        self.dir = tmp / "clone"
        self.dir.mkdir()
        shutil.copy(PROJECT / ".env.example", self.dir / ".env.example")
        shutil.copytree(PROJECT / "seeds", self.dir / "seeds", ignore=shutil.ignore_patterns("schema"))
        self.base = sandbox.base_url
        home = tmp / "home"
        home.mkdir()
        # The operator's shell: no IHUB_* settings, a home of its own (the default key sink is there).
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("IHUB_", "SANDBOX_"))}
        self.env.update(HOME=str(home), XDG_DATA_HOME=str(home / ".local/share"), XDG_RUNTIME_DIR=str(tmp / "run"))
        if "IHUB_BROWSER" in os.environ:
            self.env["IHUB_BROWSER"] = os.environ["IHUB_BROWSER"]
        self.env.pop("DISPLAY", None)
        self.env.pop("WAYLAND_DISPLAY", None)
        self.env["PATH"] = f"{TOOL.parent}{os.pathsep}{self.env.get('PATH', '')}"

    def shell(self, command: str) -> str:
        """The instruction as it will run here: the venv's tool, the sandbox instead of production."""
        command = command.replace(".venv/bin/ihub-bootstrap", shlex.quote(str(TOOL)))
        command = command.replace(PRODUCTION, self.base)
        if "runs/<run>" in command:
            # the trace of the apply that did the work (a later saved-plan apply has little to show)
            run = self.last_run(first=" trace " in command)
            command = command.replace("runs/<run>", shlex.quote(str(run)))
        return command

    def run(self, command: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", self.shell(command)], cwd=self.dir, env=self.env, capture_output=True, text=True,
            timeout=timeout, check=False,
        )

    def start(self, command: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            # `exec` takes no VAR=value words before the command: they go to env(1)
            ["bash", "-c", "exec env " + self.shell(command)], cwd=self.dir, env=self.env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )

    def last_run(self, command: str = "apply", *, first: bool = False) -> Path:
        runs = sorted((self.dir / "runs").iterdir())
        return next(r for r in (runs if first else reversed(runs)) if f'"command":"{command}"' in (r / "audit.jsonl").read_text().replace(" ", ""))

    def fill_env(self) -> None:
        """What the README asks of the newcomer: the base URL and one way to log in; nothing else."""
        env_file = self.dir / ".env"
        values = {"IHUB_BASE": self.base, "IHUB_EMAIL": ADMIN_EMAIL, "IHUB_PASSWORD": ADMIN_PASSWORD}
        lines = [
            f"{line.split('=', 1)[0]}={values[line.split('=', 1)[0]]}" if line.split("=", 1)[0] in values else line
            for line in env_file.read_text().splitlines()
        ]
        env_file.write_text("\n".join(lines) + "\n")


def first_line(process: subprocess.Popen[str], pattern: str, timeout_lines: int = 50) -> str:
    assert process.stdout is not None
    for _ in range(timeout_lines):
        line = process.stdout.readline()
        if not line:
            break
        if match := re.search(pattern, line):
            return match.group(0)
    process.kill()
    raise AssertionError(f"no {pattern!r} on stdout; stderr: {process.stderr.read() if process.stderr else ''}")


def stop(process: subprocess.Popen[str]) -> None:
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise AssertionError("Ctrl-C did not end it") from None


def test_the_readme_instructions_hold(sandbox: RunningSandbox, tmp_path: Path, page: Page) -> None:
    me = Newcomer(tmp_path, sandbox)
    done: list[str] = []
    for number, command in instructions(README.read_text(encoding="utf-8")):
        where = f"README.md line {number}: {command}"
        words = command.replace(".venv/bin/", "").split()
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # VAR=value before the command
            words = words[1:]
        if words[0] == "make":
            continue  # `make test` is this suite; `make rehearse` is tested by test_rehearse_command
        if words[0] in ("pip", "pipx"):
            continue  # tests/test_newcomer.py::test_pip_install_outside_the_repository installs into a new venv
        if words[0] == "cp":
            result = me.run(command)
            assert result.returncode == 0, f"{where}\n{result.stderr}"
            assert (me.dir / ".env").stat().st_mode & 0o777 == 0o600, where
            me.fill_env()
        elif "--via" in words and words[words.index("--via") + 1] == "api":
            # the newcomer's Inter-Hub has the gate closed and no operator key in .env: the API
            # path says so (3: no operator credentials; 12: the live API lacks what the run needs)
            result = me.run(command)
            assert result.returncode in (3, 12), f"{where}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
            assert "Traceback" not in result.stderr, where
        elif words[:3] == ["ihub-bootstrap", "seeds", "check"]:
            result = me.run(command)
            assert result.returncode == 0 and "seeds OK" in result.stdout, f"{where}\n{result.stderr}"
        elif words[:2] == ["ihub-bootstrap", "plan"]:
            result = me.run(command)
            pending = "apply" not in done
            want = 2 if "--detailed-exitcode" in words and pending else 0
            assert result.returncode == want, f"{where}: exit {result.returncode}\n{result.stderr}"
            if "--json" in words:
                report = json.loads(result.stdout)
                assert report["schema_version"] == 1 and report["command"] == "plan", where
        elif words[:2] == ["ihub-bootstrap", "apply"]:
            result = me.run(command)
            assert result.returncode == 0, f"{where}: exit {result.returncode}\n{result.stderr}"
            assert "verification: 5/5 checks passed" in result.stdout, where
        elif words[:2] == ["ihub-bootstrap", "show"]:
            result = me.run(command)
            assert result.returncode == 0 and words[2] in result.stdout, f"{where}: exit {result.returncode}\n{result.stderr}"
        elif words[:2] == ["ihub-bootstrap", "ui-texts"]:
            result = me.run(command)
            assert result.returncode == 0, f"{where}: exit {result.returncode}\n{result.stderr}"
            if ">" in words:
                assert "[" in (me.dir / words[words.index(">") + 1]).read_text(), where
        elif words[:2] == ["ihub-bootstrap", "verify"]:
            result = me.run(command)
            assert result.returncode == 0, f"{where}: exit {result.returncode}\n{result.stderr}"
        elif words[:2] == ["ihub-bootstrap", "doctor"]:
            result = me.run(command)
            assert result.returncode == 0, f"{where}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        elif words[:2] == ["ihub-bootstrap", "probe"]:
            result = me.run(command)
            assert result.returncode == 10, f"{where}: the sandbox's gate is closed\n{result.stdout}\n{result.stderr}"
        elif words[:2] == ["ihub-bootstrap", "sql"]:
            result = me.run(command)
            assert result.returncode == 0 and (me.dir / "ops-hub-bootstrap.sql").is_file(), f"{where}\n{result.stderr}"
        elif words[:3] == ["ihub-bootstrap", "audit", "scan"]:
            result = me.run(command)
            assert result.returncode == 0 and result.stdout.startswith("clean:"), f"{where}\n{result.stdout}{result.stderr}"
        elif words[:2] == ["ihub-bootstrap", "trace"]:
            viewer = me.start(command)  # no display here: it prints the viewer's address and serves
            try:
                url = first_line(viewer, r"http://127\.0\.0\.1:\d+\S*")
                page.goto(url)
                # the run's actions are listed (the hubs index it opened, the hub form it filled)
                expect(page.get_by_text("Hubs", exact=False).first).to_be_visible(timeout=30_000)
                expect(page.get_by_text(re.compile(r"Navigate to|Goto|Fill|Click")).first).to_be_visible()
            finally:
                stop(viewer)
            assert viewer.returncode == 0, f"{where}: exit {viewer.returncode}"
        elif words[:2] == ["ihub-bootstrap", "sandbox"]:
            served = me.start(command)
            try:
                url = first_line(served, r"http://127\.0\.0\.1:\d+")
                assert httpx.get(f"{url}/NewSession").status_code == 200, where
            finally:
                stop(served)
            assert served.returncode == ExitCode.ABORTED, f"{where}: Ctrl-C, exit {served.returncode} (its --help says 9)"
            assert not list(me.dir.glob("*.sqlite3")), f"{where}: a database was left in the working directory"
        elif words[:2] == ["ihub-bootstrap", "login"]:
            result = me.run(command)
            assert result.returncode == 3 and "no display" in result.stderr, f"{where}\n{result.stderr}"
            assert "IHUB_SESSION_COOKIE" in result.stderr and "Traceback" not in result.stderr, where
        elif words[:2] == ["ihub-bootstrap", "--version"]:
            result = me.run(command)
            assert result.returncode == 0 and result.stdout.startswith("ihub-bootstrap "), where
        else:
            raise AssertionError(f"{where}: this instruction is not covered by the README test; add it here")
        done.append(words[1] if len(words) > 1 else words[0])
    # What the README must keep telling a newcomer (a README edit that drops one fails here).
    for expected in ("seeds", "plan", "apply", "verify", "doctor", "probe", "sql", "audit", "trace", "sandbox", "login"):
        assert expected in done, f"the README no longer shows how to run {expected!r}"


def test_the_readme_names_every_command_and_exit_code() -> None:
    from flows.cli import build_parser

    text = README.read_text(encoding="utf-8")
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    missing = [name for name in commands if f"ihub-bootstrap {name}" not in text and f"`{name}`" not in text]
    assert not missing, f"commands the README does not mention: {missing}"
    for code in ExitCode:
        assert f"| {int(code)} |" in text, f"exit code {int(code)} is not in the README's table"


def test_the_readme_quoting_example_reads_as_it_says(tmp_path: Path) -> None:
    """The README's example of a quoted .env value is read by the tool as the password it names."""
    from flows.settings import load_settings

    text = " ".join(README.read_text(encoding="utf-8").split())
    match = re.search(r"\(`(IHUB_PASSWORD=\"[^`]*\")` is the password `([^`]*)`\)", text)
    assert match, "the README no longer shows how to quote a value in .env"
    env_file = tmp_path / ".env"
    env_file.write_text(match.group(1) + "\n", encoding="utf-8")
    settings = load_settings(env_file)
    assert settings.password is not None and settings.password.get_secret_value() == match.group(2)
