"""A newcomer's network (issue 11): a base that is not Inter-Hub, a TLS certificate from a
corporate CA, a corporate proxy. Every server here listens on 127.0.0.1; the proxy test's
``http://ihub.test`` is a name only the loopback proxy resolves (to the sandbox)."""

from __future__ import annotations

import base64
import http.server
import json
import shutil
import ssl
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser
from playwright.sync_api import Error as PlaywrightError

from flows.browser import OriginGuard
from flows.errors import ExitCode
from flows.guard_proxy import Upstream
from sandbox.server import RunningSandbox
from tests.support import SandboxFactory, Tool, forward_proxy, refusing_origin, rows, serving

class _NotFound(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = b"<html><body><h1>Not Found</h1></body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def not_inter_hub() -> Iterator[str]:
    with serving(_NotFound) as url:
        yield url


@pytest.fixture(scope="module")
def corporate_ca(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA and a certificate it signed for 127.0.0.1, made with openssl (only the TLS tests
    need it: the proxy tests run without)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    d = tmp_path_factory.mktemp("ca")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=60)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Corporate Test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1")
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "leaf.pem", "-days", "2", "-extfile", "ext.cnf")
    return {"ca": d / "ca.pem", "cert": d / "leaf.pem", "key": d / "leaf.key"}


@pytest.fixture
def tls_server(corporate_ca: dict[str, Path]) -> Iterator[str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(corporate_ca["cert"], corporate_ca["key"])
    with serving(_NotFound, context) as url:
        yield url


def test_a_base_that_answers_404_says_check_the_base(tool: Tool, not_inter_hub: str) -> None:
    result = tool("plan", base=not_inter_hub)
    assert result.returncode == ExitCode.STEP_FAILED, result.stderr
    assert "404" in result.stderr and "check IHUB_BASE" in result.stderr
    assert "again once Inter-Hub answers" not in result.stderr and "run apply again" not in result.stderr


def test_an_untrusted_certificate_says_ca_bundle(tool: Tool, tls_server: str) -> None:
    browser = tool("plan", base=tls_server)
    assert browser.returncode == ExitCode.STEP_FAILED, browser.stderr
    assert "ERR_CERT" in browser.stderr and "IHUB_CA_BUNDLE" in browser.stderr
    checks = tool("verify", base=tls_server)
    assert checks.returncode == ExitCode.VERIFY_FAILED, checks.stderr
    assert "CERTIFICATE_VERIFY_FAILED" in checks.stderr and "IHUB_CA_BUNDLE" in checks.stderr


def test_the_ca_bundle_is_trusted_by_the_http_checks(tool: Tool, tls_server: str, corporate_ca: dict[str, Path]) -> None:
    checks = tool("verify", base=tls_server, ca_bundle=str(corporate_ca["ca"]))
    assert "CERTIFICATE_VERIFY_FAILED" not in checks.stderr and "cannot reach" not in checks.stderr, checks.stderr
    assert checks.returncode == ExitCode.VERIFY_FAILED  # reached: it answers 404, so the checks fail
    probe = tool("probe", base=tls_server, ca_bundle=str(corporate_ca["ca"]))
    assert probe.returncode == ExitCode.GATE_CLOSED and "CERTIFICATE" not in probe.stderr, probe.stdout + probe.stderr


def test_a_ca_bundle_that_is_no_pem_file_is_bad_input(tool: Tool, tmp_path: Path) -> None:
    (tmp_path / "ca.txt").write_text("not a certificate\n")
    result = tool("verify", ca_bundle=str(tmp_path / "ca.txt"))
    assert result.returncode == ExitCode.BAD_INPUT and "IHUB_CA_BUNDLE / --ca-bundle" in result.stderr


def _proxy_env(proxy: str) -> dict[str, str]:
    return {"HTTP_PROXY": proxy, "http_proxy": proxy, "NO_PROXY": "", "no_proxy": ""}


def test_the_proxy_variables_are_honoured(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    with forward_proxy({"ihub.test": sandbox.base_url}) as (proxy, seen):
        tool = Tool(sandbox, tmp_path)
        env = _proxy_env(proxy)
        plan = tool("plan", "--allow-insecure-http", base="http://ihub.test", extra_env=env)
        assert plan.returncode == ExitCode.OK, plan.stderr
        assert any(s.startswith("GET ihub.test/Hubs") for s in seen), seen
        verify = tool("verify", "--allow-insecure-http", base="http://ihub.test", extra_env=env)
        assert any("/api/v2/" in s for s in seen), seen
        assert "cannot reach" not in verify.stderr, verify.stderr


def test_a_base_on_this_machine_never_goes_through_the_corporate_proxy(sandbox: RunningSandbox, tool: Tool) -> None:
    # A corporate shell exports HTTP_PROXY, and NO_PROXY does not name 127.0.0.1: the sandbox
    # (make rehearse's too) is reached directly by the browser and the HTTP checks alike (no
    # proxy can reach this machine's loopback; its login would cross the network in clear).
    with refusing_origin() as nothing_there:
        env = {**_proxy_env(nothing_there), "HTTPS_PROXY": nothing_there, "ALL_PROXY": nothing_there}
        plan = tool("plan", extra_env=env)
        verify = tool("verify", extra_env=env)
    assert plan.returncode == ExitCode.OK, plan.stderr
    assert "network: directly to the base, http_proxy not used (the base is this machine's)" in plan.stderr
    assert "cannot reach" not in verify.stderr and "Connection refused" not in verify.stderr, verify.stderr


def test_a_proxy_variable_that_is_no_address_stops_the_http_checks_too(tool: Tool) -> None:
    # httpx would have raised InvalidURL with the password in it (a traceback)
    result = tool("verify", base="https://hub.example", extra_env={"HTTPS_PROXY": "http://c0rp:s3cr3t?x@proxy:8080", "NO_PROXY": ""})
    assert result.returncode == ExitCode.BAD_INPUT, result.stderr
    assert "HTTPS_PROXY is not the address of an http:// proxy" in result.stderr
    assert "s3cr3t" not in result.stdout + result.stderr and "Traceback" not in result.stderr


def test_a_proxy_the_browser_cannot_chain_is_named(tool: Tool) -> None:
    result = tool("plan", "--allow-insecure-http", base="http://ihub.test", extra_env=_proxy_env("socks5://user:Pr0xy-secret@127.0.0.1:1080"))
    assert result.returncode == ExitCode.BAD_INPUT, result.stderr
    assert "http_proxy is a socks5:// proxy" in result.stderr and "percent-encoded" in result.stderr  # the variable as set
    assert "Pr0xy-secret" not in result.stderr + result.stdout and "Traceback" not in result.stderr


# A password as a corporate proxy may have one: each character that needs percent-encoding in
# a URL's user info, a quote, a backslash, non-ASCII.
PROXY_PASSWORD = "p@ss/w:rd?#%\"q'\\é-Pr0xy"


def test_a_corporate_proxy_that_wants_credentials_gets_them_and_nothing_shows_them(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    token = "Basic " + base64.b64encode(f"c0rp.user:{PROXY_PASSWORD}".encode()).decode()
    with forward_proxy({"ihub.test": sandbox.base_url}, authorization=token) as (proxy, seen):
        tool = Tool(sandbox, tmp_path)
        # without them: the corporate proxy's 407 is named, and what to do
        without = tool("plan", "--allow-insecure-http", base="http://ihub.test", extra_env=_proxy_env(proxy))
        assert without.returncode == ExitCode.STEP_FAILED, without.stderr
        assert "answered 407 Proxy Authentication Required for ihub.test:80" in without.stderr
        assert "Basic" in without.stderr and "cntlm" in without.stderr
        # with them, percent-encoded in the variable: through, and sent only to it
        address = proxy.replace("http://", f"http://c0rp.user:{quote(PROXY_PASSWORD, safe='')}@")
        code, report, stderr = tool.json("apply", "--yes", "--allow-insecure-http", base="http://ihub.test", extra_env=_proxy_env(address))
        with_them = subprocess.CompletedProcess([], code, json.dumps(report, ensure_ascii=False), stderr)
        assert json.dumps(PROXY_PASSWORD)[1:-1] not in json.dumps(report)  # nor JSON-escaped
        assert with_them.returncode == ExitCode.OK, with_them.stderr
        start = json.loads((Path(report["run_folder"]) / "audit.jsonl").read_text().splitlines()[0])
        assert start["options"]["corporate_proxy"] == proxy.removeprefix("http://")  # its address, for the auditor
        # the operator is told which way the browser goes (the proxy's address, never its credentials)
        assert f"network: through the corporate proxy {proxy.removeprefix('http://')} (from http_proxy)" in with_them.stderr
        assert any(s.startswith("POST ihub.test/CreateHub") for s in seen), seen
    shown = with_them.stdout + with_them.stderr + without.stdout + without.stderr
    assert PROXY_PASSWORD not in shown and quote(PROXY_PASSWORD, safe="") not in shown and token not in shown
    for path in tmp_path.rglob("*"):  # the run folders: log, trace, screenshots, report
        if path.is_file():
            data = path.read_bytes()
            assert PROXY_PASSWORD.encode() not in data and token.encode() not in data, path
            if path.suffix == ".zip":
                with zipfile.ZipFile(path) as trace:
                    for entry in trace.namelist():
                        inside = trace.read(entry)
                        assert PROXY_PASSWORD.encode() not in inside and token.encode() not in inside, (path, entry)


def test_an_https_base_goes_through_the_corporate_proxys_tunnel(browser: Browser, tls_server: str) -> None:
    # Chromium's own CONNECT, through the guard's proxy and the corporate proxy, to an HTTPS
    # base (its certificate accepted here: trust is another test's); another origin's tunnel
    # is refused before the corporate proxy sees it.
    with forward_proxy() as (proxy, seen):
        guard = OriginGuard(tls_server, upstream=Upstream("127.0.0.1", int(proxy.rsplit(":", 1)[1])))
        context = browser.new_context(proxy=guard.proxy(), ignore_https_errors=True)  # type: ignore[arg-type]
        try:
            guard.install(context)
            page = context.new_page()
            response = page.goto(tls_server + "/Hubs")
            assert response is not None and response.status == 404 and "Not Found" in page.content()
            with pytest.raises(PlaywrightError):
                page.goto("https://localhost:%s/" % tls_server.rsplit(":", 1)[1])
        finally:
            context.close()
            guard.close()
    assert set(seen) == {f"CONNECT {tls_server.removeprefix('https://')}"}, seen
    assert guard.sent == ["https://localhost:" + tls_server.rsplit(":", 1)[1]]


def test_a_redirect_elsewhere_behind_a_corporate_proxy_stops_the_run(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    # Inter-Hub redirects the API consumers' index to another Inter-Hub: the origin guard's
    # proxy refuses that hop (Chromium asks its proxy for each), so not even the GET reaches the
    # corporate proxy; the run stops, naming both origins.
    sandbox, elsewhere = sandbox_factory(), sandbox_factory()
    upstreams = {"ihub.test": sandbox.base_url, "elsewhere.test": elsewhere.base_url}
    with forward_proxy(upstreams, {"GET ihub.test/ApiConsumers": (302, "http://elsewhere.test/ApiConsumers")}) as (proxy, seen):
        tool = Tool(sandbox, tmp_path)
        code, report, stderr = tool.json("apply", "--yes", "--allow-insecure-http", base="http://ihub.test", extra_env=_proxy_env(proxy))
    assert code == ExitCode.BAD_INPUT, stderr
    message = report["error"]["message"]
    assert "Inter-Hub sent the browser to http://elsewhere.test, not to the base http://ihub.test" in message
    assert "nothing was typed, sent or read there" in message
    assert "GET ihub.test/ApiConsumers" in seen and not [s for s in seen if "elsewhere.test" in s], seen
    assert elsewhere.config.faults.requests_seen == 0


@pytest.mark.parametrize("status", [307, 308])
def test_a_login_redirected_elsewhere_with_its_fields_goes_nowhere(sandbox_factory: SandboxFactory, tmp_path: Path, status: int) -> None:
    # The login form's POST answered with a 307 or 308 to another origin: a browser would send
    # it there again, password and all. The guard's proxy refuses that hop: the password
    # reaches only the base (through the corporate proxy), and the run stops.
    sandbox, elsewhere = sandbox_factory(), sandbox_factory()
    upstreams = {"ihub.test": sandbox.base_url, "elsewhere.test": elsewhere.base_url}
    with forward_proxy(upstreams, {"POST ihub.test/CreateSession": (status, "http://elsewhere.test/CreateSession")}) as (proxy, seen):
        tool = Tool(sandbox, tmp_path)
        code, report, stderr = tool.json("apply", "--yes", "--allow-insecure-http", base="http://ihub.test", extra_env=_proxy_env(proxy))
    assert code == ExitCode.BAD_INPUT, stderr
    assert "Inter-Hub sent the browser to http://elsewhere.test" in report["error"]["message"]
    assert "POST ihub.test/CreateSession" in seen and not [s for s in seen if "elsewhere.test" in s], seen
    assert elsewhere.config.faults.requests_seen == 0
    assert [r for r in rows(elsewhere, "sessions") if r.user_id is not None] == []
