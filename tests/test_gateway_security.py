"""Findings of an outside attack on the gateway, each pinned by a test: RPC amplification by
searches, StudyInstanceUID collisions in the PACS, existence oracles, an unmapped error, a Host
header redirect, the tamper window. Real Orthanc, in-process chain (see test_gateway_orthanc)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from radledger.chain.signers import KeySigner
from radledger.gateway.app import create_app
from radledger.gateway.consent_check import ConsentChecker
from radledger.gateway.context import GatewayContext
from radledger.gateway.errors import DuplicateStudy
from radledger.gateway.synthetic import synthetic_instance, synthetic_study
from radledger.gateway.upstream import Upstream
from radledger.registries.common import Purpose
from tests import test_gateway_orthanc as base
from tests.support import SITE_SALT
from tests.test_gateway_orthanc import PREFIX, PUBLIC_ORIGIN, FakeClock, Site, TestClient, refusal, settings_for

orthanc, site = base.orthanc, base.site  # the Orthanc and site fixtures, shared


@pytest.fixture
def rpc_calls(site: Site, monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Every JSON-RPC request the gateway's node connection makes, by method."""
    calls: Counter[str] = Counter()
    provider = site.w3.provider
    original: Callable[..., Any] = provider.make_request

    def counting(method: Any, params: Any) -> Any:
        calls[str(method)] += 1
        return original(method, params)

    monkeypatch.setattr(provider, "make_request", counting)
    monkeypatch.setattr(provider, "_request_func_cache", (None, None))  # web3 keeps the first bound method
    yield calls


def _search_cost(site: Site, calls: Counter[str], signer: KeySigner) -> int:
    token = site.token(signer)
    calls.clear()
    response = site.client.get(PREFIX + "/studies", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.json() == []
    return sum(calls.values())


# ----------------------------------------------------------------- RPC amplification


def test_a_search_by_a_key_without_grants_costs_no_node_call_however_many_studies(
    site: Site, rpc_calls: Counter[str]
) -> None:
    for _ in range(3):
        site.grant(site.new_study(instances=1))  # granted to the site's grantee, not to the searching keys
    site.get("/studies")  # the grant index is built once
    few = _search_cost(site, rpc_calls, KeySigner.create())
    for _ in range(4):
        site.new_study(instances=1)
    many = _search_cost(site, rpc_calls, KeySigner.create())
    assert (few, many) == (0, 0)
    rpc_calls.clear()
    site.clock.advance(base.CACHE_SECONDS + 1)
    site.get("/studies")  # the grantee's own search does ask the chain: the counter counts
    assert sum(rpc_calls.values()) >= 1


def test_search_filtering_asks_one_question_per_candidate_and_explains_no_refusal(site: Site) -> None:
    uid = site.new_study(instances=1)
    site.grant(uid, purposes=Purpose.TREAT)
    checker = site.client.app.state.gateway.checker
    assert isinstance(checker, ConsentChecker)
    before = (checker.chain_queries, checker.explanations)
    assert site.get("/studies", purpose=Purpose.HPAYMT).json() == []  # a candidate, refused for this purpose
    assert (checker.chain_queries - before[0], checker.explanations - before[1]) == (1, 0)
    assert refusal(site.get(f"/studies/{uid}", purpose=Purpose.HPAYMT)) == (403, "purpose-not-granted")
    assert checker.explanations - before[1] == 1  # a study request does say why


def test_the_chain_id_is_read_once_not_per_request(site: Site, rpc_calls: Counter[str]) -> None:
    uid = site.new_study(instances=1)
    site.grant(uid)
    rpc_calls.clear()
    for _ in range(3):
        assert site.get(f"/studies/{uid}/metadata").status_code == 200
        assert site.get("/studies").status_code == 200
    assert rpc_calls["eth_chainId"] == 0


def test_requests_beyond_the_rate_limits_get_429_per_key_and_per_address(site: Site, tmp_path: Path) -> None:
    settings = settings_for(site.orthanc, tmp_path / "limited", rate_per_key=0.5, rate_per_address=1.0)
    ctx = GatewayContext(settings, site.w3, site.deployment, site.actors.site, SITE_SALT)
    clock = FakeClock()
    with TestClient(create_app(ctx, clock=clock), base_url=PUBLIC_ORIGIN) as client:

        def get(signer: KeySigner) -> Any:
            return client.get(PREFIX + "/studies", headers={"Authorization": f"Bearer {site.token(signer)}"})

        key = KeySigner.create()
        assert [get(key).status_code for _ in range(5)] == [200] * 5  # a burst of 10 s worth
        limited = get(key)
        assert refusal(limited) == (429, "rate-limited") and int(limited.headers["retry-after"]) >= 1
        clock.advance(2.0)
        assert get(key).status_code == 200
        statuses = [get(KeySigner.create()).status_code for _ in range(8)]  # fresh keys, one address
        assert statuses.count(429) >= 1 and statuses[:3] == [200] * 3
    ctx.close()


# ------------------------------------------------------------ StudyInstanceUID collision


def _colliding(site: Site, uid: str, patient_id: str, name: str) -> None:
    other = synthetic_instance(uid, f"{uid}.9", 1, patient_id=patient_id, patient_name=name)
    site.orthanc.upload(other.data)


def test_a_study_uid_shared_by_another_patient_in_the_pacs_never_shows_that_patient(site: Site) -> None:
    uid = site.new_study(instances=1, patient_id="SYN-OWN", patient_name="SYNTHETIC^OWN")
    site.grant(uid)
    _colliding(site, uid, "SYN-COLLIDER", "SYNTHETIC^COLLIDER")
    listed = site.get("/studies")
    assert listed.status_code == 200
    assert [r["00100020"]["Value"][0] for r in listed.json()] == ["SYN-OWN"]
    assert "COLLIDER" not in listed.text
    series = site.get("/series")
    assert "COLLIDER" not in series.text
    assert refusal(site.get(f"/studies/{uid}/metadata")) == (409, "duplicate-study")


def test_registering_a_study_uid_the_pacs_holds_twice_is_refused(site: Site) -> None:
    study = synthetic_study(1, patient_id="SYN-FIRST", patient_name="SYNTHETIC^FIRST")
    uid = site.upload(study)
    _colliding(site, uid, "SYN-SECOND", "SYNTHETIC^SECOND")
    with pytest.raises(DuplicateStudy) as exc:
        site.register(uid, site.patient)
    assert (exc.value.study_uid, exc.value.found) == (uid, 2)
    assert site.ctx.store.study(uid) is None


def test_registration_keeps_the_patient_id_and_the_pacs_study_id(site: Site) -> None:
    uid = site.new_study(instances=1, patient_id="SYN-KEPT")
    entry = site.ctx.store.study(uid)
    assert entry is not None and entry.patient_id == "SYN-KEPT"

    async def orthanc_id() -> str | None:
        async with Upstream.open(site.ctx.settings.upstream) as upstream:
            return await upstream.orthanc_study_id(uid, "SYN-KEPT")

    assert entry.pacs_id is not None and entry.pacs_id == anyio.run(orthanc_id)


# ------------------------------------------------------------------- existence oracle


def test_errors_of_the_pacs_are_answered_with_the_gateways_own_body(site: Site) -> None:
    uid = site.new_study(instances=1)
    site.grant(uid)
    response = site.get(f"/studies/{uid}/series/2.25.4242/metadata")
    assert refusal(response) == (404, "not-found")
    assert set(response.json()) == {"error", "reason", "detail"}
    assert "2.25.4242" not in response.text and "Orthanc" not in response.text


def test_registered_and_unregistered_studies_get_the_same_answer_without_consent(site: Site) -> None:
    registered = site.new_study(instances=1)
    unregistered = site.upload(synthetic_study(1))
    stranger = KeySigner.create()
    for path in ("", "/metadata", "/series"):
        a, b = (site.get(f"/studies/{uid}{path}", signer=stranger) for uid in (registered, unregistered))
        assert (a.status_code, a.json()) == (b.status_code, b.json()) == (403, a.json())


# ------------------------------------------------------ unmapped error, redirect, tamper window


def test_a_registered_study_missing_from_the_pacs_is_a_json_404(site: Site) -> None:
    uid = site.new_study(instances=2)
    site.grant(uid)
    for instance in site.studies[uid]:
        site.orthanc.delete_instance(instance.sop_uid)
    response = site.get(f"/studies/{uid}")
    assert refusal(response) == (404, "missing-from-pacs")
    assert response.headers["content-type"] == "application/json"


def test_a_foreign_host_header_never_becomes_a_redirect_target(site: Site) -> None:
    response = site.client.get(
        PREFIX + "/studies/", headers={"Host": "evil.example", "Authorization": f"Bearer {site.token()}"},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 307
    assert response.headers["location"] == "https://gateway.site-a.example/dicomweb/studies"
    other = site.client.get("/nowhere/", headers={"Host": "evil.example"}, follow_redirects=False)
    assert other.status_code == 404 and "evil.example" not in other.text


def test_tampered_bytes_are_refused_once_the_verify_cache_expires(site: Site, tmp_path: Path) -> None:
    settings = settings_for(site.orthanc, tmp_path / "window", verify_cache_seconds=10.0)
    ctx = GatewayContext(settings, site.w3, site.deployment, site.actors.site, SITE_SALT)
    uid = site.new_study(instances=1)
    ctx.store.save_study(*_entry_args(site, uid))
    site.grant(uid)
    clock = FakeClock()
    with TestClient(create_app(ctx, clock=clock), base_url=PUBLIC_ORIGIN) as client:

        def get() -> Any:
            return client.get(f"{PREFIX}/studies/{uid}", headers={"Authorization": f"Bearer {site.token()}"})

        assert get().status_code == 200
        original = site.studies[uid][0]
        altered = synthetic_instance(uid, original.series_uid, 1, seed=99, sop_uid=original.sop_uid)
        site.orthanc.upload(altered.data)  # the PACS overwrites the instance
        assert get().status_code == 200  # the documented window: the last check stands
        clock.advance(10.5)
        assert refusal(get()) == (409, "tampered")
    ctx.close()


def _entry_args(site: Site, uid: str) -> tuple[Any, ...]:
    entry = site.ctx.store.study(uid)
    assert entry is not None
    instances = site.ctx.store.instances(uid).values()
    return (uid, entry.record_id, entry.patient, entry.content_hash, entry.version, instances, entry.patient_id)
