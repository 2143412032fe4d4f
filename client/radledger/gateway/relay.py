"""A lean HTTP/1.1 GET for relaying large WADO-RS answers from the upstream.

Retrieving a study moves tens or hundreds of megabytes, and every copy of them in Python costs
about as much as the transfer itself. The general-purpose async client (httpx over httpcore,
anyio and h11) copies each block several times on its way in; here the bytes the socket
delivers are handed on as they are: an `asyncio.Protocol` queues them (pausing the socket when
the requester reads slower than the PACS sends), and the response framing (Content-Length,
chunked, or until close) is cut without copying the blocks it does not split. Only what the gateway needs is supported:
GET, HTTP basic authentication, TLS with a verifying context, one connection per request
(`Connection: close`).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

import httpx

from radledger.gateway.errors import UpstreamError

MAX_HEAD_BYTES = 64 * 1024
HIGH_WATER = 4 << 20
"""Bytes queued from the upstream before its socket is paused."""
LOW_WATER = 1 << 20


class _Inbound(asyncio.Protocol):
    """Queues what the upstream sends, with flow control."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._queue: collections.deque[bytes] = collections.deque()
        self._queued = 0
        self._paused = False
        self._done = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._queue.append(data)
        self._queued += len(data)
        if self._queued > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self._done = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._done = True
        self._error = exc
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def read(self) -> bytes | None:
        """The next block received, or None once the upstream has closed."""
        while not self._queue:
            if self._done:
                if self._error is not None:
                    raise UpstreamError(502, f"the upstream connection failed: {type(self._error).__name__}")
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        data = self._queue.popleft()
        self._queued -= len(data)
        if self._paused and self._queued < LOW_WATER and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data


class ResponseReader:
    """Reads one HTTP/1.1 response from a source of blocks (`read()` → bytes, None at the end)."""

    def __init__(self, read: Callable[[], Awaitable[bytes | None]]) -> None:
        self._read = read
        self._held = b""

    async def _more(self) -> bytes | None:
        if self._held:
            data, self._held = self._held, b""
            return data
        return await self._read()

    async def head(self) -> tuple[int, httpx.Headers]:
        """The status code and headers (informational 1xx answers skipped)."""
        while True:
            buffer = b""
            while (end := buffer.find(b"\r\n\r\n")) < 0:
                if len(buffer) > MAX_HEAD_BYTES:
                    raise UpstreamError(502, "the upstream's response head is too long")
                data = await self._more()
                if data is None:
                    raise UpstreamError(502, "the upstream closed the connection without answering")
                buffer += data
            self._held = buffer[end + 4 :]
            lines = buffer[:end].decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
                raise UpstreamError(502, f"not an HTTP/1.x status line: {lines[0][:80]!r}")
            fields = []
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if not sep or not name.strip():
                    raise UpstreamError(502, "malformed header line from the upstream")
                fields.append((name.strip(), value.strip()))
            status = int(parts[1])
            if 100 <= status < 200:
                continue
            return status, httpx.Headers(fields)

    async def body(self, status: int, headers: httpx.Headers) -> AsyncGenerator[bytes, None]:
        """The body's bytes as they arrive, framing removed."""
        if status in (204, 304):
            return
        if "chunked" in headers.get("transfer-encoding", "").lower():
            async for piece in self._chunked():
                yield piece
        elif "content-length" in headers:
            try:
                remaining = int(headers["content-length"])
            except ValueError:
                raise UpstreamError(502, "invalid Content-Length from the upstream") from None
            while remaining > 0:
                data = await self._more()
                if data is None:
                    raise UpstreamError(502, "the upstream closed the connection before the end of the body")
                if len(data) > remaining:
                    data = data[:remaining]
                remaining -= len(data)
                yield data
        else:
            while (data := await self._more()) is not None:
                yield data

    async def _line(self, first: bytes) -> bytes:
        """A CRLF-terminated line starting with `first` (and what follows in the source)."""
        buffer = first
        while (end := buffer.find(b"\r\n")) < 0:
            if len(buffer) > 4096:
                raise UpstreamError(502, "chunked framing line too long")
            data = await self._more()
            if data is None:
                raise UpstreamError(502, "the upstream closed the connection inside chunked framing")
            buffer += data
        self._held = buffer[end + 2 :]
        return buffer[:end]

    async def _chunked(self) -> AsyncGenerator[bytes, None]:
        while True:
            size_line = await self._line(b"")
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise UpstreamError(502, "invalid chunk size from the upstream") from None
            if size == 0:
                while await self._line(b""):  # trailers, up to the blank line
                    pass
                return
            while size > 0:
                data = await self._more()
                if data is None:
                    raise UpstreamError(502, "the upstream closed the connection inside a chunk")
                if len(data) > size:  # the chunk ends inside this block: only this block is copied
                    data, self._held = data[:size], data[size:]
                size -= len(data)
                yield data
            if await self._line(b""):
                raise UpstreamError(502, "chunk not followed by CRLF")


class RelayResponse:
    """An upstream answer whose body is read as it is relayed (same surface as httpx's)."""

    def __init__(
        self,
        status_code: int,
        headers: httpx.Headers,
        reader: ResponseReader,
        transport: asyncio.Transport,
        timeout: float,
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self._reader = reader
        self._transport = transport
        self._timeout = timeout

    async def aiter_raw(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """The body as it arrives (`chunk_size` is accepted for compatibility and ignored)."""
        body = self._reader.body(self.status_code, self.headers)
        try:
            while True:
                try:
                    async with asyncio.timeout(self._timeout):
                        piece = await anext(body)
                except StopAsyncIteration:
                    return
                yield piece
        except TimeoutError:
            raise UpstreamError(504, "the upstream stopped sending") from None
        finally:
            await body.aclose()
            await self.aclose()

    async def aread(self) -> bytes:
        return b"".join([chunk async for chunk in self.aiter_raw()])

    async def aclose(self) -> None:
        self._transport.close()


async def relay_get(
    url: str,
    params: Any = None,
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    tls: ssl.SSLContext | None = None,
    timeout: float = 60.0,
) -> RelayResponse:
    """Send `GET url` and read the status line and headers; the body is left to the caller."""
    target = httpx.URL(url, params=params)
    if target.scheme not in ("http", "https"):
        raise UpstreamError(0, f"unsupported upstream scheme {target.scheme!r}")
    port = target.port or (443 if target.scheme == "https" else 80)
    lines = [
        f"GET {target.raw_path.decode('ascii')} HTTP/1.1",
        f"Host: {target.netloc.decode('ascii')}",
        "User-Agent: radledger-gateway",
        "Accept-Encoding: identity",
        "Connection: close",
    ]
    if auth is not None:
        lines.append("Authorization: Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    for name, value in (headers or {}).items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise UpstreamError(400, f"header {name!r} has a line break")
        lines.append(f"{name}: {value}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    loop = asyncio.get_running_loop()
    secure = (tls or ssl.create_default_context()) if target.scheme == "https" else None
    try:
        async with asyncio.timeout(timeout):
            transport, protocol = await loop.create_connection(_Inbound, target.host, port, ssl=secure)
    except (OSError, TimeoutError) as exc:
        raise UpstreamError(502, f"cannot reach the upstream: {type(exc).__name__}") from None
    try:
        transport.write(request)
        reader = ResponseReader(protocol.read)
        async with asyncio.timeout(timeout):
            status, response_headers = await reader.head()
    except TimeoutError:
        transport.close()
        raise UpstreamError(504, "the upstream did not answer in time") from None
    except BaseException:
        transport.close()
        raise
    return RelayResponse(status, response_headers, reader, transport, timeout)
