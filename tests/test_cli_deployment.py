"""Where the command line finds the contracts: each contract's option, its environment variable, or
a deployment manifest (--deployment PATH / $RADLEDGER_DEPLOYMENT), resolved in one place."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest
from web3 import Web3

from radledger.chain.eip712 import SignedMessage
from radledger.chain.errors import ConfigurationError, ValidationError
from radledger.cli import main, options
from radledger.cli.options import CONTRACT_OPTIONS, deployment_from
from radledger.deployment.addresses import Deployment
from radledger.deployment.manifest import (
    ContractRecord,
    Manifest,
    manifest_path,
    save_manifest,
)
from radledger.registries.credentials.client import CredentialRegistryClient
from tests.conftest import Actors, named_key
from tests.test_credentials_support import CredEnv

pytest_plugins = ["tests.test_credentials_support"]

RPC = "http://in-process.invalid:8545"
CHAIN_ID = 31337
DEPLOYER = Web3.to_checksum_address("0x" + "cd" * 20)


def address(byte: str) -> str:
    return Web3.to_checksum_address("0x" + byte * 20)


def write_manifest(path: Path, chain_id: int, contracts: dict[str, tuple[str, int]]) -> Path:
    """A manifest of `contracts` (name → (address, creation block)) on chain `chain_id`."""
    manifest = Manifest(chain_id=chain_id, network="test", deployer=DEPLOYER, compiler_version="0.8.37", options={})
    for name, (where, block) in contracts.items():
        manifest.contracts[name] = ContractRecord(
            Web3.to_checksum_address(where), None, block, [], f"contracts/{name}.sol", "0", "0x" + "00" * 32
        )
    save_manifest(manifest, path)
    return path


def namespace(**values: object) -> argparse.Namespace:
    """The options a command with every contract's address option parses to (unset: None)."""
    found: dict[str, object] = {spec.dest: None for spec in CONTRACT_OPTIONS.values()}
    found.update(deployment=None, rpc_url=None)
    found.update(values)
    return argparse.Namespace(**found)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("RADLEDGER_") and name != "RADLEDGER_ARTIFACTS_DIR":
            monkeypatch.delenv(name)


# ------------------------------------------------------------------------ resolution


def test_each_contract_comes_from_its_option_else_the_manifest_else_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = write_manifest(
        tmp_path / "m.json",
        CHAIN_ID,
        {"RecordRegistry": (address("11"), 5), "ConsentRegistry": (address("12"), 6)},
    )
    monkeypatch.setenv("RADLEDGER_CONSENT", address("22"))
    monkeypatch.setenv("RADLEDGER_PREAUTH", address("24"))
    found = deployment_from(namespace(records_address=address("31"), deployment=manifest))
    assert found.addresses() == {
        "RecordRegistry": address("31"),  # the option beats the manifest
        "ConsentRegistry": address("12"),  # the manifest on the command line beats the environment
        "PreauthRegistry": address("24"),  # not in the manifest: the environment
    }
    starts = (found.start_block("RecordRegistry"), found.start_block("ConsentRegistry"))
    assert (*starts, found.start_block("PreauthRegistry")) == (0, 6, 0)
    assert found.source == manifest


def test_an_address_in_the_environment_beats_the_manifest_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = write_manifest(
        tmp_path / "m.json",
        CHAIN_ID,
        {"RecordRegistry": (address("11"), 5), "CredentialRegistry": (address("13"), 7)},
    )
    monkeypatch.setenv("RADLEDGER_DEPLOYMENT", str(manifest))
    monkeypatch.setenv("RADLEDGER_RECORDS", address("21"))
    found = deployment_from(namespace())
    assert found.addresses() == {"RecordRegistry": address("21"), "CredentialRegistry": address("13")}
    assert found.start_blocks == {"CredentialRegistry": 7}


def test_a_folder_of_manifests_gives_the_one_of_the_chain(tmp_path: Path) -> None:
    write_manifest(manifest_path(tmp_path, CHAIN_ID), CHAIN_ID, {"ConsentRegistry": (address("12"), 3)})
    write_manifest(manifest_path(tmp_path, 1), 1, {"ConsentRegistry": (address("99"), 3)})
    asked: list[bool] = []

    def node_chain() -> int:
        asked.append(True)
        return CHAIN_ID

    assert deployment_from(namespace(deployment=tmp_path), chain_id=node_chain).consent_registry == address("12")
    assert asked == [True]
    assert deployment_from(namespace(deployment=tmp_path), chain_id=1).consent_registry == address("99")
    with pytest.raises(ConfigurationError):
        deployment_from(namespace(deployment=tmp_path))  # a folder needs the chain


def test_a_manifest_of_another_chain_is_refused(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "m.json", 1, {"ConsentRegistry": (address("12"), 3)})
    with pytest.raises(ConfigurationError):
        deployment_from(namespace(deployment=manifest), chain_id=CHAIN_ID)


def test_a_missing_contract_is_an_error_only_when_needed(tmp_path: Path) -> None:
    found = deployment_from(namespace(consent_address=address("12")), chain_id=CHAIN_ID)
    assert found.require("ConsentRegistry") == address("12")
    with pytest.raises(ConfigurationError):
        found.require("CredentialRegistry")
    with pytest.raises(ConfigurationError):
        deployment_from(namespace(deployment=tmp_path / "missing.json"))
    with pytest.raises(ValidationError):
        deployment_from(namespace(preauth_address="0x" + "00" * 20), chain_id=CHAIN_ID)


# ------------------------------------------------------------------------ commands


def cli_manifest(tmp_path: Path, w3: Web3, deployment: Deployment, cred_env: CredEnv | None = None) -> Path:
    contracts = {"RecordRegistry": (deployment.record_registry, 0), "ConsentRegistry": (deployment.consent_registry, 0)}
    if cred_env is not None:
        contracts["CredentialRegistry"] = (cred_env.address, 0)
    return write_manifest(manifest_path(tmp_path, int(w3.eth.chain_id)), int(w3.eth.chain_id), contracts)


def test_commands_find_every_contract_in_the_deployment_manifest(
    w3: Web3,
    deployment: Deployment,
    cred_env: CredEnv,
    actors: Actors,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(options, "connect", lambda url, *a, **k: w3)
    cli_manifest(tmp_path, w3, deployment, cred_env)
    assert main(["custodian", "show", actors.site.address, "--rpc-url", RPC, "--deployment", str(tmp_path)]) == 0
    assert f"custodian {actors.site.address}: index 1, active" in capsys.readouterr().out
    monkeypatch.setenv("RADLEDGER_DEPLOYMENT", str(tmp_path))
    assert main(["schema", "list", "--rpc-url", RPC, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [s["id"] for s in listed] == [s.schema_id for s in cred_env.client(w3).schemas()] != []


def test_a_manifest_of_another_chain_than_the_node_is_a_one_line_error(
    w3: Web3, deployment: Deployment, actors: Actors, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setattr(options, "connect", lambda url, *a, **k: w3)
    other = write_manifest(tmp_path / "1.json", 1, {"RecordRegistry": (deployment.record_registry, 0)})
    code = main(["custodian", "show", actors.site.address, "--rpc-url", RPC, "--deployment", str(other)])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("radledger: error: ConfigurationError:") and len(err.splitlines()) == 1


# ---------------------------------------------------------------------- start blocks


def test_event_readers_start_at_the_contracts_start_block(w3: Web3, cred_env: CredEnv) -> None:
    assert cred_env.client(w3).schemas() != []
    later = CredentialRegistryClient(w3, cred_env.address, start_block=w3.eth.block_number + 1)
    assert later.schemas() == []
    assert later.with_sender(cred_env.governance).start_block == later.start_block


def test_a_manifests_clients_read_events_from_each_contracts_creation_block(
    w3: Web3, deployment: Deployment, cred_env: CredEnv, tmp_path: Path
) -> None:
    chain_id = int(w3.eth.chain_id)
    path = write_manifest(
        tmp_path / "m.json",
        chain_id,
        {
            "RecordRegistry": (deployment.record_registry, 2),
            "ConsentRegistry": (deployment.consent_registry, 3),
            "CredentialRegistry": (cred_env.address, 4),
        },
    )
    clients = Deployment.from_manifest(path).clients(w3)
    assert (clients.records.start_block, clients.consent.start_block, clients.credentials.start_block) == (2, 3, 4)


def test_offline_signing_takes_the_contract_from_the_manifest_of_its_chain_without_a_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_manifest(manifest_path(tmp_path, CHAIN_ID), CHAIN_ID, {"ConsentRegistry": (address("12"), 3)})
    write_manifest(manifest_path(tmp_path, 1), 1, {"ConsentRegistry": (address("99"), 3)})
    monkeypatch.setenv("RL_TEST_OFFLINE_PATIENT_KEY", named_key("offline patient").account.key.hex())
    monkeypatch.setenv("RADLEDGER_RPC_URL", RPC)  # a node in the environment does not stop offline signing
    out = tmp_path / "grant.json"
    code = main(
        ["consent", "sign", "grant", "--key-env", "RL_TEST_OFFLINE_PATIENT_KEY", "--grantee",
         named_key("grantee").address, "--record-id", "0x" + "ab" * 32, "--scopes", "images", "--purposes", "TREAT",
         "--until", "30d", "--out", str(out), "--chain-id", str(CHAIN_ID), "--version", "0", "--epoch", "0",
         "--deployment", str(tmp_path)]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    signed = SignedMessage.load(out)
    assert (signed.domain.chain_id, signed.domain.verifying_contract) == (CHAIN_ID, address("12"))
