"""A radledger deployment on anvil for the portal's integration tests: site = dev account 1."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress
from web3.logs import DISCARD

from radledger.chain.transactions import Transactor
from radledger.deployment.addresses import Deployment
from radledger.deployment.deploy import deploy_core
from radledger.registries.records.client import RecordRegistryClient
from tests.conftest import ARTIFACTS
from tests.integration.conftest import AnvilNode
from tests.support import register_record

SITE_URL = "https://gateway.portal-site.example/dicomweb"
SAFE_ARTIFACTS = (
    Path(__file__).resolve().parents[2]
    / "node_modules"
    / "@safe-global"
    / "safe-contracts"
    / "build"
    / "artifacts"
    / "contracts"
)


@dataclass
class PortalChain:
    anvil: AnvilNode
    deployment: Deployment
    site: Transactor

    @property
    def records(self) -> RecordRegistryClient:
        return self.deployment.records(self.site.w3, self.site)

    def register_study(self, patient: str, label: str) -> bytes:
        return register_record(self.records, patient, label)


def deploy_portal_chain(anvil: AnvilNode) -> PortalChain:
    admin = anvil.transactor(0)
    deployment = deploy_core(admin, artifacts_dir=ARTIFACTS)
    site = anvil.transactor(1)
    deployment.records(admin.w3, admin).register_custodian(site.address, SITE_URL)
    return PortalChain(anvil, deployment, site)


def safe_artifact(path: str) -> dict[str, Any]:
    """A compiled Safe contract from the npm package (@safe-global/safe-contracts)."""
    doc: dict[str, Any] = json.loads((SAFE_ARTIFACTS / path).read_text())
    return doc


def deploy_safe(transactor: Transactor, owner: ChecksumAddress) -> ChecksumAddress:
    """A 1-of-1 Safe of `owner` (singleton, proxy factory, compatibility fallback handler for ERC-1271)."""
    w3 = transactor.w3
    addresses = {}
    for name, path in (
        ("singleton", "Safe.sol/Safe.json"),
        ("factory", "proxies/SafeProxyFactory.sol/SafeProxyFactory.json"),
        ("handler", "handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json"),
    ):
        artifact = safe_artifact(path)
        addresses[name] = transactor.deploy(artifact["abi"], artifact["bytecode"])["contractAddress"]
    singleton = w3.eth.contract(address=addresses["singleton"], abi=safe_artifact("Safe.sol/Safe.json")["abi"])
    zero = "0x" + "00" * 20
    setup = singleton.encode_abi("setup", args=[[owner], 1, zero, b"", addresses["handler"], zero, 0, zero])
    factory_abi = safe_artifact("proxies/SafeProxyFactory.sol/SafeProxyFactory.json")["abi"]
    factory = w3.eth.contract(address=addresses["factory"], abi=factory_abi)
    receipt = transactor.send(factory.functions.createProxyWithNonce(addresses["singleton"], setup, 1))
    (created,) = factory.events.ProxyCreation().process_receipt(receipt, errors=DISCARD)  # other logs: the Safe's own
    return w3.to_checksum_address(created["args"]["proxy"])


def safe_message(chain_id: int, safe: str, digest: bytes) -> dict[str, Any]:
    """The EIP-712 SafeMessage an owner signs so that the Safe's ERC-1271 check accepts `digest`."""
    return {
        "types": {
            "EIP712Domain": [{"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
            "SafeMessage": [{"name": "message", "type": "bytes"}],
        },
        "primaryType": "SafeMessage",
        "domain": {"chainId": chain_id, "verifyingContract": safe},
        "message": {"message": "0x" + digest.hex()},
    }
