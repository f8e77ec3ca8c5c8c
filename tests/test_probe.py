"""The production API gate probe (``ihub-bootstrap probe``), over real HTTP: the sandbox in both
gate modes, and small local servers for the answers that allow no verdict."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from flows import probe
from flows.errors import ExitCode
from sandbox.api import openapi
from tests.support import PROJECT, SandboxFactory, tool_env

Route = tuple[int, dict[str, str], bytes]
JSON = {"Content-Type": "application/json"}
HTML = {"Content-Type": "text/html; charset=utf-8"}
UNAUTHORIZED: Route = (401, JSON, b'{"error": "unauthorized"}')
NOT_FOUND: Route = (404, JSON, b'{"error": "not_found"}')


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run where no .env is: a developer's settings must not reach these tests."""
    monkeypatch.chdir(tmp_path)


def run(capsys: pytest.CaptureFixture[str], base: str, *extra: str) -> tuple[int, str, str]:
    code = probe.main(["--base", base, *extra])  # a named --env-file must exist; .env in cwd is optional
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def open_api_doc(paths: list[str], servers: list[dict[str, str]] | None = None) -> bytes:
    doc: dict[str, object] = {"openapi": "3.0.3", "paths": {p: {"get": {}} for p in paths}}
    if servers is not None:
        doc["servers"] = servers
    return json.dumps(doc).encode()


@pytest.fixture
def fake_inter_hub() -> Iterator[Callable[[dict[str, Route]], str]]:
    """Start a tiny HTTP server on loopback answering ``routes`` (404 JSON elsewhere); returns its URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(routes: dict[str, Route]) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                status, headers, body = routes.get(self.path, NOT_FOUND)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- verdicts against the sandbox


def test_gate_open_prefers_the_api_path(sandbox_factory: SandboxFactory, capsys: pytest.CaptureFixture[str]) -> None:
    sandbox = sandbox_factory(gate="open")
    code, out, err = run(capsys, sandbox.base_url)
    assert code == ExitCode.OK
    assert "✓ PASS GET /api/v2/hubs without credentials: expected 401 (exists, needs a token), not 404; seen 401" in out
    for path in ("/hubs", "/hub-capability-manifests", "/api-consumers", "/policy-scopes"):
        assert f"✓ PASS OpenAPI lists {path}" in out
    assert "verdict: gate open: prefer the API path" in out
    assert "read-only" in err


def test_gate_closed_says_use_the_ui_path(sandbox_factory: SandboxFactory, capsys: pytest.CaptureFixture[str]) -> None:
    sandbox = sandbox_factory(gate="closed")
    code, out, _ = run(capsys, sandbox.base_url)
    assert code == ExitCode.GATE_CLOSED == 10
    assert "✗ FAIL GET /api/v2/hubs without credentials" in out and "seen 404" in out
    assert "✗ FAIL OpenAPI lists /policy-scopes: expected listed in /api/v2/openapi.json; seen not listed" in out
    assert "verdict: gate closed: use the UI path (ihub-bootstrap apply)" in out


@pytest.mark.parametrize(("gate", "verdict", "exit_code"), [("open", "open", 0), ("closed", "closed", 10)])
def test_json(sandbox_factory: SandboxFactory, capsys: pytest.CaptureFixture[str], gate: str, verdict: str, exit_code: int) -> None:
    sandbox = sandbox_factory(gate=gate)
    code, out, _ = run(capsys, sandbox.base_url, "--json")
    report = json.loads(out)
    assert code == exit_code == report["exit_code"]
    assert report["verdict"] == verdict
    assert report["target"] == sandbox.base_url and report["schema_version"] == 1
    assert [c["name"] for c in report["criteria"]] == [
        "GET /api/v2/hubs without credentials",
        "OpenAPI lists /hubs",
        "OpenAPI lists /hub-capability-manifests",
        "OpenAPI lists /api-consumers",
        "OpenAPI lists /policy-scopes",
    ]
    assert all(set(c) == {"name", "ok", "expected", "seen"} for c in report["criteria"])
    assert all(c["ok"] is (gate == "open") for c in report["criteria"])


def test_module_entry_point(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(gate="closed")
    done = subprocess.run(
        [sys.executable, "-m", "flows.probe", "--base", sandbox.base_url],
        capture_output=True, text=True, env=tool_env(tmp_path), cwd=PROJECT, timeout=60, check=False,
    )
    assert done.returncode == ExitCode.GATE_CLOSED, done.stderr
    assert "use the UI path" in done.stdout


# ---------------------------------------------------------------- other servers


def test_other_openapi_location_and_full_paths(fake_inter_hub: Callable[[dict[str, Route]], str], capsys: pytest.CaptureFixture[str]) -> None:
    paths = ["/api/v2/hubs", "/api/v2/hub-capability-manifests", "/api/v2/api-consumers", "/api/v2/policy-scopes"]
    base = fake_inter_hub({"/api/v2/hubs": UNAUTHORIZED, "/openapi.json": (200, JSON, open_api_doc(paths))})
    code, out, _ = run(capsys, base, "--json")
    report = json.loads(out)
    assert code == ExitCode.OK, report
    assert report["openapi"] == f"{base}/openapi.json"


def test_server_url_prefix_is_understood() -> None:
    doc = json.loads(open_api_doc(["/hubs", "/x/"], servers=[{"url": "https://hub.example.invalid/api/v2/"}]))
    assert {"/hubs", "/x"} <= probe.listed_paths(doc)
    assert probe.listed_paths(openapi("open")) >= set(probe.GATED_PATHS)


def test_connection_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, err = run(capsys, f"http://127.0.0.1:{port}", "--timeout", "5")
    assert code == ExitCode.PROBE_FAILED == 11
    assert "cannot connect to" in out and "verdict: no verdict" in out
    assert "error: the API gate probe reached no verdict: cannot connect" in err
    assert "what to do:" in err


def test_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        started = time.monotonic()
        code, out, err = run(capsys, f"http://127.0.0.1:{silent.getsockname()[1]}", "--timeout", "0.3", "--json")
        elapsed = time.monotonic() - started
    report = json.loads(out)
    assert code == ExitCode.PROBE_FAILED == report["exit_code"]
    assert report["verdict"] == "no-verdict"
    assert "within 0.3 s (timeout)" in report["reason"]
    assert "timeout" in err
    assert elapsed < 3  # one timeout, not one per check


def test_openapi_answering_html(fake_inter_hub: Callable[[dict[str, Route]], str], capsys: pytest.CaptureFixture[str]) -> None:
    base = fake_inter_hub({"/api/v2/hubs": UNAUTHORIZED, "/api/v2/openapi.json": (200, HTML, b"<!DOCTYPE html><html></html>")})
    code, out, err = run(capsys, base)
    assert code == ExitCode.PROBE_FAILED
    assert "/api/v2/openapi.json did not answer JSON (text/html; charset=utf-8): not an OpenAPI document" in out
    assert "✓ PASS GET /api/v2/hubs" in out  # what could be checked is still shown
    assert "no verdict" in err


def test_openapi_json_without_paths(fake_inter_hub: Callable[[dict[str, Route]], str], capsys: pytest.CaptureFixture[str]) -> None:
    base = fake_inter_hub({"/api/v2/hubs": UNAUTHORIZED, "/api/v2/openapi.json": (200, JSON, b'["not", "a", "document"]')})
    code, out, _ = run(capsys, base)
    assert code == ExitCode.PROBE_FAILED
    assert 'without a "paths" object' in out


def test_redirect_to_the_login_page(fake_inter_hub: Callable[[dict[str, Route]], str], capsys: pytest.CaptureFixture[str]) -> None:
    base = fake_inter_hub({"/api/v2/hubs": (302, {"Location": "/NewSession"}, b"")})
    code, out, err = run(capsys, base)
    assert code == ExitCode.PROBE_FAILED
    assert f"/api/v2/hubs redirected (HTTP 302) to the login page {base}/NewSession" in out
    assert "login page" in err


def test_redirect_elsewhere_is_not_followed(fake_inter_hub: Callable[[dict[str, Route]], str], capsys: pytest.CaptureFixture[str]) -> None:
    target = fake_inter_hub({"/api/v2/hubs": UNAUTHORIZED})
    base = fake_inter_hub({"/api/v2/hubs": (301, {"Location": f"{target}/api/v2/hubs"}, b"")})
    code, out, _ = run(capsys, base)
    assert code == ExitCode.PROBE_FAILED
    assert f"redirected (HTTP 301) to {target}/api/v2/hubs; redirects are not followed" in out


def test_server_error(fake_inter_hub: Callable[[dict[str, Route]], str], capsys: pytest.CaptureFixture[str]) -> None:
    base = fake_inter_hub({"/api/v2/hubs": (500, HTML, b"<h1>Internal Server Error</h1>")})
    code, out, err = run(capsys, base)
    assert code == ExitCode.PROBE_FAILED
    assert "/api/v2/hubs answered HTTP 500 (server error)" in out
    assert "no verdict" in err


def test_a_check_without_answer_leaves_no_verdict_even_beside_a_failed_one(
    fake_inter_hub: Callable[[dict[str, Route]], str], capsys: pytest.CaptureFixture[str]
) -> None:
    base = fake_inter_hub({"/api/v2/hubs": NOT_FOUND, "/api/v2/openapi.json": (500, HTML, b"")})
    code, out, _ = run(capsys, base)
    assert code == ExitCode.PROBE_FAILED
    assert "✗ FAIL GET /api/v2/hubs without credentials" in out
    assert "? NOT CHECKED /api/v2/openapi.json answered HTTP 500 (server error)" in out


def test_no_openapi_anywhere_closes_the_gate(fake_inter_hub: Callable[[dict[str, Route]], str], capsys: pytest.CaptureFixture[str]) -> None:
    base = fake_inter_hub({"/api/v2/hubs": UNAUTHORIZED})
    code, out, _ = run(capsys, base)
    assert code == ExitCode.GATE_CLOSED
    assert "no OpenAPI document (/api/v2/openapi.json, /api/v2/openapi, /openapi.json: all 404)" in out


def test_plain_http_to_another_host_is_refused_before_any_request(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "http://hub.example.invalid")
    assert code == ExitCode.BAD_INPUT
    assert out == "" and "refusing plain http://" in err


def test_no_base_url(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here to give a base URL
    code = probe.main([])
    err = capsys.readouterr().err
    assert code == ExitCode.BAD_INPUT
    assert "no Inter-Hub base URL" in err and "IHUB_BASE" in err
