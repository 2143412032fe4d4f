"""The site's DICOMweb server behind the gateway (the "upstream"), reached with credentials only
the gateway holds.

Reads use `httpx.AsyncClient`: QIDO searches, streamed WADO-RS retrieves, the content of a study
(each instance as stored, with `transfer-syntax=*`, hashed as it streams in) and, for Orthanc,
its change feed (stable-study events).
"""

from __future__ import annotations

import functools
import io
import json
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pydicom
from pydicom.errors import InvalidDicomError

from radledger.gateway.errors import StudyNotFound, UpstreamError
from radledger.gateway.multipart import MultipartParser, PartCollector, boundary_of
from radledger.gateway.relay import RelayResponse, relay_get
from radledger.gateway.store import InstanceDigest
from radledger.registries.records.content_hash import instance_digest

DICOM_AS_STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*'
"""Accept header for instances exactly as the PACS stores them (no transcoding)."""
DICOM_JSON = "application/dicom+json"
PATIENT_ID_TAG = "00100020"


def patient_id_of(result: dict[str, Any]) -> str:
    """The PatientID of a DICOM JSON result ("" when absent)."""
    values = result.get(PATIENT_ID_TAG, {}).get("Value") or [""]
    return str(values[0])


@dataclass(frozen=True)
class UpstreamSettings:
    url: str
    """DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web"""
    username: str | None = None
    password: str | None = None
    timeout: float = 60.0
    orthanc_url: str | None = None
    """Orthanc's REST root (for stable-study events), e.g. http://127.0.0.1:8042"""

    @property
    def base(self) -> str:
        return self.url.rstrip("/")


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every client (building one reads the CA bundle: about 0.1 s)."""
    return httpx.create_ssl_context()


class Upstream:
    def __init__(self, settings: UpstreamSettings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: UpstreamSettings) -> AsyncIterator[Upstream]:
        auth = httpx.BasicAuth(settings.username, settings.password or "") if settings.username else None
        timeout = httpx.Timeout(settings.timeout, connect=min(settings.timeout, 10.0))
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
        async with httpx.AsyncClient(
            auth=auth, timeout=timeout, limits=limits, follow_redirects=False, verify=tls_context()
        ) as client:
            yield cls(settings, client)

    def url(self, path: str) -> str:
        return self.settings.base + "/" + path.lstrip("/")

    async def send(self, path: str, params: Any = None, accept: str | None = None) -> RelayResponse:
        """GET `path` under the DICOMweb root; the body is read (or relayed) by the caller, who closes it."""
        s = self.settings
        return await relay_get(
            self.url(path),
            params,
            {"Accept": accept} if accept else None,
            (s.username, s.password or "") if s.username else None,
            tls_context(),
            s.timeout,
        )

    async def search(self, path: str, params: Any = None) -> list[dict[str, Any]]:
        """A QIDO-RS search: the DICOM JSON results (an empty list for 204)."""
        response = await self.send(path, params, accept=DICOM_JSON)
        body = await response.aread()
        if response.status_code == 204:
            return []
        if response.status_code != 200:
            raise UpstreamError(response.status_code, body[:200].decode("latin-1"))
        try:
            results = json.loads(body)
        except json.JSONDecodeError as exc:
            raise UpstreamError(502, f"QIDO answer is not JSON: {exc}") from None
        if not isinstance(results, list):
            raise UpstreamError(502, "QIDO answer is not a JSON array")
        return results

    async def study_matches(self, study_uid: str) -> list[dict[str, Any]]:
        """The PACS's studies with this StudyInstanceUID (more than one when two patients' studies
        collide), each with its PatientID."""
        return await self.search("studies", [("StudyInstanceUID", study_uid), ("includefield", PATIENT_ID_TAG)])

    async def study_contents(self, study_uid: str) -> dict[str, InstanceDigest]:
        """Every instance of a study as stored: SOPInstanceUID → (series, SHA-256 of the file)."""
        response = await self.send(f"studies/{study_uid}", accept=DICOM_AS_STORED)
        try:
            if response.status_code in (204, 404):
                raise StudyNotFound(study_uid)
            if response.status_code != 200:
                body = await response.aread()
                raise UpstreamError(response.status_code, body[:200].decode("latin-1"))
            contents: dict[str, InstanceDigest] = {}
            boundary = boundary_of(response.headers.get("content-type", ""))
            if boundary is None:  # a single instance sent bare
                _add_instance(contents, await response.aread())
            else:
                parser, collector = MultipartParser(boundary), PartCollector()
                async for chunk in response.aiter_raw():
                    for part in collector.parts(parser.feed(chunk)):
                        _add_instance(contents, part.data)
                for part in collector.parts(parser.close()):
                    _add_instance(contents, part.data)
        finally:
            await response.aclose()
        if not contents:
            raise StudyNotFound(study_uid)
        return contents

    # ------------------------------------------------------------ Orthanc REST

    def _orthanc(self, path: str) -> str:
        if not self.settings.orthanc_url:
            raise UpstreamError(0, "no Orthanc REST URL configured (upstream.orthanc_url) for stable-study events")
        return self.settings.orthanc_url.rstrip("/") + "/" + path.lstrip("/")

    async def _orthanc_json(self, path: str, params: Any = None) -> Any:
        try:
            response = await self.client.get(self._orthanc(path), params=params)
        except httpx.HTTPError as exc:
            raise UpstreamError(502, f"cannot reach Orthanc: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise UpstreamError(response.status_code, response.text[:200])
        return response.json()

    async def changes(self, since: int, limit: int = 100) -> dict[str, Any]:
        """Orthanc's change feed after sequence number `since`: {"Changes": [...], "Done": bool, "Last": n}."""
        return dict(await self._orthanc_json("changes", {"since": since, "limit": limit}))

    async def last_change(self) -> int:
        return int((await self._orthanc_json("changes", {"last": ""}))["Last"])

    async def orthanc_study_id(self, study_uid: str, patient_id: str) -> str | None:
        """Orthanc's own id of the study of this patient with this StudyInstanceUID (None without
        Orthanc's REST URL)."""
        if not self.settings.orthanc_url:
            return None
        try:
            response = await self.client.post(self._orthanc("tools/find"), json={
                "Level": "Study", "Query": {"StudyInstanceUID": study_uid, "PatientID": patient_id},
            })  # fmt: skip
        except httpx.HTTPError as exc:
            raise UpstreamError(502, f"cannot reach Orthanc: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise UpstreamError(response.status_code, "Orthanc refused a study lookup")
        found = response.json()
        return str(found[0]) if isinstance(found, list) and len(found) == 1 else None

    async def orthanc_study(self, orthanc_id: str) -> dict[str, Any]:
        return dict(await self._orthanc_json(f"studies/{orthanc_id}"))


def _add_instance(contents: dict[str, InstanceDigest], data: bytes) -> None:
    try:
        ds = pydicom.dcmread(
            io.BytesIO(data), stop_before_pixels=True, specific_tags=["SOPInstanceUID", "SeriesInstanceUID"]
        )
        sop_uid, series_uid = str(ds.SOPInstanceUID), str(ds.SeriesInstanceUID)
    except (InvalidDicomError, AttributeError, ValueError, EOFError) as exc:
        raise UpstreamError(502, f"the upstream sent an instance that is not readable DICOM: {exc}") from None
    contents[sop_uid] = InstanceDigest(sop_uid, series_uid, instance_digest(data))
