"""Manifests on disk (atomic, validated), clients from a manifest, per-contract compiler inputs,
and bytecode comparison with immutables masked."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from web3 import Web3

from radledger.chain.artifact_dir import default_dir
from radledger.chain.artifacts import load_artifact
from radledger.chain.connection import in_process_chain
from radledger.chain.errors import ConfigurationError
from radledger.chain.signers import UnlockedAccount
from radledger.chain.transactions import Transactor
from radledger.deployment.addresses import Deployment
from radledger.deployment.deploy import deploy
from radledger.deployment.manifest import (
    ContractRecord,
    Manifest,
    PendingTransaction,
    StepRecord,
    load_manifest,
    manifest_path,
    save_manifest,
)
from radledger.deployment.runner import contract_standard_input, masked, runtime_matches
from radledger.registries.consent.client import ConsentRegistryClient
from radledger.registries.records.client import RecordRegistryClient

ADDRESS = Web3.to_checksum_address("0x" + "ab" * 20)
DEPLOYER = Web3.to_checksum_address("0x" + "cd" * 20)


def sample_manifest() -> Manifest:
    manifest = Manifest(chain_id=31337, network="anvil", deployer=DEPLOYER, compiler_version="0.8.37", options={})
    manifest.contracts["RecordRegistry"] = ContractRecord(
        ADDRESS, "0x" + "01" * 32, 1, [DEPLOYER], "contracts/RecordRegistry.sol", "abc", "0x" + "02" * 32, "x.json"
    )
    manifest.steps.append(StepRecord("deploy:RecordRegistry", "deploy RecordRegistry", "0x" + "01" * 32, 1, 1000))
    manifest.grant("RecordRegistry", "DEFAULT_ADMIN_ROLE", DEPLOYER)
    manifest.pending = PendingTransaction("deploy:ConsentRegistry", 1, ADDRESS, 1)
    return manifest


def test_a_manifest_reads_back_as_written(tmp_path: Path) -> None:
    path = tmp_path / "31337.json"
    manifest = sample_manifest()
    save_manifest(manifest, path)
    assert load_manifest(path) == manifest
    assert json.loads(path.read_text())["format"] == "radledger-deployment/1"


def test_a_failed_write_leaves_the_previous_manifest_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "31337.json"
    save_manifest(sample_manifest(), path)
    before = path.read_bytes()
    changed = sample_manifest()
    changed.status = "complete"

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_manifest(changed, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["31337.json"]  # no temporary file left behind


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot read deployment manifest"),
        ('{"format": "something-else/1"}', "not a radledger deployment manifest"),
        ('{"format": "radledger-deployment/1", "chainId": 1}', "is malformed"),
    ],
)
def test_a_damaged_manifest_is_a_configuration_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "1.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError, match=message):
        load_manifest(path)


def test_one_call_gives_every_contract_wrapper_of_a_deployment(tmp_path: Path) -> None:
    w3 = in_process_chain()
    deployer = Transactor(w3, UnlockedAccount(w3.eth.accounts[0]), poll_latency=0.005)
    path = manifest_path(tmp_path, w3.eth.chain_id)
    deploy(deployer, manifest_path=path)
    manifest = load_manifest(path)

    clients = Deployment.from_manifest(manifest).clients(w3, deployer)
    assert (
        isinstance(clients.records, RecordRegistryClient)
        and clients.records.address == manifest.addresses["RecordRegistry"]
    )
    assert isinstance(clients.consent, ConsentRegistryClient)
    assert clients["ConsentRegistry"] is clients.consent
    assert set(clients) == set(manifest.contracts)
    assert clients.consent.break_glass_duration() == 86400
    clients.records.register_custodian(w3.eth.accounts[1], "https://gateway.site-a.example/dicomweb")
    reader = Deployment.from_manifest(manifest).clients(w3)
    assert reader.records.transactor is None and reader.records.custodian_count() == 1
    with pytest.raises(AttributeError, match="no 'payers' contract"):
        _ = clients.payers

    manifest.chain_id = 1
    with pytest.raises(ConfigurationError, match="this deployment is for chain 1"):
        Deployment.from_manifest(manifest).clients(w3)


def test_each_contract_gets_the_compiler_input_of_exactly_its_sources() -> None:
    artifact = load_artifact("RecordRegistry")
    doc = contract_standard_input(artifact)
    sources = set(doc["sources"])
    assert "contracts/RecordRegistry.sol" in sources
    assert "contracts/interfaces/IRecordRegistry.sol" in sources
    assert "@openzeppelin/contracts/access/AccessControl.sol" in sources
    assert not {s for s in sources if "ConsentRegistry" in s or "mocks/" in s}
    settings = doc["settings"]
    compiled_with = json.loads((default_dir() / "RecordRegistry.json").read_text())["compiler"]["settings"]
    for key in ("viaIR", "evmVersion", "optimizer"):
        assert settings[key] == compiled_with[key], key
    assert settings["outputSelection"] == {
        artifact.source_name: {"RecordRegistry": ["abi", "evm.bytecode.object", "metadata"]}
    }


@pytest.mark.skipif(
    not os.environ.get("RADLEDGER_SLOW_TESTS"),
    reason="compiles with the wasm solc (about 15 s): RADLEDGER_SLOW_TESTS=1",
)
def test_a_contracts_own_compiler_input_reproduces_its_deployed_bytecode() -> None:
    import solcx

    root = Path(__file__).resolve().parent.parent
    artifact = load_artifact("RecordRegistry")
    doc = contract_standard_input(artifact)
    output = solcx.compile_standard(doc, solc_binary=root / "tools" / "solc-shim.cjs")
    compiled = output["contracts"][artifact.source_name][artifact.name]
    assert "0x" + compiled["evm"]["bytecode"]["object"] == artifact.bytecode


def test_runtime_comparison_ignores_immutables_and_nothing_else() -> None:
    artifact = load_artifact("ConsentRegistry")
    code = bytearray.fromhex(artifact.deployed_bytecode.removeprefix("0x"))
    refs = [r for refs in artifact.immutable_references.values() for r in refs]
    assert refs, "ConsentRegistry has immutables (the EIP-712 domain cache)"
    deployed = bytearray(code)
    for ref in refs:  # what a constructor writes there: addresses, chain id, domain separator
        deployed[ref["start"] : ref["start"] + ref["length"]] = bytes([0x5A]) * ref["length"]
    assert runtime_matches(bytes(deployed), artifact)
    assert masked(bytes(deployed), artifact) == masked(bytes(code), artifact)

    outside = next(i for i in range(len(code)) if all(not r["start"] <= i < r["start"] + r["length"] for r in refs))
    tampered = bytearray(deployed)
    tampered[outside] ^= 0xFF
    assert not runtime_matches(bytes(tampered), artifact)
    assert not runtime_matches(bytes(deployed) + b"\x00", artifact)
