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
check did cannot lead anywhere else. Of a plain request, only its head and its body (by its one
Content-Length) go upstream, with ``Connection: close``, and its answer goes back marked as the
connection's last: a next request on the same connection could be for another host, and is
never relayed. The corporate proxy's credentials (Basic) are added here: Chromium never sees
them. What the corporate proxy refused (a 407: it wants another kind of authentication) or
could not be reached for is kept in :attr:`GuardProxy.trouble`, for the error's hint.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import threading
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

from pages.origins import origin, scheme_host_port

_HEAD_LIMIT = 64 * 1024  # a request's or a reply's head, at most
_CLIENT_TIMEOUT_S = 30.0  # for Chromium's request head and body (it sends them at once)
_UPSTREAM_TIMEOUT_S = 60.0  # for the corporate proxy to take a connection and to open a tunnel
_REFUSED = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_BAD_GATEWAY = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_ESTABLISHED = b"HTTP/1.1 200 Connection established\r\n\r\n"
_CLOSE = b"Connection: close\r\n\r\n"
# not passed on: hop-by-hop headers (and those a Connection header names), and of a request,
# Host and Content-Length (written here from what was checked)
_HOP_BY_HOP = {"connection", "proxy-connection", "keep-alive", "proxy-authorization", "proxy-authenticate", "te", "trailer", "upgrade"}
_DIGITS = re.compile(r"[0-9]{1,15}")
_BODY_LIMIT = 16 * 1024 * 1024  # a form's body, at most (read whole before anything goes upstream)
_T = TypeVar("_T")


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

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


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


def request_fields(head: str) -> tuple[str, int | None]:
    """A plain request's header lines to pass on (each ending in CRLF, without the hop-by-hop
    ones and Host and Content-Length), and its body's length (None: no Content-Length).
    ValueError where its body has no one plain length (chunked, two Content-Length headers, a
    malformed one, more than :data:`_BODY_LIMIT`) or a header is folded onto the next line:
    such a request is not relayed (Chromium sends none of them for the admin UI's forms)."""
    lines = [h for h in head.split("\r\n") if h]
    if any(h[0] in " \t" for h in lines):
        raise ValueError("a folded header line")
    fields = [(name.strip().lower(), value.strip()) for name, _, value in (h.partition(":") for h in lines)]
    if any(name == "transfer-encoding" for name, _ in fields):
        raise ValueError("a request body without a length")
    lengths = [value for name, value in fields if name == "content-length"]
    if len(lengths) > 1 or (lengths and not _DIGITS.fullmatch(lengths[0])) or (lengths and int(lengths[0]) > _BODY_LIMIT):
        raise ValueError("not one plain Content-Length")
    dropped = _HOP_BY_HOP | {"host", "content-length"} | {
        token.strip().lower() for name, value in fields if name == "connection" for token in value.split(",")
    }
    kept = "".join(f"{h}\r\n" for h, (name, _) in zip(lines, fields) if name not in dropped)
    return kept, int(lengths[0]) if lengths else None


def _answer_head(reply: str) -> str:
    """The corporate proxy's answer head as passed to Chromium: the same, without hop-by-hop
    headers, marked as the connection's last."""
    status_line, _, head = reply.partition("\r\n")
    lines = [h for h in head.split("\r\n") if h]
    kept = "".join(f"{h}\r\n" for h in lines if h.partition(":")[0].strip().lower() not in _HOP_BY_HOP)
    return f"{status_line}\r\n{kept}"


class GuardProxy:
    """``start()`` gives the proxy's address (``http://127.0.0.1:PORT``); ``close()`` ends it.
    What it refuses, Chromium reports as a failed request, which the origin guard names.
    ``trouble``: the last time the corporate proxy could not be reached or would not relay a
    request to the base (for the error's hint)."""

    def __init__(self, base: str, upstream: Upstream):
        self.base = base
        self.upstream = upstream
        _, host, port = scheme_host_port(base)
        self._authority = f"{host}:{port}"
        self._host_header = f"Host: {origin(base).split('://', 1)[1]}\r\n".encode("ascii")
        self.trouble: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """The proxy's address, listening; OSError where it cannot listen."""
        if self._server is None:
            loop = asyncio.new_event_loop()
            ready = threading.Event()
            failed: list[BaseException] = []

            def run() -> None:
                asyncio.set_event_loop(loop)
                try:
                    self._server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0, limit=_HEAD_LIMIT))
                except BaseException as exc:  # noqa: BLE001 - handed to start()'s caller
                    failed.append(exc)
                    return
                finally:
                    ready.set()
                loop.run_forever()

            self._loop, self._thread = loop, threading.Thread(target=run, name="ihub-guard-proxy", daemon=True)
            self._thread.start()
            ready.wait()
            if failed:
                self._thread.join()
                loop.close()
                self._loop = self._thread = None
                raise failed[0]
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    def close(self) -> None:
        """Stops listening and ends every connection (a second call does nothing)."""
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None:
            return
        server, self._server = self._server, None

        async def stop() -> None:
            if server is not None:
                server.close()
            # every connection's task, one accepted a moment ago and not yet started included
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            loop.stop()

        if thread.is_alive():
            asyncio.run_coroutine_threadsafe(stop(), loop)
            thread.join(timeout=10)
        if not thread.is_alive():
            loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: list[asyncio.StreamWriter] = []  # the connection to the corporate proxy, once open
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _CLIENT_TIMEOUT_S)
            request_line, _, headers = head.decode("latin-1").partition("\r\n")
            line = upstream_line(self.base, request_line)
            if line is None:
                if request_line.startswith("CONNECT "):
                    writer.write(_REFUSED)  # Chromium: ERR_TUNNEL_CONNECTION_FAILED
                return  # a plain request: the connection closes unanswered (ERR_EMPTY_RESPONSE)
            if line.startswith("CONNECT "):
                await self._tunnel(line, headers, reader, writer, upstream)
            else:
                await self._plain(line, headers, reader, writer, upstream)
        except (OSError, EOFError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, UnicodeError, ValueError):
            pass
        finally:
            for w in (writer, *upstream):
                with contextlib.suppress(Exception):
                    w.close()

    async def _connect(self, upstream: list[asyncio.StreamWriter]) -> asyncio.StreamReader:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.upstream.host, self.upstream.port, limit=_HEAD_LIMIT), _UPSTREAM_TIMEOUT_S
            )
        except (OSError, asyncio.TimeoutError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "no answer"
            self.trouble = f"cannot connect to the corporate proxy {self.upstream.address} ({reason})"
            raise
        upstream.append(writer)
        return reader

    async def _tunnel(self, line: str, headers: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      upstream: list[asyncio.StreamWriter]) -> None:
        """A tunnel to the base (HTTPS, a WebSocket): the corporate proxy's, once it agrees."""
        try:
            upstream_reader = await self._connect(upstream)
        except (OSError, asyncio.TimeoutError):
            writer.write(_BAD_GATEWAY)
            return
        user_agent = next((h for h in headers.split("\r\n") if h.lower().startswith("user-agent:")), None)
        upstream[0].write(
            f"{line}\r\nHost: {self._authority}\r\n".encode("ascii")
            + (f"{user_agent}\r\n".encode("latin-1") if user_agent else b"")
            + self.upstream.authorization()
            + b"\r\n"
        )
        reply = (await asyncio.wait_for(upstream_reader.readuntil(b"\r\n\r\n"), _UPSTREAM_TIMEOUT_S)).decode("latin-1")
        if reply.split(" ", 2)[1:2] != ["200"]:
            self._refused_by_upstream(reply)
            writer.write(_BAD_GATEWAY)
            return
        writer.write(_ESTABLISHED)
        await asyncio.gather(_relay(reader, upstream[0]), _relay(upstream_reader, writer))

    async def _plain(self, line: str, headers: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     upstream: list[asyncio.StreamWriter]) -> None:
        """One plain request of the base's: its head and body, whole, then its answer, for as
        long as Chromium waits for it (Inter-Hub may take its time: the tool's timeout rules)."""
        kept, length = request_fields(headers)
        body = await asyncio.wait_for(reader.readexactly(length or 0), _CLIENT_TIMEOUT_S)

        async def exchange() -> None:
            upstream_reader = await self._connect(upstream)
            stated = b"" if length is None else f"Content-Length: {length}\r\n".encode("ascii")
            upstream[0].write(
                f"{line}\r\n".encode("ascii") + self._host_header + kept.encode("latin-1") + stated
                + self.upstream.authorization() + _CLOSE + body
            )
            reply = (await upstream_reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            if reply.split(" ", 2)[1:2] == ["407"]:
                self._refused_by_upstream(reply)
                return  # not Inter-Hub's answer: the request fails (ERR_EMPTY_RESPONSE)
            writer.write(_answer_head(reply).encode("latin-1") + _CLOSE)
            await _relay(upstream_reader, writer)

        await _until_gone(reader, exchange())

    def _refused_by_upstream(self, reply: str) -> None:
        status = reply.partition("\r\n")[0].split(" ", 1)[-1]
        self.trouble = f"the corporate proxy {self.upstream.address} answered {status} for {self._authority}"
        if status.startswith("407"):
            self.trouble += " (it wants credentials, or another kind of authentication than Basic)"


async def _until_gone(reader: asyncio.StreamReader, work: Awaitable[_T]) -> _T:
    """``work``'s result; EOFError where Chromium closes the connection first (it gave up):
    nothing waits on for an answer nobody reads. What Chromium sends meanwhile is dropped (a
    plain request's connection carries nothing more)."""
    job = asyncio.ensure_future(work)

    async def gone() -> None:
        while await reader.read(65536):
            pass  # nothing more is relayed from this connection

    watch = asyncio.ensure_future(gone())
    try:
        await asyncio.wait({job, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
    if not job.done():
        job.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await job
        raise EOFError("the browser closed the connection")
    return job.result()


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
