"""A newcomer's network (issue 11): a base that is not Inter-Hub, a TLS certificate from a
corporate CA, a corporate proxy. Every server here listens on 127.0.0.1; the proxy test's
``http://ihub.test`` is a name only the loopback proxy resolves (to the sandbox)."""

from __future__ import annotations

import http.server
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flows.errors import ExitCode
from tests.support import SandboxFactory, Tool, rows, serving

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


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


def _serve(handler: type, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    with serving(handler, tls) as url:
        yield url


@pytest.fixture
def not_inter_hub() -> Iterator[str]:
    yield from _serve(_NotFound)


@pytest.fixture(scope="module")
def corporate_ca(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA and a certificate it signed for 127.0.0.1, made with openssl."""
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
    yield from _serve(_NotFound, context)


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


class _Proxy(http.server.BaseHTTPRequestHandler):
    """A forward proxy on loopback: http://NAME/... goes to the sandbox ``upstreams`` names,
    nothing else anywhere; a GET of one of the ``redirects`` paths of http://ihub.test is
    answered with a redirect to where it names."""

    upstreams: dict[str, str] = {}
    redirects: dict[str, str] = {}
    seen: list[str] = []

    def _forward(self) -> None:
        url = httpx.URL(self.path)
        self.seen.append(f"{self.command} {url.host}{url.path}")
        upstream = self.upstreams.get(url.host)
        if upstream is None:
            self.send_error(403)
            return
        if self.command == "GET" and url.host == "ihub.test" and url.path in self.redirects:
            self.send_response(302)
            self.send_header("Location", self.redirects[url.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        length = int(self.headers.get("Content-Length") or 0)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "proxy-connection", "connection")}
        response = httpx.request(
            self.command, upstream + url.raw_path.decode(), headers=headers,
            content=self.rfile.read(length) if length else None, follow_redirects=False, trust_env=False,
        )
        self.send_response(response.status_code)
        for key, value in response.headers.multi_items():
            if key.lower() not in ("transfer-encoding", "connection", "content-encoding", "content-length"):
                self.send_header(key, value.replace(upstream, f"http://{url.host}"))
        self.send_header("Content-Length", str(len(response.content)))
        self.end_headers()
        self.wfile.write(response.content)

    do_GET = do_POST = _forward

    def log_message(self, *args: object) -> None:
        pass


def _proxy_env(proxy: str) -> dict[str, str]:
    return {"HTTP_PROXY": proxy, "http_proxy": proxy, "NO_PROXY": "", "no_proxy": ""}


def test_the_proxy_variables_are_honoured(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    _Proxy.upstreams, _Proxy.redirects, _Proxy.seen = {"ihub.test": sandbox.base_url}, {}, []
    for proxy in _serve(_Proxy):
        tool = Tool(sandbox, tmp_path)
        env = _proxy_env(proxy)
        plan = tool("plan", "--allow-insecure-http", base="http://ihub.test", extra_env=env)
        assert plan.returncode == ExitCode.OK, plan.stderr
        assert any(s.startswith("GET ihub.test/Hubs") for s in _Proxy.seen), _Proxy.seen
        verify = tool("verify", "--allow-insecure-http", base="http://ihub.test", extra_env=env)
        assert any("/api/v2/" in s for s in _Proxy.seen), _Proxy.seen
        assert "cannot reach" not in verify.stderr, verify.stderr


def test_a_redirect_elsewhere_behind_a_corporate_proxy_stops_the_run(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    # Behind a corporate proxy the origin guard is a route, which Chromium does not ask about a
    # redirect: Inter-Hub's redirect of the API consumers' index to another Inter-Hub is
    # followed there (the GET reaches it, as README says), and the run stops on the page that
    # landed there, naming both origins; no login was typed there, nothing was read from it.
    sandbox, elsewhere = sandbox_factory(), sandbox_factory()
    _Proxy.upstreams = {"ihub.test": sandbox.base_url, "elsewhere.test": elsewhere.base_url}
    _Proxy.redirects, _Proxy.seen = {"/ApiConsumers": "http://elsewhere.test/ApiConsumers"}, []
    for proxy in _serve(_Proxy):
        tool = Tool(sandbox, tmp_path)
        code, report, stderr = tool.json("apply", "--yes", "--allow-insecure-http", base="http://ihub.test", extra_env=_proxy_env(proxy))
    assert code == ExitCode.BAD_INPUT, stderr
    message = report["error"]["message"]
    assert "Inter-Hub sent the browser to http://elsewhere.test, not to the base http://ihub.test" in message
    assert "the redirected request went out to it" in message and "nothing was typed into or read from a page there" in message
    assert "GET elsewhere.test/ApiConsumers" in _Proxy.seen  # the one request a route cannot stop
    assert not [s for s in _Proxy.seen if s.startswith("POST elsewhere.test")], _Proxy.seen
    assert [r for r in rows(elsewhere, "sessions") if r.user_id is not None] == []
