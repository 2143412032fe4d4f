"""The shared signature checker (contracts/utils/SignatureVerifier.sol): ECDSA first, then
ERC-1271 for a signer with code. So an EOA delegated with EIP-7702 (its code is
0xef0100 || delegate) still signs with its own key, whatever its delegate does, and ERC-1271
wallets still sign through their contract. The in-process chain runs Prague rules: the
delegation here is a real set-code transaction (type 4) with the patient's signed authorization.

Also: the errors shared in Common.sol are one Python class each, whichever contract raises them."""

from __future__ import annotations

from typing import Any

import pytest
from eth_typing import ChecksumAddress
from web3 import Web3

from radledger.chain import errors
from radledger.chain.artifacts import load_artifact
from radledger.chain.signers import KeySigner
from radledger.deployment.deploy import deploy_contract
from radledger.registries.common import Purpose, Scope
from radledger.registries.consent.client import ConsentRegistryClient
from radledger.registries.consent.types import AccessBasis
from radledger.registries.records.client import RecordRegistryClient
from tests.conftest import ARTIFACTS, Actors
from tests.support import register_record

IMAGES, TREAT = Scope.IMAGES, Purpose.TREAT
DELEGATION_PREFIX = bytes.fromhex("ef0100")


class WalletSigner:
    """An ERC-1271 wallet as a signer: the wallet's address, its owner's key."""

    def __init__(self, wallet: ChecksumAddress, owner: KeySigner) -> None:
        self.address, self.owner, self.can_sign = wallet, owner, True

    def sign_typed_data(self, typed_data: dict[str, Any]) -> bytes:
        return self.owner.sign_typed_data(typed_data)

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        raise NotImplementedError


def delegate_with_7702(w3: Web3, eoa: KeySigner, delegate: str, sponsor: KeySigner) -> None:
    """`eoa` signs an EIP-7702 authorization to `delegate`; `sponsor` sends the set-code transaction."""
    chain_id = w3.eth.chain_id
    authorization = eoa.account.sign_authorization(
        {"chainId": chain_id, "address": delegate, "nonce": w3.eth.get_transaction_count(eoa.address)}
    )
    tx = {
        "type": 4,
        "chainId": chain_id,
        "nonce": w3.eth.get_transaction_count(sponsor.address),
        "to": sponsor.address,
        "value": 0,
        "data": b"",
        "gas": 100_000,
        "maxFeePerGas": 10 * 10**9,
        "maxPriorityFeePerGas": 10**9,
        "authorizationList": [authorization],
    }
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(sponsor.sign_transaction(tx)))
    assert receipt["status"] == 1
    assert bytes(w3.eth.get_code(eoa.address)) == DELEGATION_PREFIX + bytes.fromhex(delegate[2:])


@pytest.fixture
def sponsor(w3: Web3) -> KeySigner:
    """A funded key that pays for the patient's delegation (the patient holds no ETH)."""
    key = KeySigner.create()
    w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": key.address, "value": Web3.to_wei(0.1, "ether")})
    )
    return key


@pytest.fixture
def foreign_wallet(actors: Actors) -> str:
    """An ERC-1271 wallet owned by someone else: as a 7702 delegate it approves no signature of the patient."""
    return deploy_contract(actors.admin, "ERC1271WalletMock", KeySigner.create().address, artifacts_dir=ARTIFACTS)


def test_an_eip7702_delegated_eoa_grants_by_its_own_ecdsa_signature(
    w3: Web3,
    consent: ConsentRegistryClient,
    records: RecordRegistryClient,
    actors: Actors,
    sponsor: KeySigner,
    foreign_wallet: str,
) -> None:
    patient = KeySigner.create()
    rid = register_record(records, patient.address, "mri knee of a delegated patient")
    delegate_with_7702(w3, patient, foreign_wallet, sponsor)
    # The delegate's ERC-1271 says no (it is someone else's wallet): OpenZeppelin's SignatureChecker
    # alone would refuse the patient's own key now that the patient's account has code.
    grantee = actors.grantee.address
    signed = consent.sign_grant(patient, patient.address, grantee, rid, IMAGES, TREAT)
    receipt = consent.relay(signed)
    assert consent.events(receipt, "ConsentGranted")[0]["actor"] == patient.address
    assert consent.access_basis(patient.address, grantee, rid, IMAGES, TREAT) == AccessBasis.RECORD_GRANT
    # Revoke and invalidation by signature too, and in a batch.
    consent.relay(consent.sign_revoke(patient, patient.address, grantee, rid))
    consent.relay_grants([consent.sign_grant(patient, patient.address, grantee, rid, IMAGES, TREAT)])
    assert consent.has_access(patient.address, grantee, rid, IMAGES, TREAT)
    assert w3.eth.get_balance(patient.address) == 0


def test_a_delegated_eoa_still_refuses_another_keys_signature(
    w3: Web3,
    consent: ConsentRegistryClient,
    records: RecordRegistryClient,
    actors: Actors,
    sponsor: KeySigner,
    foreign_wallet: str,
) -> None:
    patient, impostor = KeySigner.create(), KeySigner.create()
    rid = register_record(records, patient.address, "mri knee of a delegated patient")
    delegate_with_7702(w3, patient, foreign_wallet, sponsor)
    forged = consent.sign_grant(WalletSigner(patient.address, impostor), patient.address, actors.grantee.address,
                                rid, IMAGES, TREAT)  # fmt: skip
    with pytest.raises(errors.InvalidSignature) as exc:
        consent.relay(forged)
    assert exc.value.args == (patient.address,)


def test_a_delegate_that_speaks_erc1271_signs_for_the_eoa_too(
    w3: Web3,
    consent: ConsentRegistryClient,
    records: RecordRegistryClient,
    actors: Actors,
    sponsor: KeySigner,
) -> None:
    """ECDSA first does not shut ERC-1271 out: a session key the delegate accepts also signs."""
    patient, session_key = KeySigner.create(), KeySigner.create()
    rid = register_record(records, patient.address, "x-ray of a patient with a session key")
    delegate = deploy_contract(actors.admin, "ERC1271WalletMock", session_key.address, artifacts_dir=ARTIFACTS)
    delegate_with_7702(w3, patient, delegate, sponsor)
    signed = consent.sign_grant(WalletSigner(patient.address, session_key), patient.address, actors.grantee.address,
                                rid, IMAGES, TREAT)  # fmt: skip
    consent.relay(signed)
    assert consent.has_access(patient.address, actors.grantee.address, rid, IMAGES, TREAT)


def test_an_erc1271_wallet_and_a_plain_eoa_still_sign(
    w3: Web3, consent: ConsentRegistryClient, records: RecordRegistryClient, actors: Actors
) -> None:
    owner, eoa = KeySigner.create(), KeySigner.create()
    wallet = WalletSigner(
        Web3.to_checksum_address(
            deploy_contract(actors.admin, "ERC1271WalletMock", owner.address, artifacts_dir=ARTIFACTS)
        ),
        owner,
    )
    grantee = actors.grantee.address
    for signer in (wallet, eoa):
        rid = register_record(records, signer.address, f"study of {signer.address}")
        consent.relay(consent.sign_grant(signer, signer.address, grantee, rid, IMAGES, TREAT))
        assert consent.has_access(signer.address, grantee, rid, IMAGES, TREAT)
    # The wallet owner's key signing as itself is not the wallet (ECDSA recovers the owner, not the wallet).
    rid = register_record(records, wallet.address, "another study of the wallet patient")
    with pytest.raises(errors.NotPatientOrGuardian):
        consent.relay(consent.sign_grant(owner, wallet.address, grantee, rid, IMAGES, TREAT))


# ------------------------------------------------------------------ shared errors


SHARED = {
    "InvalidValidity": ["ConsentRegistry", "CredentialRegistry"],
    "ExpiryInPast": ["ConsentRegistry", "CredentialRegistry"],
    "InvalidReasonCode": ["ConsentRegistry", "CredentialRegistry"],
    "UnknownSchema": ["CredentialRegistry", "PreauthRegistry"],
    "EmptyBatch": ["ConsentRegistry", "CredentialRegistry"],
    "InvalidSignature": ["ConsentRegistry", "CredentialRegistry"],
    "SignatureExpired": ["ConsentRegistry", "CredentialRegistry"],
    "BatchItemFailed": ["ConsentRegistry"],
}


@pytest.mark.parametrize("name", SHARED)
def test_a_shared_error_is_one_python_class_for_every_contract(name: str) -> None:
    cls = errors.contract_error_class(name)
    signatures = set()
    for contract in SHARED[name]:
        (entry,) = [e for e in load_artifact(contract, ARTIFACTS).abi if e.get("type") == "error" and e["name"] == name]
        signatures.add((name, tuple(i["type"] for i in entry["inputs"])))
    assert len(signatures) == 1  # same signature, so the same selector, in every ABI
    assert issubclass(cls, errors.ContractError) and cls.error_name == name
