"""The requester's side: sign a gateway token for every request and retrieve consented studies.

Built on `dicomweb-client` (its :class:`DICOMwebClient` over a `requests` session). By default
the requester signs in once (a session, at most 15 minutes, renewed before it ends); with
``use_session=False`` the auth hook mints a fresh token, with a fresh nonce, for each request.
A whole study is retrieved with `transfer-syntax=*` and each instance is written byte for byte as the site stores it, so
the requester can recompute the content hash and compare it with RecordRegistry's.

    requester = GatewayRequester("https://images.site-a.example/dicomweb", signer, Purpose.TREAT)
    studies = requester.search_studies()
    fetched = requester.fetch_study(study_uid, Path("out"))
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.errors import InvalidDicomError

from radledger.chain import validation
from radledger.chain.eip712 import Domain
from radledger.chain.errors import ValidationError
from radledger.chain.signers import Signer
from radledger.gateway.errors import AccessRefused, IncompleteRetrieval, UpstreamError
from radledger.gateway.multipart import boundary_of, iter_parts
from radledger.gateway.sessions import sign_login
from radledger.gateway.tokens import DEFAULT_LIFETIME, WELL_KNOWN, mint_token, normalize_audience
from radledger.gateway.upstream import DICOM_AS_STORED
from radledger.registries.common import Purpose
from radledger.registries.records.client import RecordRegistryClient
from radledger.registries.records.content_hash import content_hash

SOP_INSTANCE_UID = "00080018"
RENEW_BEFORE = 30
"""Seconds before a session ends when the requester signs in again."""


class GatewayAuth(requests.auth.AuthBase):
    """Adds `Authorization: Bearer <fresh token>` to every request."""

    def __init__(self, signer: Signer, domain: Domain, audience: str, purpose: Purpose, lifetime: int) -> None:
        self.signer, self.domain, self.audience, self.purpose, self.lifetime = (
            signer, domain, audience, purpose, lifetime,
        )  # fmt: skip

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = mint_token(self.signer, self.domain, self.audience, int(self.purpose), self.lifetime)
        request.headers["Authorization"] = f"Bearer {token}"
        return request


class SessionAuth(requests.auth.AuthBase):
    """Adds `Authorization: Bearer <session>`, signing in again shortly before the session ends."""

    def __init__(self, requester: GatewayRequester) -> None:
        self.requester = requester
        self.current: GatewaySession | None = None

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self.current is None or self.current.expires_at - RENEW_BEFORE <= time.time():
            self.current = self.requester.login()
        request.headers["Authorization"] = f"Bearer {self.current.token}"
        return request


@dataclass(frozen=True)
class GatewaySession:
    """A viewer session at a gateway (`POST /session`), as `radledger images login` prints it."""

    token: str = field(repr=False)
    grantee: str
    purpose: str
    audience: str
    expires_at: int

    def as_dict(self) -> dict[str, Any]:
        return {"session": self.token, "grantee": self.grantee, "purpose": self.purpose,
                "audience": self.audience, "expiresAt": self.expires_at}  # fmt: skip


@dataclass(frozen=True)
class GatewayInfo:
    audience: str
    domain: Domain
    max_lifetime: int


@dataclass(frozen=True)
class FetchedStudy:
    study_uid: str
    folder: Path
    files: tuple[Path, ...]
    content_hash: bytes
    """DESIGN.md's content hash of the files as received."""
    record_id: bytes | None
    """The study's record id, as the gateway reports it."""


def refused(response: requests.Response | None) -> AccessRefused:
    if response is None:
        return AccessRefused(0, "no-answer", "the gateway did not answer")
    try:
        body = response.json()
        reason, detail = str(body.get("reason", "")), str(body.get("detail", ""))
    except ValueError:
        reason, detail = "", response.text[:200]
    return AccessRefused(response.status_code, reason or "http-error", detail)


class GatewayRequester:
    def __init__(
        self,
        url: str,
        signer: Signer,
        purpose: Purpose,
        lifetime: int = DEFAULT_LIFETIME,
        timeout: float = 120.0,
        expected_domain: Domain | None = None,
        use_session: bool = True,
    ) -> None:
        """With `use_session` (the default) one signed login opens a session that every request
        uses (renewed before it ends); without, every request carries a freshly signed token."""
        if not url.startswith(("http://", "https://")):
            raise ValidationError(f"gateway URL {url!r} must be an http(s) URL")
        if not signer.can_sign:
            raise ValidationError("a gateway token needs a key held here (a key signer)")
        self.url = normalize_audience(url)
        self.signer = signer
        self.purpose = Purpose.checked(int(purpose), single=True)
        self.lifetime = lifetime
        self.timeout = timeout
        self.expected_domain = expected_domain
        self.use_session = use_session
        self._info: GatewayInfo | None = None
        self._session: requests.Session | None = None

    # ------------------------------------------------------------------ setup

    def info(self) -> GatewayInfo:
        """What the gateway declares (its audience must be the URL used here)."""
        if self._info is None:
            try:
                response = requests.get(self.url + WELL_KNOWN, timeout=self.timeout)
            except requests.RequestException as exc:
                raise UpstreamError(0, f"cannot reach the gateway at {self.url}: {exc}") from None
            if response.status_code != 200:
                raise refused(response)
            doc = response.json()
            d = doc["domain"]
            domain = Domain(d["name"], d["version"], int(d["chainId"]), validation.address(d["verifyingContract"]))
            if normalize_audience(doc["audience"]) != self.url:
                raise ValidationError(f"the gateway at {self.url} declares audience {doc['audience']!r}")
            if self.expected_domain is not None and domain != self.expected_domain:
                raise ValidationError(
                    f"the gateway checks consents on chain {domain.chain_id} at {domain.verifying_contract}, not "
                    f"{self.expected_domain.chain_id} at {self.expected_domain.verifying_contract}"
                )
            self._info = GatewayInfo(self.url, domain, int(doc.get("maxLifetimeSeconds", 300)))
        return self._info

    def session(self) -> requests.Session:
        if self._session is None:
            info = self.info()
            session = requests.Session()
            if self.use_session:
                session.auth = SessionAuth(self)
            else:
                session.auth = GatewayAuth(self.signer, info.domain, self.url, self.purpose, self.lifetime)
            self._session = session
        return self._session

    def login(self) -> GatewaySession:
        """Sign one login (EIP-712 GatewayLogin) and open a session at the gateway."""
        info = self.info()
        signed = sign_login(self.signer, info.domain, self.url, int(self.purpose), min(self.lifetime, 120))
        try:
            response = requests.post(
                self.url + "/session", json={"typed": json.loads(signed.to_json())}, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise UpstreamError(0, f"cannot reach the gateway at {self.url}: {exc}") from None
        if response.status_code != 200:
            raise refused(response)
        doc = response.json()
        return GatewaySession(
            str(doc["session"]), str(doc["grantee"]), str(doc["purpose"]), str(doc["audience"]), int(doc["expiresAt"])
        )

    def dicomweb(self) -> DICOMwebClient:
        return DICOMwebClient(self.url, session=self.session())

    # ------------------------------------------------------------------ QIDO

    def search_studies(self, **search: Any) -> list[dict[str, Any]]:
        """QIDO-RS studies through the gateway (only those this requester may see)."""
        try:
            return list(self.dicomweb().search_for_studies(**search))
        except requests.HTTPError as exc:
            raise refused(exc.response) from None

    def search_instances(self, study_uid: str) -> list[dict[str, Any]]:
        try:
            return list(self.dicomweb().search_for_instances(study_instance_uid=study_uid))
        except requests.HTTPError as exc:
            raise refused(exc.response) from None

    # -------------------------------------------------------------- retrieve

    def fetch_study(self, study_uid: str, folder: Path | str) -> FetchedStudy:
        """Retrieve every instance of a study and write `<SOPInstanceUID>.dcm` files into `folder`."""
        uid = study_uid.strip()
        expected = {str(r[SOP_INSTANCE_UID]["Value"][0]) for r in self.search_instances(uid)}
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        try:
            response = self.session().get(
                f"{self.url}/studies/{uid}", headers={"Accept": DICOM_AS_STORED}, stream=True, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise UpstreamError(0, f"cannot reach the gateway at {self.url}: {exc}") from None
        with response:
            if response.status_code != 200:
                raise refused(response)
            boundary = boundary_of(response.headers.get("content-type", ""))
            if boundary is None:
                raise UpstreamError(502, f"not a multipart answer: {response.headers.get('content-type')}")
            received: dict[str, bytes] = {}
            files: list[Path] = []
            for part in iter_parts(response.iter_content(1 << 16), boundary):
                sop_uid = _sop_uid(part.data)
                received[sop_uid] = part.data
                files.append(_write_atomically(target / f"{sop_uid}.dcm", part.data))
            record_header = response.headers.get("x-radledger-record-id")
        missing = tuple(sorted(expected - set(received)))
        if missing:
            raise IncompleteRetrieval(uid, missing)
        record = validation.bytes32(record_header, "record id") if record_header else None
        return FetchedStudy(uid, target, tuple(files), content_hash(received.items()), record)


def verify_on_chain(fetched: FetchedStudy, records: RecordRegistryClient) -> bool:
    """Whether the files received have the content hash RecordRegistry holds for the study."""
    if fetched.record_id is None:
        raise ValidationError("the gateway did not report the study's record id")
    return records.get_record(fetched.record_id).content_hash == fetched.content_hash


def _sop_uid(data: bytes) -> str:
    try:
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, specific_tags=["SOPInstanceUID"])
        uid = str(ds.SOPInstanceUID)
    except (InvalidDicomError, AttributeError, ValueError, EOFError) as exc:
        raise UpstreamError(502, f"received an instance that is not readable DICOM: {exc}") from None
    try:
        return validation.dicom_uid(uid, "SOPInstanceUID")  # it names a file: nothing else gets through
    except ValidationError:
        raise UpstreamError(502, f"received an instance with an invalid SOPInstanceUID {uid!r}") from None


def _write_atomically(path: Path, data: bytes) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
