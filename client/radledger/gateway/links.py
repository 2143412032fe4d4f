"""Rewriting the upstream's links so that every URL a requester sees points at the gateway.

DICOMweb answers carry absolute URLs: `RetrieveURL` (0008,1190) and other `UR` values in QIDO
results, `BulkDataURI` in metadata, `Content-Location` in multipart part headers and `Location`
headers. The upstream builds them from its own address (or from whatever host the request
named), so the gateway replaces the upstream's base with its public URL. A `UR` value or a
BulkDataURI on another host but under the upstream's DICOMweb path (a PACS configured with a
public root of its own) is rewritten too.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

_URL_FIELDS = ("BulkDataURI",)


class LinkRewriter:
    def __init__(self, upstream_base: str, public_base: str) -> None:
        self.upstream_base = upstream_base.rstrip("/")
        self.public_base = public_base.rstrip("/")
        self._upstream_path = urlsplit(self.upstream_base).path.rstrip("/")
        self._upstream_bytes = self.upstream_base.encode()
        self._public_bytes = self.public_base.encode()

    def url(self, value: str) -> str:
        """`value` with the upstream base replaced by the gateway's; other URLs unchanged."""
        if value.startswith(self.upstream_base) and value[len(self.upstream_base) : len(self.upstream_base) + 1] in (
            "",
            "/",
            "?",
        ):
            return self.public_base + value[len(self.upstream_base) :]
        parts = urlsplit(value)
        if parts.scheme in ("http", "https") and self._upstream_path:
            path = parts.path
            if path == self._upstream_path or path.startswith(self._upstream_path + "/"):
                rest = path[len(self._upstream_path) :]
                query = f"?{parts.query}" if parts.query else ""
                return self.public_base + rest + query
        return value

    def json(self, document: Any) -> Any:
        """A DICOM JSON document (QIDO results, metadata) with its links rewritten, in place."""
        if isinstance(document, list):
            for i, item in enumerate(document):
                if isinstance(item, str):
                    document[i] = self.url(item) if item.startswith(("http://", "https://")) else item
                else:
                    self.json(item)
        elif isinstance(document, dict):
            for key in _URL_FIELDS:
                value = document.get(key)
                if isinstance(value, str):
                    document[key] = self.url(value)
            is_url_attribute = document.get("vr") == "UR"
            for key, value in document.items():
                if isinstance(value, dict | list):
                    if is_url_attribute and key == "Value" and isinstance(value, list):
                        document[key] = [self.url(v) if isinstance(v, str) else v for v in value]
                    else:
                        self.json(value)
                elif isinstance(value, str) and key not in _URL_FIELDS and value.startswith(self.upstream_base):
                    document[key] = self.url(value)
        return document

    def header_block(self, block: bytes) -> bytes:
        """A multipart part's header block with its `Content-Location`/`Location` links rewritten."""
        if b"ocation" not in block and self._upstream_bytes not in block:
            return block
        lines = []
        for line in block.split(b"\r\n"):
            name, sep, value = line.partition(b":")
            if sep and name.strip().lower() in (b"content-location", b"location"):
                line = name + b": " + self.url(value.strip().decode("latin-1")).encode("latin-1")
            lines.append(line.replace(self._upstream_bytes, self._public_bytes))
        return b"\r\n".join(lines)
