"""Incremental multipart/related parsing (RFC 2046), for DICOMweb retrieve responses.

:class:`MultipartParser` takes the body in chunks of any size and yields events: framing bytes
(preamble, delimiters, epilogue), each part's raw header block, and the part's body in pieces.
It never holds more than one chunk plus a delimiter's length of body, so a study of any size
streams through. Two uses:

- the gateway rewrites part headers (`Content-Location` pointing at the upstream) and passes
  everything else through byte for byte (:func:`rewrite_part_headers`);
- the requester and ingestion read whole parts (:class:`PartCollector`), one instance file each.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from radledger.gateway.errors import UpstreamError

_CRLF = b"\r\n"


@dataclass(frozen=True)
class Framing:
    """Bytes between parts: preamble, delimiter lines, the close delimiter, the epilogue."""

    data: bytes


@dataclass(frozen=True)
class Headers:
    """A part's header block, without the blank line that ends it."""

    data: bytes


@dataclass(frozen=True)
class Body:
    """A piece of the current part's body (a view of the chunk fed, when it could pass uncopied)."""

    data: bytes | memoryview


@dataclass(frozen=True)
class PartEnd:
    """The current part's body is complete."""


Event = Framing | Headers | Body | PartEnd


def boundary_of(content_type: str) -> bytes | None:
    """The boundary parameter of a `multipart/...` Content-Type, or None for another type."""
    media_type, _, params = content_type.partition(";")
    if not media_type.strip().lower().startswith("multipart/"):
        return None
    match = re.search(r'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', params, re.IGNORECASE)
    if not match:
        return None
    return (match.group(1) or match.group(2)).encode("latin-1")


class MultipartParser:
    """Push parser: `feed(chunk)` yields the events the chunk completes; `close()` checks the end."""

    _PREAMBLE, _AFTER_DELIMITER, _HEADERS, _BODY, _EPILOGUE = range(5)

    def __init__(self, boundary: bytes) -> None:
        if not boundary or len(boundary) > 200:
            raise UpstreamError(502, "multipart boundary missing or too long")
        self._dash_boundary = b"--" + boundary
        self._delimiter = _CRLF + self._dash_boundary
        self._buffer = b""
        self._state = self._PREAMBLE
        self.parts = 0

    @property
    def finished(self) -> bool:
        return self._state == self._EPILOGUE

    def feed(self, chunk: bytes) -> Iterator[Event]:
        if self._state == self._BODY and self._passes_through(chunk):
            keep = len(self._delimiter) - 1
            if self._buffer:
                yield Body(self._buffer)
            yield Body(memoryview(chunk)[:-keep])
            self._buffer = chunk[-keep:]
            return
        self._buffer += chunk
        while True:
            event_count = 0
            for event in self._step():
                event_count += 1
                yield event
            if event_count == 0:
                return

    def close(self) -> Iterator[Event]:
        """Flush the epilogue; a body that ends before the close delimiter is an error."""
        if self._state != self._EPILOGUE:
            raise UpstreamError(502, "multipart body ended before its close delimiter")
        if self._buffer:
            yield Framing(self._take(len(self._buffer)))

    # ------------------------------------------------------------------ internals

    def _passes_through(self, chunk: bytes) -> bool:
        """Whether `chunk` is body throughout (no delimiter starts in the held tail or in it), so
        that all but its last bytes can go on without being copied."""
        keep = len(self._delimiter) - 1
        if len(chunk) <= keep:
            return False
        return (self._buffer + chunk[:keep]).find(self._delimiter) < 0 and chunk.find(self._delimiter) < 0

    def _take(self, n: int) -> bytes:
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def _step(self) -> Iterator[Event]:
        buf = self._buffer
        if self._state == self._PREAMBLE:
            if buf.startswith(self._dash_boundary):
                at = 0
            else:
                found = buf.find(self._delimiter)
                if found < 0:
                    keep = len(self._delimiter) - 1
                    if len(buf) > keep:
                        yield Framing(self._take(len(buf) - keep))
                    return
                at = found + 2
            yield Framing(self._take(at + len(self._dash_boundary)))
            self._state = self._AFTER_DELIMITER
        elif self._state == self._AFTER_DELIMITER:
            # "--" closes the body; otherwise optional transport padding, then CRLF, then headers.
            if len(buf) < 2:
                return
            if buf.startswith(b"--"):
                self._state = self._EPILOGUE
                yield Framing(self._take(len(buf)))
                return
            end = buf.find(_CRLF)
            if end < 0:
                if len(buf) > 256:
                    raise UpstreamError(502, "multipart delimiter line too long")
                return
            if buf[:end].strip(b" \t"):
                raise UpstreamError(502, "multipart delimiter followed by unexpected bytes")
            yield Framing(self._take(end + 2))
            self._state = self._HEADERS
        elif self._state == self._HEADERS:
            if buf.startswith(_CRLF):  # a part without headers
                yield Headers(b"")
                yield Framing(self._take(2))
            else:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > 65536:
                        raise UpstreamError(502, "multipart part headers too long")
                    return
                yield Headers(self._take(end))
                yield Framing(self._take(4))
            self.parts += 1
            self._state = self._BODY
        elif self._state == self._BODY:
            found = buf.find(self._delimiter)
            if found < 0:
                keep = len(self._delimiter) - 1
                if len(buf) > keep:
                    yield Body(self._take(len(buf) - keep))
                return
            if found:
                yield Body(self._take(found))
            yield PartEnd()
            yield Framing(self._take(len(self._delimiter)))
            self._state = self._AFTER_DELIMITER
        elif self._state == self._EPILOGUE and buf:
            yield Framing(self._take(len(buf)))


def parse_headers(block: bytes) -> dict[str, str]:
    """A part's header block as a dict with lower-case names."""
    headers: dict[str, str] = {}
    for line in block.split(_CRLF):
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.strip().decode("latin-1").lower()] = value.strip().decode("latin-1")
    return headers


def rewrite_part_headers(events: Iterator[Event], rewrite: Callable[[bytes], bytes]) -> Iterator[bytes | memoryview]:
    """The raw multipart body again, with each part's header block passed through `rewrite`."""
    for event in events:
        if isinstance(event, Headers):
            yield rewrite(event.data)
        elif isinstance(event, Framing | Body):
            yield event.data


@dataclass(frozen=True)
class Part:
    headers: dict[str, str]
    data: bytes


class PartCollector:
    """Whole parts from parser events (each part held in memory until it is complete)."""

    def __init__(self) -> None:
        self._headers: dict[str, str] = {}
        self._pieces: list[bytes | memoryview] = []

    def parts(self, events: Iterator[Event]) -> Iterator[Part]:
        for event in events:
            if isinstance(event, Headers):
                self._headers = parse_headers(event.data)
                self._pieces = []
            elif isinstance(event, Body):
                self._pieces.append(event.data)
            elif isinstance(event, PartEnd):
                yield Part(self._headers, b"".join(self._pieces))
                self._pieces = []


def iter_parts(chunks: Iterator[bytes], boundary: bytes) -> Iterator[Part]:
    """The parts of a multipart body given as chunks (synchronous readers)."""
    parser = MultipartParser(boundary)
    collector = PartCollector()
    for chunk in chunks:
        yield from collector.parts(parser.feed(chunk))
    yield from collector.parts(parser.close())
