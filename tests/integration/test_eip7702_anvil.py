"""EIP-7702 on a real node (anvil, Prague): a gasless patient's EOA is delegated to a contract
wallet by a set-code transaction (type 4, the patient's signed authorization, sent and paid by
someone else), and the patient's own ECDSA signatures still land, alone and in a batch."""

from __future__ import annotations

from pathlib import Path

from web3 import Web3

from radledger.chain.signers import KeySigner
from radledger.deployment.deploy import deploy_contract, deploy_core
from radledger.registries.common import Purpose, RecordKind, Scope
from radledger.registries.consent.types import AccessBasis
from radledger.registries.records.client import record_id
from tests.conftest import ARTIFACTS
from tests.integration.conftest import AnvilNode, dev_key
from tests.support import SITE_SALT, content_hash, synthetic_uid

SITE_URL = "https://gateway.site-7702.example/dicomweb"
DELEGATION_PREFIX = bytes.fromhex("ef0100")


def test_a_7702_delegated_patient_signs_grants_with_its_own_key(anvil: AnvilNode, tmp_path: Path) -> None:
    governance, site, sponsor = anvil.transactor(0), anvil.transactor(1), dev_key(2)
    w3: Web3 = governance.w3
    dep = deploy_core(governance, artifacts_dir=ARTIFACTS)
    dep.records(w3, governance).register_custodian(site.address, SITE_URL)
    records, consent = dep.records(w3, site), dep.consent(w3, site)

    # A contract wallet owned by someone else: as the delegate, its ERC-1271 approves nothing the patient signs.
    delegate = deploy_contract(governance, "ERC1271WalletMock", KeySigner.create().address, artifacts_dir=ARTIFACTS)
    patient = KeySigner.create()  # never holds ETH
    authorization = patient.account.sign_authorization(
        {"chainId": w3.eth.chain_id, "address": delegate, "nonce": w3.eth.get_transaction_count(patient.address)}
    )
    fees = governance.fees()
    tx = {
        "type": 4,
        "chainId": w3.eth.chain_id,
        "nonce": w3.eth.get_transaction_count(sponsor.address),
        "to": sponsor.address,
        "value": 0,
        "data": b"",
        "gas": 100_000,
        "authorizationList": [authorization],
        **fees,
    }
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(sponsor.sign_transaction(tx)))
    assert receipt["status"] == 1 and int(receipt["type"]) == 4
    assert bytes(w3.eth.get_code(patient.address)) == DELEGATION_PREFIX + bytes.fromhex(delegate[2:])

    grantee = dev_key(3).address
    rids = [record_id(SITE_SALT, synthetic_uid(f"7702 study {i}")) for i in range(3)]
    for i, rid in enumerate(rids):
        records.register(rid, patient.address, RecordKind.IMAGING_STUDY, content_hash(f"7702 study {i}"))
    first = consent.sign_grant(patient, patient.address, grantee, rids[0], Scope.IMAGES, Purpose.TREAT)
    receipt = consent.relay(first)
    assert consent.events(receipt, "ConsentGranted")[0]["actor"] == patient.address
    batch = [
        consent.sign_grant(patient, patient.address, grantee, rid, Scope.IMAGES, Purpose.TREAT) for rid in rids[1:]
    ]
    consent.relay_grants(batch)
    for rid in rids:
        basis = consent.access_basis(patient.address, grantee, rid, Scope.IMAGES, Purpose.TREAT)
        assert basis == AccessBasis.RECORD_GRANT
    assert w3.eth.get_balance(patient.address) == 0
