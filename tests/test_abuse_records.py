"""Issue 11, item 5: record-id squatting, performed against RecordRegistry and refused.

Before the fix a record id was whatever the registering site sent: site B, seeing site A's pending
`register`, could send the same id first with a patient of B's choosing, and A could then neither
register nor amend its own study. Now the contract binds the id to its custodian:
`recordId = keccak256(abi.encode(custodian, localId))`, computed in `register`.

Run once against the contracts before the fix (commit 6142838): B's registration took A's id.
"""

from __future__ import annotations

import pytest
from web3 import Web3

from radledger.chain import errors
from radledger.deployment.addresses import Deployment
from radledger.registries.common import Purpose, RecordKind, Scope
from radledger.registries.consent.client import ConsentRegistryClient
from radledger.registries.records.client import (
    RecordRegistryClient,
    custodian_record_id,
    local_record_id,
    record_id,
)
from tests.conftest import Actors
from tests.support import SITE_SALT, content_hash, nothing_sent, synthetic_uid

UID = synthetic_uid("study that site B tries to squat")


@pytest.fixture
def site_a(w3: Web3, deployment: Deployment, actors: Actors) -> RecordRegistryClient:
    return deployment.records(w3, actors.site)


@pytest.fixture
def site_b(w3: Web3, deployment: Deployment, actors: Actors) -> RecordRegistryClient:
    return deployment.records(w3, actors.other_site)


def test_site_b_front_running_site_as_register_does_not_take_its_record_id(
    site_a: RecordRegistryClient, site_b: RecordRegistryClient, actors: Actors
) -> None:
    local = local_record_id(SITE_SALT, UID)  # what A's pending transaction shows in the mempool
    a_id = record_id(SITE_SALT, UID, actors.site.address)
    # B sends A's local id first, for a patient of B's choosing.
    site_b.register(local, actors.stranger.address, RecordKind.IMAGING_STUDY, content_hash("squat"))
    b_id = site_b.record_id_of(local)
    assert b_id != a_id
    # A's registration goes through, under A's id, with A's patient.
    receipt = site_a.register(local, actors.patient_signer.address, RecordKind.IMAGING_STUDY, content_hash("real"))
    assert site_a.events(receipt, "RecordRegistered")[0]["recordId"] == a_id
    record = site_a.get_record(a_id)
    assert (record.patient, record.custodian, record.content_hash) == (
        actors.patient_signer.address,
        actors.site.address,
        content_hash("real"),
    )
    # ... and A can amend it.
    site_a.amend(a_id, content_hash("real, series 2"))
    assert site_a.get_record(a_id).version == 2


def test_site_b_cannot_register_under_or_amend_site_as_record_id(
    w3: Web3, site_a: RecordRegistryClient, site_b: RecordRegistryClient, actors: Actors
) -> None:
    local = local_record_id(SITE_SALT, UID)
    site_a.register(local, actors.patient_signer.address, RecordKind.IMAGING_STUDY, content_hash("real"))
    a_id = site_a.record_id_of(local)
    before = site_a.get_record(a_id)
    # Sending A's record id itself as a local id lands elsewhere: keccak256(B, a_id) != a_id.
    site_b.register(a_id, actors.stranger.address, RecordKind.REPORT, content_hash("squat"))
    assert site_b.record_id_of(a_id) != a_id
    assert site_a.get_record(a_id) == before
    with nothing_sent(w3), pytest.raises(errors.NotRecordCustodian) as exc:
        actors.other_site.send(site_b.contract.functions.amend(a_id, content_hash("tampered")))
    assert exc.value.args == (a_id, actors.other_site.address)
    assert site_a.get_record(a_id) == before


def test_site_a_registering_its_local_id_twice_is_refused(
    w3: Web3, site_a: RecordRegistryClient, actors: Actors
) -> None:
    local = local_record_id(SITE_SALT, UID)
    site_a.register(local, actors.patient_signer.address, RecordKind.IMAGING_STUDY, content_hash("real"))
    a_id = site_a.record_id_of(local)
    fn = site_a.contract.functions.register(local, actors.stranger.address, int(RecordKind.REPORT), content_hash("x"))
    with nothing_sent(w3), pytest.raises(errors.RecordAlreadyRegistered) as exc:
        actors.site.send(fn)
    assert exc.value.args == (a_id,)
    assert site_a.get_record(a_id).patient == actors.patient_signer.address


def test_the_contract_and_the_client_compute_the_same_bound_id(site_a: RecordRegistryClient, actors: Actors) -> None:
    local = local_record_id(SITE_SALT, UID)
    on_chain = bytes(site_a.contract.functions.recordIdOf(actors.site.address, local).call())
    assert on_chain == custodian_record_id(actors.site.address, local) == record_id(SITE_SALT, UID, actors.site.address)
    assert (
        site_a.contract.functions.register(local, actors.patient_signer.address, 1, content_hash("x")).call(
            {"from": actors.site.address}
        )
        == on_chain
    )  # register returns it


def test_consent_binds_the_patient_of_the_custodians_record(
    w3: Web3, deployment: Deployment, site_a: RecordRegistryClient, site_b: RecordRegistryClient, actors: Actors
) -> None:
    """ConsentRegistry's recordAccess reads patientAndCustodianOf(recordId), unchanged: B's squat record has
    B's patient and custodian, A's record A's, so a grant of A's patient never covers B's record."""
    local = local_record_id(SITE_SALT, UID)
    site_b.register(local, actors.stranger.address, RecordKind.IMAGING_STUDY, content_hash("squat"))
    site_a.register(local, actors.patient_signer.address, RecordKind.IMAGING_STUDY, content_hash("real"))
    a_id, b_id = site_a.record_id_of(local), site_b.record_id_of(local)
    assert site_a.patient_and_custodian_of(a_id) == (actors.patient_signer.address, actors.site.address)
    assert site_a.patient_and_custodian_of(b_id) == (actors.stranger.address, actors.other_site.address)
    consent: ConsentRegistryClient = deployment.consent(w3, actors.patient)
    now = int(w3.eth.get_block("latest")["timestamp"])
    grantee = actors.grantee.address
    patient = actors.patient_signer.address
    consent.grant(patient, grantee, a_id, int(Scope.IMAGES), int(Purpose.TREAT), now, now + 3600)
    granted = deployment.consent(w3, actors.grantee)
    granted.record_access(grantee, a_id, int(Scope.IMAGES), int(Purpose.TREAT))
    with nothing_sent(w3), pytest.raises(errors.ContractError):
        granted.record_access(grantee, b_id, int(Scope.IMAGES), int(Purpose.TREAT))
