"""A lean HTTP/1.1 GET for relaying large WADO-RS answers from the upstream.

Retrieving a study moves tens or hundreds of megabytes; the general-purpose async client
(httpx over httpcore and anyio) reads them in 64 KiB steps, each through several layers, and
costs about twice the transfer itself. Here a request is one `asyncio` connection and the
`h11` state machine, read in large blocks: the relay adds little to what the PACS takes. Only
what the gateway needs is supported: GET, HTTP basic authentication, TLS with a verifying
context, one connection per request (`Connection: close`), any body framing h11 knows
(Content-Length, chunked, or until close).
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import AsyncIterator
from typing import Any

import h11
import httpx

from radledger.gateway.errors import UpstreamError

READ_SIZE = 1 << 20
MAX_HEADER_BYTES = 64 * 1024


class RelayResponse:
    """An upstream answer whose body is read as it is relayed (same surface as httpx's)."""

    def __init__(
        self,
        status_code: int,
        headers: httpx.Headers,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        timeout: float,
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self._conn = conn
        self._reader = reader
        self._writer = writer
        self._timeout = timeout
        self._closed = False

    async def aiter_raw(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """The body as it arrives (`chunk_size` is accepted for compatibility and ignored)."""
        conn = self._conn
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    async with asyncio.timeout(self._timeout):
                        data = await self._reader.read(READ_SIZE)
                    conn.receive_data(data)
                    continue
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    return
        except h11.RemoteProtocolError as exc:
            raise UpstreamError(502, f"the upstream broke HTTP: {exc}") from None
        except (OSError, TimeoutError) as exc:
            raise UpstreamError(502, f"the upstream connection failed: {type(exc).__name__}") from None
        finally:
            await self.aclose()

    async def aread(self) -> bytes:
        return b"".join([chunk async for chunk in self.aiter_raw()])

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._writer.close()


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
    request_headers = [
        ("Host", target.netloc.decode("ascii")),
        ("User-Agent", "radledger-gateway"),
        ("Accept-Encoding", "identity"),
        ("Connection", "close"),
    ]
    if auth is not None:
        request_headers.append(("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()))
    request_headers += list((headers or {}).items())
    conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEADER_BYTES)
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                target.host, port, ssl=(tls or ssl.create_default_context()) if target.scheme == "https" else None,
                limit=READ_SIZE,
            )  # fmt: skip
    except (OSError, TimeoutError) as exc:
        raise UpstreamError(502, f"cannot reach the upstream: {type(exc).__name__}") from None
    try:
        writer.write(conn.send(h11.Request(method="GET", target=target.raw_path, headers=request_headers)))
        writer.write(conn.send(h11.EndOfMessage()))
        async with asyncio.timeout(timeout):
            await writer.drain()
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await reader.read(READ_SIZE))
                    continue
                if isinstance(event, h11.InformationalResponse):
                    continue
                if isinstance(event, h11.Response):
                    response_headers = httpx.Headers(
                        [(k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers]
                    )
                    return RelayResponse(event.status_code, response_headers, conn, reader, writer, timeout)
                raise UpstreamError(502, "the upstream closed the connection without answering")
    except h11.RemoteProtocolError as exc:
        writer.close()
        raise UpstreamError(502, f"the upstream broke HTTP: {exc}") from None
    except (OSError, TimeoutError) as exc:
        writer.close()
        raise UpstreamError(502, f"the upstream connection failed: {type(exc).__name__}") from None
    except BaseException:
        writer.close()
        raise
