"""Fixtures shared by the CredentialRegistry tests (no tests here).

Test modules load them with ``pytest_plugins = ["tests.test_credentials_support"]``, so the
session registry is deployed once: five schemas, four funded issuers, an issuer that only signs
(no ETH), an ERC-1271 wallet issuer and a disciplinary account. Every test runs inside the
``w3`` fixture's snapshot, so nothing a test attests survives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from eth_typing import ChecksumAddress
from web3 import Web3

from radledger.chain.signers import KeySigner
from radledger.chain.transactions import Transactor
from radledger.deployment.addresses import Deployment
from radledger.deployment.deploy import deploy_contract, deploy_credentials
from radledger.registries.credentials.client import (
    NO_MAXIMUM,
    CredentialRegistryClient,
    device_id,
)
from tests.conftest import ARTIFACTS, Actors, named_key

DAY = 24 * 3600
YEAR = 365 * DAY

LICENSE = "US-CA Medical Board: physician and surgeon license"
BOARD = "ABR: diagnostic radiology board certification"
CME = "ACCME: CME credit (hundredths of an hour)"
INSPECTION = "ACR: MRI annual medical physicist inspection"
DIPLOMA = "Medical school diploma (MD)"

SCANNER = device_id("Acme Imaging", "MR-0042")


@dataclass(frozen=True)
class Schemas:
    license: int
    board: int
    cme: int
    inspection: int
    diploma: int


@dataclass(frozen=True)
class CredEnv:
    """The session's CredentialRegistry and who may do what on it."""

    address: ChecksumAddress
    schemas: Schemas
    governance: Transactor  # admin, schema registrar, issuer authorizer
    board: Transactor  # licenses and diplomas
    specialty_board: Transactor  # board certifications
    cme_provider: Transactor
    inspector: Transactor  # equipment inspections
    disciplinary: Transactor  # DISCIPLINARY_ROLE
    signing_issuer: KeySigner  # licenses and inspections, never funded: signs only
    wallet: ChecksumAddress  # an ERC-1271 wallet authorized for licenses
    wallet_owner: KeySigner
    reader: ChecksumAddress  # a radiologist (synthetic)
    other_reader: ChecksumAddress

    def client(self, w3: Web3, transactor: Transactor | None = None) -> CredentialRegistryClient:
        return CredentialRegistryClient(w3, self.address, transactor)


def _funded(chain: Web3, funder: Transactor, label: str) -> Transactor:
    signer = named_key(label)
    tx = chain.eth.send_transaction({"from": funder.address, "to": signer.address, "value": 10**18})
    chain.eth.wait_for_transaction_receipt(tx)
    return Transactor(chain, signer)


@pytest.fixture(scope="session")
def cred_env(chain: Web3, actors: Actors, deployment: Deployment) -> CredEnv:
    governance = actors.admin
    registry = deploy_credentials(governance, artifacts_dir=ARTIFACTS)
    ids = Schemas(
        license=registry.register_schema(LICENSE, True, 2 * YEAR).schema_id,
        board=registry.register_schema(BOARD, True, 10 * YEAR).schema_id,
        cme=registry.register_schema(CME, True, 3 * YEAR).schema_id,
        inspection=registry.register_schema(INSPECTION, True, 400 * DAY).schema_id,
        diploma=registry.register_schema(DIPLOMA, False, NO_MAXIMUM).schema_id,
    )
    board = _funded(chain, governance, "state medical board")
    specialty = _funded(chain, governance, "specialty board")
    cme = _funded(chain, governance, "CME provider")
    inspector = _funded(chain, governance, "medical physicist")
    disciplinary = _funded(chain, governance, "disciplinary federation")
    signing = named_key("issuer that only signs")
    owner = named_key("wallet owner")
    wallet = deploy_contract(governance, "ERC1271WalletMock", owner.address, artifacts_dir=ARTIFACTS)
    for schema, issuer in [
        (ids.license, board.address),
        (ids.diploma, board.address),
        (ids.board, specialty.address),
        (ids.cme, cme.address),
        (ids.inspection, inspector.address),
        (ids.license, signing.address),
        (ids.inspection, signing.address),
        (ids.license, wallet),
    ]:
        registry.authorize_issuer(schema, issuer)
    registry.grant_role("DISCIPLINARY_ROLE", disciplinary.address)
    return CredEnv(
        address=registry.address,
        schemas=ids,
        governance=governance,
        board=board,
        specialty_board=specialty,
        cme_provider=cme,
        inspector=inspector,
        disciplinary=disciplinary,
        signing_issuer=signing,
        wallet=Web3.to_checksum_address(wallet),
        wallet_owner=owner,
        reader=named_key("radiologist").address,
        other_reader=named_key("second radiologist").address,
    )


@pytest.fixture
def creds(w3: Web3, cred_env: CredEnv, actors: Actors) -> CredentialRegistryClient:
    """The registry as the first imaging site: a verifier, and the relayer of issuers' signatures."""
    return cred_env.client(w3, actors.site)


@pytest.fixture
def governance(w3: Web3, cred_env: CredEnv) -> CredentialRegistryClient:
    return cred_env.client(w3, cred_env.governance)


@pytest.fixture
def board(w3: Web3, cred_env: CredEnv) -> CredentialRegistryClient:
    """The state medical board: issues licenses (revocable) and diplomas (irrevocable)."""
    return cred_env.client(w3, cred_env.board)


@pytest.fixture
def specialty_board(w3: Web3, cred_env: CredEnv) -> CredentialRegistryClient:
    return cred_env.client(w3, cred_env.specialty_board)


@pytest.fixture
def cme_provider(w3: Web3, cred_env: CredEnv) -> CredentialRegistryClient:
    return cred_env.client(w3, cred_env.cme_provider)


@pytest.fixture
def inspector(w3: Web3, cred_env: CredEnv) -> CredentialRegistryClient:
    return cred_env.client(w3, cred_env.inspector)


@pytest.fixture
def disciplinary(w3: Web3, cred_env: CredEnv) -> CredentialRegistryClient:
    return cred_env.client(w3, cred_env.disciplinary)


def send_raw(client: CredentialRegistryClient, fn_name: str, *args: Any) -> Any:
    """Call the contract directly, past the client's input checks (to reach the contract's own)."""
    assert client.transactor is not None
    return client.transactor.send(getattr(client.contract.functions, fn_name)(*args))


def now_of(w3: Web3) -> int:
    return int(w3.eth.get_block("latest")["timestamp"])
