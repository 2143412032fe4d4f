"""The consent story over HTTP on anvil, with every transaction signed locally (EIP-1559),
concurrent senders sharing one account, and reverts decoded from a real node."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from radledger.chain import errors
from radledger.chain.signers import KeySigner
from radledger.chain.transactions import Transactor
from radledger.deployment.addresses import Clients, Deployment
from radledger.deployment.deploy import deploy
from radledger.deployment.manifest import manifest_path
from radledger.deployment.setup_file import parse_setup
from radledger.registries.common import Purpose, RecordKind, Scope
from radledger.registries.consent.client import WILDCARD
from radledger.registries.consent.types import AccessBasis
from radledger.registries.records.client import record_id
from tests.integration.conftest import CHAIN_ID, AnvilNode, dev_key
from tests.support import SITE_SALT, content_hash, synthetic_uid

SITE_URL = "https://gateway.northside-imaging.example/dicomweb"


@pytest.fixture(scope="module")
def deployed(anvil: AnvilNode, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One deployment on the session node: site = dev account 1, emergency department = 5."""
    path = manifest_path(tmp_path_factory.mktemp("deployments"), CHAIN_ID)
    setup = parse_setup(
        {
            "custodians": [{"account": dev_key(1).address, "gateway_url": SITE_URL}],
            "emergency_accounts": [{"account": dev_key(5).address}],
        }
    )
    deploy(anvil.transactor(0), manifest_path=path, network="anvil", setup=setup)
    return path


def clients_as(anvil: AnvilNode, deployed: Path, index: int) -> Clients:
    """Every wrapper of the deployment, from its manifest, sending as dev account `index`."""
    return Deployment.from_manifest(deployed).clients(anvil.w3(), anvil.transactor(index))


def test_consent_story_over_http_with_locally_signed_transactions(anvil: AnvilNode, deployed: Path) -> None:
    site = clients_as(anvil, deployed, 1)
    grantee = clients_as(anvil, deployed, 3)
    emergency = clients_as(anvil, deployed, 5)
    patient = KeySigner.create()  # holds no ETH: signs offline only
    w3 = site.records.w3
    assert site.records.transactor is not None and site.records.transactor.signer.can_sign

    # The site registers a synthetic MRI study of the patient (the UID stays at the site).
    local = record_id(SITE_SALT, synthetic_uid("anvil story study"))
    receipt = site.records.register(local, patient.address, RecordKind.IMAGING_STUDY, content_hash("anvil story"))
    rid = site.records.record_id_of(local)  # bound to the custodian (issue 11)
    tx = w3.eth.get_transaction(receipt["transactionHash"])
    assert tx["type"] == 2 and tx["maxPriorityFeePerGas"] > 0  # EIP-1559, signed here, sent raw
    assert site.records.get_record(rid).patient == patient.address

    # The patient signs a grant offline; the site relays it and pays the gas.
    grantee_address = grantee.consent.transactor.address  # type: ignore[union-attr]
    signed = site.consent.sign_grant(patient, patient.address, grantee_address, rid, Scope.IMAGES, Purpose.TREAT)
    site.consent.relay(signed)
    assert site.consent.has_access(patient.address, grantee_address, rid, Scope.IMAGES, Purpose.TREAT)
    assert w3.eth.get_balance(patient.address) == 0

    # The grantee puts its access on the trail.
    trail = grantee.consent.record_access(grantee_address, rid, Scope.IMAGES, Purpose.TREAT)
    assert grantee.consent.events(trail, "AccessRecorded")

    # The emergency department breaks the glass: every record, emergency treatment only.
    emergency_address = emergency.consent.transactor.address  # type: ignore[union-attr]
    emergency.consent.break_glass(patient.address, 1)
    assert (
        emergency.consent.access_basis(patient.address, emergency_address, rid, Scope.SAFETY_PROFILE, Purpose.ETREAT)
        == AccessBasis.BREAK_GLASS
    )
    assert not emergency.consent.has_access(patient.address, emergency_address, rid, Scope.IMAGES, Purpose.TREAT)

    # The patient signs a revocation; the site relays it; the grantee's next access is refused.
    site.consent.relay(site.consent.sign_revoke(patient, patient.address, grantee_address, rid))
    assert not site.consent.has_access(patient.address, grantee_address, rid, Scope.IMAGES, Purpose.TREAT)
    with pytest.raises(errors.AccessDenied) as exc:
        grantee.consent.record_access(grantee_address, rid, Scope.IMAGES, Purpose.TREAT)
    assert exc.value.args == (patient.address, grantee_address, rid, int(Scope.IMAGES), int(Purpose.TREAT))
    assert site.consent.get_grant(patient.address, grantee_address, WILDCARD).scopes == 0


def test_concurrent_senders_from_one_account_keep_nonces_in_order(anvil: AnvilNode, deployed: Path) -> None:
    site = clients_as(anvil, deployed, 1)  # one Transactor shared by every thread
    sender = site.records.transactor
    assert sender is not None
    start = sender.w3.eth.get_transaction_count(sender.address)
    receipts: list[Any] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def register(thread: int) -> None:
        try:
            for i in range(4):
                label = f"concurrent {thread}.{i}"
                rid = record_id(SITE_SALT, synthetic_uid(label))
                receipt = site.records.register(rid, dev_key(9).address, RecordKind.REPORT, content_hash(label))
                with lock:
                    receipts.append(receipt)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=register, args=(t,)) for t in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    nonces = sorted(int(sender.w3.eth.get_transaction(r["transactionHash"])["nonce"]) for r in receipts)
    assert nonces == list(range(start, start + 20))
    assert all(r["status"] == 1 for r in receipts)


def test_a_call_that_would_revert_raises_the_decoded_error(anvil: AnvilNode, deployed: Path) -> None:
    stranger = clients_as(anvil, deployed, 7)
    before = stranger.records.w3.eth.get_transaction_count(dev_key(7).address)
    with pytest.raises(errors.AccessControlUnauthorizedAccount) as exc:
        stranger.records.register_custodian(dev_key(7).address, "https://gateway.stranger.example/dicomweb")
    assert exc.value.args == (dev_key(7).address, stranger.records.role("CUSTODIAN_REGISTRAR_ROLE"))
    assert stranger.records.w3.eth.get_transaction_count(dev_key(7).address) == before  # refused before sending


@pytest.fixture
def manual_mining(anvil: AnvilNode) -> Iterator[Callable[[], None]]:
    """Blocks are mined only when the test says so (anvil's automine off), restored afterwards."""
    anvil.rpc("evm_setAutomine", False)
    try:
        yield lambda: anvil.rpc("evm_mine")
    finally:
        anvil.rpc("evm_setAutomine", True)


def test_a_transaction_that_reverts_on_chain_raises_the_decoded_error(
    anvil: AnvilNode, deployed: Path, manual_mining: Callable[[], None]
) -> None:
    # Two registrations of the same record pass their gas estimates before either is mined;
    # the second then reverts in the block, and its error is recovered from the node.
    site = clients_as(anvil, deployed, 1)
    w3: Web3 = site.records.w3
    local = record_id(SITE_SALT, synthetic_uid("registered twice in one block"))
    rid = site.records.record_id_of(local)
    outcomes: dict[int, Any] = {}

    def register(n: int) -> None:
        try:
            outcomes[n] = site.records.register(local, dev_key(9).address, RecordKind.REPORT, content_hash("twice"))
        except BaseException as exc:
            outcomes[n] = exc

    sender: Transactor = site.records.transactor  # type: ignore[assignment]
    pending_before = w3.eth.get_transaction_count(sender.address, "pending")
    threads = [threading.Thread(target=register, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    while w3.eth.get_transaction_count(sender.address, "pending") < pending_before + 2:
        threading.Event().wait(0.01)
    manual_mining()
    for thread in threads:
        thread.join(timeout=60)
    reverted = [o for o in outcomes.values() if isinstance(o, BaseException)]
    mined = [o for o in outcomes.values() if not isinstance(o, BaseException)]
    assert len(mined) == 1 and mined[0]["status"] == 1
    assert len(reverted) == 1 and isinstance(reverted[0], errors.RecordAlreadyRegistered)
    assert reverted[0].args == (rid,)
    failed = w3.eth.get_transaction_receipt(reverted[0].tx_hash)  # type: ignore[arg-type]
    assert failed["status"] == 0 and failed["blockNumber"] == mined[0]["blockNumber"]
