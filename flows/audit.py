"""The run folder: what an auditor gets, and the guarantee that it holds no secret.

``runs/<UTC timestamp>-<short id>/`` holds

- ``audit.jsonl``: one JSON object per event (run start, each step, verification, run end),
  validated by the models below;
- ``trace.zip``: the Playwright trace of the run (opens in ``playwright show-trace``), merged
  from its chunks (the key reveal is left out of the recording) and scrubbed;
- ``summary.json``; on failure ``failure.png`` (the key field masked) and ``failure.txt``.

Before the folder is final every artifact is scrubbed of the run's known secrets and of
sensitive headers (JSON-aware where the format is JSON), then a scanner reads every file,
zip entries decompressed, for every known secret in its plain, URL- and base64-encoded
forms. A hit fails the run (exit code 6) and names the file, never the secret.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets as _random
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from flows.errors import ExitCode
from flows.known_secrets import MARKER, KnownSecrets, encoded_forms

SENSITIVE_HEADERS = {"cookie", "set-cookie", "authorization", "proxy-authorization"}
JSON_LINES = (".trace", ".network", ".stacks")
# Test-only: leave artifacts unscrubbed, to prove that the scanner finds what scrubbing removes.
UNSAFE_NO_SCRUB_ENV = "IHUB_UNSAFE_NO_SCRUB_FOR_TESTS"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def tool_version() -> str:
    try:
        return metadata.version("ihub-bootstrap")
    except metadata.PackageNotFoundError:
        return "unknown"


def operator_name(configured: str | None) -> str:
    if configured:
        return configured
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "unknown")


# ---------------------------------------------------------------- audit.jsonl events


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time: str = Field(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
    run_id: str


class SeedFileDigest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class RunStart(_Event):
    event: Literal["run-start"]
    command: str
    tool_version: str
    operator: str
    target: str
    session_mode: str
    seeds: list[SeedFileDigest]
    options: dict[str, Any]


class StepEvent(_Event):
    event: Literal["step"]
    phase: Literal["plan", "apply"]  # apply observes everything first (the plan), then acts
    step: str
    observed: str  # what the step found
    decision: str  # create / update / none / drift / blocked
    status: str  # the result: created, unchanged, skipped, failed ...
    detail: str
    writes: list[dict[str, Any]]  # what was written (or, in plan, would be), never a secret
    ids: dict[str, str]
    url: str  # the page the step ended on
    started_at: str
    duration_ms: int
    diffs: list[dict[str, Any]] = []
    error: str | None = None


class VerificationEvent(_Event):
    event: Literal["verification"]
    checks: list[dict[str, Any]]
    ok: bool


class ApiRequestEvent(_Event):
    """One request of the v2 API path (instead of a browser trace): never a secret, bodies scrubbed."""

    event: Literal["api-request"]
    step: str
    method: str
    path: str
    status: int | None  # None: no answer (connection failed)
    duration_ms: int
    body: Any = None  # the request's JSON body, secrets scrubbed
    error: str | None = None


class RunEnd(_Event):
    event: Literal["run-end"]
    exit_code: int
    changes: int
    error: str | None = None
    duration_ms: int


AuditEvent = Annotated[RunStart | StepEvent | VerificationEvent | ApiRequestEvent | RunEnd, Field(discriminator="event")]
AUDIT_EVENT = TypeAdapter(AuditEvent)


def read_audit_log(path: Path) -> list[RunStart | StepEvent | VerificationEvent | ApiRequestEvent | RunEnd]:
    """Parse and validate every line of an ``audit.jsonl``."""
    return [AUDIT_EVENT.validate_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


# ---------------------------------------------------------------- scrubbing


def _scrub_json(value: Any, forms: list[str]) -> Any:
    if isinstance(value, str):
        for form in forms:
            if form in value:
                value = value.replace(form, MARKER)
        return value
    if isinstance(value, list):
        return [_scrub_json(v, forms) for v in value]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "cookies" and isinstance(item, list):
                out[key] = [{**c, "value": MARKER} if isinstance(c, dict) and "value" in c else c for c in item]
                continue
            out[key] = _scrub_json(item, forms)
        name = out.get("name")
        if isinstance(name, str) and name.lower() in SENSITIVE_HEADERS and "value" in out:
            out["value"] = MARKER
        return out
    return value


# Lines without any of these (lower-cased) and without a known secret are left as they are:
# nothing in them to scrub, so they are not parsed and rewritten (most of a trace).
_SENSITIVE_MARKS = ("cookie", "authorization")


def scrub_json_lines(data: bytes, forms: list[str]) -> bytes:
    lines = []
    for raw in data.decode("utf-8").splitlines():
        if not raw.strip():
            continue
        lowered = raw.lower()
        if not any(mark in lowered for mark in _SENSITIVE_MARKS) and not any(form in raw for form in forms):
            lines.append(raw)
            continue
        lines.append(json.dumps(_scrub_json(json.loads(raw), forms), ensure_ascii=False, separators=(",", ":")))
    return "".join(line + "\n" for line in lines).encode("utf-8")


def scrub_bytes(data: bytes, forms: list[str]) -> bytes:
    marker = MARKER.encode()
    for form in forms:
        data = data.replace(form.encode(), marker)
    return data


def scrub_entry(name: str, data: bytes, forms: list[str]) -> bytes:
    if name.endswith(JSON_LINES):
        try:
            return scrub_json_lines(data, forms)
        except (UnicodeDecodeError, json.JSONDecodeError):
            pass  # not what Playwright writes; fall back to byte replacement
    return scrub_bytes(data, forms)


def merge_trace(chunks: list[Path], out: Path, secrets: KnownSecrets | None) -> None:
    """One trace zip from several chunk zips; every entry scrubbed when ``secrets`` is given.

    Each chunk's ``trace.trace``/``.network``/``.stacks`` become ``<n>-trace.*``: the trace
    viewer loads every ``*.trace`` of a zip, so the chunks show as consecutive recordings.
    """
    forms = secrets.forms() if secrets is not None else []
    seen: set[str] = set()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for n, chunk in enumerate(chunks):
            if not chunk.is_file():
                continue
            with zipfile.ZipFile(chunk) as source:
                for name in source.namelist():
                    data = source.read(name)
                    target_name = f"{n}-{name}" if name.startswith("trace.") else name
                    if target_name in seen:
                        continue
                    seen.add(target_name)
                    if secrets is not None:
                        data = scrub_entry(name, data, forms)
                    # screenshots are JPEG already: compressing them again only costs time
                    kind = zipfile.ZIP_STORED if name.endswith((".jpeg", ".jpg", ".png")) else zipfile.ZIP_DEFLATED
                    target.writestr(target_name, data, compress_type=kind)


# ---------------------------------------------------------------- scanning


@dataclass(frozen=True)
class Leak:
    file: str  # relative to the run folder; "trace.zip!0-trace.network" for a zip entry
    what: str  # "known secret #2" (by length, never the value) or "unscrubbed Cookie header"

    def __str__(self) -> str:
        return f"{self.file} ({self.what})"


def _artifacts(folder: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        rel = str(path.relative_to(folder))
        data = path.read_bytes()
        yield rel, data
        if zipfile.is_zipfile(path):
            try:
                with zipfile.ZipFile(path) as z:
                    for name in z.namelist():
                        yield f"{rel}!{name}", z.read(name)
            except zipfile.BadZipFile:
                pass


def _unscrubbed_headers(value: Any) -> Iterator[str]:
    """Sensitive headers and cookies whose value is not the marker: secrets nobody told us of."""
    if isinstance(value, list):
        for item in value:
            yield from _unscrubbed_headers(item)
    elif isinstance(value, dict):
        name = value.get("name")
        if isinstance(name, str) and name.lower() in SENSITIVE_HEADERS and value.get("value") not in (MARKER, "", None):
            yield f"unscrubbed {name} header"
        cookies = value.get("cookies")
        if isinstance(cookies, list) and any(isinstance(c, dict) and c.get("value") not in (MARKER, "", None) for c in cookies):
            yield "unscrubbed cookie value"
        for key, item in value.items():
            if key != "cookies":
                yield from _unscrubbed_headers(item)


def _header_leaks(name: str, data: bytes) -> set[str]:
    if not name.endswith(JSON_LINES):
        return set()
    found: set[str] = set()
    for line in data.decode("utf-8", errors="replace").splitlines():
        if not any(mark in line.lower() for mark in _SENSITIVE_MARKS):
            continue
        try:
            found.update(_unscrubbed_headers(json.loads(line)))
        except json.JSONDecodeError:
            continue
    return found


def scan_folder(folder: Path, values: list[str]) -> list[Leak]:
    """Every file (and zip entry) that holds a known secret in any encoded form, or a
    Cookie/Set-Cookie/Authorization value in trace JSON that was not scrubbed."""
    patterns = [(i + 1, [f.encode() for f in encoded_forms(v)]) for i, v in enumerate(values)]
    leaks = []
    for rel, data in _artifacts(folder):
        for index, forms in patterns:
            if any(form in data for form in forms):
                leaks.append(Leak(rel, f"known secret #{index}"))
        leaks.extend(Leak(rel, what) for what in sorted(_header_leaks(rel, data)))
    return leaks


# ---------------------------------------------------------------- the folder


class RunFolder:
    """A run's folder: ``start``, events and artifacts as the run goes (each scrubbed as it is
    written), then ``close``, which merges and scrubs the trace, scans the whole folder and
    only then writes the run's end and summary, so that they tell whether a secret was found."""

    def __init__(self, runs_dir: Path, command: str, secrets: KnownSecrets):
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.run_id = f"{stamp}-{_random.token_hex(3)}"
        self.path = runs_dir / self.run_id
        self.path.mkdir(parents=True, exist_ok=False, mode=0o750)
        self.command = command
        self.secrets = secrets
        self.log = self.path / "audit.jsonl"
        self.scrub = os.environ.get(UNSAFE_NO_SCRUB_ENV) != "1"
        self.started = datetime.now(UTC)

    def start(self, *, target: str, session_mode: str, operator: str | None, seeds: Any, options: dict[str, Any]) -> None:
        if not self.scrub:
            options = {**options, "UNSAFE_NO_SCRUB_FOR_TESTS": True}
        self.event(
            "run-start",
            command=self.command,
            tool_version=tool_version(),
            operator=operator_name(operator),
            target=target,
            session_mode=session_mode,
            seeds=[{"file": f, "sha256": d} for f, d in seeds.digests().items()],
            options=options,
        )

    def _scrubbed(self, text: str) -> str:
        return self.secrets.redact(text) if self.scrub else text

    def event(self, event: str, **fields: Any) -> None:
        """Append one validated event; known secrets are replaced before it is written."""
        record = AUDIT_EVENT.validate_python({"event": event, "time": utc_now(), "run_id": self.run_id, **fields})
        line = record.model_dump_json()
        if self.scrub:
            line = json.dumps(_scrub_json(json.loads(line), self.secrets.forms()), ensure_ascii=False)
        with self.log.open("a", encoding="utf-8") as f:
            f.write(line + "\n")

    def elapsed_ms(self) -> int:
        return int((datetime.now(UTC) - self.started).total_seconds() * 1000)

    def write_json(self, name: str, data: Any) -> Path:
        return self.write_text(name, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")

    def write_text(self, name: str, text: str) -> Path:
        path = self.path / name
        path.write_text(self._scrubbed(text), encoding="utf-8")
        return path

    def close(
        self,
        chunks: list[Path],
        *,
        exit_code: int,
        changes: int,
        error: str | None,
        summary: Callable[[int, list[str]], dict[str, Any]],
    ) -> tuple[int, list[str]]:
        """Finish the folder; returns the final exit code (6 when a secret was found) and the
        findings. ``summary(exit_code, findings)`` gives summary.json's content."""
        if chunks:
            merge_trace(chunks, self.path / "trace.zip", self.secrets if self.scrub else None)
        if self.scrub:  # secrets learnt after an artifact was written (a key, a token) go now
            forms = self.secrets.forms()
            for path in self.path.iterdir():
                if path.is_file() and path.suffix in (".json", ".jsonl", ".txt"):
                    data = path.read_bytes()
                    path.write_bytes(scrub_json_lines(data, forms) if path.suffix == ".jsonl" else scrub_bytes(data, forms))
        findings = [str(leak) for leak in scan_folder(self.path, self.secrets.values)]
        if findings:
            exit_code = ExitCode.SECRET_LEAK
            error = "the run folder holds a secret after scrubbing: " + "; ".join(findings)
        self.event("run-end", exit_code=exit_code, changes=changes, error=error, duration_ms=self.elapsed_ms())
        self.write_json("summary.json", summary(exit_code, findings))
        return exit_code, findings


def secrets_on_record(settings: Any, key_sink: str | None, consumer_name: str | None) -> KnownSecrets:
    """The secrets this machine can still name after a run, for ``audit scan``: password and
    session cookie from the settings, the cookies of a storage-state file, the keys a key
    sink holds."""
    from flows.keysink import EnvFileSink, FileSink, open_sink  # the sink formats are theirs

    known = KnownSecrets(settings.secret_values())
    if settings.storage_state is not None and settings.storage_state.is_file():
        try:
            state = json.loads(settings.storage_state.read_text(encoding="utf-8"))
            for cookie in state.get("cookies", []):
                known.add(cookie.get("value"))
        except (OSError, json.JSONDecodeError, AttributeError):
            pass
    if settings.base and consumer_name:
        sink = open_sink(key_sink or settings.key_sink, base_url=settings.base, consumer_name=consumer_name, for_writing=False)
        if isinstance(sink, FileSink):
            stored = sink.find(consumer_name)
            if stored is not None:
                known.add(stored.api_key)
        elif isinstance(sink, EnvFileSink) and sink.path.is_file():
            from dotenv import dotenv_values

            for name, value in dotenv_values(sink.path).items():
                if name.endswith("_API_KEY"):
                    known.add(value)
    return known
