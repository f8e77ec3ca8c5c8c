"""The origin guard's proxy behind a corporate proxy (flows.guard_proxy), over real sockets on
loopback: what it relays to the corporate proxy, what it refuses, and that no address it is
given, however written, makes it send anything to another origin; and how the proxy variables
are read (flows.network)."""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.errors import BadInputError
from flows.guard_proxy import GuardProxy, Upstream, peer_uid, upstream_line
from flows.network import corporate_proxy, no_proxy_names
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
        ("GET http://ihub.test:8000[ HTTP/1.1", None),  # no URL at all (Python's parser raises)
        ("CONNECT ihub.test:8000[ HTTP/1.1", None),
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
        target = "http://" + target
    else:
        assert method.isalpha() and target.startswith(origin(BASE) + "/") and "#" not in target
    # read by another parser (the corporate proxy's), what was accepted still names the base
    url = httpx.URL(target)
    assert (url.scheme, url.host, url.port, url.userinfo) == ("http", "ihub.test", 8000, b"")
    # and what was accepted was Chromium's own way of asking for the base's origin
    asked = line.split(" ")[1]
    assert origin(asked if method != "CONNECT" else "http://" + asked) == origin(BASE)


class _Upstream:
    """A corporate proxy that notes what it receives: it answers a CONNECT with 200 (or
    ``status``) and then echoes the tunnel's bytes, and anything else with a small response
    (``status``), kept alive (as a careless proxy might), closing after a quiet half second.
    (Each read waits up to 10 s: a busy machine may stall a thread that long.)"""

    def __init__(self, status: bytes = b"200 OK") -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.status = status
        self.accepted = 0
        self.received: list[bytes] = []
        self._threads: list[threading.Thread] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.server.accept()
                self.accepted += 1
                self._threads.append(threading.Thread(target=self._serve, args=(connection,), daemon=True))
                self._threads[-1].start()

    def _serve(self, connection: socket.socket) -> None:
        got = b""
        connection.settimeout(10)
        with connection, contextlib.suppress(OSError):
            while b"\r\n\r\n" not in got and (data := connection.recv(65536)):
                got += data
            refusal = b"HTTP/1.1 " + self.status + b"\r\nProxy-Authenticate: Negotiate\r\nContent-Length: 0\r\n\r\n"
            if got.startswith(b"CONNECT "):
                if not self.status.startswith(b"200"):
                    connection.sendall(refusal)
                    return
                connection.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                got_tunnel = connection.recv(65536)
                connection.sendall(got_tunnel)
                got += got_tunnel
            elif got:
                connection.sendall(
                    refusal if not self.status.startswith(b"200")
                    else b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nok"
                )
                connection.settimeout(0.5)  # then quiet: the close a careless proxy makes late
                with contextlib.suppress(TimeoutError):
                    while data := connection.recv(65536):
                        got += data
        self.received.append(got)

    def finish(self) -> None:
        """Every connection it took has ended (what they carried is in ``received``)."""
        for thread in self._threads:
            thread.join(timeout=10)


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
            s.settimeout(10)
            while chunk := s.recv(65536):
                got += chunk
                if got.startswith(b"HTTP/1.1 200 Connection established\r\n\r\n") and got.endswith(b"hello"):
                    break
        return got


_CONNECT_AS_NOBODY = """
import os, socket, sys
"".encode("idna")  # loaded before the stdlib (root's) is out of reach
try:
    os.setgid(65534); os.setuid(65534)
except OSError as exc:  # a container that maps no such user
    sys.stderr.write(str(exc)); sys.exit(77)
family, address = (socket.AF_INET, "127.0.0.1") if sys.argv[2] == "ipv4" else (socket.AF_INET6, "::ffff:127.0.0.1")
with socket.socket(family) as s:
    s.settimeout(10)
    s.connect((address, int(sys.argv[1])))
    s.sendall(b"CONNECT ihub.test:8000 HTTP/1.1\\r\\n\\r\\nhello")
    got = b""
    try:
        while chunk := s.recv(65536):
            got += chunk
            if got.endswith(b"hello"):
                break
    except ConnectionResetError:  # closed unanswered, what was sent unread
        pass
    sys.stdout.write(repr(got))
"""


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0 or not os.path.exists("/proc/net/tcp"), reason="needs root (to be another user) and Linux")
@pytest.mark.parametrize("family", ["ipv4", "ipv6 to ::ffff:127.0.0.1"])
def test_another_users_process_cannot_use_the_proxy(relay: tuple[GuardProxy, _Upstream, int], family: str) -> None:
    if family.startswith("ipv6") and not (socket.has_ipv6 and os.path.exists("/proc/net/tcp6")):
        pytest.skip("no IPv6 on this machine")
    # While a run lasts, its proxy listens on 127.0.0.1: another user's process gets nothing
    # from it (else it could reach the base with the operator's corporate-proxy credentials),
    # whichever socket it comes by (an IPv6 one is listed in /proc/net/tcp6 only).
    _, upstream, port = relay
    other = subprocess.run(
        [os.path.realpath(sys.executable), "-I", "-S", "-c", _CONNECT_AS_NOBODY, str(port), family.split()[0]],
        capture_output=True, text=True, timeout=30, cwd="/",
    )
    if other.returncode == 77:
        pytest.skip(f"cannot become another user here: {other.stderr.strip()}")
    assert other.returncode == 0, other.stderr
    assert other.stdout == "b''" and upstream.accepted == 0
    # the same request from this user goes through
    assert _exchange(port, b"CONNECT ihub.test:8000 HTTP/1.1\r\n\r\nhello").endswith(b"hello") and upstream.accepted == 1


def _table(path: Path, rows: list[tuple[str, str, int]]) -> str:
    """A socket table as Linux prints it: a heading, then rows of (local, remote, uid)."""
    heading = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    lines = [f"{i:4}: {local} {remote} 01 00000000:00000000 00:00000000 00000000 {uid:5} 0 {1000 + i} 1 0\n" for i, (local, remote, uid) in enumerate(rows)]
    path.write_text(heading + "".join(lines))
    return str(path)


def test_the_peers_owner_is_read_from_either_socket_table(tmp_path: Path) -> None:
    # (little-endian words, as on x86: 127.0.0.1 is 0100007F)
    if sys.byteorder != "little":
        pytest.skip("the rows below are written as a little-endian kernel prints them")
    peer, local = ("127.0.0.1", 0xD962), ("127.0.0.1", 0x1F90)
    tcp = _table(tmp_path / "tcp", [("0100007F:1F90", "0100007F:D962", 0), ("0100007F:D962", "0100007F:1F90", 1000)])
    assert peer_uid(peer, local, (tcp,)) == 1000  # the client's row, not the server's own
    tcp6 = _table(tmp_path / "tcp6", [("0000000000000000FFFF00000100007F:D962", "0000000000000000FFFF00000100007F:1F90", 1001)])
    empty = _table(tmp_path / "empty", [])
    assert peer_uid(peer, local, (empty, tcp6)) == 1001  # an IPv6 socket to ::ffff:127.0.0.1
    with pytest.raises(LookupError):  # listed nowhere: not served
        peer_uid(("127.0.0.1", 1), local, (tcp, tcp6))
    with pytest.raises(LookupError):
        peer_uid(None, local, (tcp,))
    assert peer_uid(peer, local, (str(tmp_path / "none"),)) is None  # no table: nothing to tell by


def test_a_request_elsewhere_is_refused_and_none_reaches_the_corporate_proxy(relay: tuple[GuardProxy, _Upstream, int]) -> None:
    _, upstream, port = relay
    assert _exchange(port, b"CONNECT elsewhere.test:443 HTTP/1.1\r\nHost: elsewhere.test:443\r\n\r\n").startswith(b"HTTP/1.1 403 ")
    assert _exchange(port, b"POST http://elsewhere.test/CreateSession HTTP/1.1\r\nContent-Length: 3\r\n\r\npw!") == b""
    assert upstream.accepted == 0


def test_the_bases_tunnel_goes_through_with_the_proxys_credentials(relay: tuple[GuardProxy, _Upstream, int]) -> None:
    _, upstream, port = relay
    got = _exchange(port, b"CONNECT IHUB.test:8000 HTTP/1.1\r\nHost: ihub.test:8000\r\n\r\nhello")
    assert got == b"HTTP/1.1 200 Connection established\r\n\r\nhello"
    token = base64.b64encode("corp\u00e9:p@ss:w\u00f6rd".encode()).decode()
    upstream.finish()
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
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"Connection: close" in head and body == b"ok"
    assert b"keep-alive" not in head.lower()
    upstream.finish()
    assert upstream.accepted == 1
    sent = b"".join(upstream.received)
    assert sent.startswith(b"POST http://ihub.test:8000/CreateHub HTTP/1.1\r\nHost: ihub.test:8000\r\n")
    assert sent.endswith(b"Connection: close\r\n\r\nname=") and b"keep-alive" not in sent
    assert b"elsewhere" not in sent and b"Proxy-Authorization: Basic " in sent


@pytest.mark.parametrize(
    "head",
    [
        b"Transfer-Encoding: chunked\r\n\r\n2\r\npw\r\n0\r\n\r\n",  # no length
        b"Content-Length: 2\r\nContent-Length: 40\r\n\r\npw",  # two lengths: the rest would be a request of its own
        b"Content-Length: +2\r\n\r\npw",
        b"Content-Length: 2\r\n  x: folded\r\n\r\npw",  # a folded line would join the tool's own Host
        b"X: a\nGET http://elsewhere.test/ HTTP/1.1\r\nContent-Length: 2\r\n\r\npw",  # a lone LF: a line of its own there
        b"X: a\rb\r\nContent-Length: 2\r\n\r\npw",
        b"X: a\x00b\r\nContent-Length: 2\r\n\r\npw",
        b"X y: a\r\nContent-Length: 2\r\n\r\npw",  # a name that is no token
    ],
)
def test_a_request_of_no_one_plain_length_is_not_relayed(relay: tuple[GuardProxy, _Upstream, int], head: bytes) -> None:
    _, upstream, port = relay
    assert _exchange(port, b"POST http://ihub.test:8000/x HTTP/1.1\r\nHost: ihub.test:8000\r\n" + head) == b""
    assert upstream.accepted == 0


def test_only_the_tools_own_host_length_and_credentials_go_upstream(relay: tuple[GuardProxy, _Upstream, int]) -> None:
    _, upstream, port = relay
    _exchange(port, (
        b"POST http://ihub.test:8000/x HTTP/1.1\r\nHost: elsewhere.test\r\nConnection: keep-alive, X-Secret\r\n"
        b"X-Secret: hop\r\nProxy-Authorization: Basic Y2hyb21pdW0=\r\nContent-Length: 00002\r\nX-Kept: 1\r\n\r\npw"
    ))
    upstream.finish()
    sent = upstream.received[0]
    assert b"elsewhere" not in sent and b"X-Secret" not in sent and b"Y2hyb21pdW0" not in sent and b"X-Kept: 1\r\n" in sent
    assert sent.count(b"Host: ") == 1 and b"Content-Length: 2\r\n" in sent and sent.endswith(b"\r\n\r\npw")


def test_what_the_corporate_proxy_says_reaches_a_hint_as_printable_words_only() -> None:
    upstream = _Upstream(b"407 \x1b[31mAuth\x07 " + b"x" * 200)
    guard = GuardProxy(BASE, Upstream("127.0.0.1", upstream.port))
    try:
        _exchange(int(guard.start().rsplit(":", 1)[1]), b"CONNECT ihub.test:8000 HTTP/1.1\r\n\r\n")
        said = (guard.trouble or "").split(" answered ", 1)[1].split(" for ihub.test:8000")[0]
        assert said.startswith("407 [31mAuth xxx") and said.isprintable() and len(said) <= 80
        assert "\x1b" not in (guard.trouble or "") and "\x07" not in (guard.trouble or "") and len(said) <= 80
    finally:
        guard.close()
        upstream.server.close()


def test_a_guard_that_cannot_listen_is_a_step_that_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.browser import OriginGuard
    from flows.errors import StepFailed

    def cannot(self: GuardProxy) -> str:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(GuardProxy, "start", cannot)
    with pytest.raises(StepFailed, match="cannot start the browser's proxy on 127.0.0.1: Too many open files"):
        OriginGuard(BASE, upstream=Upstream("127.0.0.1", 9)).proxy()


@pytest.mark.parametrize(
    ("base", "rules"),
    [
        ("http://127.0.0.1:8000", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
        ("https://hub.example.com", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE hub.example.com"),
        ("http://localhost:8000", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"),
        ("http://[::1]:8000", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE ::1"),  # Chromium's rules want it unbracketed
        ("https://xn--bcher-kva.example", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE xn--bcher-kva.example"),
        ("http://127.0.0.2", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE 127.0.0.2"),
    ],
)
def test_only_the_bases_host_resolves(base: str, rules: str) -> None:
    from flows.browser import launch_args
    from flows.provision import CHROMIUM_ARGS

    assert launch_args(base) == [*CHROMIUM_ARGS, f"--host-resolver-rules={rules}"]
    assert "--force-webrtc-ip-handling-policy=disable_non_proxied_udp" in CHROMIUM_ARGS


@pytest.mark.parametrize("tunnel", [True, False], ids=["tunnel", "plain"])
def test_a_corporate_proxy_that_wants_other_credentials_is_named(tunnel: bool) -> None:
    upstream = _Upstream(b"407 Proxy Authentication Required")
    guard = GuardProxy(BASE, Upstream("127.0.0.1", upstream.port, "corp", "Pr0xy-secret"))
    try:
        port = int(guard.start().rsplit(":", 1)[1])
        request = b"CONNECT ihub.test:8000 HTTP/1.1\r\n\r\n" if tunnel else b"GET http://ihub.test:8000/Hubs HTTP/1.1\r\n\r\n"
        got = _exchange(port, request)
        # not the corporate proxy's challenge (Chromium has nothing to answer it with)
        assert got.startswith(b"HTTP/1.1 502 ") if tunnel else got == b""
        assert b"Negotiate" not in got
        assert guard.trouble == (
            f"the corporate proxy 127.0.0.1:{upstream.port} answered 407 Proxy Authentication Required for ihub.test:8000 "
            "(it wants credentials, or another kind of authentication than Basic)"
        )
    finally:
        guard.close()
        upstream.server.close()


def test_a_corporate_proxy_that_refuses_connections_is_a_bad_gateway() -> None:
    with socket.socket() as nothing:
        nothing.bind(("127.0.0.1", 0))
        guard = GuardProxy(BASE, Upstream("127.0.0.1", nothing.getsockname()[1]))
        try:
            port = int(guard.start().rsplit(":", 1)[1])
            assert _exchange(port, b"CONNECT ihub.test:8000 HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 502 ")
            assert (guard.trouble or "").startswith(f"cannot connect to the corporate proxy 127.0.0.1:{nothing.getsockname()[1]} (")
            # a plain request: not answered (a 502 would read as Inter-Hub's own)
            assert _exchange(port, b"GET http://ihub.test:8000/Hubs HTTP/1.1\r\n\r\n") == b""
        finally:
            guard.close()
    guard.close()  # a second time: nothing to do


def test_a_proxy_that_cannot_listen_says_so_and_leaves_nothing_running(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    async def cannot(*args: object, **kwargs: object) -> None:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(asyncio, "start_server", cannot)
    guard = GuardProxy(BASE, Upstream("127.0.0.1", 9))
    with pytest.raises(OSError, match="Too many open files"):
        guard.start()
    assert not [t for t in threading.enumerate() if t.name == "ihub-guard-proxy"]
    guard.close()


@pytest.mark.parametrize(
    ("no_proxy", "host", "port", "names"),
    [
        ("*", "hub.example", 443, True),
        (" example.com , * ", "hub.example", 443, True),
        ("example.com", "example.com", 443, True),
        ("example.com", "hub.example.com", 443, True),  # a name covers its subdomains
        (".example.com", "hub.example.com", 443, True),
        ("*.example.com", "hub.example.com", 443, True),
        ("example.com", "notexample.com", 443, False),
        ("example.com:8443", "example.com", 443, False),
        ("example.com:443", "example.com", 443, True),
        ("::1", "[::1]", 8000, True),
        ("[::1]:8000", "[::1]", 8000, True),
        ("[::1]:9000", "[::1]", 8000, False),
        ("10.0.0.0/8", "10.1.2.3", 80, True),
        ("10.0.0.0/8", "11.1.2.3", 80, False),
        ("10.0.0.0/8", "hub.example", 80, False),
        ("0.0.1", "10.0.0.1", 443, False),  # an address is not named by a suffix
        ("10.0.0.1", "10.0.0.1", 443, True),
        ("", "hub.example", 443, False),
    ],
)
def test_no_proxy_names_a_host_itself_its_subdomains_an_address_or_a_range(no_proxy: str, host: str, port: int, names: bool) -> None:
    assert no_proxy_names(host, port, no_proxy) is names


@pytest.mark.parametrize(
    "value",
    [
        "http://c0rpuser:Xq9z\uff0fwv@proxy:3128",  # a character Python's URL parser refuses
        "http://c0rpuser:Xq9z/wv@proxy:3128",  # an unencoded / in the password: host "wv" otherwise
        "http://c0rpuser:77/Xq9z@proxy",
        "http://c0rpuser:Xq9z?wv@proxy",
        "http://c0rpuser:Xq9z@proxy:0",
        "socks5://c0rpuser:Xq9z/wv@proxy",
        "https://c0rpuser:Xq9z@proxy:3128",
        "ftp://c0rpuser:Xq9z@proxy",
    ],
)
def test_a_proxy_variable_that_is_no_http_proxy_is_refused_without_showing_it(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", value)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(BadInputError) as raised:
        corporate_proxy("https://hub.example")
    said = f"{raised.value.message} {raised.value.where} {raised.value.hint}"
    assert "HTTPS_PROXY" in said and "percent-encoded" in said
    assert "c0rpuser" not in said and "Xq9z" not in said and "wv" not in said and "77" not in said, said


def test_a_proxy_variables_credentials_are_read_percent_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "Proxy.Corp:8080")
    monkeypatch.setenv("HTTPS_PROXY", "http://c%40rp:p%2Fw%3A1@proxy.corp:3128/")
    monkeypatch.setenv("NO_PROXY", "localhost")
    assert corporate_proxy("https://hub.example") == Upstream("proxy.corp", 3128, "c@rp", "p/w:1")
    assert corporate_proxy("http://ihub.test:8000") == Upstream("proxy.corp", 8080)
    monkeypatch.setenv("https_proxy", "http://lower.corp:3128")  # the lower-case one first, as curl and httpx read them
    assert corporate_proxy("https://hub.example") == Upstream("lower.corp", 3128)
    # this machine's own base: no proxy can reach it (and its login would cross the network in clear)
    monkeypatch.setenv("NO_PROXY", "")
    for base in ("http://localhost:8000", "http://127.0.0.1:8000", "http://[::1]:8000", "https://127.0.0.2"):
        assert corporate_proxy(base) is None, base
