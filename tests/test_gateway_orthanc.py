"""The gateway end to end: a real Orthanc (DICOMweb plugin) started here, the in-process chain,
the ASGI app exercised in-process (Starlette's TestClient) while it talks to Orthanc over HTTP.

Orthanc runs once for the module, locked down (localhost only, HTTP credentials only the gateway
holds, no DICOM port); each test uploads its own synthetic studies (fresh UIDs) and builds a
fresh gateway store, and the chain is reverted after each test by the `w3` fixture.
Skipped, with the reason, when Orthanc or its DICOMweb plugin is not installed (failed instead when
RADLEDGER_REQUIRE_ORTHANC=1, as in CI).
"""

from __future__ import annotations

import io
import json
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pydicom
import pytest
import uvicorn
from web3 import Web3

from radledger.chain.connection import tester_private_keys as account_keys
from radledger.chain.connection import time_travel
from radledger.chain.eip712 import Domain
from radledger.chain.signers import KeySigner
from radledger.cli import main
from radledger.deployment.addresses import Deployment
from radledger.gateway.app import create_app
from radledger.gateway.config import GatewaySettings
from radledger.gateway.consent_check import ConsentChecker
from radledger.gateway.context import GatewayContext
from radledger.gateway.errors import AccessRefused, RecordMismatch, StudyChanged
from radledger.gateway.ingest import IngestResult, load_patient_map, poll_stable_studies
from radledger.gateway.multipart import boundary_of, iter_parts
from radledger.gateway.orthanc import LocalOrthanc, find_orthanc, free_port, missing_reason
from radledger.gateway.orthanc import required as orthanc_required
from radledger.gateway.reconcile import access_events, reconcile, repair
from radledger.gateway.requester import GatewayRequester, verify_on_chain
from radledger.gateway.synthetic import SyntheticInstance, synthetic_instance, synthetic_series, synthetic_study
from radledger.gateway.tokens import mint_token
from radledger.gateway.upstream import DICOM_AS_STORED, Upstream, UpstreamSettings
from radledger.registries.common import Purpose, Scope
from radledger.registries.consent.client import WILDCARD
from radledger.registries.consent.types import AccessBasis
from tests.conftest import SITE_URL, Actors

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2 for its TestClient; httpx works the same here
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient
from tests.support import SITE_SALT

PUBLIC_ORIGIN = "https://gateway.site-a.example"
PREFIX = "/dicomweb"
VIEWER_ORIGIN = "https://viewer.site-a.example"
CACHE_SECONDS = 3.0


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOrthanc]:
    if find_orthanc() is None:
        if orthanc_required():
            pytest.fail(missing_reason(), pytrace=False)
        pytest.skip(missing_reason())
    server = LocalOrthanc.start(tmp_path_factory.mktemp("orthanc"), stable_age=1)
    try:
        yield server
    finally:
        server.stop(kill=True)  # its storage is a temporary folder


class FakeClock:
    """A monotonic clock the test moves (the consent cache's)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Site:
    """One imaging site: its Orthanc, its gateway (app + in-process client) and the story's actors."""

    w3: Web3
    deployment: Deployment
    actors: Actors
    orthanc: LocalOrthanc
    ctx: GatewayContext
    client: TestClient
    clock: FakeClock
    grantee: KeySigner
    emergency: KeySigner
    domain: Domain
    studies: dict[str, list[SyntheticInstance]] = field(default_factory=dict)

    @property
    def patient(self) -> str:
        return self.actors.patient_signer.address

    def upload(self, instances: list[SyntheticInstance]) -> str:
        self.orthanc.upload(*(i.data for i in instances))
        uid = instances[0].study_uid
        self.studies.setdefault(uid, []).extend(instances)
        return uid

    def register(self, uid: str, patient: str | None = None) -> IngestResult:
        async def run() -> IngestResult:
            async with Upstream.open(self.ctx.settings.upstream) as upstream:
                return await self.ctx.ingestor(upstream).register_study(uid, patient)

        return anyio.run(run)

    def new_study(self, instances: int = 3, patient: str | None = None, **kwargs: Any) -> str:
        uid = self.upload(synthetic_study(instances, **kwargs))
        self.register(uid, patient or self.patient)
        return uid

    def record_of(self, uid: str) -> bytes:
        entry = self.ctx.store.study(uid)
        assert entry is not None
        return entry.record_id

    def grant(self, uid: str | None, grantee: str | None = None, purposes: int = Purpose.TREAT, **kw: Any) -> None:
        consent = self.deployment.consent(self.w3, self.actors.patient)
        record = WILDCARD if uid is None else self.record_of(uid)
        consent.grant(self.patient, grantee or self.grantee.address, record, Scope.IMAGES, purposes, **kw)

    def revoke(self, uid: str, grantee: str | None = None) -> None:
        consent = self.deployment.consent(self.w3, self.actors.patient)
        consent.revoke(self.patient, grantee or self.grantee.address, self.record_of(uid))

    def token(self, signer: KeySigner | None = None, purpose: int = Purpose.TREAT, **kw: Any) -> str:
        return mint_token(signer or self.grantee, self.domain, SITE_URL, purpose, **kw)

    def get(
        self, path: str, signer: KeySigner | None = None, purpose: int = Purpose.TREAT, **headers: str
    ) -> httpx.Response:
        auth = {"Authorization": f"Bearer {self.token(signer, purpose)}"}
        return self.client.get(PREFIX + path, headers={**auth, **headers})


def settings_for(orthanc: LocalOrthanc, state: Path, **overrides: Any) -> GatewaySettings:
    base: dict[str, Any] = {
        "public_url": SITE_URL,
        "state_dir": state,
        "upstream": UpstreamSettings(orthanc.dicomweb_url, orthanc.username, orthanc.password, orthanc_url=orthanc.url),
        "consent_cache_seconds": CACHE_SECONDS,
        "verify_content": True,
        "verify_cache_seconds": 0.0,
        "record_on_chain": True,
        "cors_origins": (VIEWER_ORIGIN,),
    }
    return GatewaySettings(**{**base, **overrides})


@pytest.fixture
def site(w3: Web3, deployment: Deployment, actors: Actors, orthanc: LocalOrthanc, tmp_path: Path) -> Iterator[Site]:
    keys = account_keys(w3)
    ctx = GatewayContext(settings_for(orthanc, tmp_path / "state"), w3, deployment, actors.site, SITE_SALT)
    clock = FakeClock()
    checker = ConsentChecker(ctx.consent(), ctx.settings.consent_cache_seconds, clock=clock)
    app = create_app(ctx, checker=checker, clock=clock)
    with TestClient(app, base_url=PUBLIC_ORIGIN) as client:
        yield Site(
            w3, deployment, actors, orthanc, ctx, client, clock,
            grantee=KeySigner.from_key(keys[3]),  # actors.grantee's account, with its key to sign tokens
            emergency=KeySigner.from_key(keys[5]),  # actors.emergency, holding the break-glass role
            domain=Domain.gateway(w3.eth.chain_id, deployment.consent_registry),
        )  # fmt: skip
    ctx.close()


def multipart_parts(response: httpx.Response) -> list[bytes]:
    boundary = boundary_of(response.headers["content-type"])
    assert boundary is not None, response.headers["content-type"]
    return [part.data for part in iter_parts(iter([response.content]), boundary)]


def refusal(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["reason"]


# ----------------------------------------------------------------------------- serving


def test_consented_requester_gets_every_wado_rs_kind_with_the_stored_bytes(site: Site) -> None:
    uid = site.new_study(instances=3)
    site.grant(uid)
    stored = {i.sop_uid: i for i in site.studies[uid]}
    first = site.studies[uid][0]
    series, sop = first.series_uid, first.sop_uid
    as_stored = {"Accept": DICOM_AS_STORED}

    study = site.get(f"/studies/{uid}", **as_stored)
    assert study.status_code == 200
    assert study.headers["x-radledger-record-id"] == "0x" + site.record_of(uid).hex()
    assert study.headers["cache-control"] == "private, no-store"
    files = multipart_parts(study)
    assert sorted(files) == sorted(i.data for i in stored.values())  # byte for byte as stored
    for data in files:
        ds = pydicom.dcmread(io.BytesIO(data))
        assert ds.PixelData == stored[ds.SOPInstanceUID].pixels

    series_files = multipart_parts(site.get(f"/studies/{uid}/series/{series}", **as_stored))
    assert sorted(series_files) == sorted(files)
    instance = multipart_parts(site.get(f"/studies/{uid}/series/{series}/instances/{sop}", **as_stored))
    assert instance == [first.data]

    for path in (f"/studies/{uid}/metadata", f"/studies/{uid}/series/{series}/metadata",
                 f"/studies/{uid}/series/{series}/instances/{sop}/metadata"):  # fmt: skip
        metadata = site.get(path)
        assert metadata.status_code == 200, path
        assert {m["00080018"]["Value"][0] for m in metadata.json()} <= set(stored)

    frames = site.get(f"/studies/{uid}/series/{series}/instances/{sop}/frames/1")
    assert frames.status_code == 200
    assert multipart_parts(frames) == [first.pixels]

    rendered = site.get(f"/studies/{uid}/series/{series}/instances/{sop}/rendered", Accept="image/png")
    assert rendered.status_code == 200
    assert rendered.headers["content-type"].startswith("image/png")
    assert rendered.content.startswith(b"\x89PNG")

    bulk_uri = site.get(f"/studies/{uid}/series/{series}/instances/{sop}/metadata").json()[0]["7FE00010"]["BulkDataURI"]
    assert bulk_uri.startswith(SITE_URL + "/studies/")
    bulk = site.get(bulk_uri.removeprefix(SITE_URL))
    assert bulk.status_code == 200
    assert multipart_parts(bulk) == [first.pixels]

    searched = site.get(f"/studies/{uid}/instances")
    assert {r["00080018"]["Value"][0] for r in searched.json()} == set(stored)
    kinds = {a.resource for a in site.ctx.store.accesses()}
    assert {"study", "series", "instance", "study-metadata", "series-metadata", "instance-metadata", "frames",
            "instance-rendered", "bulkdata", "search"} <= kinds  # fmt: skip


def test_requester_without_consent_gets_403_with_the_reason_and_no_bytes(site: Site) -> None:
    uid = site.new_study()
    response = site.get(f"/studies/{uid}", Accept=DICOM_AS_STORED)
    assert refusal(response) == (403, "no-consent")
    assert response.headers["content-type"].startswith("application/json")
    assert site.get(f"/studies/{uid}/metadata").status_code == 403
    assert site.get(f"/studies/{uid}/series").status_code == 403
    (logged,) = [a for a in site.ctx.store.accesses() if a.resource == "study"]
    assert (logged.status, logged.basis, logged.chain_due) == (403, AccessBasis.NONE, False)


def test_consent_for_another_purpose_or_another_study_is_refused(site: Site) -> None:
    granted, other = site.new_study(), site.new_study()
    site.grant(granted, purposes=Purpose.TREAT | Purpose.HOPERAT)
    assert refusal(site.get(f"/studies/{granted}", purpose=Purpose.HRESCH)) == (403, "purpose-not-granted")
    assert refusal(site.get(f"/studies/{other}")) == (403, "no-consent")
    assert site.get(f"/studies/{granted}/metadata", purpose=Purpose.HOPERAT).status_code == 200


def test_a_wildcard_grant_covers_every_study_of_the_patient(site: Site) -> None:
    first, second = site.new_study(), site.new_study()
    site.grant(None)
    assert site.get(f"/studies/{first}/metadata").headers["x-radledger-access-basis"] == "wildcard-grant"
    assert site.get(f"/studies/{second}/metadata").status_code == 200


def test_expired_consent_is_refused(site: Site) -> None:
    uid = site.new_study()
    now = site.deployment.consent(site.w3).now()
    site.grant(uid, valid_until=now + 100)
    assert site.get(f"/studies/{uid}/metadata").status_code == 200
    time_travel(site.w3, 200)
    site.clock.advance(CACHE_SECONDS + 0.1)
    assert refusal(site.get(f"/studies/{uid}/metadata")) == (403, "consent-expired")


def test_revocation_takes_effect_within_the_consent_cache_time(site: Site) -> None:
    uid = site.new_study()
    site.grant(uid)
    assert site.get(f"/studies/{uid}/metadata").status_code == 200
    site.revoke(uid)
    site.clock.advance(CACHE_SECONDS - 0.5)
    assert site.get(f"/studies/{uid}/metadata").status_code == 200  # the cached answer, still within its time
    site.clock.advance(0.6)
    assert refusal(site.get(f"/studies/{uid}/metadata")) == (403, "no-consent")


def test_break_glass_serves_emergency_treatment_only(site: Site) -> None:
    uid = site.new_study()
    assert site.get(f"/studies/{uid}/metadata", signer=site.emergency, purpose=Purpose.ETREAT).status_code == 403
    site.deployment.consent(site.w3, site.actors.emergency).break_glass(site.patient, 7)
    site.clock.advance(CACHE_SECONDS + 0.1)
    response = site.get(f"/studies/{uid}", signer=site.emergency, purpose=Purpose.ETREAT, Accept=DICOM_AS_STORED)
    assert response.status_code == 200
    assert response.headers["x-radledger-access-basis"] == "break-glass"
    assert len(multipart_parts(response)) == 3
    refused = site.get(f"/studies/{uid}/metadata", signer=site.emergency, purpose=Purpose.TREAT)
    assert refusal(refused) == (403, "purpose-not-granted")


def test_bad_tokens_are_refused_with_401_and_the_cause(site: Site) -> None:
    uid = site.new_study()
    site.grant(uid)
    path = f"{PREFIX}/studies/{uid}/metadata"

    def answer(token: str | None) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        response = site.client.get(path, headers=headers)
        assert response.headers["www-authenticate"].startswith('Bearer realm="radledger"')
        return refusal(response)

    token = site.token()
    assert site.client.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert answer(token) == (401, "replayed-nonce")
    assert answer(None) == (401, "missing-token")
    assert answer("not-a-token") == (401, "malformed-token")
    expired = site.token(now=int(time.time()) - 120, lifetime=60)
    assert answer(expired) == (401, "expired")
    foreign = mint_token(site.grantee, site.domain, "https://gateway.site-b.example/dicomweb", Purpose.TREAT)
    assert answer(foreign) == (401, "foreign-audience")
    other_chain = Domain.gateway(site.domain.chain_id + 1, site.domain.verifying_contract)
    assert answer(mint_token(site.grantee, other_chain, SITE_URL, Purpose.TREAT)) == (401, "wrong-domain")
    # signed by someone else for the grantee's address
    forged = mint_token(KeySigner.create(), site.domain, SITE_URL, Purpose.TREAT)
    assert answer(_with_grantee(forged, site.grantee.address)) == (401, "bad-signature")


def _with_grantee(token: str, grantee: str) -> str:
    import base64

    doc = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    doc["message"]["grantee"] = grantee
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()


def test_unregistered_study_is_not_served_and_answered_like_an_unconsented_one(site: Site) -> None:
    unregistered = site.upload(synthetic_study())  # in the PACS, never registered
    registered = site.new_study()  # registered, no consent
    answers = [site.get(f"/studies/{uid}/metadata") for uid in (unregistered, registered)]
    assert [(a.status_code, a.json()) for a in answers] == [(403, answers[1].json())] * 2
    assert refusal(answers[0]) == (403, "no-consent")


def test_a_path_cannot_climb_from_a_consented_study_to_another(site: Site) -> None:
    granted, other = site.new_study(), site.new_study()
    site.grant(granted)
    series = site.studies[granted][0].series_uid
    for path in (
        f"/studies/{granted}/series/{series}/%2E%2E/%2E%2E/%2E%2E/studies/{other}/metadata",
        f"/studies/{granted}/series/%2e%2e/%2e%2e/studies/{other}/metadata",
        f"/studies/{granted}/series/{series}%2F..%2F..%2F{other}",
    ):
        response = site.get(path)
        assert refusal(response) == (400, "bad-path"), path
    assert refusal(site.get("/studies/not-a-uid/metadata")) == (400, "bad-path")


def test_writes_are_not_proxied(site: Site) -> None:
    uid = site.new_study()
    site.grant(uid)
    auth = {"Authorization": f"Bearer {site.token()}", "Content-Type": "application/dicom"}
    assert site.client.post(f"{PREFIX}/studies", headers=auth, content=b"x").status_code == 405
    assert site.client.delete(f"{PREFIX}/studies/{uid}", headers=auth).status_code == 405


# ------------------------------------------------------------------------------- QIDO


def _uids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["0020000D"]["Value"][0] for r in response.json()]


def test_qido_lists_only_visible_studies_and_pages_after_filtering(site: Site) -> None:
    uids = [site.new_study(instances=1, patient_id="SYN-QIDO") for _ in range(6)]
    for uid in uids[1::2]:
        site.grant(uid)
    visible = uids[1::2]
    site.client.app.state.gateway.qido_page = 2  # several upstream pages per answer
    listed = _uids(site.get("/studies?PatientID=SYN-QIDO"))
    assert sorted(listed) == sorted(visible)
    assert _uids(site.get("/studies?PatientID=SYN-QIDO&limit=2")) == listed[:2]
    assert _uids(site.get("/studies?PatientID=SYN-QIDO&limit=2&offset=2")) == listed[2:]
    assert _uids(site.get("/studies?PatientID=SYN-QIDO&offset=3")) == []
    assert set(_uids(site.get("/studies"))) == set(visible)  # Orthanc holds other tests' studies too

    series = site.get("/series?PatientID=SYN-QIDO")
    assert {r["0020000D"]["Value"][0] for r in series.json()} == set(visible)
    instances = site.get("/instances?PatientID=SYN-QIDO&limit=1&offset=1")
    assert len(instances.json()) == 1 and instances.json()[0]["0020000D"]["Value"][0] in visible
    assert refusal(site.get("/studies?limit=-1")) == (400, "bad-paging")


def test_qido_shows_nothing_to_a_requester_without_consent(site: Site) -> None:
    site.new_study()
    stranger = KeySigner.create()
    assert site.get("/studies", signer=stranger).json() == []
    assert site.get("/instances", signer=stranger).json() == []


# ------------------------------------------------------------------------------ links


def test_every_link_points_at_the_gateway_and_the_upstream_never_shows(site: Site) -> None:
    uid = site.new_study()
    site.grant(uid)
    first = site.studies[uid][0]
    answers = [
        site.get("/studies"),
        site.get("/series"),
        site.get(f"/studies/{uid}/series"),
        site.get(f"/studies/{uid}/metadata"),
        site.get(f"/studies/{uid}/series/{first.series_uid}/instances/{first.sop_uid}/metadata"),
        site.get(f"/studies/{uid}", Accept=DICOM_AS_STORED),
        site.get(f"/studies/{uid}/series/{first.series_uid}/instances/{first.sop_uid}/frames/1"),
    ]
    upstream_host = f"127.0.0.1:{site.orthanc.http_port}".encode()
    for response in answers:
        assert response.status_code == 200
        assert upstream_host not in response.content
        assert b"dicom-web" not in response.content
        assert all(upstream_host.decode() not in v for v in response.headers.values())
    retrieve_url = answers[0].json()[0]["00081190"]["Value"][0]
    assert retrieve_url == f"{SITE_URL}/studies/{uid}"
    bulk = answers[4].json()[0]["7FE00010"]["BulkDataURI"]
    assert bulk.startswith(f"{SITE_URL}/studies/{uid}/series/{first.series_uid}/instances/{first.sop_uid}/")


# ---------------------------------------------------------------- tampering, amendments


def test_a_study_altered_in_the_pacs_after_registration_is_refused(site: Site) -> None:
    uid = site.new_study()
    site.grant(uid)
    assert site.get(f"/studies/{uid}/metadata").status_code == 200
    first = site.studies[uid][0]
    altered = synthetic_instance(uid, first.series_uid, 1, seed=99, sop_uid=first.sop_uid)  # same UIDs, other pixels
    site.orthanc.upload(altered.data)
    response = site.get(f"/studies/{uid}", Accept=DICOM_AS_STORED)
    assert refusal(response) == (409, "tampered")
    assert first.sop_uid in response.json()["detail"] or "1 changed" in response.json()["detail"]
    with pytest.raises(StudyChanged) as exc:
        site.register(uid)
    assert (exc.value.changed, exc.value.missing, exc.value.added) == ((first.sop_uid,), (), ())


def test_a_deleted_instance_is_tampering(site: Site) -> None:
    uid = site.new_study()
    site.grant(uid)
    site.orthanc.delete_instance(site.studies[uid][1].sop_uid)
    assert refusal(site.get(f"/studies/{uid}/metadata")) == (409, "tampered")


def test_a_series_added_later_is_an_amendment_not_tampering(site: Site) -> None:
    uid = site.new_study(instances=2)
    site.grant(uid)
    records = site.deployment.records(site.w3)
    before = records.get_record(site.record_of(uid))
    site.upload(synthetic_series(uid, instances=2, first_number=3))
    assert refusal(site.get(f"/studies/{uid}/metadata")) == (409, "unregistered-instances")

    result = site.register(uid)
    assert (result.action, result.version, result.instances) == ("amended", 2, 4)
    after = records.get_record(site.record_of(uid))
    assert (after.version, after.content_hash) == (before.version + 1, result.content_hash)
    assert after.patient == before.patient
    response = site.get(f"/studies/{uid}", Accept=DICOM_AS_STORED)
    assert response.status_code == 200 and len(multipart_parts(response)) == 4
    assert site.register(uid).action == "unchanged"


def test_a_lost_local_map_is_rebuilt_from_the_chain_for_the_same_patient_only(site: Site, tmp_path: Path) -> None:
    uid = site.new_study()
    registered = site.ctx.store.study(uid)
    assert registered is not None
    restored = GatewayContext(
        settings_for(site.orthanc, tmp_path / "restored"), site.w3, site.deployment, site.actors.site, SITE_SALT
    )

    async def register(patient: str | None) -> IngestResult:
        async with Upstream.open(restored.settings.upstream) as upstream:
            return await restored.ingestor(upstream).register_study(uid, patient)

    with pytest.raises(RecordMismatch) as exc:
        anyio.run(register, site.grantee.address)
    assert (exc.value.field, exc.value.on_chain, exc.value.expected) == ("patient", site.patient, site.grantee.address)
    adopted = anyio.run(register, None)
    assert (adopted.action, adopted.record_id, adopted.patient, adopted.version) == (
        "adopted", registered.record_id, site.patient, 1,
    )  # fmt: skip
    assert restored.store.instances(uid) == site.ctx.store.instances(uid)
    restored.close()


def test_verification_can_be_turned_off(site: Site, tmp_path: Path) -> None:
    uid = site.new_study()
    site.grant(uid)
    site.orthanc.delete_instance(site.studies[uid][0].sop_uid)
    ctx = GatewayContext(
        settings_for(site.orthanc, tmp_path / "unverified", verify_content=False, record_on_chain=False),
        site.w3, site.deployment, site.actors.site, SITE_SALT,
    )  # fmt: skip
    ctx.store.save_study(uid, site.record_of(uid), site.patient, b"\x01" * 32, 1, [])
    with TestClient(create_app(ctx), base_url=PUBLIC_ORIGIN) as client:
        token = site.token()
        response = client.get(f"{PREFIX}/studies/{uid}/metadata", headers={"Authorization": f"Bearer {token}"})
    ctx.close()
    assert response.status_code == 200 and len(response.json()) == 2


# ------------------------------------------------------------- access log and the trail


def test_served_studies_are_logged_put_on_chain_once_per_window_and_reconciled(site: Site) -> None:
    uid, other = site.new_study(), site.new_study()
    site.grant(uid)
    start = site.w3.eth.block_number
    for _ in range(3):
        assert site.get(f"/studies/{uid}/metadata").status_code == 200
    assert site.get(f"/studies/{other}/metadata").status_code == 403

    served = [a for a in site.ctx.store.accesses() if a.study_uid == uid]
    assert [a.status for a in served] == [200, 200, 200]
    assert [a.chain_due for a in served] == [True, False, False]
    assert served[0].tx_hash is not None and served[0].chain_error is None
    (event,) = access_events(site.w3, site.deployment.consent_registry, start)
    assert (event.record_id, event.grantee, event.purpose, event.recorder, event.basis) == (
        site.record_of(uid), site.grantee.address, int(Purpose.TREAT), site.actors.site.address,
        int(AccessBasis.RECORD_GRANT),
    )  # fmt: skip
    assert event.tx_hash == served[0].tx_hash

    report = reconcile(
        site.ctx.store, access_events(site.w3, site.deployment.consent_registry), site.actors.site.address
    )
    assert report.consistent and len(report.matched) == 1 and report.served == 3

    # An access put on the trail outside the gateway is unexplained by the log.
    site.deployment.consent(site.w3, site.actors.site).record_access(
        site.grantee.address, site.record_of(uid), Scope.IMAGES, Purpose.TREAT
    )
    report = reconcile(
        site.ctx.store, access_events(site.w3, site.deployment.consent_registry), site.actors.site.address
    )
    assert not report.consistent and len(report.unexplained) == 1


def test_a_failed_recording_is_reported_and_repaired(site: Site) -> None:
    uid = site.new_study()
    site.grant(uid)
    assert site.get(f"/studies/{uid}/metadata").status_code == 200
    (access,) = site.ctx.store.accesses()
    site.ctx.store.set_chain_result(access.id, None, None, "ChainError: node unreachable")  # as if the node was down
    report = reconcile(site.ctx.store, [], site.actors.site.address)
    assert [a.id for a in report.missing] == [access.id] and not report.consistent

    (fixed,) = repair(site.ctx.store, site.deployment.consent(site.w3, site.actors.site), report)
    assert fixed.tx_hash is not None and fixed.chain_error is None
    after = reconcile(
        site.ctx.store, access_events(site.w3, site.deployment.consent_registry), site.actors.site.address
    )
    assert [a.id for a, _ in after.matched] == [access.id] and len(after.unexplained) == 1


# ------------------------------------------------------------------------------ CORS


def test_cors_lets_the_configured_viewer_send_the_bearer_header(site: Site) -> None:
    uid = site.new_study()
    site.grant(uid)
    preflight = site.client.options(
        f"{PREFIX}/studies/{uid}/metadata",
        headers={"Origin": VIEWER_ORIGIN, "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"},
    )  # fmt: skip
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == VIEWER_ORIGIN
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    response = site.get(f"/studies/{uid}/metadata", Origin=VIEWER_ORIGIN)
    assert response.headers["access-control-allow-origin"] == VIEWER_ORIGIN
    assert "X-Radledger-Record-Id" in response.headers["access-control-expose-headers"]
    other = site.get(f"/studies/{uid}/metadata", Origin="https://elsewhere.example")
    assert "access-control-allow-origin" not in other.headers
    refused = site.client.options(
        f"{PREFIX}/studies", headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET"}
    )
    assert refused.status_code == 400


# --------------------------------------------------------------------- the upstream


def test_the_upstream_cannot_be_reached_without_the_gateways_credentials(site: Site) -> None:
    uid = site.new_study()
    site.grant(uid)
    direct = f"{site.orthanc.dicomweb_url}/studies/{uid}/metadata"
    assert httpx.get(direct).status_code == 401
    assert httpx.get(direct, headers={"Authorization": f"Bearer {site.token()}"}).status_code == 401
    assert httpx.get(direct, auth=("radledger-gateway", "guessed")).status_code == 401
    assert httpx.get(direct, auth=site.orthanc.auth).status_code == 200  # what only the gateway holds


# ------------------------------------------------------------------ ingestion on events


def test_watch_registers_stable_studies_from_the_patient_map_and_amends_new_series(site: Site, tmp_path: Path) -> None:
    patient_map = tmp_path / "patients.csv"
    patient_map.write_text(f"PatientID,address\nSYN-WATCH-1,{site.patient}\n")
    patients = load_patient_map(patient_map)

    async def poll_until(done: Any) -> list[Any]:
        async with Upstream.open(site.ctx.settings.upstream) as upstream:
            ingestor = site.ctx.ingestor(upstream)
            seen: list[Any] = []
            for _ in range(60):
                seen += await poll_stable_studies(ingestor, patients)
                if done(seen):
                    return seen
                await anyio.sleep(0.25)
            return seen

    mapped = site.upload(synthetic_study(2, patient_id="SYN-WATCH-1"))
    unmapped = site.upload(synthetic_study(1, patient_id="SYN-WATCH-2"))
    outcomes = anyio.run(poll_until, lambda seen: {o.study_uid for o in seen} >= {mapped, unmapped})
    by_uid = {o.study_uid: o for o in outcomes}
    assert by_uid[mapped].result is not None and by_uid[mapped].result.action == "registered"
    assert by_uid[mapped].result.patient == site.patient
    assert type(by_uid[unmapped].error).__name__ == "UnmappedPatient"

    site.upload(synthetic_series(mapped, 1, patient_id="SYN-WATCH-1", first_number=3))
    amended = anyio.run(poll_until, lambda seen: any(o.result and o.result.action == "amended" for o in seen))
    assert [o.result.version for o in amended if o.result and o.result.study_uid == mapped] == [2]


# ---------------------------------------------------------------- requester over HTTP


@pytest.fixture
def served(site: Site) -> Iterator[str]:
    """The site's gateway on a real HTTP port (uvicorn in a thread); yields its base URL."""
    port = free_port()
    public = f"http://127.0.0.1:{port}/dicomweb"
    ctx = GatewayContext(
        settings_for(site.orthanc, site.ctx.settings.state_dir, public_url=public, record_on_chain=False),
        site.w3, site.deployment, site.actors.site, SITE_SALT,
    )  # fmt: skip
    server = uvicorn.Server(uvicorn.Config(create_app(ctx), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield public
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        ctx.close()


def test_images_fetch_writes_readable_dicom_files_matching_the_chain(
    site: Site, served: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    uid = site.new_study(instances=4)
    site.grant(uid)
    requester = GatewayRequester(served, site.grantee, Purpose.TREAT)
    assert [r["0020000D"]["Value"][0] for r in requester.search_studies()] == [uid]

    fetched = requester.fetch_study(uid, tmp_path / "out")
    assert len(fetched.files) == 4 and fetched.record_id == site.record_of(uid)
    assert verify_on_chain(fetched, site.deployment.records(site.w3))
    stored = {i.sop_uid: i for i in site.studies[uid]}
    for path in fetched.files:
        ds = pydicom.dcmread(path)  # a complete DICOM file: preamble and file meta
        assert path.read_bytes()[128:132] == b"DICM"
        assert path.name == f"{ds.SOPInstanceUID}.dcm"
        assert ds.PixelData == stored[ds.SOPInstanceUID].pixels

    with pytest.raises(AccessRefused) as exc:
        GatewayRequester(served, site.grantee, Purpose.HRESCH).fetch_study(uid, tmp_path / "refused")
    assert (exc.value.status, exc.value.reason) == (403, "purpose-not-granted")

    monkeypatch.setenv("RL_TEST_GRANTEE_KEY", "0x" + site.grantee.account.key.hex().removeprefix("0x"))
    out = tmp_path / "cli"
    code = main(["images", "fetch", "--gateway", served, "--study", uid, "--purpose", "TREAT", "--out", str(out),
                 "--key-env", "RL_TEST_GRANTEE_KEY", "--json"])  # fmt: skip
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["contentHash"] == "0x" + fetched.content_hash.hex()
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{u}.dcm" for u in stored)
