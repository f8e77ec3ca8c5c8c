"""The run folder: what an auditor gets, and the guarantee that it holds no secret.

``runs/<UTC timestamp>-<short id>/`` holds

- ``audit.jsonl``: one JSON object per event (run start, each step, verification, run end),
  validated by the models below;
- ``trace.zip``: the Playwright trace of the run (opens in ``playwright show-trace``), merged
  from its chunks (the key reveal is left out of the recording) and scrubbed;
- ``summary.json``; on failure ``failure.png`` (the key field masked) and ``failure.txt``.

Before the folder is final every artifact is scrubbed of the run's known secrets and of
sensitive headers (JSON-aware where the format is JSON), and what the scrub writes is read
again before it is written (JSON lines line by line); then a scanner reads every file, zip
entries decompressed, for every known secret in its plain, URL- and base64-encoded forms,
except the files whose bytes the scrub has just read clean (checked by SHA-256). A hit fails
the run (exit code 6) and names the file, never the secret.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets as _random
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from flows.errors import ExitCode
from flows.known_secrets import KnownSecrets
from flows.scrub import Leak, ScrubError, _scrub_value, digest, refuse_secret_name, scan_folder, scrub_blob

__all__ = ["Leak", "RunFolder", "ScrubError", "merge_trace", "scan_folder"]
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
    trace_stopped_early: str | None = None  # the trace ends before the run: why


AuditEvent = Annotated[RunStart | StepEvent | VerificationEvent | ApiRequestEvent | RunEnd, Field(discriminator="event")]
AUDIT_EVENT = TypeAdapter(AuditEvent)


def read_audit_log(path: Path) -> list[RunStart | StepEvent | VerificationEvent | ApiRequestEvent | RunEnd]:
    """Parse and validate every line of an ``audit.jsonl``."""
    return [AUDIT_EVENT.validate_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


# ---------------------------------------------------------------- trace parts


def merge_trace(chunks: list[Path], out: Path, secrets: KnownSecrets | None) -> None:
    """One trace zip from several chunk zips; every entry scrubbed when ``secrets`` is given.

    Each chunk's ``trace.trace``/``.network``/``.stacks`` become ``<n>-trace.*``: the trace
    viewer loads every ``*.trace`` of a zip, so the chunks show as consecutive recordings.
    Raises :class:`ScrubError` (naming the entry) when an entry cannot be made clean.
    """
    values = secrets.values if secrets is not None else []
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
                    refuse_secret_name("trace.zip", target_name, values)
                    if secrets is not None:
                        data = scrub_blob(f"trace.zip!{target_name}", data, values)
                    # screenshots are JPEG already: compressing them again only costs time
                    kind = zipfile.ZIP_STORED if name.endswith((".jpeg", ".jpg", ".png")) else zipfile.ZIP_DEFLATED
                    target.writestr(target_name, data, compress_type=kind)


# ---------------------------------------------------------------- the folder


class RunFolder:
    """A run's folder: ``start``, events and artifacts as the run goes (each scrubbed as it is
    written), then ``close``, which merges and scrubs the trace, scans the whole folder (what
    the scrub has just read clean, byte for byte, is not read twice) and only then writes the
    run's end and summary, so that they tell whether a secret was found."""

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
            line = json.dumps(_scrub_value(json.loads(line), self.secrets.values, self.secrets.forms()), ensure_ascii=False)
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
        trace_stopped_early: str | None = None,
    ) -> tuple[int, list[str]]:
        """Finish the folder; returns the final exit code (6 when a secret was found) and the
        findings. ``summary(exit_code, findings)`` gives summary.json's content;
        ``trace_stopped_early``: why the trace ends before the run did (run-end says so)."""
        problems: list[str] = []
        # Files scrub_blob wrote and read clean (with every secret known now): the scan does not
        # read them again (see scan_folder). Only when there are secrets to read them for.
        verified: dict[str, str] = {}
        vouch = self.scrub and bool(self.secrets.values)
        if chunks:
            try:
                merge_trace(chunks, self.path / "trace.zip", self.secrets if self.scrub else None)
                if vouch:
                    verified["trace.zip"] = digest((self.path / "trace.zip").read_bytes())
            except Exception as exc:  # noqa: BLE001  whatever went wrong, nothing unclean is kept
                (self.path / "trace.zip").unlink(missing_ok=True)
                why = str(exc) if isinstance(exc, ScrubError) else f"{exc.__class__.__name__} while merging and scrubbing"
                problems.append(f"trace.zip ({why}; the trace was deleted)")
        if self.scrub:  # secrets learnt after an artifact was written (a key, a token) go now
            for path in sorted(self.path.iterdir()):
                if not path.is_file() or path.name == "trace.zip":
                    continue
                try:
                    clean = scrub_blob(path.name, path.read_bytes(), self.secrets.values)
                    path.write_bytes(clean)
                    if vouch:
                        verified[path.name] = digest(clean)
                except Exception as exc:  # noqa: BLE001
                    path.unlink(missing_ok=True)
                    why = str(exc) if isinstance(exc, ScrubError) else f"{exc.__class__.__name__} while scrubbing"
                    problems.append(f"{path.name} ({why}; the file was deleted)")
        leaks = scan_folder(self.path, self.secrets.values, verified)
        if leaks and self.scrub:  # never left for someone to share
            for name in sorted({leak.file.split("!")[0] for leak in leaks}):
                (self.path / name).unlink(missing_ok=True)
        findings = problems + [str(leak) + (" (deleted)" if self.scrub else "") for leak in leaks]
        if findings:
            exit_code = ExitCode.SECRET_LEAK
            error = "the run folder held a secret after scrubbing: " + "; ".join(findings)
        self.event(
            "run-end", exit_code=exit_code, changes=changes, error=error, duration_ms=self.elapsed_ms(), trace_stopped_early=trace_stopped_early
        )
        self.write_json("summary.json", summary(exit_code, findings))
        return exit_code, findings


def secrets_on_record(settings: Any, key_sink: str | None, consumer_name: str | None) -> KnownSecrets:
    """The secrets this machine can still name after a run, for ``audit scan``: password and
    session cookie from the settings, the cookies of a storage-state file, every key a key
    sink holds (for every target, rotated ones included)."""
    from flows.keysink import EnvFileSink, FileSink, open_sink  # the sink formats are theirs

    known = KnownSecrets(settings.secret_values())
    if settings.storage_state is not None and settings.storage_state.is_file():
        try:
            state = json.loads(settings.storage_state.read_text(encoding="utf-8"))
            for cookie in state.get("cookies", []):
                known.add(cookie.get("value"))
        except (OSError, json.JSONDecodeError, AttributeError, UnicodeDecodeError):
            pass
    spec = key_sink or settings.key_sink
    if spec or (settings.base and consumer_name):
        sink = open_sink(spec, base_url=settings.base or "", consumer_name=consumer_name or "", for_writing=False)
        if isinstance(sink, FileSink | EnvFileSink):  # a keyring cannot be listed
            for key in sink.keys():
                known.add(key)
    return known
