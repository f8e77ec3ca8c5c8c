"""The browser's proxy behind a corporate proxy: a loopback server that sends the base's
traffic on to the corporate proxy and refuses every other request.

Chromium asks its proxy for every request, each hop of a redirect included, so a request that
Inter-Hub redirects elsewhere is refused like any other and never leaves: after a 307 or 308,
not even a form's fields (a login's password among them). (A Playwright route, the other way to
filter requests, is not asked about a redirect's next hop, and turns Chromium's HTTP cache off.)

Only what the base needs is relayed: a tunnel (``CONNECT``) to the base's host and port (HTTPS,
and a WebSocket), and a plain request whose absolute URL is of the base's origin (plain
``http://``, which the tool allows for loopback addresses only). What goes upstream is written
from the parsed address, not copied: the tunnel always names the base, a plain request is sent as
the base's origin and the path, so an address the corporate proxy would read otherwise than this
check did cannot lead anywhere else. Of a plain request, only its head and its body (by its
Content-Length) go upstream, with ``Connection: close``: a next request on the same connection
could be for another host, and is never relayed (Chromium sends it again on a new connection).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pages.origins import origin, scheme_host_port

_HEAD_LIMIT = 64 * 1024  # a request's or a reply's head, at most
_HEAD_TIMEOUT_S = 30.0  # for a head to arrive, from Chromium or from the corporate proxy
_REFUSED = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_NO_UPSTREAM = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_ESTABLISHED = b"HTTP/1.1 200 Connection established\r\n\r\n"
_CLOSE = b"Connection: close\r\n\r\n"
# not passed on: hop-by-hop headers, and of a request, Host (written from the checked address)
_HOP_BY_HOP = {"connection", "proxy-connection", "keep-alive", "proxy-authorization", "proxy-authenticate", "te", "trailer", "upgrade"}
_DROPPED = _HOP_BY_HOP | {"host"}


@dataclass(frozen=True)
class Upstream:
    """The corporate proxy: an ``http://`` proxy's host and port, and its credentials if any
    (secret: kept in memory, sent only to it)."""

    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)

    def authorization(self) -> bytes:
        if not self.username:
            return b""
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
        return f"Proxy-Authorization: Basic {token}\r\n".encode("ascii")


def upstream_line(base: str, request_line: str) -> str | None:
    """The request line to send the corporate proxy for one Chromium sent this proxy, or None
    where it is not for the base's origin (refused)."""
    parts = request_line.split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.0", "HTTP/1.1") or not request_line.isascii() or not request_line.isprintable():
        return None
    method, target, version = parts
    scheme, host, port = scheme_host_port(base)
    if method == "CONNECT":
        if "/" in target or "@" in target or scheme_host_port(f"{scheme}://{target}")[1:] != (host, port):
            return None
        return f"CONNECT {host}:{port} {version}"
    if not method.isalpha() or scheme != "http" or scheme_host_port(target) != (scheme, host, port):
        return None
    parts_of = urlsplit(target)
    if parts_of.username is not None or parts_of.password is not None:
        return None
    path = (parts_of.path or "/") + (f"?{parts_of.query}" if parts_of.query else "")
    return f"{method} {origin(base)}{path} {version}"


class GuardProxy:
    """``start()`` gives the proxy's address (``http://127.0.0.1:PORT``); ``close()`` ends it.
    What it refuses, Chromium reports as a failed request, which the origin guard names."""

    def __init__(self, base: str, upstream: Upstream):
        self.base = base
        self.upstream = upstream
        self._host_header = f"Host: {origin(base).split('://', 1)[1]}\r\n".encode("ascii")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> str:
        if self._server is None:
            ready = threading.Event()
            self._loop = asyncio.new_event_loop()

            async def listen() -> None:
                self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=_HEAD_LIMIT)
                ready.set()

            def run() -> None:
                assert self._loop is not None
                asyncio.set_event_loop(self._loop)
                self._loop.run_until_complete(listen())
                self._loop.run_forever()

            self._thread = threading.Thread(target=run, name="ihub-guard-proxy", daemon=True)
            self._thread.start()
            ready.wait()
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            loop.stop()

        asyncio.run_coroutine_threadsafe(stop(), loop)
        thread.join(timeout=10)
        loop.close()
        self._loop = self._thread = self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        upstream_writer: asyncio.StreamWriter | None = None
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _HEAD_TIMEOUT_S)
            request_line, _, headers = head.decode("latin-1").partition("\r\n")
            line = upstream_line(self.base, request_line)
            if line is None:
                if request_line.startswith("CONNECT "):
                    writer.write(_REFUSED)  # Chromium: ERR_TUNNEL_CONNECTION_FAILED
                return  # a plain request: the connection closes unanswered (ERR_EMPTY_RESPONSE)
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(
                    self.upstream.host, self.upstream.port, limit=_HEAD_LIMIT
                )
            except OSError:
                writer.write(_NO_UPSTREAM)
                return
            if line.startswith("CONNECT "):
                upstream_writer.write(f"{line}\r\n".encode("ascii") + self._host_header + self.upstream.authorization() + b"\r\n")
                reply = await asyncio.wait_for(upstream_reader.readuntil(b"\r\n\r\n"), _HEAD_TIMEOUT_S)
                if reply.split(b" ", 2)[1:2] != [b"200"]:
                    writer.write(reply)  # the corporate proxy's refusal, as it gave it
                    return
                writer.write(_ESTABLISHED)
                await asyncio.gather(_relay(reader, upstream_writer), _relay(upstream_reader, writer))
                return
            kept = _kept(headers, _DROPPED)
            length = _content_length(kept)
            upstream_writer.write(f"{line}\r\n".encode("ascii") + self._host_header + kept.encode("latin-1") + self.upstream.authorization() + _CLOSE)
            while length > 0:  # the body, as it comes
                chunk = await asyncio.wait_for(reader.read(min(length, 65536)), _HEAD_TIMEOUT_S)
                if not chunk:
                    return
                upstream_writer.write(chunk)
                await upstream_writer.drain()
                length -= len(chunk)
            # the answer, marked as the connection's last: Chromium does not send the next
            # request on it (which would not be relayed)
            reply = await asyncio.wait_for(upstream_reader.readuntil(b"\r\n\r\n"), _HEAD_TIMEOUT_S)
            status_line, _, fields = reply.decode("latin-1").partition("\r\n")
            writer.write(f"{status_line}\r\n{_kept(fields, _HOP_BY_HOP)}".encode("latin-1") + _CLOSE)
            await _relay(upstream_reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, UnicodeError, ValueError):
            pass
        finally:
            for w in (writer, upstream_writer):
                if w is not None:
                    with contextlib.suppress(Exception):
                        w.close()
            self._tasks.discard(task)


def _kept(head: str, dropped: set[str]) -> str:
    """A head's header lines (after its first line), each ending in CRLF, but the ``dropped``."""
    lines = [h for h in head.split("\r\n") if h]
    return "".join(f"{h}\r\n" for h in lines if h.partition(":")[0].strip().lower() not in dropped)


def _content_length(headers: str) -> int:
    """A plain request's body length; ValueError for a body of no stated length (chunked)."""
    lines = [h for h in headers.split("\r\n") if h]
    fields = {name.strip().lower(): value.strip() for name, _, value in (h.partition(":") for h in lines)}
    if "transfer-encoding" in fields:
        raise ValueError("a request body without a length is not relayed")
    length = int(fields.get("content-length", "0"))
    if length < 0:
        raise ValueError("negative Content-Length")
    return length


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copies until the reader ends, then ends the writer's side."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()
