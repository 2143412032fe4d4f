"""Deploying the contracts (in-process chain or any node) and the clients of a deployment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eth_typing import ChecksumAddress
from web3 import Web3

from radledger import validation
from radledger.artifacts import load_artifact
from radledger.consent import ConsentRegistryClient
from radledger.records import RecordRegistryClient
from radledger.transactions import Transactor

DEFAULT_BREAK_GLASS_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Deployment:
    """Addresses of one deployment of the contracts."""

    chain_id: int
    record_registry: ChecksumAddress
    consent_registry: ChecksumAddress

    def records(self, w3: Web3, transactor: Transactor | None = None) -> RecordRegistryClient:
        return RecordRegistryClient(w3, self.record_registry, transactor)

    def consent(self, w3: Web3, transactor: Transactor | None = None) -> ConsentRegistryClient:
        return ConsentRegistryClient(w3, self.consent_registry, transactor)


def deploy_contract(transactor: Transactor, name: str, *args: object, artifacts_dir: Path | None = None) -> str:
    """Deploy contract `name` from its artifact; returns its address."""
    artifact = load_artifact(name, artifacts_dir)
    receipt = transactor.deploy(list(artifact.abi), artifact.bytecode, *args)
    return str(receipt["contractAddress"])


def deploy_core(
    transactor: Transactor,
    admin: str | None = None,
    break_glass_seconds: int = DEFAULT_BREAK_GLASS_SECONDS,
    artifacts_dir: Path | None = None,
) -> Deployment:
    """Deploy RecordRegistry and ConsentRegistry with `admin` (default: the deployer) as admin.

    When the deployer is the admin it also takes the custodian-registrar role, so a fresh
    in-process deployment can register sites straight away.
    """
    admin_address = validation.nonzero_address(admin or transactor.address, "admin")
    records = deploy_contract(transactor, "RecordRegistry", admin_address, artifacts_dir=artifacts_dir)
    consent = deploy_contract(
        transactor, "ConsentRegistry", admin_address, records, break_glass_seconds, artifacts_dir=artifacts_dir
    )
    deployment = Deployment(transactor.w3.eth.chain_id, Web3.to_checksum_address(records), Web3.to_checksum_address(consent))
    if admin_address == transactor.address:
        deployment.records(transactor.w3, transactor).grant_role("CUSTODIAN_REGISTRAR_ROLE", admin_address)
    return deployment
