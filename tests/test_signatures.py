"""EIP-712 `...BySig` consents: relayed for gasless patients, and refused when expired, replayed,
made for another chain or contract, malformed, signed by an expired guardian or invalidated.
ERC-1271 wallets as patients; ERC-5267 domain; the signed-message JSON file."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from eth_typing import ChecksumAddress
from web3 import Web3

from radledger.chain import errors
from radledger.chain.connection import time_travel
from radledger.chain.eip712 import CONSENT_DOMAIN_NAME, CONSENT_DOMAIN_VERSION, Domain, SignedMessage, sign
from radledger.chain.signers import KeySigner
from radledger.deployment.addresses import Deployment
from radledger.deployment.deploy import deploy_contract
from radledger.registries.common import FOREVER, Purpose, Scope
from radledger.registries.consent.client import WILDCARD, ConsentRegistryClient, grant_message
from radledger.registries.consent.types import AccessBasis
from radledger.registries.records.client import RecordRegistryClient
from tests.conftest import ARTIFACTS, Actors
from tests.support import nothing_sent, register_record

IMAGES, TREAT = Scope.IMAGES, Purpose.TREAT
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def travel_to(w3: Web3, timestamp: int) -> None:
    time_travel(w3, timestamp - int(w3.eth.get_block("latest")["timestamp"]))


@pytest.fixture
def gasless_patient(w3: Web3) -> KeySigner:
    """A fresh patient key that never holds ETH."""
    signer = KeySigner.create()
    assert w3.eth.get_balance(signer.address) == 0
    return signer


@pytest.fixture
def rid(records: RecordRegistryClient, gasless_patient: KeySigner) -> bytes:
    return register_record(records, gasless_patient.address, "mri shoulder")


def assert_never_paid(w3: Web3, signer: KeySigner) -> None:
    assert w3.eth.get_balance(signer.address) == 0
    assert w3.eth.get_transaction_count(signer.address) == 0


def sign_grant_for(consent: ConsentRegistryClient, signer: Any, patient: str, grantee: str, rid: bytes,
                   domain: Domain | None = None, deadline: int | None = None) -> SignedMessage:  # fmt: skip
    """A Grant message as the client builds it, signed for `domain` (default: the contract's own)."""
    message = grant_message(
        patient, grantee, rid, IMAGES, TREAT, 0, FOREVER, signer.address,
        consent.get_grant(patient, grantee, rid).version, consent.signature_epoch(patient),
        deadline if deadline is not None else consent.now() + 3600,
    )  # fmt: skip
    return sign(signer, domain or consent.domain(), "Grant", message)


# ------------------------------------------------------------------ relayed, gasless


def test_a_grant_signed_by_a_patient_without_eth_is_relayed_by_the_site(
    w3: Web3, consent: ConsentRegistryClient, gasless_patient: KeySigner, actors: Actors, rid: bytes
) -> None:
    patient, grantee = gasless_patient.address, actors.grantee.address
    signed = consent.sign_grant(gasless_patient, patient, grantee, rid, IMAGES, TREAT)
    receipt = consent.relay(signed)
    assert receipt["from"] == actors.site.address
    assert consent.events(receipt, "ConsentGranted")[0]["actor"] == patient
    assert consent.access_basis(patient, grantee, rid, IMAGES, TREAT) == AccessBasis.RECORD_GRANT
    assert_never_paid(w3, gasless_patient)


def test_a_revoke_signed_by_the_patient_is_relayed(
    w3: Web3, consent: ConsentRegistryClient, gasless_patient: KeySigner, actors: Actors, rid: bytes
) -> None:
    patient, grantee = gasless_patient.address, actors.grantee.address
    consent.relay(consent.sign_grant(gasless_patient, patient, grantee, rid, IMAGES, TREAT))
    receipt = consent.relay(consent.sign_revoke(gasless_patient, patient, grantee, rid))
    assert consent.events(receipt, "ConsentRevoked") == [
        {"patient": patient, "grantee": grantee, "recordId": rid, "actor": patient}
    ]
    assert not consent.has_access(patient, grantee, rid, IMAGES, TREAT)
    assert_never_paid(w3, gasless_patient)


def test_a_guardian_appointed_by_signature_signs_grants_for_the_patient(
    w3: Web3, consent: ConsentRegistryClient, gasless_patient: KeySigner, actors: Actors, rid: bytes
) -> None:
    patient, grantee = gasless_patient.address, actors.grantee.address
    guardian = KeySigner.create()
    until = consent.now() + 3600
    receipt = consent.relay(consent.sign_set_guardian(gasless_patient, guardian.address, until))
    assert consent.events(receipt, "GuardianSet") == [
        {"patient": patient, "guardian": guardian.address, "validUntil": until}
    ]
    receipt = consent.relay(consent.sign_grant(guardian, patient, grantee, rid, IMAGES, TREAT))
    assert consent.events(receipt, "ConsentGranted")[0]["actor"] == guardian.address
    assert consent.has_access(patient, grantee, rid, IMAGES, TREAT)
    receipt = consent.relay(consent.sign_revoke(guardian, patient, grantee, rid))
    assert consent.events(receipt, "ConsentRevoked")[0]["actor"] == guardian.address
    assert_never_paid(w3, gasless_patient)
    assert_never_paid(w3, guardian)


def test_invalidate_signatures_by_signature_voids_every_outstanding_one(
    w3: Web3, consent: ConsentRegistryClient, gasless_patient: KeySigner, actors: Actors, rid: bytes
) -> None:
    patient, grantee = gasless_patient.address, actors.grantee.address
    outstanding = [
        consent.sign_grant(gasless_patient, patient, grantee, rid, IMAGES, TREAT),
        consent.sign_grant(gasless_patient, patient, actors.stranger.address, WILDCARD, IMAGES, TREAT),
        consent.sign_set_guardian(gasless_patient, actors.guardian.address, consent.now() + 3600),
    ]
    receipt = consent.relay(consent.sign_invalidate_signatures(gasless_patient, patient))
    assert consent.events(receipt, "SignaturesInvalidated") == [{"patient": patient, "epoch": 1, "actor": patient}]
    for signed in outstanding:
        with pytest.raises(errors.InvalidSignature) as exc:
            consent.relay(signed)
        assert exc.value.args == (patient,)
    # Signatures made after the new epoch work.
    consent.relay(consent.sign_grant(gasless_patient, patient, grantee, rid, IMAGES, TREAT))
    assert_never_paid(w3, gasless_patient)


def test_a_direct_invalidation_voids_outstanding_signatures(
    w3: Web3, deployment: Deployment, consent: ConsentRegistryClient, actors: Actors
) -> None:
    patient, grantee = actors.patient_signer.address, actors.grantee.address
    signed = consent.sign_revoke(actors.patient_signer, patient, grantee, WILDCARD)
    deployment.consent(w3, actors.patient).invalidate_signatures(patient)
    with pytest.raises(errors.InvalidSignature) as exc:
        consent.relay(signed)
    assert exc.value.args == (patient,)


# ----------------------------------------------------------------------- deadlines


def test_an_expired_signature_is_refused_by_the_client_and_the_contract(
    w3: Web3, consent: ConsentRegistryClient, gasless_patient: KeySigner, actors: Actors, rid: bytes
) -> None:
    deadline = consent.now() + 30
    signed = consent.sign_grant(gasless_patient, gasless_patient.address, actors.grantee.address, rid, IMAGES, TREAT,
                                deadline=deadline)  # fmt: skip
    travel_to(w3, deadline + 10)
    with nothing_sent(w3), pytest.raises(errors.ValidationError):
        consent.relay(signed)
    with pytest.raises(errors.SignatureExpired) as exc:
        actors.site.send(consent.by_sig_call(signed))
    assert exc.value.args == (deadline, deadline + 11)


def test_a_deadline_holds_through_its_last_second(
    w3: Web3, consent: ConsentRegistryClient, gasless_patient: KeySigner, actors: Actors, rid: bytes
) -> None:
    patient = gasless_patient.address
    deadline = consent.now() + 30
    late = consent.sign_grant(gasless_patient, patient, actors.grantee.address, rid, IMAGES, TREAT, deadline=deadline)
    on_time = consent.sign_grant(gasless_patient, patient, actors.stranger.address, rid, IMAGES, TREAT,
                                 deadline=deadline)  # fmt: skip
    travel_to(w3, deadline - 1)  # the next transaction runs at `deadline`
    consent.relay(on_time)
    with pytest.raises(errors.SignatureExpired) as exc:
        actors.site.send(consent.by_sig_call(late))  # now at deadline + 1
    assert exc.value.args == (deadline, deadline + 1)


# ------------------------------------------------------------------------- replays


def test_a_relayed_signature_cannot_be_replayed(
    consent: ConsentRegistryClient, gasless_patient: KeySigner, actors: Actors, rid: bytes
) -> None:
    patient = gasless_patient.address
    signed = consent.sign_grant(gasless_patient, patient, actors.grantee.address, rid, IMAGES, TREAT)
    consent.relay(signed)
    with pytest.raises(errors.InvalidSignature) as exc:
        consent.relay(signed)
    assert exc.value.args == (patient,)


def test_an_old_grant_signature_cannot_undo_a_revoke(
    consent: ConsentRegistryClient, gasless_patient: KeySigner, actors: Actors, rid: bytes
) -> None:
    patient, grantee = gasless_patient.address, actors.grantee.address
    grant = consent.sign_grant(gasless_patient, patient, grantee, rid, IMAGES, TREAT)
    consent.relay(grant)
    consent.relay(consent.sign_revoke(gasless_patient, patient, grantee, rid))
    with pytest.raises(errors.InvalidSignature):
        consent.relay(grant)
    assert not consent.has_access(patient, grantee, rid, IMAGES, TREAT)


def test_a_set_guardian_signature_cannot_be_replayed_after_removal(
    consent: ConsentRegistryClient, gasless_patient: KeySigner, actors: Actors
) -> None:
    patient, guardian = gasless_patient.address, actors.guardian.address
    appoint = consent.sign_set_guardian(gasless_patient, guardian, consent.now() + 3600)
    consent.relay(appoint)
    consent.relay(consent.sign_set_guardian(gasless_patient, guardian, 0))
    with pytest.raises(errors.InvalidSignature) as exc:
        consent.relay(appoint)
    assert exc.value.args == (patient,)
    assert not consent.is_guardian(patient, guardian)


# ------------------------------------------------------- other chain, other contract


@pytest.mark.parametrize("other", ["chain id", "contract"])
def test_a_signature_for_another_domain_is_refused(
    w3: Web3,
    deployment: Deployment,
    consent: ConsentRegistryClient,
    gasless_patient: KeySigner,
    actors: Actors,
    rid: bytes,
    other: str,
) -> None:
    patient = gasless_patient.address
    if other == "chain id":
        domain = Domain(CONSENT_DOMAIN_NAME, CONSENT_DOMAIN_VERSION, w3.eth.chain_id + 1, consent.address)
    else:
        domain = Domain.consent(w3.eth.chain_id, deployment.record_registry)
    signed = sign_grant_for(consent, gasless_patient, patient, actors.grantee.address, rid, domain)
    with nothing_sent(w3), pytest.raises(errors.ValidationError):
        consent.relay(signed)
    with pytest.raises(errors.InvalidSignature) as exc:
        actors.site.send(consent.by_sig_call(signed))
    assert exc.value.args == (patient,)


def test_the_contract_publishes_its_domain_per_erc_5267(w3: Web3, consent: ConsentRegistryClient) -> None:
    assert consent.domain() == Domain.consent(w3.eth.chain_id, consent.address)
    fields, name, version, chain_id, contract, salt, extensions = consent.contract.functions.eip712Domain().call()
    assert fields == b"\x0f"  # name, version, chainId, verifyingContract
    assert (name, version, chain_id, contract) == (CONSENT_DOMAIN_NAME, "1", w3.eth.chain_id, consent.address)
    assert (salt, extensions) == (bytes(32), [])


# ------------------------------------------------------------------- malformed


def _high_s(signature: bytes) -> bytes:
    """The same signature's malleable twin (s -> n - s, v flipped), which OpenZeppelin refuses."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])


MALFORMED = {
    "64 bytes (no v)": lambda sig: sig[:64],
    "66 bytes (one extra)": lambda sig: sig + b"\x00",
    "65 bytes of garbage": lambda sig: bytes(range(65)),
    "65 zero bytes": lambda sig: bytes(65),
    "v out of range": lambda sig: sig[:64] + bytes([29]),
    "high s": _high_s,
    "one bit flipped": lambda sig: bytes([sig[0] ^ 1]) + sig[1:],
    "empty": lambda sig: b"",
}


@pytest.mark.parametrize("mangle", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_signature_is_refused_by_the_contract(
    consent: ConsentRegistryClient, gasless_patient: KeySigner, actors: Actors, rid: bytes, mangle: Any
) -> None:
    patient = gasless_patient.address
    signed = consent.sign_grant(gasless_patient, patient, actors.grantee.address, rid, IMAGES, TREAT)
    mangled = replace(signed, signature=mangle(signed.signature))
    assert mangled.signature != signed.signature
    with pytest.raises(errors.InvalidSignature) as exc:
        actors.site.send(consent.by_sig_call(mangled))
    assert exc.value.args == (patient,)
    consent.relay(signed)  # the genuine one still works


@pytest.mark.parametrize("signature", [b"", b"\x01" * 10, b"\x01" * 63])
def test_an_obviously_bad_signature_is_refused_before_sending(
    w3: Web3, consent: ConsentRegistryClient, gasless_patient: KeySigner, actors: Actors, rid: bytes, signature: bytes
) -> None:
    signed = consent.sign_grant(gasless_patient, gasless_patient.address, actors.grantee.address, rid, IMAGES, TREAT)
    with nothing_sent(w3), pytest.raises(errors.ValidationError):
        consent.relay(replace(signed, signature=signature))


# ---------------------------------------------------------------------- guardians


def test_a_signature_by_an_expired_guardian_is_refused(
    w3: Web3, consent: ConsentRegistryClient, gasless_patient: KeySigner, actors: Actors, rid: bytes
) -> None:
    patient, guardian = gasless_patient.address, KeySigner.create()
    until = consent.now() + 60
    consent.relay(consent.sign_set_guardian(gasless_patient, guardian.address, until))
    signed = consent.sign_grant(guardian, patient, actors.grantee.address, rid, IMAGES, TREAT,
                                deadline=until + 3600)  # fmt: skip
    travel_to(w3, until)
    with pytest.raises(errors.NotPatientOrGuardian) as exc:
        consent.relay(signed)
    assert exc.value.args == (patient, guardian.address)


def test_a_removed_guardians_outstanding_signature_is_refused(
    consent: ConsentRegistryClient, gasless_patient: KeySigner, actors: Actors, rid: bytes
) -> None:
    patient, guardian = gasless_patient.address, KeySigner.create()
    consent.relay(consent.sign_set_guardian(gasless_patient, guardian.address, consent.now() + 3600))
    signed = consent.sign_revoke(guardian, patient, actors.grantee.address, rid)
    consent.relay(consent.sign_set_guardian(gasless_patient, guardian.address, 0))
    with pytest.raises(errors.NotPatientOrGuardian) as exc:
        consent.relay(signed)
    assert exc.value.args == (patient, guardian.address)


def test_a_guardian_invalidates_its_own_outstanding_signatures_not_the_patients(
    consent: ConsentRegistryClient, gasless_patient: KeySigner, actors: Actors, rid: bytes
) -> None:
    patient, guardian = gasless_patient.address, KeySigner.create()
    consent.relay(consent.sign_set_guardian(gasless_patient, guardian.address, consent.now() + 3600))
    patients = consent.sign_grant(gasless_patient, patient, actors.grantee.address, rid, IMAGES, TREAT)
    guardians = consent.sign_grant(guardian, patient, actors.stranger.address, rid, IMAGES, TREAT)
    receipt = consent.relay(consent.sign_invalidate_signatures(guardian, patient))
    assert consent.events(receipt, "SignaturesInvalidated") == [
        {"patient": patient, "epoch": 2 << 32, "actor": guardian.address}
    ]
    with pytest.raises(errors.InvalidSignature) as exc:
        consent.relay(guardians)
    assert exc.value.args == (guardian.address,)
    consent.relay(patients)  # the patient's own signature still relays
    assert consent.has_access(patient, actors.grantee.address, rid, IMAGES, TREAT)


def test_the_patients_invalidation_also_voids_its_guardians_signatures(
    consent: ConsentRegistryClient, gasless_patient: KeySigner, actors: Actors, rid: bytes
) -> None:
    patient, guardian = gasless_patient.address, KeySigner.create()
    consent.relay(consent.sign_set_guardian(gasless_patient, guardian.address, consent.now() + 3600))
    guardians = consent.sign_grant(guardian, patient, actors.grantee.address, rid, IMAGES, TREAT)
    consent.relay(consent.sign_invalidate_signatures(gasless_patient, patient))
    with pytest.raises(errors.InvalidSignature) as exc:
        consent.relay(guardians)
    assert exc.value.args == (guardian.address,)


# ------------------------------------------------------------------------ ERC-1271


@dataclass(frozen=True)
class WalletSigner:
    """A smart-contract wallet as a signer: the wallet's address, its owner's key."""

    wallet: ChecksumAddress
    owner: KeySigner

    @property
    def address(self) -> ChecksumAddress:
        return self.wallet

    @property
    def can_sign(self) -> bool:
        return True

    def sign_typed_data(self, typed_data: dict[str, Any]) -> bytes:
        return self.owner.sign_typed_data(typed_data)

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        raise NotImplementedError("a contract wallet sends no transactions of its own here")


@pytest.fixture
def wallet(w3: Web3, actors: Actors) -> WalletSigner:
    owner = KeySigner.create()
    address = deploy_contract(actors.admin, "ERC1271WalletMock", owner.address, artifacts_dir=ARTIFACTS)
    return WalletSigner(Web3.to_checksum_address(address), owner)


def test_an_erc1271_wallet_patient_grants_by_its_owners_signature(
    w3: Web3, consent: ConsentRegistryClient, records: RecordRegistryClient, wallet: WalletSigner, actors: Actors
) -> None:
    rid = register_record(records, wallet.address, "ct chest of a wallet patient")
    grantee = actors.grantee.address
    receipt = consent.relay(consent.sign_grant(wallet, wallet.address, grantee, rid, IMAGES, TREAT))
    assert consent.events(receipt, "ConsentGranted")[0]["actor"] == wallet.address
    assert consent.has_access(wallet.address, grantee, rid, IMAGES, TREAT)
    receipt = consent.relay(consent.sign_revoke(wallet, wallet.address, grantee, rid))
    assert not consent.has_access(wallet.address, grantee, rid, IMAGES, TREAT)
    assert_never_paid(w3, wallet.owner)


def test_an_erc1271_wallet_refuses_a_signature_by_another_key(
    consent: ConsentRegistryClient, records: RecordRegistryClient, wallet: WalletSigner, actors: Actors
) -> None:
    rid = register_record(records, wallet.address, "ct chest of a wallet patient")
    impostor = WalletSigner(wallet.address, KeySigner.create())
    signed = consent.sign_grant(impostor, wallet.address, actors.grantee.address, rid, IMAGES, TREAT)
    with pytest.raises(errors.InvalidSignature) as exc:
        consent.relay(signed)
    assert exc.value.args == (wallet.address,)
    # The owner's key signing as itself is not the wallet either.
    with pytest.raises(errors.NotPatientOrGuardian):
        consent.relay(consent.sign_grant(wallet.owner, wallet.address, actors.grantee.address, rid, IMAGES, TREAT))


# ------------------------------------------------------------------- message files


def test_a_signed_message_survives_a_json_round_trip_and_relays(
    tmp_path: Path, consent: ConsentRegistryClient, gasless_patient: KeySigner, actors: Actors, rid: bytes
) -> None:
    signed = consent.sign_grant(gasless_patient, gasless_patient.address, actors.grantee.address, rid, IMAGES, TREAT)
    path = signed.save(tmp_path / "consent.json")
    loaded = SignedMessage.load(path)
    assert loaded == signed
    assert SignedMessage.from_json(loaded.to_json()) == signed
    receipt = consent.relay(loaded)
    assert consent.events(receipt, "ConsentGranted")[0]["recordId"] == rid


def test_a_tampered_message_file_does_not_verify(
    tmp_path: Path, consent: ConsentRegistryClient, gasless_patient: KeySigner, actors: Actors, rid: bytes
) -> None:
    signed = consent.sign_grant(gasless_patient, gasless_patient.address, actors.grantee.address, rid, IMAGES, TREAT)
    path = signed.save(tmp_path / "consent.json")
    path.write_text(path.read_text().replace('"scopes": 1', '"scopes": 7'))
    tampered = SignedMessage.load(path)
    assert tampered.message["scopes"] == 7
    with pytest.raises(errors.InvalidSignature) as exc:
        consent.relay(tampered)
    assert exc.value.args == (gasless_patient.address,)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "{}",
        '{"primaryType": "Unknown", "domain": {}, "message": {}, "signature": "0x"}',
        "SIGNATURE_NOT_HEX",
        "SIGNATURE_TOO_SHORT",
    ],
)
def test_a_damaged_message_file_is_a_validation_error(
    tmp_path: Path, consent: ConsentRegistryClient, gasless_patient: KeySigner, actors: Actors, rid: bytes, text: str
) -> None:
    if text.startswith("SIGNATURE_"):
        signed = consent.sign_grant(gasless_patient, gasless_patient.address, actors.grantee.address, rid, 1, 1)
        bad = "0xzz" + "00" * 64 if text == "SIGNATURE_NOT_HEX" else "0x" + "11" * 20
        text = signed.to_json().replace("0x" + signed.signature.hex(), bad)
    path = tmp_path / "damaged.json"
    path.write_text(text)
    with pytest.raises(errors.ValidationError):
        SignedMessage.load(path)
    with pytest.raises(errors.ValidationError):
        SignedMessage.load(tmp_path / "missing.json")
