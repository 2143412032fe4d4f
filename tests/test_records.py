"""RecordRegistry: custodians, record registration and amendment, views, and every revert path."""

from __future__ import annotations

import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak
from web3 import Web3

from radledger.chain import errors
from radledger.chain.connection import time_travel
from radledger.deployment.addresses import Deployment
from radledger.registries.common import RecordKind
from radledger.registries.records.client import RecordRegistryClient, new_site_salt, record_id
from radledger.registries.records.types import Custodian, Record
from tests.conftest import OTHER_SITE_URL, SITE_URL, Actors
from tests.support import (
    SITE_SALT,
    ZERO_ADDRESS,
    content_hash,
    nothing_sent,
    register_record,
    synthetic_uid,
)

NEW_URL = "https://gateway-2.site-a.example/dicomweb"


@pytest.fixture
def registrar(w3: Web3, deployment: Deployment, actors: Actors) -> RecordRegistryClient:
    """RecordRegistry sending as governance (admin, holding the custodian-registrar role)."""
    return deployment.records(w3, actors.admin)


@pytest.fixture
def other_site_records(w3: Web3, deployment: Deployment, actors: Actors) -> RecordRegistryClient:
    return deployment.records(w3, actors.other_site)


@pytest.fixture
def rid(records: RecordRegistryClient, actors: Actors) -> bytes:
    """A study of the patient held by the first site."""
    return register_record(records, actors.patient_signer.address, "mri knee")


def block_time(w3: Web3, receipt: dict) -> int:
    return int(w3.eth.get_block(receipt["blockNumber"])["timestamp"])


# ------------------------------------------------------------------------ record ids


def test_record_id_is_keccak_of_abi_encoded_salt_and_uid() -> None:
    uid = synthetic_uid("ct head")
    expected = keccak(abi_encode(["bytes32", "string"], [SITE_SALT, uid]))
    assert record_id(SITE_SALT, uid) == expected
    assert record_id(SITE_SALT, f"  {uid}\n") == expected


def test_record_id_depends_on_the_site_salt() -> None:
    uid = synthetic_uid("ct head")
    assert record_id(SITE_SALT, uid) != record_id(new_site_salt(), uid)
    assert len(new_site_salt()) == 32 and new_site_salt() != new_site_salt()


@pytest.mark.parametrize("uid", ["", "not-a-uid", "1.2.x.4", "1." * 40 + "1"])
def test_record_id_refuses_what_is_not_a_dicom_uid(uid: str) -> None:
    with pytest.raises(errors.ValidationError):
        record_id(SITE_SALT, uid)


def test_record_id_refuses_a_salt_that_is_not_32_bytes() -> None:
    with pytest.raises(errors.ValidationError):
        record_id(b"\x01" * 31, synthetic_uid("x"))


def test_the_study_uid_never_reaches_the_chain(w3: Web3, records: RecordRegistryClient, actors: Actors) -> None:
    uid = synthetic_uid("mri brain")
    receipt = records.register(
        record_id(SITE_SALT, uid), actors.patient_signer.address, RecordKind.IMAGING_STUDY, content_hash("b")
    )
    tx_input = bytes(w3.eth.get_transaction(receipt["transactionHash"])["input"])
    logged = b"".join(bytes(log["data"]) + b"".join(bytes(t) for t in log["topics"]) for log in receipt["logs"])
    for needle in (uid.encode(), uid.split(".")[-1].encode()):
        assert needle not in tx_input
        assert needle not in logged


# ------------------------------------------------------------------------ custodians


def test_deployment_registered_two_custodians_in_order(records: RecordRegistryClient, actors: Actors) -> None:
    assert records.custodian_count() == 2
    assert records.custodian_at(1) == actors.site.address
    assert records.custodian_at(2) == actors.other_site.address
    assert records.custodian_at(0) == ZERO_ADDRESS
    assert records.custodian_at(3) == ZERO_ADDRESS
    assert records.get_custodian(actors.site.address) == Custodian(actors.site.address, 1, True, SITE_URL)
    assert records.get_custodian(actors.other_site.address) == Custodian(
        actors.other_site.address, 2, True, OTHER_SITE_URL
    )


def test_registrar_registers_a_custodian_with_the_next_index(registrar: RecordRegistryClient, actors: Actors) -> None:
    new_site = actors.stranger.address
    url = "https://gateway.site-c.example/dicomweb"
    receipt = registrar.register_custodian(new_site, url)
    assert registrar.events(receipt, "CustodianRegistered") == [{"custodian": new_site, "index": 3, "gatewayUrl": url}]
    assert registrar.custodian_count() == 3
    assert registrar.custodian_at(3) == new_site
    assert registrar.get_custodian(new_site) == Custodian(new_site, 3, True, url)


def test_register_custodian_returns_its_index(registrar: RecordRegistryClient, actors: Actors) -> None:
    fn = registrar.contract.functions.registerCustodian(actors.stranger.address, NEW_URL)
    assert fn.call({"from": actors.admin.address}) == 3


def test_a_custodian_cannot_be_registered_twice(registrar: RecordRegistryClient, actors: Actors) -> None:
    with pytest.raises(errors.CustodianAlreadyRegistered) as exc:
        registrar.register_custodian(actors.site.address, NEW_URL)
    assert exc.value.args == (actors.site.address,)


def test_register_custodian_refuses_the_zero_address(w3: Web3, registrar: RecordRegistryClient, actors: Actors) -> None:
    with nothing_sent(w3), pytest.raises(errors.ValidationError):
        registrar.register_custodian(ZERO_ADDRESS, NEW_URL)
    with pytest.raises(errors.ZeroAddress) as exc:
        actors.admin.send(registrar.contract.functions.registerCustodian(ZERO_ADDRESS, NEW_URL))
    assert exc.value.args == ()


def test_register_custodian_refuses_an_empty_gateway_url(
    w3: Web3, registrar: RecordRegistryClient, actors: Actors
) -> None:
    with nothing_sent(w3), pytest.raises(errors.ValidationError):
        registrar.register_custodian(actors.stranger.address, "")
    with nothing_sent(w3), pytest.raises(errors.ValidationError):
        registrar.register_custodian(actors.stranger.address, "dicom://pacs.local:104")
    with pytest.raises(errors.EmptyGatewayUrl):
        actors.admin.send(registrar.contract.functions.registerCustodian(actors.stranger.address, ""))


def test_get_custodian_of_an_unknown_account_reverts(records: RecordRegistryClient, actors: Actors) -> None:
    with pytest.raises(errors.CustodianNotRegistered) as exc:
        records.get_custodian(actors.stranger.address)
    assert exc.value.args == (actors.stranger.address,)


def test_custodian_changes_its_own_gateway_url(records: RecordRegistryClient, actors: Actors) -> None:
    receipt = records.set_gateway_url(actors.site.address, NEW_URL)
    assert records.events(receipt, "CustodianGatewayChanged") == [
        {"custodian": actors.site.address, "gatewayUrl": NEW_URL}
    ]
    assert records.get_custodian(actors.site.address).gateway_url == NEW_URL


def test_registrar_changes_a_custodians_gateway_url(registrar: RecordRegistryClient, actors: Actors) -> None:
    registrar.set_gateway_url(actors.other_site.address, NEW_URL)
    assert registrar.get_custodian(actors.other_site.address) == Custodian(actors.other_site.address, 2, True, NEW_URL)
    assert registrar.get_custodian(actors.site.address).gateway_url == SITE_URL


def test_another_custodian_cannot_change_a_gateway_url(
    other_site_records: RecordRegistryClient, actors: Actors
) -> None:
    with pytest.raises(errors.AccessControlUnauthorizedAccount) as exc:
        other_site_records.set_gateway_url(actors.site.address, NEW_URL)
    assert exc.value.args == (actors.other_site.address, other_site_records.role("CUSTODIAN_REGISTRAR_ROLE"))
    assert other_site_records.get_custodian(actors.site.address).gateway_url == SITE_URL


def test_set_gateway_url_of_an_unknown_custodian_reverts(registrar: RecordRegistryClient, actors: Actors) -> None:
    with pytest.raises(errors.CustodianNotRegistered) as exc:
        registrar.set_gateway_url(actors.stranger.address, NEW_URL)
    assert exc.value.args == (actors.stranger.address,)


def test_set_gateway_url_refuses_an_empty_url(w3: Web3, records: RecordRegistryClient, actors: Actors) -> None:
    with nothing_sent(w3), pytest.raises(errors.ValidationError):
        records.set_gateway_url(actors.site.address, "")
    with pytest.raises(errors.EmptyGatewayUrl):
        actors.site.send(records.contract.functions.setGatewayUrl(actors.site.address, ""))


def test_registrar_deactivates_and_reactivates_a_custodian(
    registrar: RecordRegistryClient, records: RecordRegistryClient, actors: Actors, rid: bytes
) -> None:
    receipt = registrar.set_custodian_active(actors.site.address, False)
    assert registrar.events(receipt, "CustodianStatusChanged") == [{"custodian": actors.site.address, "active": False}]
    assert registrar.get_custodian(actors.site.address) == Custodian(actors.site.address, 1, False, SITE_URL)
    # An inactive custodian registers and amends nothing; its records stay readable.
    with pytest.raises(errors.CustodianInactive) as exc:
        register_record(records, actors.patient_signer.address, "second study")
    assert exc.value.args == (actors.site.address,)
    with pytest.raises(errors.CustodianInactive):
        records.amend(rid, content_hash("addendum"))
    assert records.get_record(rid).version == 1
    assert records.patient_and_custodian_of(rid) == (actors.patient_signer.address, actors.site.address)

    receipt = registrar.set_custodian_active(actors.site.address, True)
    assert registrar.events(receipt, "CustodianStatusChanged") == [{"custodian": actors.site.address, "active": True}]
    assert records.amend(rid, content_hash("addendum"))["status"] == 1


def test_set_custodian_active_of_an_unknown_account_reverts(registrar: RecordRegistryClient, actors: Actors) -> None:
    with pytest.raises(errors.CustodianNotRegistered) as exc:
        registrar.set_custodian_active(actors.stranger.address, False)
    assert exc.value.args == (actors.stranger.address,)


def test_deployer_holds_admin_and_registrar_roles(registrar: RecordRegistryClient, actors: Actors) -> None:
    assert registrar.has_role("DEFAULT_ADMIN_ROLE", actors.admin.address)
    assert registrar.has_role("CUSTODIAN_REGISTRAR_ROLE", actors.admin.address)
    assert not registrar.has_role("CUSTODIAN_REGISTRAR_ROLE", actors.site.address)


def test_a_new_registrar_can_register_custodians(
    w3: Web3, deployment: Deployment, registrar: RecordRegistryClient, actors: Actors
) -> None:
    registrar.grant_role("CUSTODIAN_REGISTRAR_ROLE", actors.grantee.address)
    deployment.records(w3, actors.grantee).register_custodian(actors.stranger.address, NEW_URL)
    assert registrar.get_custodian(actors.stranger.address).index == 3


# --------------------------------------------------------------------------- records


@pytest.mark.parametrize("kind", [k for k in RecordKind if k != RecordKind.NONE])
def test_custodian_registers_a_record_of_each_kind(
    w3: Web3, records: RecordRegistryClient, actors: Actors, kind: RecordKind
) -> None:
    patient = actors.patient_signer.address
    uid = synthetic_uid(f"record of kind {kind.name}")
    rid = record_id(SITE_SALT, uid, actors.site.address)  # bound to the custodian that registers it
    digest = content_hash(kind.name)
    receipt = records.register(record_id(SITE_SALT, uid), patient, kind, digest)
    site = actors.site.address
    assert records.events(receipt, "RecordRegistered") == [
        {"recordId": rid, "patient": patient, "custodian": site, "kind": int(kind), "contentHash": digest}
    ]
    assert records.get_record(rid) == Record(rid, patient, site, kind, 1, block_time(w3, receipt), digest)
    assert records.patient_and_custodian_of(rid) == (patient, actors.site.address)


def test_each_custodian_registers_its_own_records(
    records: RecordRegistryClient, other_site_records: RecordRegistryClient, actors: Actors
) -> None:
    patient = actors.patient_signer.address
    mine = register_record(records, patient, "xray chest")
    theirs = register_record(other_site_records, patient, "xray chest", salt=keccak(text="site B salt"))
    assert mine != theirs
    assert records.get_record(mine).custodian == actors.site.address
    assert records.get_record(theirs).custodian == actors.other_site.address


def test_a_record_id_is_registered_once_even_by_another_custodian(
    records: RecordRegistryClient, other_site_records: RecordRegistryClient, actors: Actors, rid: bytes
) -> None:
    # Record ids are bound to their custodian (issue 11): the same local id sent by another site makes
    # another site's record, never this one (tests/test_abuse_records.py performs the squatting attempt).
    local = record_id(SITE_SALT, synthetic_uid("mri knee"))
    with pytest.raises(errors.RecordAlreadyRegistered) as exc:
        records.register(local, actors.stranger.address, RecordKind.REPORT, content_hash("hijack"))
    assert exc.value.args == (rid,)
    other_site_records.register(local, actors.stranger.address, RecordKind.REPORT, content_hash("hijack"))
    assert other_site_records.record_id_of(local) != rid
    record = records.get_record(rid)
    assert (record.patient, record.custodian, record.kind) == (
        actors.patient_signer.address,
        actors.site.address,
        RecordKind.IMAGING_STUDY,
    )


def test_register_refuses_record_id_zero(w3: Web3, records: RecordRegistryClient, actors: Actors) -> None:
    patient = actors.patient_signer.address
    with nothing_sent(w3), pytest.raises(errors.ValidationError):
        records.register(bytes(32), patient, RecordKind.IMAGING_STUDY, content_hash("x"))
    fn = records.contract.functions.register(bytes(32), patient, int(RecordKind.IMAGING_STUDY), content_hash("x"))
    with pytest.raises(errors.ZeroRecordId) as exc:
        actors.site.send(fn)
    assert exc.value.args == ()


def test_register_refuses_a_zero_content_hash(w3: Web3, records: RecordRegistryClient, actors: Actors) -> None:
    rid = record_id(SITE_SALT, synthetic_uid("no content"))
    patient = actors.patient_signer.address
    with nothing_sent(w3), pytest.raises(errors.ValidationError):
        records.register(rid, patient, RecordKind.IMAGING_STUDY, bytes(32))
    with pytest.raises(errors.ZeroContentHash):
        actors.site.send(records.contract.functions.register(rid, patient, 1, bytes(32)))


def test_register_refuses_the_zero_patient(w3: Web3, records: RecordRegistryClient, actors: Actors) -> None:
    rid = record_id(SITE_SALT, synthetic_uid("nobody"))
    with nothing_sent(w3), pytest.raises(errors.ValidationError):
        records.register(rid, ZERO_ADDRESS, RecordKind.REPORT, content_hash("x"))
    with pytest.raises(errors.ZeroAddress):
        actors.site.send(records.contract.functions.register(rid, ZERO_ADDRESS, 2, content_hash("x")))


def test_register_refuses_an_invalid_kind(w3: Web3, records: RecordRegistryClient, actors: Actors) -> None:
    rid = record_id(SITE_SALT, synthetic_uid("odd kind"))
    patient = actors.patient_signer.address
    for kind in (RecordKind.NONE, 5, 255):
        with nothing_sent(w3), pytest.raises(errors.ValidationError):
            records.register(rid, patient, kind, content_hash("x"))  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidRecordKind) as exc:
        actors.site.send(records.contract.functions.register(rid, patient, 0, content_hash("x")))
    assert exc.value.args == (0,)
    # Beyond the enum, Solidity's ABI decoder reverts before the function runs, with no data.
    with pytest.raises(errors.TransactionReverted) as raw:
        actors.site.send(records.contract.functions.register(rid, patient, 5, content_hash("x")))
    assert not isinstance(raw.value, errors.ContractError)
    assert raw.value.data == b""


def test_register_by_a_registered_but_inactive_custodian_reverts(
    registrar: RecordRegistryClient, other_site_records: RecordRegistryClient, actors: Actors
) -> None:
    registrar.set_custodian_active(actors.other_site.address, False)
    with pytest.raises(errors.CustodianInactive) as exc:
        register_record(other_site_records, actors.patient_signer.address, "while inactive")
    assert exc.value.args == (actors.other_site.address,)


def test_register_by_an_account_that_is_no_custodian_reverts(registrar: RecordRegistryClient, actors: Actors) -> None:
    # Governance registers custodians but is not one itself.
    with pytest.raises(errors.CustodianNotRegistered) as exc:
        register_record(registrar, actors.patient_signer.address, "by governance")
    assert exc.value.args == (actors.admin.address,)


def test_amend_bumps_the_version_and_keeps_the_rest(
    w3: Web3, records: RecordRegistryClient, actors: Actors, rid: bytes
) -> None:
    before = records.get_record(rid)
    for version in (2, 3):
        digest = content_hash(f"series added, version {version}")
        receipt = records.amend(rid, digest)
        assert records.events(receipt, "RecordAmended") == [
            {"recordId": rid, "custodian": actors.site.address, "version": version, "contentHash": digest}
        ]
        assert records.get_record(rid) == Record(
            rid, before.patient, before.custodian, before.kind, version, before.registered_at, digest
        )


def test_amend_returns_the_new_version(records: RecordRegistryClient, actors: Actors, rid: bytes) -> None:
    fn = records.contract.functions.amend(rid, content_hash("addendum"))
    assert fn.call({"from": actors.site.address}) == 2


def test_another_custodian_can_never_amend_a_record(
    registrar: RecordRegistryClient,
    records: RecordRegistryClient,
    other_site_records: RecordRegistryClient,
    actors: Actors,
    rid: bytes,
) -> None:
    with pytest.raises(errors.NotRecordCustodian) as exc:
        other_site_records.amend(rid, content_hash("tampered"))
    assert exc.value.args == (rid, actors.other_site.address)
    # Not even while the record's own custodian is deactivated.
    registrar.set_custodian_active(actors.site.address, False)
    with pytest.raises(errors.NotRecordCustodian):
        other_site_records.amend(rid, content_hash("tampered"))
    assert records.get_record(rid).content_hash == content_hash("mri knee")
    assert records.get_record(rid).version == 1


def test_amend_refuses_a_zero_content_hash(w3: Web3, records: RecordRegistryClient, actors: Actors, rid: bytes) -> None:
    with nothing_sent(w3), pytest.raises(errors.ValidationError):
        records.amend(rid, bytes(32))
    with pytest.raises(errors.ZeroContentHash):
        actors.site.send(records.contract.functions.amend(rid, bytes(32)))


def test_amend_of_an_unknown_record_reverts(records: RecordRegistryClient) -> None:
    unknown = record_id(SITE_SALT, synthetic_uid("never registered"))
    with pytest.raises(errors.RecordNotFound) as exc:
        records.amend(unknown, content_hash("x"))
    assert exc.value.args == (unknown,)


def test_amend_by_an_account_that_is_no_custodian_reverts(
    w3: Web3, deployment: Deployment, actors: Actors, rid: bytes
) -> None:
    with pytest.raises(errors.CustodianNotRegistered) as exc:
        deployment.records(w3, actors.stranger).amend(rid, content_hash("x"))
    assert exc.value.args == (actors.stranger.address,)


@pytest.mark.parametrize("bad", [b"\x01" * 31, b"\x01" * 33, "0x1234", "not hex"])
def test_amend_and_views_refuse_a_record_id_of_the_wrong_length(
    w3: Web3, records: RecordRegistryClient, bad: bytes | str
) -> None:
    with nothing_sent(w3):
        for action in (
            lambda: records.amend(bad, content_hash("x")),  # type: ignore[arg-type]
            lambda: records.get_record(bad),  # type: ignore[arg-type]
            lambda: records.patient_and_custodian_of(bad),  # type: ignore[arg-type]
        ):
            with pytest.raises(errors.ValidationError):
                action()


# ----------------------------------------------------------------------------- views


def test_get_record_of_an_unknown_record_reverts(records: RecordRegistryClient) -> None:
    unknown = record_id(SITE_SALT, synthetic_uid("unknown"))
    with pytest.raises(errors.RecordNotFound) as exc:
        records.get_record(unknown)
    assert exc.value.args == (unknown,)


def test_patient_and_custodian_of_an_unknown_record_are_zero(records: RecordRegistryClient) -> None:
    unknown = record_id(SITE_SALT, synthetic_uid("unknown"))
    assert records.patient_and_custodian_of(unknown) == (ZERO_ADDRESS, ZERO_ADDRESS)
    assert records.patient_and_custodian_of(bytes(32)) == (ZERO_ADDRESS, ZERO_ADDRESS)


def test_views_read_without_a_signer(deployment: Deployment, w3: Web3, actors: Actors, rid: bytes) -> None:
    reader = deployment.records(w3)
    assert reader.get_record(rid).patient == actors.patient_signer.address
    assert reader.custodian_count() == 2
    with pytest.raises(errors.SignerError):
        reader.amend(rid, content_hash("x"))


# ------------------------------------------------------------------------- isolation

_STARTING_POINTS: list[tuple[int, int]] = []


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_starts_from_the_same_chain_state(
    w3: Web3, records: RecordRegistryClient, actors: Actors, run: int
) -> None:
    """The `w3` fixture reverts what a test did: same block, same time, same records next time."""
    _STARTING_POINTS.append((w3.eth.block_number, records.now()))
    assert len(set(_STARTING_POINTS)) == 1
    rid = register_record(records, actors.patient_signer.address, "isolation probe")  # twice would revert
    assert records.get_record(rid).version == 1
    time_travel(w3, 10_000)
