"""The origin guard's proxy behind a corporate proxy (flows.guard_proxy), over real sockets on
loopback: what it relays to the corporate proxy, what it refuses, and that no address it is
given, however written, makes it send anything to another origin."""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.guard_proxy import GuardProxy, Upstream, upstream_line
from pages.origins import origin

BASE = "http://ihub.test:8000"


@pytest.mark.parametrize(
    ("line", "sent"),
    [
        ("GET http://ihub.test:8000/Hubs?page=2 HTTP/1.1", "GET http://ihub.test:8000/Hubs?page=2 HTTP/1.1"),
        ("POST http://IHUB.test:8000/CreateSession HTTP/1.1", "POST http://ihub.test:8000/CreateSession HTTP/1.1"),
        ("GET http://ihub.test:8000 HTTP/1.0", "GET http://ihub.test:8000/ HTTP/1.0"),
        ("CONNECT ihub.test:8000 HTTP/1.1", "CONNECT ihub.test:8000 HTTP/1.1"),  # a WebSocket of the base's
        ("GET http://elsewhere.test/ HTTP/1.1", None),
        ("GET http://ihub.test:8001/ HTTP/1.1", None),  # another port
        ("GET http://ihub.test/ HTTP/1.1", None),  # the default port: another origin
        ("GET https://ihub.test:8000/ HTTP/1.1", None),  # another scheme
        ("GET http://ihub.test:8000@elsewhere.test/ HTTP/1.1", None),
        ("GET http://elsewhere.test#@ihub.test:8000/ HTTP/1.1", None),
        ("GET http://user:pw@ihub.test:8000/ HTTP/1.1", None),  # userinfo is never Chromium's
        ("CONNECT elsewhere.test:443 HTTP/1.1", None),
        ("CONNECT ihub.test:8000@elsewhere.test:443 HTTP/1.1", None),
        ("CONNECT elsewhere.test:443/ihub.test:8000 HTTP/1.1", None),
        ("GET http://ihub.test:8000/ HTTP/1.1\nX-Injected: 1", None),  # a line break into the next header
        ("GET http://ihub.test:8000/ HTTP/2", None),
        ("GET http://ihub.test:8000/ HTTP/1.1 extra", None),
        ("GET /Hubs HTTP/1.1", None),  # origin-form: not a proxy request
        ("G=T http://ihub.test:8000/ HTTP/1.1", None),
        ("GÉT http://ihub.test:8000/ HTTP/1.1", None),
        ("", None),
    ],
)
def test_only_the_bases_origin_is_relayed(line: str, sent: str | None) -> None:
    assert upstream_line(BASE, line) == sent


_TEXT = st.text(st.characters(codec="utf-8"), max_size=30)
_HOSTS = st.sampled_from(["ihub.test", "IHUB.TEST", "elsewhere.test", "127.0.0.1", "[::1]", "ihub.test.", "xn--bcher-kva.example", ""])
_PORTS = st.sampled_from(["", ":8000", ":80", ":443", ":08000", ":8000:1", ":65536", ":-1"])


@st.composite
def _request_lines(draw: st.DrawFn) -> str:
    method = draw(st.sampled_from(["GET", "POST", "CONNECT", "PUT", "get"]) | _TEXT)
    scheme = draw(st.sampled_from(["http://", "https://", "ws://", "HTTP://", ""]))
    userinfo = draw(st.sampled_from(["", "user@", "ihub.test:8000@", "a:b@"]))
    host, port = draw(_HOSTS), draw(_PORTS)
    tail = draw(st.sampled_from(["", "/", "/Hubs", "#@elsewhere.test", "?@elsewhere.test/", "\\@elsewhere.test", "/\r\nHost: x"]) | _TEXT)
    target = draw(st.sampled_from([f"{scheme}{userinfo}{host}{port}{tail}", f"{host}{port}"]) | _TEXT)
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/1.1\r\nX: y", "http/1.1"]) | _TEXT)
    return draw(st.sampled_from([f"{method} {target} {version}", f"{method}  {target} {version}"]) | _TEXT)


@settings(max_examples=400, deadline=None)
@given(_request_lines())
def test_whatever_chromium_asks_only_the_base_is_named_upstream(line: str) -> None:
    sent = upstream_line(BASE, line)
    if sent is None:
        return
    method, target, version = sent.split(" ")
    assert version in ("HTTP/1.0", "HTTP/1.1") and sent.isascii() and sent.isprintable()
    if method == "CONNECT":
        assert target == "ihub.test:8000"
    else:
        assert method.isalpha() and target.startswith(origin(BASE) + "/")
        assert origin(target) == origin(BASE) and "@" not in target.split("/", 3)[2] and "#" not in target


class _Upstream:
    """A corporate proxy that notes what it receives: it answers a CONNECT with 200 and then
    echoes the tunnel's bytes, and anything else with a small 200 response, kept alive (as a
    careless proxy might), closing after a quiet half second."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.server.accept()
                threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        got = b""
        connection.settimeout(0.5)
        with connection, contextlib.suppress(OSError):
            while b"\r\n\r\n" not in got:
                got += connection.recv(65536)
            if got.startswith(b"CONNECT "):
                connection.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                got_tunnel = connection.recv(65536)
                connection.sendall(got_tunnel)
                got += got_tunnel
            else:
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")
                with contextlib.suppress(TimeoutError):
                    while data := connection.recv(65536):
                        got += data
        self.received.append(got)


@pytest.fixture
def relay() -> Iterator[tuple[GuardProxy, _Upstream, int]]:
    upstream = _Upstream()
    guard = GuardProxy(BASE, Upstream("127.0.0.1", upstream.port, "corp\u00e9", "p@ss:w\u00f6rd"))
    try:
        yield guard, upstream, int(guard.start().rsplit(":", 1)[1])
    finally:
        guard.close()
        upstream.server.close()


def _exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        got = b""
        with contextlib.suppress(TimeoutError):
            s.settimeout(3)
            while chunk := s.recv(65536):
                got += chunk
                if got.startswith(b"HTTP/1.1 200 Connection established\r\n\r\n") and got.endswith(b"hello"):
                    break
        return got


def test_a_request_elsewhere_is_refused_and_none_reaches_the_corporate_proxy(relay: tuple[GuardProxy, _Upstream, int]) -> None:
    _, upstream, port = relay
    assert _exchange(port, b"CONNECT elsewhere.test:443 HTTP/1.1\r\nHost: elsewhere.test:443\r\n\r\n").startswith(b"HTTP/1.1 403 ")
    assert _exchange(port, b"POST http://elsewhere.test/CreateSession HTTP/1.1\r\nContent-Length: 3\r\n\r\npw!") == b""
    assert upstream.received == []


def test_the_bases_tunnel_goes_through_with_the_proxys_credentials(relay: tuple[GuardProxy, _Upstream, int]) -> None:
    _, upstream, port = relay
    got = _exchange(port, b"CONNECT IHUB.test:8000 HTTP/1.1\r\nHost: ihub.test:8000\r\n\r\nhello")
    assert got == b"HTTP/1.1 200 Connection established\r\n\r\nhello"
    token = base64.b64encode("corp\u00e9:p@ss:w\u00f6rd".encode()).decode()
    assert upstream.received[0].startswith(b"CONNECT ihub.test:8000 HTTP/1.1\r\nHost: ihub.test:8000\r\n")
    assert f"Proxy-Authorization: Basic {token}\r\n".encode() in upstream.received[0]


def test_a_plain_request_goes_alone_and_its_answer_closes_the_connection(relay: tuple[GuardProxy, _Upstream, int]) -> None:
    # A second request on the same connection, for another host, is never relayed: only the
    # first one's head and body (by its Content-Length) go upstream, marked as the last.
    _, upstream, port = relay
    first = b"POST http://ihub.test:8000/CreateHub HTTP/1.1\r\nHost: ihub.test:8000\r\nProxy-Connection: keep-alive\r\nContent-Length: 5\r\n\r\nname="
    second = b"POST http://elsewhere.test/steal HTTP/1.1\r\nHost: elsewhere.test\r\nContent-Length: 2\r\n\r\npw"
    got = _exchange(port, first + second)
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"Connection: close" in head and b"keep-alive" not in head and body == b"ok"
    sent = b"".join(upstream.received)
    assert sent.startswith(b"POST http://ihub.test:8000/CreateHub HTTP/1.1\r\nHost: ihub.test:8000\r\n")
    assert sent.endswith(b"Connection: close\r\n\r\nname=") and b"keep-alive" not in sent
    assert b"elsewhere" not in sent and b"Proxy-Authorization: Basic " in sent


def test_a_chunked_body_is_not_relayed(relay: tuple[GuardProxy, _Upstream, int]) -> None:
    _, upstream, port = relay
    got = _exchange(port, b"POST http://ihub.test:8000/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\npw\r\n0\r\n\r\n")
    assert got == b"" and upstream.received == []


def test_a_corporate_proxy_that_does_not_answer_is_a_bad_gateway() -> None:
    with socket.socket() as nothing:
        nothing.bind(("127.0.0.1", 0))
        guard = GuardProxy(BASE, Upstream("127.0.0.1", nothing.getsockname()[1]))
        try:
            port = int(guard.start().rsplit(":", 1)[1])
            assert _exchange(port, b"CONNECT ihub.test:8000 HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 502 ")
        finally:
            guard.close()
