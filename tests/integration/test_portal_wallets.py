"""Wallets beyond a plain EOA, on anvil (prague): a Safe smart account signing through ERC-1271, and an
EOA delegated with EIP-7702. Each test relays through the portal and asks the contract whether the grant landed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from radledger.chain.signers import KeySigner
from radledger.portal.config import DirectoryEntry, PortalSettings
from radledger.portal.relay import digest, parse_signed
from radledger.portal.service import PortalService
from radledger.registries.common import Purpose, Scope
from tests.conftest import ARTIFACTS, named_key
from tests.integration.conftest import CHAIN_ID, AnvilNode, dev_key
from tests.integration.portal_chain import PortalChain, deploy_portal_chain, deploy_safe, safe_message
from tests.portal_support import NodeWallet, require_wallet_libraries

TELERADIOLOGY = named_key("Northside Teleradiology (synthetic)")


@pytest.fixture(scope="module")
def chain(anvil: AnvilNode) -> PortalChain:
    return deploy_portal_chain(anvil)


@pytest.fixture(scope="module")
def wallet() -> Iterator[NodeWallet]:
    signer = NodeWallet()
    try:
        yield signer
    finally:
        signer.close()


@pytest.fixture
def portal(chain: PortalChain, tmp_path: Path) -> Iterator[PortalService]:
    settings = PortalSettings(
        state_dir=tmp_path / "portal-state",
        directory=(DirectoryEntry("Northside Teleradiology", TELERADIOLOGY.address, "teleradiology group"),),
    )
    service = PortalService(settings, chain.anvil.w3(), chain.deployment, chain.anvil.transactor(1))
    try:
        yield service
    finally:
        service.close()


def grant_typed_data(portal: PortalService, patient: str, record_id: bytes) -> dict:
    (doc,) = portal.prepare(
        "grant",
        {"patient": patient, "grantee": TELERADIOLOGY.address, "recordId": "0x" + record_id.hex(),
         "scopes": ["images"], "purposes": ["TREAT"]},
    )  # fmt: skip
    return doc


def test_a_safe_smart_account_as_patient_signs_through_erc1271_and_its_grant_lands(
    chain: PortalChain, portal: PortalService, wallet: NodeWallet
) -> None:
    require_wallet_libraries()
    owner = KeySigner.create()
    safe = deploy_safe(chain.anvil.transactor(2), owner.address)
    study = chain.register_study(safe, "portal: Safe patient's MRI")
    doc = grant_typed_data(portal, safe, study)
    # The Safe app asks the owner to sign the SafeMessage wrapping the consent's EIP-712 digest.
    hashed = digest(parse_signed("grant", {"typedData": doc, "signature": "0x" + "00" * 65}))
    signature = wallet.sign(owner, safe_message(CHAIN_ID, safe, hashed), "metamask")
    (submission,) = portal.relay_request("grant", {"typedData": doc, "signature": signature}, "198.51.100.4")
    assert portal.relayer.wait(submission["txHash"])["status"] == 1
    assert portal.consent.has_access(safe, TELERADIOLOGY.address, study, Scope.IMAGES, Purpose.TREAT)
    (grant,) = portal.overview(safe).grants
    assert (grant.actor, grant.by_guardian) == (safe, False)


def test_an_eip7702_delegated_patient_can_still_sign_with_its_own_key(
    chain: PortalChain, portal: PortalService, wallet: NodeWallet
) -> None:
    require_wallet_libraries()
    w3 = chain.anvil.w3()
    patient = KeySigner.create()  # holds no ETH: a sponsor sends its delegation
    # A sponsor delegates the patient's account (its authorization signed by the patient) to a contract
    # with no ERC-1271 (a plain batching helper); the transaction itself only carries the authorization.
    import json

    helper = json.loads((ARTIFACTS / "StaticMulticallMock.json").read_text())
    target = chain.anvil.transactor(2).deploy(helper["abi"], helper["bytecode"])["contractAddress"]
    authorization = Account.sign_authorization(
        {"chainId": CHAIN_ID, "address": target, "nonce": w3.eth.get_transaction_count(patient.address)},
        patient.account.key,
    )
    sponsor = dev_key(2)
    tx = {
        "type": 4, "chainId": CHAIN_ID, "nonce": w3.eth.get_transaction_count(sponsor.address), "to": sponsor.address,
        "value": 0, "data": b"", "gas": 200_000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9,
        "authorizationList": [authorization],
    }  # fmt: skip
    sent = w3.eth.send_raw_transaction(Account.sign_transaction(tx, sponsor.account.key).raw_transaction)
    assert w3.eth.wait_for_transaction_receipt(sent)["status"] == 1
    assert bytes(w3.eth.get_code(patient.address)) == bytes.fromhex("ef0100") + bytes.fromhex(target[2:])

    study = chain.register_study(patient.address, "portal: delegated patient's CT")
    doc = grant_typed_data(portal, patient.address, study)
    signature = wallet.sign(patient, doc, "metamask")
    (submission,) = portal.relay_request("grant", {"typedData": doc, "signature": signature}, "198.51.100.5")
    assert portal.relayer.wait(submission["txHash"])["status"] == 1
    assert portal.consent.has_access(patient.address, TELERADIOLOGY.address, study, Scope.IMAGES, Purpose.TREAT)
