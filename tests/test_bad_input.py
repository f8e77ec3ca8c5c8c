"""Bad input (issue 6): every malformed seed, setting and flag is refused before any browser
starts, with its documented exit code and a message naming the file and JSON path (seeds) or
the setting (``IHUB_*`` / ``--flag``); no traceback, and no secret value in the output.

Each case runs the CLI in a process of its own, as an operator would, with ``IHUB_BROWSER``
pointing at a shell script that only leaves a marker file behind when it is executed (so "the
browser was started" is observable without a browser), and ``--base`` at a real sandbox whose
request counter must not move (no HTTP reached it); no run folder may be written either.

A dozen representative cases (``PLAIN``) run as ``python -m flows.cli ...``. The others run
the same ``flows.cli.main`` in a fork of a server process that imported the CLI once: a
separate process with the case's environment, working directory and stdio, without paying
~0.5 s of imports each. ``BAD_INPUT_PLAIN_SUBPROCESS=1`` runs every case the plain way. Each
test process has one lane (a sandbox and a fork server) and runs its cases one at a time, so a
request the sandbox sees is always the current case's. ``test_valid_input_does_reach_the_browser``
is the control: with valid input, both ways do start the fake browser.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from flows.errors import ExitCode
from flows.seeds import PROJECT_SEEDS
from sandbox.config import SandboxConfig
from sandbox.server import start_in_thread
from tests.support import ADMIN_EMAIL, ADMIN_PASSWORD, tool_env
from tests.test_seeds import HUB, MANIFEST, WIDGETS, _edit, _set


# Secrets handed to the tool; none of them may ever show up on stdout or stderr.
PASSWORD = "pw-BadInput-5Gx9Tq"
URL_PASSWORD = "pw-InUrl-8Hk3Vd"
STATE_COOKIE = "ss-Cookie-4Rt8Wn"

FAKE_BROWSER = """#!/bin/sh
# Stands in for Chromium: if the tool ever gets as far as starting a browser, this shows it.
touch "{marker}"
exit 1
"""

# Placeholders in a case's arguments, settings and expected words, filled in per run.
#   {tmp}: the case's own directory (also the working directory)   {seeds}: its seed copy
#   {base}: the sandbox's base URL   {hostport}: its host:port
Prepare = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...] = ()  # after `<command> --seeds {seeds}`
    env: dict[str, str | None] = field(default_factory=dict)  # IHUB_<NAME> settings; None: unset
    words: tuple[str, ...] = ()  # all must be in stderr
    prepare: Prepare | None = None  # makes files in {tmp} (the seed copy is {tmp}/seeds)
    command: str | None = "apply"  # None: `args` is the whole command line
    code: ExitCode = ExitCode.BAD_INPUT
    secrets: tuple[str, ...] = ()  # besides the password and cookie given in env

    def __str__(self) -> str:
        return self.id


def seed(file: str, *path_and_value: Any) -> Prepare:
    """Set one value in a seed file of the copy."""
    return lambda tmp: _edit(tmp / "seeds", file, _set(*path_and_value))


def seed_change(file: str, change: Callable[[Any], None]) -> Prepare:
    return lambda tmp: _edit(tmp / "seeds", file, change)


def seed_bytes(file: str, content: bytes) -> Prepare:
    return lambda tmp: (tmp / "seeds" / file).write_bytes(content)


def seed_text_replace(file: str, old: str, new: str) -> Prepare:
    def prepare(tmp: Path) -> None:
        path = tmp / "seeds" / file
        text = path.read_text()
        assert old in text, f"{old!r} not in {path}"
        path.write_text(text.replace(old, new, 1))

    return prepare


def seed_replaced_by(file: str, kind: str) -> Prepare:
    """The seed file's name is taken by something that is no readable file (root reads any mode)."""

    def prepare(tmp: Path) -> None:
        path = tmp / "seeds" / file
        path.unlink()
        if kind == "directory":
            path.mkdir()
        elif kind == "dangling symlink":
            path.symlink_to(tmp / "nowhere" / file)
        else:
            raise AssertionError(kind)

    return prepare


def write(name: str, content: str | bytes, mode: int | None = None) -> Prepare:
    def prepare(tmp: Path) -> None:
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        if mode is not None:
            path.chmod(mode)

    return prepare


def mkdir(name: str) -> Prepare:
    return lambda tmp: (tmp / name).mkdir(parents=True, exist_ok=True)


def at(file: str, path: str) -> str:
    """How a seed problem is named: the file, then the JSON path."""
    return f"{{seeds}}/{file}: {path}: "


def cookie(value: str, *tokens: str) -> dict[str, Any]:
    """A garbage IHUB_SESSION_COOKIE: refused, naming the setting, never repeating the value."""
    return {
        "env": {"session_cookie": value},
        "words": ("IHUB_SESSION_COOKIE", "not a valid cookie value"),
        "secrets": tokens,
    }


CASES: list[Any] = [
    # ------------------------------------------------------------ seeds: JSON itself
    Case("seed: broken JSON", prepare=seed_bytes(WIDGETS, b'{"hub": "ops-hub", "widgets": [,]}'),
         words=(at(WIDGETS, "$") + "invalid JSON at line 1 column",)),
    Case("seed: empty file", prepare=seed_bytes(HUB, b""), words=(at(HUB, "$") + "invalid JSON",)),
    Case("seed: UTF-8 BOM", prepare=lambda tmp: (tmp / "seeds" / HUB).write_bytes(b"\xef\xbb\xbf" + (tmp / "seeds" / HUB).read_bytes()),
         words=(at(HUB, "$") + "invalid JSON", "BOM")),
    Case("seed: not UTF-8", prepare=seed_bytes(MANIFEST, b"\xff\xfe{}"), words=(at(MANIFEST, "$") + "not UTF-8",)),
    Case("seed: duplicate JSON key", prepare=seed_text_replace(HUB, '"slug": "ops-hub",', '"slug": "ops-hub", "slug": "ops",'),
         words=(at(HUB, "$.hub.slug") + "key given more than once",)),
    Case("seed: top level is a list", prepare=seed_bytes(MANIFEST, b"[]"), words=(at(MANIFEST, "$") + "Input should be a valid dictionary",)),
    # ------------------------------------------------------------ seeds: shapes and types
    Case("seed: number for a string", prepare=seed(HUB, "hub", "name", 42), words=(at(HUB, "$.hub.name") + "Input should be a valid string",)),
    Case("seed: version as a number", prepare=seed(MANIFEST, "version", 1.0), words=(at(MANIFEST, "$.version") + "Input should be a valid string",)),
    Case("seed: null for a required field", prepare=seed(HUB, "hub", "domain", None), words=(at(HUB, "$.hub.domain") + "Input should be a valid string",)),
    Case("seed: string for a list", prepare=seed(HUB, "apiConsumer", "keyScopes", "framework:read"),
         words=(at(HUB, "$.apiConsumer.keyScopes") + "Input should be a valid list",)),
    Case("seed: missing field", prepare=seed_change(HUB, lambda d: d["hub"].pop("domain")),
         words=(at(HUB, "$.hub.domain") + "required field is missing",)),
    Case("seed: unknown top-level field", prepare=seed(HUB, "colour", "blue"), words=(at(HUB, "$.colour") + "unknown field",)),
    Case("seed: unknown widget field", prepare=seed(WIDGETS, "widgets", 0, "colour", "blue"),
         words=(at(WIDGETS, "$.widgets[0].colour") + "unknown field",)),
    Case("seed: empty key scopes", prepare=seed(HUB, "apiConsumer", "keyScopes", []),
         words=(at(HUB, "$.apiConsumer.keyScopes") + "List should have at least 1 item",)),
    Case("seed: name too long", prepare=seed(HUB, "hub", "name", "x" * 201), words=(at(HUB, "$.hub.name"), "at most 200",)),
    # ------------------------------------------------------------ seeds: formats
    Case("seed: bad slug", prepare=seed(HUB, "hub", "slug", "Ops_Hub"), words=(at(HUB, "$.hub.slug") + "'Ops_Hub' is not a slug",)),
    Case("seed: bad domain", prepare=seed(HUB, "hub", "domain", "ops coulomb"), words=(at(HUB, "$.hub.domain") + "'ops coulomb' is not a lowercase DNS domain name",)),
    Case("seed: uppercase domain", prepare=seed(HUB, "hub", "domain", "Ops.Coulomb.Social"),
         words=(at(HUB, "$.hub.domain") + "'Ops.Coulomb.Social' is not a lowercase DNS domain name",)),
    Case("seed: bad version", prepare=seed(MANIFEST, "version", "v1"), words=(at(MANIFEST, "$.version") + "'v1' is not a version",)),
    Case("seed: bad vocabulary key", prepare=seed(MANIFEST, "declaredEventTypes", 0, "key", "Incident Opened"),
         words=(at(MANIFEST, "$.declaredEventTypes[0].key") + "'Incident Opened' is not a vocabulary key",)),
    # ------------------------------------------------------------ seeds: across files
    Case("seed: duplicate vocabulary key",
         prepare=seed_change(MANIFEST, lambda d: d["declaredEventTypes"][1].update(key=d["declaredEventTypes"][0]["key"])),
         words=(at(MANIFEST, "$.declaredEventTypes[1].key") + "duplicate key",)),
    Case("seed: undeclared widget type", prepare=seed(WIDGETS, "widgets", 3, "type", "ops.pager"),
         words=(at(WIDGETS, "$.widgets[3].type") + "widget type 'ops.pager' is not declared",)),
    Case("seed: undeclared scope", prepare=seed(HUB, "apiConsumer", "keyScopes", 2, "hub:ops-hub:admin"),
         words=(at(HUB, "$.apiConsumer.keyScopes[2]") + "scope 'hub:ops-hub:admin' is neither",)),
    Case("seed: duplicate widget name", prepare=seed(WIDGETS, "widgets", 1, "name", "open-incidents"),
         words=(at(WIDGETS, "$.widgets[1].name") + "duplicate widget name",)),
    # ------------------------------------------------------------ seeds: files
    Case("seed: file is a directory", prepare=seed_replaced_by(HUB, "directory"), words=(at(HUB, "$") + "cannot read the file",)),
    Case("seed: dangling symlink", prepare=seed_replaced_by(WIDGETS, "dangling symlink"),
         words=(at(WIDGETS, "$") + "cannot read the file",)),
    Case("seed: file missing", prepare=lambda tmp: (tmp / "seeds" / WIDGETS).unlink(),
         words=("{seeds}: $: no seed file matching '*-widgets.seed.json'",)),
    Case("seed: two hub files", prepare=lambda tmp: shutil.copy(tmp / "seeds" / HUB, tmp / "seeds" / "ops-two.hub.json"),
         words=("{seeds}: $: more than one file matches '*.hub.json'", "ops-two.hub.json")),
    Case("seed: directory missing", command=None, args=("apply", "--seeds", "{tmp}/no-seeds"),
         words=("{tmp}/no-seeds: $: seed directory does not exist",)),
    # ------------------------------------------------------------ base URL and transport
    Case("no base URL", env={"base": None}, words=("no Inter-Hub base URL", "IHUB_BASE / --base")),
    Case("base: not a URL", env={"base": "hub.example.invalid"}, words=("IHUB_BASE / --base", "not an http(s) URL")),
    Case("base: ftp scheme", env={"base": "ftp://127.0.0.1"}, words=("IHUB_BASE / --base", "not an http(s) URL")),
    Case("base: with a path", args=("--base", "{base}/admin"), words=("IHUB_BASE / --base", "without a path")),
    Case("base: with a query", env={"base": "{base}?hub=ops"}, words=("IHUB_BASE / --base", "without a path")),
    Case("base: with credentials", env={"base": f"http://admin:{URL_PASSWORD}@{{hostport}}"},
         words=("IHUB_BASE / --base", "carries credentials"), secrets=(URL_PASSWORD,)),
    Case("base: port out of range", env={"base": "http://127.0.0.1:99999"}, words=("IHUB_BASE / --base", "Port out of range")),
    Case("base: space in host", env={"base": "https://hub example.invalid"}, words=("IHUB_BASE / --base", "not a host name")),
    Case("base: plain http to a remote host", env={"base": "http://hub.example.invalid"},
         words=("refusing plain http:// to hub.example.invalid", "IHUB_BASE / --base", "--allow-insecure-http")),
    Case("base: remote host without --yes", env={"base": "https://hub.example.invalid"},
         words=("https://hub.example.invalid is not this machine", "--yes")),
    Case("allow-insecure-http not a boolean", env={"allow_insecure_http": "maybe"},
         words=("IHUB_ALLOW_INSECURE_HTTP / --allow-insecure-http", "boolean")),
    # ------------------------------------------------------------ logging in
    Case("no way to log in", env={"email": None, "password": None}, words=("no way to log in", "IHUB_EMAIL and IHUB_PASSWORD not set")),
    Case("email without password", env={"password": None}, words=("no way to log in", "(IHUB_PASSWORD not set)")),
    Case("password without email", env={"email": None}, words=("no way to log in", "(IHUB_EMAIL not set)")),
    Case("email not an address", env={"email": "admin"}, words=("IHUB_EMAIL:", "not an email address")),
    # a byte that is no UTF-8 in the environment (Python keeps it as a lone surrogate): it was a traceback
    Case("password: not UTF-8", env={"password": "pa\udce9ssword-Xq7Lm2"}, words=("IHUB_PASSWORD:", "not valid UTF-8")),
    Case("cookie: space", **cookie("ckA-Sp4ce7Rq sfx-9Lm2Kd", "ckA-Sp4ce7Rq", "sfx-9Lm2Kd")),
    Case("cookie: name=value; attributes", **cookie("SESSION=ckB-Semi3Xw; Path=/", "ckB-Semi3Xw")),
    Case("cookie: newline", **cookie("ckC-Nl8QaPe\nsfx-Nl2ZpRt", "ckC-Nl8QaPe", "sfx-Nl2ZpRt")),
    Case("cookie: non-ASCII", **cookie("ckD-Umlaut4Hf-ä-sfx7TgQw", "ckD-Umlaut4Hf", "sfx7TgQw")),
    Case("cookie: comma", **cookie("ckE-Comma6Jd,sfx3WpXe", "ckE-Comma6Jd", "sfx3WpXe")),
    Case("cookie: backslash", **cookie("ckF-Bs2YcVr\\sfx5NbLm", "ckF-Bs2YcVr", "sfx5NbLm")),
    Case("cookie: garbage in .env", prepare=write(".env", 'IHUB_SESSION_COOKIE="ckG-DotEnv9Ua ;sfx1DqHs"\n'),
         words=("IHUB_SESSION_COOKIE", "not a valid cookie value"), secrets=("ckG-DotEnv9Ua", "sfx1DqHs")),
    Case("cookie name not a token", args=("--session-cookie-name", "MY SESSION"),
         words=("IHUB_SESSION_COOKIE_NAME / --session-cookie-name", "not a cookie name")),
    Case("storage state: missing", args=("--storage-state", "{tmp}/none.json"),
         words=("storage-state file {tmp}/none.json does not exist", "IHUB_STORAGE_STATE / --storage-state")),
    Case("storage state: a directory", env={"storage_state": "{tmp}/state"}, prepare=mkdir("state"),
         words=("storage-state file {tmp}/state is not a file", "IHUB_STORAGE_STATE")),
    Case("storage state: not JSON", args=("--storage-state", "{tmp}/state.json"),
         prepare=write("state.json", f"SESSION={STATE_COOKIE}\n", 0o600), secrets=(STATE_COOKIE,),
         words=("storage-state file {tmp}/state.json is not JSON", "IHUB_STORAGE_STATE / --storage-state")),
    Case("storage state: no cookies list", args=("--storage-state", "{tmp}/state.json"),
         prepare=write("state.json", json.dumps([{"name": "SESSION", "value": STATE_COOKIE}]), 0o600), secrets=(STATE_COOKIE,),
         words=("storage-state file {tmp}/state.json is not a Playwright storage state", "$.cookies", "--storage-state")),
    Case("storage state: not UTF-8", args=("--storage-state", "{tmp}/state.json"), prepare=write("state.json", b"\xff" * 8, 0o600),
         words=("storage-state file {tmp}/state.json is not UTF-8", "--storage-state")),
    # ------------------------------------------------------------ key sink
    Case("key sink: unknown kind", args=("--key-sink", "s3://keys/ops-hub"), words=("unknown key sink", "--key-sink / IHUB_KEY_SINK")),
    Case("key sink: unknown kind from env", env={"key_sink": "keyring:ops"}, words=("unknown key sink", "IHUB_KEY_SINK")),
    Case("key sink: file without a path", args=("--key-sink", "file:"), words=("unknown key sink", "--key-sink")),
    Case("key sink: a directory", args=("--key-sink", "file:{tmp}/keys"), prepare=mkdir("keys"),
         words=("the key sink {tmp}/keys is a directory", "--key-sink")),
    # a sink the tool could not read back is refused before any key is generated (it was found
    # only when the new key was stored: the key was lost), and never rewritten
    Case("key sink: hand-edited file", args=("--key-sink", "file:{tmp}/keys.json"),
         prepare=write("keys.json", '{"keys": {"prod": {"api_key": "PRODKEY999-x"}}, "note": "mine"}', 0o600),
         words=("the key sink {tmp}/keys.json does not hold what this tool writes ($.keys is not a list)", "move the file away")),
    Case("key sink: not JSON", args=("--key-sink", "file:{tmp}/keys.json"), prepare=write("keys.json", "{ hand edited, oops", 0o600),
         words=("the key sink {tmp}/keys.json cannot be read: JSONDecodeError",)),
    Case("plan --out: over a key file", command=None, args=("plan", "--seeds", "{tmp}/seeds", "--out", "{tmp}/keys.json"),
         prepare=write("keys.json", '{"format": 2, "keys": []}', 0o600),
         words=("refusing to overwrite {tmp}/keys.json: it is not a plan file", "--out")),
    Case("key sink: under a file", args=("--key-sink", "file:{tmp}/afile/ops.key.json"), prepare=write("afile", "x"),
         words=("{tmp}/afile", "--key-sink")),
    # ------------------------------------------------------------ other settings and flags
    Case("bad --new-manifest-version", args=("--new-manifest-version", "v2"),
         words=("'v2' is not a", "version like 1.1", "--new-manifest-version")),
    Case("plan: bad --new-manifest-version", command="plan", args=("--new-manifest-version", "1"),
         words=("'1' is not a", "--new-manifest-version")),
    Case("timeout zero", env={"timeout": "0"}, words=("IHUB_TIMEOUT / --timeout", "greater than 0")),
    Case("timeout negative", env={"timeout": "-5"}, words=("IHUB_TIMEOUT / --timeout", "greater than 0")),
    Case("timeout too long", args=("--timeout", "601"), words=("IHUB_TIMEOUT / --timeout", "less than or equal to 600")),
    Case("timeout NaN", args=("--timeout", "nan"), words=("IHUB_TIMEOUT / --timeout", "finite number")),
    Case("timeout not a number (env)", env={"timeout": "soon"}, words=("IHUB_TIMEOUT / --timeout", "valid number")),
    Case("timeout not a number (flag)", args=("--timeout", "soon"), words=("argument --timeout", "invalid float value")),
    Case("timeout negative in .env", prepare=write(".env", "IHUB_TIMEOUT=-1\n"), words=("IHUB_TIMEOUT / --timeout",)),
    Case("runs dir is a file", env={"runs_dir": "{tmp}/afile"}, prepare=write("afile", "x"),
         words=("IHUB_RUNS_DIR / --runs-dir", "not a directory")),
    Case("runs dir under a file", args=("--runs-dir", "{tmp}/afile/runs"), prepare=write("afile", "x"),
         words=("IHUB_RUNS_DIR / --runs-dir", "{tmp}/afile is not a directory")),
    Case("env file is a directory", args=("--env-file", "{tmp}/conf"), prepare=mkdir("conf"),
         words=("settings file {tmp}/conf is a directory", "--env-file")),
    Case("env file not UTF-8", args=("--env-file", "{tmp}/bad.env"), prepare=write("bad.env", b"IHUB_BASE=\xff\xfe\n"),
         words=("settings file {tmp}/bad.env is not UTF-8", "--env-file")),
    Case("env file missing", args=("--env-file", "{tmp}/prod.env"), words=("{tmp}/prod.env", "--env-file")),
    Case("browser: does not exist", env={"browser": "{tmp}/no-chromium"}, words=("browser {tmp}/no-chromium does not exist", "IHUB_BROWSER")),
    Case("browser: a directory", env={"browser": "{tmp}"}, words=("IHUB_BROWSER",)),
    Case("browser: not executable", env={"browser": "{tmp}/chromium.txt"}, prepare=write("chromium.txt", "#!/bin/sh\n", 0o644),
         words=("IHUB_BROWSER",)),
    Case("unknown option", args=("--frobnicate",), words=("unrecognized arguments: --frobnicate",)),
    Case("no command", command=None, args=(), words=("required: COMMAND",)),
    Case("unknown command", command=None, args=("deploy",), words=("invalid choice: 'deploy'",)),
    Case("slow-mo not a number", args=("--slow-mo", "fast"), words=("argument --slow-mo", "'fast'")),
    Case("slow-mo negative", args=("--slow-mo", "-5"), words=("argument --slow-mo", "'-5'")),
]


def _case_id(case: Any) -> str:
    return (case.values[0] if hasattr(case, "values") else case).id  # a Case, or a pytest.param of one


# ---------------------------------------------------------------- running the cases


@dataclass
class Outcome:
    argv: list[str]
    code: int
    stdout: str
    stderr: str
    browser_started: bool
    requests: int  # HTTP requests that reached the sandbox during the run
    run_folders: list[str]
    secrets: list[str]
    fill: Callable[[str], str]


# A fork server: imports the CLI once, then runs each job in a fork of itself, a process of its
# own with the job's environment, working directory, stdin (/dev/null), stdout and stderr files,
# exactly what `python -m flows.cli ARGV` does (``sys.exit(main())``) minus ~0.4 s of imports.
FORK_SERVER = r"""
import json, os, signal, sys, traceback
import flows.apply, flows.cli  # noqa: F401  (every run forks from here)

for line in sys.stdin:
    job = json.loads(line)
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            signal.alarm(60)  # a run that waits for something ends as a failure, not a hang
            os.chdir(job["cwd"])
            os.environ.clear()
            os.environ.update(job["env"])
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(os.open(job["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 1)
            os.dup2(os.open(job["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 2)
            sys.argv = ["flows.cli", *job["argv"]]
            try:
                code = flows.cli.main(job["argv"])
            except SystemExit as exc:  # what the interpreter makes of sys.exit(...)
                if exc.code is None or isinstance(exc.code, int):
                    code = exc.code or 0
                else:
                    print(exc.code, file=sys.stderr)
                    code = 1
            except BaseException:
                traceback.print_exc()
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(int(code))
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status), flush=True)
"""

# Run with plain `python -m flows.cli` (a fresh interpreter each) instead of the fork server:
# these, and every case when BAD_INPUT_PLAIN_SUBPROCESS=1 is set.
PLAIN = {
    "seed: broken JSON",
    "seed: undeclared scope",
    "seed: dangling symlink",
    "no base URL",
    "base: plain http to a remote host",
    "email without password",
    "cookie: newline",
    "storage state: not JSON",
    "key sink: unknown kind",
    "timeout negative",
    "unknown option",
    "browser: does not exist",
}
ALL_PLAIN = os.environ.get("BAD_INPUT_PLAIN_SUBPROCESS") == "1"


class Lane:
    """One sandbox and one fork server; runs its cases one at a time, so each request the
    sandbox sees is the current case's."""

    def __init__(self, root: Path):
        self.sandbox = start_in_thread(SandboxConfig(port=0, db=str(root / "sandbox.sqlite3"), admin_password=ADMIN_PASSWORD))
        self.server = subprocess.Popen(
            [sys.executable, "-c", FORK_SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=tool_env(root),
            cwd=root,
        )

    def run(self, argv: list[str], env: dict[str, str], cwd: Path, plain: bool) -> tuple[int, str, str]:
        if plain:
            result = subprocess.run(
                [sys.executable, "-m", "flows.cli", *argv],
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,  # no terminal: nothing may wait for an answer
                env=env,
                cwd=cwd,
                timeout=60,
                check=False,
            )
            return result.returncode, result.stdout, result.stderr
        assert self.server.stdin is not None and self.server.stdout is not None
        out, err = cwd / ".stdout", cwd / ".stderr"
        job = {"argv": argv, "env": env, "cwd": str(cwd), "stdout": str(out), "stderr": str(err)}
        if self.server.poll() is not None:
            raise RuntimeError(f"the fork server has exited (code {self.server.returncode}): no case can run on this lane")
        self.server.stdin.write(json.dumps(job) + "\n")
        self.server.stdin.flush()
        answer = self.server.stdout.readline()
        if not answer.strip():
            raise RuntimeError(f"the fork server ended while running {argv}: exit {self.server.wait(timeout=10)}")
        code = int(answer)
        stdout, stderr = out.read_text(errors="replace"), err.read_text(errors="replace")
        out.unlink()
        err.unlink()
        return code, stdout, stderr

    def close(self) -> None:
        if self.server.stdin is not None:
            self.server.stdin.close()
        self.server.wait(timeout=30)
        self.sandbox.stop()


def _run(case: Case, tmp: Path, lane: Lane, *, plain: bool) -> Outcome:
    sandbox = lane.sandbox
    seeds = tmp / "seeds"
    shutil.copytree(PROJECT_SEEDS, seeds, ignore=shutil.ignore_patterns("schema"))
    marker = tmp / "BROWSER-STARTED"
    browser = tmp / "fake-chromium"
    browser.write_text(FAKE_BROWSER.format(marker=marker))
    browser.chmod(0o755)
    hostport = sandbox.base_url.split("://", 1)[1]

    def fill(text: str) -> str:
        return (
            text.replace("{tmp}", str(tmp))
            .replace("{seeds}", str(seeds))
            .replace("{base}", sandbox.base_url)
            .replace("{hostport}", hostport)
        )

    if case.prepare is not None:
        case.prepare(tmp)
    settings: dict[str, str | None] = {
        "base": "{base}",
        "email": ADMIN_EMAIL,
        "password": PASSWORD,
        "runs_dir": "{tmp}/runs",
        "key_sink": "file:{tmp}/keys/ops-hub.key.json",
        "browser": str(browser),
        **case.env,
    }
    given = {k: fill(v) for k, v in settings.items() if v is not None}
    secrets = [v for k, v in given.items() if k in ("password", "session_cookie")] + list(case.secrets)
    argv = [case.command, "--seeds", str(seeds)] if case.command else []
    argv += [fill(a) for a in case.args]
    before = sandbox.config.faults.requests_seen
    code, stdout, stderr = lane.run(argv, tool_env(tmp, **given), tmp, plain)
    runs = tmp / "runs"
    return Outcome(
        argv=argv,
        code=code,
        stdout=stdout,
        stderr=stderr,
        browser_started=marker.exists(),
        requests=sandbox.config.faults.requests_seen - before,
        run_folders=sorted(p.name for p in runs.iterdir()) if runs.is_dir() else [],
        secrets=secrets,
        fill=fill,
    )


@pytest.fixture(scope="session")
def lane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lane]:
    """One sandbox and one fork server per test process, for every case it runs, one after
    another (each xdist worker runs some of the cases)."""
    lane = Lane(tmp_path_factory.mktemp("bad-input"))
    try:
        yield lane
    finally:
        lane.close()


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_refused_before_any_browser(case: Case, lane: Lane, tmp_path: Path) -> None:
    (tmp_path / "case").mkdir()
    out = _run(case, tmp_path / "case", lane, plain=ALL_PLAIN or case.id in PLAIN)
    shown = f"$ ihub-bootstrap {' '.join(out.argv)}\nexit {out.code}\n--- stdout\n{out.stdout}--- stderr\n{out.stderr}"
    assert out.code == case.code, shown
    for words in case.words:
        assert out.fill(words) in out.stderr, f"expected {out.fill(words)!r} in stderr\n{shown}"
    assert "Traceback" not in out.stderr + out.stdout, shown
    leaked = [s for s in out.secrets if s in out.stdout or s in out.stderr]
    assert not leaked, f"secret value(s) {leaked} in the output\n{shown}"
    assert not out.browser_started, f"the browser was started\n{shown}"
    assert out.requests == 0, f"{out.requests} request(s) reached the sandbox\n{shown}"
    assert not out.run_folders, f"a run folder was written: {out.run_folders}\n{shown}"


def test_there_are_enough_cases() -> None:
    ids = [_case_id(c) for c in CASES]
    assert len(ids) >= 30
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert PLAIN <= set(ids), PLAIN - set(ids)


@pytest.mark.parametrize("plain", [True, False], ids=["python -m flows.cli", "fork server"])
def test_valid_input_does_reach_the_browser(tmp_path: Path, plain: bool) -> None:
    """The control: with nothing wrong, the same harness does start the (fake) browser, so a
    missing marker above means "refused before", not "the marker never works"; the sandbox
    is still not reached (the fake browser does not browse)."""
    lane = Lane(tmp_path)
    try:
        (tmp_path / "case").mkdir()
        out = _run(Case("control"), tmp_path / "case", lane, plain=plain)
        assert out.browser_started, out.stderr
        assert out.code == ExitCode.STEP_FAILED and "cannot start Chromium" in out.stderr, out.stderr
        assert "Traceback" not in out.stderr and PASSWORD not in out.stderr + out.stdout
        assert out.requests == 0
        # and the request counter does count: one request from here is one request seen
        httpx.get(f"{lane.sandbox.base_url}/NewSession", timeout=10)
        assert lane.sandbox.config.faults.requests_seen == 1
    finally:
        lane.close()
