"""grantBySigBatch (issue 13): several signed grants relayed in one transaction, exactly as
grantBySig would relay each, all or nothing. A failing item reverts the whole batch with
`BatchItemFailed(index, reason)`, `reason` being that item's own error, which the client decodes."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector
from web3 import Web3

from radledger.chain import errors
from radledger.chain.eip712 import SignedMessage
from radledger.chain.signers import KeySigner
from radledger.registries.common import FOREVER, Purpose, Scope
from radledger.registries.consent.client import ConsentRegistryClient
from radledger.registries.consent.types import AccessBasis
from radledger.registries.records.client import RecordRegistryClient
from tests.conftest import Actors
from tests.support import nothing_sent, register_record

IMAGES, REPORTS, TREAT = Scope.IMAGES, Scope.REPORTS, Purpose.TREAT


def encoded(signature: str, types: list[str], values: list[object]) -> bytes:
    return function_signature_to_4byte_selector(signature) + abi_encode(types, values)


@pytest.fixture
def patients(w3: Web3) -> list[KeySigner]:
    """Four patients without ETH."""
    return [KeySigner.create() for _ in range(4)]


@pytest.fixture
def rids(records: RecordRegistryClient, patients: list[KeySigner]) -> list[bytes]:
    return [register_record(records, p.address, f"batch study {i}") for i, p in enumerate(patients)]


def signed_grants(
    consent: ConsentRegistryClient, patients: list[KeySigner], rids: list[bytes], grantee: str
) -> list[SignedMessage]:
    pairs = zip(patients, rids, strict=True)
    return [consent.sign_grant(p, p.address, grantee, rid, IMAGES, TREAT) for p, rid in pairs]


def test_a_batch_relays_every_grant_in_one_transaction(
    w3: Web3, consent: ConsentRegistryClient, patients: list[KeySigner], rids: list[bytes], actors: Actors
) -> None:
    grantee = actors.grantee.address
    batch = signed_grants(consent, patients, rids, grantee)
    receipt = consent.relay_grants(batch)
    assert receipt["from"] == actors.site.address
    granted = consent.events(receipt, "ConsentGranted")
    assert [(e["patient"], e["recordId"], e["actor"]) for e in granted] == [
        (p.address, rid, p.address) for p, rid in zip(patients, rids, strict=True)
    ]
    for p, rid in zip(patients, rids, strict=True):
        assert consent.access_basis(p.address, grantee, rid, IMAGES, TREAT) == AccessBasis.RECORD_GRANT
        assert consent.get_grant(p.address, grantee, rid).version == 1
        assert w3.eth.get_balance(p.address) == 0
    # Each signature was used: none relays a second time, alone or in a batch.
    with pytest.raises(errors.InvalidSignature):
        consent.relay(batch[2])
    with pytest.raises(errors.BatchItemFailed) as exc:
        consent.relay_grants(batch[:1])
    assert exc.value.index == 0  # type: ignore[attr-defined]


def test_one_bad_signature_reverts_the_whole_batch_with_its_index_and_error(
    w3: Web3, consent: ConsentRegistryClient, patients: list[KeySigner], rids: list[bytes], actors: Actors
) -> None:
    grantee = actors.grantee.address
    batch = signed_grants(consent, patients, rids, grantee)
    impostor = KeySigner.create()
    forged = consent.sign_grant(impostor, patients[2].address, grantee, rids[2], IMAGES, TREAT)
    # The impostor's signature, passed off as the patient's: same message but the signer field.
    batch[2] = replace(forged, message={**forged.message, "signer": patients[2].address})
    block_before = w3.eth.block_number
    with pytest.raises(errors.BatchItemFailed) as exc:
        consent.relay_grants(batch)
    failure = exc.value
    assert failure.args == (2, encoded("InvalidSignature(address)", ["address"], [patients[2].address]))
    assert failure.error == errors.InvalidSignature(patients[2].address)  # type: ignore[attr-defined]
    # Nothing happened: not even the items before the bad one.
    assert w3.eth.block_number == block_before
    for p, rid in zip(patients, rids, strict=True):
        assert consent.get_grant(p.address, grantee, rid).version == 0
        assert not consent.has_access(p.address, grantee, rid, IMAGES, TREAT)
    # Without the bad item, the others relay.
    consent.relay_grants(batch[:2] + batch[3:])
    pairs = zip(patients, rids, strict=True)
    answers = [consent.has_access(p.address, grantee, rid, IMAGES, TREAT) for p, rid in pairs]
    assert answers == [True, True, False, True]


def test_every_failure_of_grant_by_sig_is_named_with_its_index(
    w3: Web3,
    consent: ConsentRegistryClient,
    records: RecordRegistryClient,
    patients: list[KeySigner],
    rids: list[bytes],
    actors: Actors,
) -> None:
    """Expired, not the patient or a guardian, replayed, and terms the contract refuses: each is the
    error grantBySig raises for that item, wrapped with its position."""
    grantee, patient, rid = actors.grantee.address, patients[0], rids[0]
    good = consent.sign_grant(patient, patient.address, grantee, rid, IMAGES, TREAT)
    now = consent.now()
    stranger = KeySigner.create()
    cases: list[tuple[SignedMessage, errors.ContractError]] = [
        (
            consent.sign_grant(stranger, patient.address, grantee, rid, IMAGES, TREAT),
            errors.NotPatientOrGuardian(patient.address, stranger.address),
        ),
        (
            consent.sign_grant(patient, patient.address, actors.stranger.address, rid, REPORTS, TREAT, 0, now + 5),
            errors.ExpiryInPast(now + 5, now + 6),
        ),
    ]
    # The client checks terms and deadlines before sending; these go straight to the contract.
    fn = consent.contract.functions.grantBySigBatch
    for bad, expected in cases:
        items = [tuple(consent.by_sig_call(good).args), tuple(consent.by_sig_call(bad).args)]
        w3.testing.mine(4)  # type: ignore[attr-defined]  # (the ExpiryInPast case: time passes)
        with pytest.raises(errors.BatchItemFailed) as exc:
            actors.site.send(fn(items))
        assert exc.value.index == 1  # type: ignore[attr-defined]
        decoded = errors.decode_revert(exc.value.reason)  # type: ignore[attr-defined]
        assert type(decoded) is type(expected)
        if isinstance(decoded, errors.NotPatientOrGuardian):
            assert decoded.args == expected.args
        else:
            assert decoded.args[0] == expected.args[0]
    # A replay inside one batch: the second copy finds the version moved.
    with pytest.raises(errors.BatchItemFailed) as exc:
        consent.relay_grants([good, good])
    assert exc.value.args[0] == 1
    assert exc.value.error == errors.InvalidSignature(patient.address)  # type: ignore[attr-defined]


def test_an_expired_item_is_named(
    w3: Web3, consent: ConsentRegistryClient, patients: list[KeySigner], rids: list[bytes], actors: Actors
) -> None:
    from radledger.chain.connection import time_travel

    grantee = actors.grantee.address
    deadline = consent.now() + 30
    items = [
        consent.sign_grant(patients[0], patients[0].address, grantee, rids[0], IMAGES, TREAT),
        consent.sign_grant(patients[1], patients[1].address, grantee, rids[1], IMAGES, TREAT, deadline=deadline),
    ]
    time_travel(w3, 60)
    with nothing_sent(w3), pytest.raises(errors.ValidationError):
        consent.relay_grants(items)  # the client refuses it first
    fn = consent.contract.functions.grantBySigBatch
    with pytest.raises(errors.BatchItemFailed) as exc:
        actors.site.send(fn([tuple(consent.by_sig_call(s).args) for s in items]))
    assert exc.value.index == 1  # type: ignore[attr-defined]
    expired = errors.decode_revert(exc.value.reason)  # type: ignore[attr-defined]
    assert type(expired) is errors.SignatureExpired and expired.args[0] == deadline


def test_a_batch_mixes_patients_guardians_and_wallet_types(
    w3: Web3, consent: ConsentRegistryClient, patients: list[KeySigner], rids: list[bytes], actors: Actors
) -> None:
    grantee = actors.grantee.address
    guardian = KeySigner.create()
    consent.relay(consent.sign_set_guardian(patients[1], guardian.address, consent.now() + 3600))
    batch = [
        consent.sign_grant(patients[0], patients[0].address, grantee, rids[0], IMAGES, TREAT),
        consent.sign_grant(guardian, patients[1].address, grantee, rids[1], IMAGES, TREAT),
        # Two grants of one patient in one batch, on two slots.
        consent.sign_grant(patients[2], patients[2].address, grantee, rids[2], IMAGES, TREAT),
        consent.sign_grant(patients[2], patients[2].address, actors.stranger.address, rids[2], REPORTS, TREAT),
    ]
    receipt = consent.relay_grants(batch)
    assert [e["actor"] for e in consent.events(receipt, "ConsentGranted")] == [
        patients[0].address, guardian.address, patients[2].address, patients[2].address
    ]  # fmt: skip
    assert consent.has_access(patients[1].address, grantee, rids[1], IMAGES, TREAT)
    assert consent.has_access(patients[2].address, actors.stranger.address, rids[2], REPORTS, TREAT)


def test_the_client_refuses_what_cannot_be_batched_before_sending(
    w3: Web3, consent: ConsentRegistryClient, patients: list[KeySigner], rids: list[bytes], actors: Actors
) -> None:
    grantee = actors.grantee.address
    grant = consent.sign_grant(patients[0], patients[0].address, grantee, rids[0], IMAGES, TREAT, 0, FOREVER)
    revoke = consent.sign_revoke(patients[0], patients[0].address, grantee, rids[0])
    with nothing_sent(w3):
        for bad in ([], [grant, revoke], [replace(grant, signature=b"\x01" * 10)]):
            with pytest.raises(errors.ValidationError):
                consent.relay_grants(bad)
    with pytest.raises(errors.EmptyBatch):
        actors.site.send(consent.contract.functions.grantBySigBatch([]))


BAD_TERMS = {
    "zero grantee": {"grantee": "0x" + "00" * 20},
    "no scope": {"scopes": 0},
    "unknown scope": {"scopes": 8},
    "no purpose": {"purposes": 0},
    "unknown purpose": {"purposes": 32},
    "empty window": {"validFrom": 2_000_000_000, "validUntil": 2_000_000_000},
    "expired": {"validFrom": 0, "validUntil": 1_000},
}


@pytest.mark.parametrize("bad", BAD_TERMS.values(), ids=BAD_TERMS.keys())
def test_a_batch_item_with_bad_terms_fails_as_a_direct_grant_does(
    w3: Web3, deployment: object, consent: ConsentRegistryClient, actors: Actors, bad: dict[str, object]
) -> None:
    """The signed path's term checks (`_grantFailure`) and the direct grant's (`_grant`) are written
    twice in the contract (reverts keep every error in the ABI): the same terms, the same error."""
    from radledger.chain.eip712 import sign

    patient = actors.patient_signer
    message = {
        "patient": patient.address, "grantee": actors.grantee.address, "recordId": b"\x01" * 32,
        "scopes": int(IMAGES), "purposes": int(TREAT), "validFrom": 0, "validUntil": FOREVER,
        "signer": patient.address, "version": 0, "epoch": consent.signature_epoch(patient.address),
        "deadline": consent.now() + 3600, **bad,
    }  # fmt: skip
    signed = sign(patient, consent.domain(), "Grant", message)
    with pytest.raises(errors.BatchItemFailed) as batch_exc:
        actors.site.send(consent.contract.functions.grantBySigBatch([tuple(consent.by_sig_call(signed).args)]))
    in_batch = errors.decode_revert(batch_exc.value.reason)  # type: ignore[attr-defined]
    with pytest.raises(errors.ContractError) as single_exc:
        actors.site.send(consent.by_sig_call(signed))
    fn = consent.contract.functions.grant
    with pytest.raises(errors.ContractError) as direct_exc:
        actors.patient.send(fn(*(message[k] for k in ("patient", "grantee", "recordId", "scopes", "purposes",
                                                       "validFrom", "validUntil"))))  # fmt: skip
    assert type(in_batch) is type(single_exc.value) is type(direct_exc.value)
    # Same arguments, but a timestamp (ExpiryInPast's second) that is each transaction's own.
    assert in_batch.args[:1] == single_exc.value.args[:1] == direct_exc.value.args[:1]
