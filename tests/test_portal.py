"""The patient portal on the in-process chain: what it shows, the messages it prepares, the relay's
checks before anything is sent, wallet compatibility (MetaMask's and ethers' signing), receipts."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from web3 import Web3

from radledger.chain.errors import ConfigurationError
from radledger.chain.signers import KeySigner
from radledger.deployment.addresses import Deployment
from radledger.portal.app import create_app
from radledger.portal.config import DirectoryEntry, PortalSettings, load_settings
from radledger.portal.errors import (
    BadSignature,
    DeadlinePassed,
    NotPatientHere,
    NotPatientOrGuardian,
    RateLimited,
    ReceiptMismatch,
    RejectedByContract,
    StaleEpoch,
    StaleVersion,
    WrongDomain,
)
from radledger.portal.receipts import verify_receipt
from radledger.portal.relay import parse_signed
from radledger.portal.service import PortalService
from radledger.registries.common import FOREVER, Purpose, RecordKind, Scope
from radledger.registries.consent.client import WILDCARD, ConsentRegistryClient
from radledger.registries.records.client import RecordRegistryClient
from tests.conftest import Actors, named_key
from tests.portal_support import NodeWallet
from tests.support import nothing_sent, register_record

TELERADIOLOGY = named_key("Northside Teleradiology (synthetic)")


@pytest.fixture(scope="module")
def wallet() -> Iterator[NodeWallet]:
    signer = NodeWallet()
    try:
        yield signer
    finally:
        signer.close()


def settings(tmp_path: Path, **overrides: Any) -> PortalSettings:
    values: dict[str, Any] = {
        "state_dir": tmp_path / "portal-state",
        "site_name": "Example Imaging Centre",
        "directory": (DirectoryEntry("Northside Teleradiology", TELERADIOLOGY.address, "teleradiology group"),),
        **overrides,
    }
    return PortalSettings(**values)


@pytest.fixture
def study(records: RecordRegistryClient, actors: Actors) -> bytes:
    return register_record(records, actors.patient_signer.address, "portal: chest CT")


@pytest.fixture
def service(w3: Web3, deployment: Deployment, actors: Actors, study: bytes, tmp_path: Path) -> Iterator[PortalService]:
    portal = PortalService(settings(tmp_path), w3, deployment, actors.site)
    try:
        yield portal
    finally:
        portal.close()


def grant_body(patient: KeySigner, record_id: bytes, **extra: Any) -> dict[str, Any]:
    return {
        "patient": patient.address,
        "grantee": TELERADIOLOGY.address,
        "recordId": "0x" + record_id.hex(),
        "scopes": ["images", "reports"],
        "purposes": ["TREAT"],
        **extra,
    }


def signed_request(doc: dict[str, Any], signature: str) -> dict[str, Any]:
    return {"typedData": doc, "signature": signature}


def relay_one(service: PortalService, action: str, doc: dict[str, Any], signer: KeySigner) -> dict[str, Any]:
    return service.relay_request(action, signed_request(doc, "0x" + signer.sign_typed_data(doc).hex()), "203.0.113.7")[
        0
    ]


# ------------------------------------------------------------------------------ typed data


def test_grant_message_names_only_the_contract_fields_with_the_chain_counters(
    service: PortalService, actors: Actors, study: bytes
) -> None:
    (doc,) = service.prepare("grant", grant_body(actors.patient_signer, study))
    assert doc["primaryType"] == "Grant"
    assert set(doc["types"]) == {"EIP712Domain", "Grant"}
    assert [f["name"] for f in doc["types"]["Grant"]] == [
        "patient", "grantee", "recordId", "scopes", "purposes", "validFrom", "validUntil",
        "signer", "version", "epoch", "deadline",
    ]  # fmt: skip
    assert doc["domain"] == service.consent.domain().as_dict()
    message = doc["message"]
    assert message["recordId"] == "0x" + study.hex()
    assert (message["scopes"], message["purposes"]) == (int(Scope.IMAGES | Scope.REPORTS), int(Purpose.TREAT))
    assert (message["version"], message["epoch"], message["validUntil"]) == (0, 0, FOREVER)
    assert message["deadline"] == service.consent.now() + service.settings.signature_lifetime_seconds


@pytest.mark.parametrize("library", ["metamask", "ethers"])
def test_grant_signed_by_a_wallet_library_is_accepted_by_the_contract(
    service: PortalService,
    consent: ConsentRegistryClient,
    actors: Actors,
    study: bytes,
    wallet: NodeWallet,
    library: str,
) -> None:
    patient = actors.patient_signer
    (doc,) = service.prepare("grant", grant_body(patient, study))
    signature = wallet.sign(patient, doc, library)
    (submission,) = service.relay_request("grant", signed_request(doc, signature), "203.0.113.7")
    assert service.outcome(submission["txHash"])["status"] == "confirmed"
    assert consent.has_access(patient.address, TELERADIOLOGY.address, study, Scope.IMAGES, Purpose.TREAT)


@pytest.mark.parametrize("library", ["metamask", "ethers"])
def test_every_action_signed_by_a_wallet_library_is_accepted(
    service: PortalService,
    consent: ConsentRegistryClient,
    actors: Actors,
    study: bytes,
    wallet: NodeWallet,
    library: str,
) -> None:
    patient, guardian = actors.patient_signer, actors.guardian_signer
    steps: list[tuple[str, dict[str, Any], str]] = [
        ("grant", grant_body(patient, study), "grant"),
        ("revoke", {"patient": patient.address, "grantee": TELERADIOLOGY.address, "recordId": "0x" + study.hex()},
         "revoke"),
        ("set-guardian", {"patient": patient.address, "guardian": guardian.address,
                          "validUntil": consent.now() + 86400}, "set-guardian"),
        ("invalidate-signatures", {"patient": patient.address}, "invalidate-signatures"),
    ]  # fmt: skip
    for action, body, relay_action in steps:
        (doc,) = service.prepare(action, body)
        service.relay_request(relay_action, signed_request(doc, wallet.sign(patient, doc, library)), "203.0.113.7")
    assert not consent.has_access(patient.address, TELERADIOLOGY.address, study, Scope.IMAGES, Purpose.TREAT)
    assert consent.is_guardian(patient.address, guardian.address)
    assert consent.signature_epoch(patient.address) == 1


# ---------------------------------------------------------------------- checks before sending


def test_expired_signature_is_refused_before_sending(
    service: PortalService, w3: Web3, actors: Actors, study: bytes
) -> None:
    (doc,) = service.prepare("grant", grant_body(actors.patient_signer, study))
    w3.testing.timeTravel(doc["message"]["deadline"] + 1)  # type: ignore[attr-defined]
    now = service.consent.now()
    with nothing_sent(w3), pytest.raises(DeadlinePassed) as refused:
        relay_one(service, "grant", doc, actors.patient_signer)
    assert (refused.value.deadline, refused.value.now) == (doc["message"]["deadline"], now)
    assert refused.value.status == 409


def test_a_signature_for_an_older_version_of_the_grant_is_refused(
    service: PortalService, w3: Web3, actors: Actors, study: bytes
) -> None:
    (doc,) = service.prepare("grant", grant_body(actors.patient_signer, study))
    relay_one(service, "grant", doc, actors.patient_signer)
    with nothing_sent(w3), pytest.raises(StaleVersion) as refused:
        relay_one(service, "grant", doc, actors.patient_signer)
    assert (refused.value.signed, refused.value.current) == (0, 1)


def test_signatures_made_before_invalidation_are_refused(
    service: PortalService, w3: Web3, actors: Actors, study: bytes
) -> None:
    patient = actors.patient_signer
    (grant,) = service.prepare("grant", grant_body(patient, study))
    (invalidate,) = service.prepare("invalidate-signatures", {"patient": patient.address})
    relay_one(service, "invalidate-signatures", invalidate, patient)
    with nothing_sent(w3), pytest.raises(StaleEpoch) as refused:
        relay_one(service, "grant", grant, patient)
    assert (refused.value.signed, refused.value.current) == (0, 1)


def test_someone_elses_signature_is_refused(service: PortalService, w3: Web3, actors: Actors, study: bytes) -> None:
    (doc,) = service.prepare("grant", grant_body(actors.patient_signer, study))
    with nothing_sent(w3), pytest.raises(BadSignature) as refused:
        relay_one(service, "grant", doc, actors.guardian_signer)
    assert refused.value.signer == actors.patient_signer.address


def test_a_stranger_cannot_sign_for_the_patient(service: PortalService, w3: Web3, actors: Actors, study: bytes) -> None:
    stranger = named_key("portal stranger")
    (doc,) = service.prepare("grant", grant_body(actors.patient_signer, study, signer=stranger.address))
    with nothing_sent(w3), pytest.raises(NotPatientOrGuardian) as refused:
        relay_one(service, "grant", doc, stranger)
    assert (refused.value.patient, refused.value.signer) == (actors.patient_signer.address, stranger.address)


def test_a_signature_for_another_chain_is_refused(
    service: PortalService, w3: Web3, actors: Actors, study: bytes
) -> None:
    (doc,) = service.prepare("grant", grant_body(actors.patient_signer, study))
    doc = copy.deepcopy(doc)
    doc["domain"]["chainId"] = 1
    with nothing_sent(w3), pytest.raises(WrongDomain) as refused:
        relay_one(service, "grant", doc, actors.patient_signer)
    assert (refused.value.chain_id, refused.value.expected_chain_id) == (1, service.domain.chain_id)


def test_an_address_without_a_record_here_is_refused_unless_configured(
    w3: Web3, deployment: Deployment, actors: Actors, tmp_path: Path
) -> None:
    outsider = named_key("portal: patient of another site")
    body = {**grant_body(outsider, WILDCARD)}
    strict = PortalService(settings(tmp_path / "strict"), w3, deployment, actors.site)
    (doc,) = strict.prepare("grant", body)
    with nothing_sent(w3), pytest.raises(NotPatientHere) as refused:
        relay_one(strict, "grant", doc, outsider)
    assert refused.value.patient == outsider.address
    strict.close()
    open_relay = PortalService(settings(tmp_path / "open", allow_any_patient=True), w3, deployment, actors.site)
    relay_one(open_relay, "grant", doc, outsider)
    assert open_relay.consent.has_access(outsider.address, TELERADIOLOGY.address, WILDCARD, Scope.IMAGES, Purpose.TREAT)
    open_relay.close()


def test_what_the_contract_would_refuse_is_found_by_simulation(
    service: PortalService, w3: Web3, actors: Actors, study: bytes
) -> None:
    (doc,) = service.prepare("grant", grant_body(actors.patient_signer, study))
    doc = copy.deepcopy(doc)
    doc["message"]["scopes"] = 8  # no such data class: the contract reverts InvalidScopes(8)
    with nothing_sent(w3), pytest.raises(RejectedByContract) as refused:
        relay_one(service, "grant", doc, actors.patient_signer)
    assert refused.value.error_name == "InvalidScopes"
    assert refused.value.error.args == (8,)


def test_requests_beyond_the_limit_per_patient_are_refused(
    w3: Web3, deployment: Deployment, actors: Actors, study: bytes, tmp_path: Path
) -> None:
    portal = PortalService(settings(tmp_path, patient_requests_per_minute=2), w3, deployment, actors.site)
    patient = actors.patient_signer
    for _ in range(2):
        (doc,) = portal.prepare("invalidate-signatures", {"patient": patient.address})
        relay_one(portal, "invalidate-signatures", doc, patient)
    (doc,) = portal.prepare("invalidate-signatures", {"patient": patient.address})
    with nothing_sent(w3), pytest.raises(RateLimited) as refused:
        relay_one(portal, "invalidate-signatures", doc, patient)
    assert (refused.value.kind, refused.value.key, refused.value.status) == ("patient", patient.address, 429)
    portal.close()


# --------------------------------------------------------------------------------- the views


def test_overview_shows_records_grants_by_whom_break_glass_and_accesses_in_plain_words(
    service: PortalService,
    consent: ConsentRegistryClient,
    actors: Actors,
    study: bytes,
    deployment: Deployment,
    w3: Web3,
) -> None:
    patient, guardian = actors.patient_signer, actors.guardian_signer
    (appoint,) = service.prepare(
        "set-guardian", {"patient": patient.address, "guardian": guardian.address, "validUntil": consent.now() + 86400}
    )
    relay_one(service, "set-guardian", appoint, patient)
    (doc,) = service.prepare("grant", grant_body(patient, study, signer=guardian.address))
    relay_one(service, "grant", doc, guardian)
    deployment.consent(w3, actors.emergency).break_glass(patient.address, 7)
    deployment.consent(w3, actors.site).record_access(
        TELERADIOLOGY.address, study, int(Scope.IMAGES), int(Purpose.TREAT)
    )

    view = service.overview(patient.address).as_json()
    assert view["isPatientHere"] is True
    (record,) = view["records"]
    assert record["kind"] == "Imaging study" and record["recordId"] == "0x" + study.hex()
    (grant,) = view["grants"]
    assert grant["granteeName"] == "Northside Teleradiology"
    assert (grant["scopes"], grant["purposes"], grant["until"]) == (["images", "reports"], ["treatment"], "no end date")
    assert (grant["grantedBy"], grant["actor"]) == ("guardian", guardian.address)
    assert grant["summary"].startswith(
        "Northside Teleradiology may see the images and reports of imaging study registered"
    )
    (guardian_row,) = view["guardians"]
    assert guardian_row["guardian"] == guardian.address
    (glass,) = view["breakGlass"]
    assert (glass["account"], glass["reasonCode"], glass["active"]) == (actors.emergency.address, 7, True)
    (access,) = view["accesses"]
    assert (access["name"], access["scopes"], access["purpose"]) == ("Northside Teleradiology", ["images"], "treatment")
    assert "2.25." not in repr(view)  # never a DICOM UID


def test_revoke_all_withdraws_every_grant_of_the_grantee(
    service: PortalService, consent: ConsentRegistryClient, actors: Actors, study: bytes
) -> None:
    patient = actors.patient_signer
    for rid in (study, WILDCARD):
        (doc,) = service.prepare("grant", grant_body(patient, rid))
        relay_one(service, "grant", doc, patient)
    docs = service.prepare("revoke-all", {"patient": patient.address, "grantee": TELERADIOLOGY.address})
    assert sorted(d["message"]["recordId"] for d in docs) == sorted(["0x" + study.hex(), "0x" + WILDCARD.hex()])
    items = [{"action": "revoke", **signed_request(d, "0x" + patient.sign_typed_data(d).hex())} for d in docs]
    submissions = service.relay_request("batch", {"items": items}, "203.0.113.7")
    assert len(submissions) == 2
    assert service.overview(patient.address).grants == []
    assert not consent.has_access(patient.address, TELERADIOLOGY.address, study, Scope.IMAGES, Purpose.TREAT)


def test_several_signed_grants_relay_in_one_batch_transaction(
    service: PortalService, w3: Web3, consent: ConsentRegistryClient, actors: Actors, study: bytes
) -> None:
    patient = actors.patient_signer
    docs = [service.prepare("grant", grant_body(patient, rid))[0] for rid in (study, WILDCARD)]
    items = [{"action": "grant", **signed_request(d, "0x" + patient.sign_typed_data(d).hex())} for d in docs]
    before = w3.eth.block_number
    (submission,) = service.relay_request("batch", {"items": items}, "203.0.113.7")
    assert submission["actions"] == ["Grant", "Grant"]
    receipt = w3.eth.get_transaction_receipt(submission["txHash"])
    assert receipt["status"] == 1 and w3.eth.block_number == before + 1
    granted = consent.contract.events.ConsentGranted().process_receipt(receipt)
    assert sorted(bytes(e["args"]["recordId"]) for e in granted) == sorted([study, WILDCARD])
    assert consent.has_access(patient.address, TELERADIOLOGY.address, study, Scope.IMAGES, Purpose.TREAT)


# ------------------------------------------------------------------------------------ receipts


def test_grant_receipt_holds_transaction_terms_and_a_valid_fhir_consent_and_checks_against_the_chain(
    service: PortalService, w3: Web3, actors: Actors, study: bytes
) -> None:
    from fhir.resources.consent import Consent

    (doc,) = service.prepare("grant", grant_body(actors.patient_signer, study))
    submission = relay_one(service, "grant", doc, actors.patient_signer)
    receipt = service.receipt(submission["txHash"])
    assert receipt["transaction"]["hash"] == submission["txHash"]
    assert receipt["transaction"]["blockNumber"] == w3.eth.block_number
    assert receipt["terms"]["scopes"] == int(Scope.IMAGES | Scope.REPORTS)
    assert receipt["summary"].startswith("You allowed Northside Teleradiology to see the images and reports")
    fhir = Consent.model_validate(receipt["fhir"])
    assert fhir.status == "active" and fhir.decision == "permit"
    assert [c.code for c in fhir.provision[0].purpose] == ["TREAT"]
    verified = verify_receipt(w3, receipt)
    assert (verified.event, verified.block_number) == ("ConsentGranted", receipt["transaction"]["blockNumber"])


def test_revocation_receipt_describes_the_withdrawn_grant_as_inactive(
    service: PortalService, w3: Web3, actors: Actors, study: bytes
) -> None:
    patient = actors.patient_signer
    (doc,) = service.prepare("grant", grant_body(patient, study))
    relay_one(service, "grant", doc, patient)
    (revoke,) = service.prepare(
        "revoke", {"patient": patient.address, "grantee": TELERADIOLOGY.address, "recordId": "0x" + study.hex()}
    )
    receipt = service.receipt(relay_one(service, "revoke", revoke, patient)["txHash"])
    assert receipt["fhir"]["status"] == "inactive"
    assert receipt["terms"]["revoked"]["scopes"] == int(Scope.IMAGES | Scope.REPORTS)
    assert verify_receipt(w3, receipt).event == "ConsentRevoked"


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("terms", "scopes"), 7, "terms.scopes"),
        (("transaction", "blockNumber"), 1, "transaction.blockNumber"),
        (("fhir", "status"), "inactive", "fhir"),
        (("chainId",), 1, "chainId"),
    ],
)
def test_an_altered_receipt_does_not_check_against_the_chain(
    service: PortalService, w3: Web3, actors: Actors, study: bytes, path: tuple[str, ...], value: Any, field: str
) -> None:
    (doc,) = service.prepare("grant", grant_body(actors.patient_signer, study))
    receipt = copy.deepcopy(service.receipt(relay_one(service, "grant", doc, actors.patient_signer)["txHash"]))
    target = receipt
    for key in path[:-1]:
        target = target[key]
    original = target[path[-1]]
    target[path[-1]] = value
    with pytest.raises(ReceiptMismatch) as mismatch:
        verify_receipt(w3, receipt)
    assert mismatch.value.field == field
    if field.startswith("terms") or field.startswith("transaction"):
        assert (mismatch.value.expected, mismatch.value.found) == (value, original)


# ---------------------------------------------------------------------------------- over HTTP


def test_relay_answers_with_the_hash_then_the_outcome_and_the_receipt_download(
    service: PortalService, w3: Web3, actors: Actors, study: bytes
) -> None:
    patient = actors.patient_signer
    with TestClient(create_app(service)) as client:
        site = client.get("/api/site").json()
        assert site["chainId"] == w3.eth.chain_id
        assert {
            "name": "Northside Teleradiology",
            "address": TELERADIOLOGY.address,
            "kind": "teleradiology group",
        } in site["directory"]
        (doc,) = client.post("/api/prepare/grant", json=grant_body(patient, study)).json()["typedData"]
        sent = client.post("/relay/grant", json=signed_request(doc, "0x" + patient.sign_typed_data(doc).hex()))
        assert sent.status_code == 202
        tx_hash = sent.json()["txHash"]
        outcome = client.get(f"/relay/tx/{tx_hash}").json()
        assert (outcome["status"], outcome["blockNumber"]) == ("confirmed", w3.eth.block_number)
        download = client.get(outcome["receipts"][0])
        assert download.headers["content-disposition"].startswith("attachment;")
        assert verify_receipt(w3, download.json()).tx_hash == tx_hash
        again = client.post("/relay/grant", json=signed_request(doc, "0x" + patient.sign_typed_data(doc).hex()))
        assert again.status_code == 409
        assert again.json()["reason"] == "stale-version"
        assert client.get("/").headers["content-security-policy"].startswith("default-src 'self'")


def test_relay_over_http_limits_one_client_address_with_429(
    w3: Web3, deployment: Deployment, actors: Actors, study: bytes, tmp_path: Path
) -> None:
    portal = PortalService(settings(tmp_path, ip_requests_per_minute=1), w3, deployment, actors.site)
    with TestClient(create_app(portal)) as client, nothing_sent(w3):
        first = client.post("/relay/grant", json={"typedData": {}, "signature": "0x"})
        assert first.status_code == 400 and first.json()["reason"] == "malformed"
        second = client.post("/relay/grant", json={"typedData": {}, "signature": "0x"})
        assert second.status_code == 429
        assert second.json()["reason"] == "rate-limited"
        assert int(second.headers["retry-after"]) >= 1


def test_parse_refuses_a_body_for_another_action() -> None:
    from radledger.portal.errors import MalformedRequest

    with pytest.raises(MalformedRequest):
        parse_signed("revoke", {"typedData": {"primaryType": "Grant"}, "signature": "0x"})


# ------------------------------------------------------------------------------- configuration


def test_configuration_reads_the_directory_and_refuses_inline_keys(tmp_path: Path) -> None:
    config = tmp_path / "portal.toml"
    config.write_text(
        '[portal]\nsite_name = "Example Imaging Centre"\n[chain]\nrpc_url = "http://127.0.0.1:8545"\n'
        f'consent = "{TELERADIOLOGY.address}"\n'
        '[[directory]]\nname = "Northside Teleradiology"\nkind = "teleradiology group"\n'
        f'address = "{TELERADIOLOGY.address}"\n'
    )
    loaded = load_settings(config)
    assert loaded.directory == (
        DirectoryEntry("Northside Teleradiology", TELERADIOLOGY.address, "teleradiology group"),
    )
    assert loaded.state_dir == tmp_path / "portal-state"
    config.write_text('[relayer]\nkey = "0x' + "11" * 32 + '"\n')
    with pytest.raises(ConfigurationError):
        load_settings(config)


def test_record_kind_is_named_for_people() -> None:
    from radledger.portal.views import KIND_TEXT

    assert KIND_TEXT[RecordKind.SAFETY_PROFILE].startswith("Safety profile")
