"""Deploying to a real node over HTTP: the script, the manifest, re-runs, verification, refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from radledger.chain import errors
from radledger.chain.errors import ConfigurationError
from radledger.cli import main
from radledger.deployment.addresses import Deployment
from radledger.deployment.deploy import deploy, plan_deployment
from radledger.deployment.manifest import load_manifest, manifest_path
from radledger.deployment.networks import get_network
from radledger.deployment.setup_file import parse_setup
from radledger.deployment.verification import verify_deployment
from tests.integration.conftest import CHAIN_ID, ROOT, AnvilNode, dev_key

CONTRACT_NAMES = ("RecordRegistry", "ConsentRegistry", "CredentialRegistry", "PreauthRegistry")
SITE = dev_key(1).address
NEW_ADMIN = dev_key(2).address
EMERGENCY = dev_key(5).address
SETUP_TOML = f"""
[admin]
handoff_to = "{NEW_ADMIN}"

[[custodians]]
label = "Northside Imaging Centre (synthetic)"
account = "{SITE}"
gateway_url = "https://gateway.northside-imaging.example/dicomweb"

[[emergency_accounts]]
account = "{EMERGENCY}"
"""


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "deploy.py"), "--network", "anvil", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "RADLEDGER_NETWORKS": str(ROOT / "networks.toml")},
        check=False,
    )


def test_script_deploys_sets_up_hands_over_and_records_a_verifiable_manifest(
    anvil_env: AnvilNode, tmp_path: Path
) -> None:
    setup = tmp_path / "setup.toml"
    setup.write_text(SETUP_TOML)
    done = run_script("--deployments-dir", str(tmp_path), "--setup", str(setup))
    assert done.returncode == 0, done.stderr

    path = manifest_path(tmp_path, CHAIN_ID)
    manifest = load_manifest(path)
    assert manifest.status == "complete" and manifest.pending is None
    assert manifest.deployer == dev_key(0).address
    assert set(manifest.contracts) == set(CONTRACT_NAMES)
    w3 = anvil_env.w3()
    for record in manifest.contracts.values():
        receipt = w3.eth.get_transaction_receipt(record.tx_hash)  # type: ignore[arg-type]
        assert receipt["contractAddress"] == record.address and receipt["blockNumber"] == record.block_number
        assert (path.parent / str(record.standard_input)).is_file()
    assert {(r.contract, r.role, r.account) for r in manifest.roles} == {
        *((name, "DEFAULT_ADMIN_ROLE", NEW_ADMIN) for name in CONTRACT_NAMES),
        ("ConsentRegistry", "BREAK_GLASS_ROLE", EMERGENCY),
    }
    clients = Deployment.from_manifest(manifest).clients(w3)
    assert clients.records.get_custodian(SITE).gateway_url == "https://gateway.northside-imaging.example/dicomweb"
    assert not clients.consent.has_role("DEFAULT_ADMIN_ROLE", manifest.deployer)
    assert verify_deployment(w3, manifest).ok

    before = path.read_bytes()
    block = w3.eth.block_number
    again = run_script("--deployments-dir", str(tmp_path), "--setup", str(setup))
    assert again.returncode == 0, again.stderr
    assert "nothing deployed" in again.stdout
    assert w3.eth.block_number == block
    assert path.read_bytes() == before


def test_fresh_deploys_anew_and_keeps_the_previous_manifest(anvil: AnvilNode, tmp_path: Path) -> None:
    path = manifest_path(tmp_path, CHAIN_ID)
    first = deploy(anvil.transactor(0), manifest_path=path, network="anvil").manifest
    second = deploy(anvil.transactor(0), manifest_path=path, network="anvil", fresh=True).manifest
    assert second.addresses["RecordRegistry"] != first.addresses["RecordRegistry"]
    assert load_manifest(path).addresses == second.addresses
    (kept,) = tmp_path.glob(f"{CHAIN_ID}.replaced-*.json")
    assert load_manifest(kept).addresses == first.addresses


def test_dry_run_prints_every_transaction_and_sends_nothing(anvil_env: AnvilNode, tmp_path: Path) -> None:
    setup = tmp_path / "setup.toml"
    setup.write_text(SETUP_TOML)
    w3 = anvil_env.w3()
    block, nonce = w3.eth.block_number, w3.eth.get_transaction_count(dev_key(0).address)
    done = run_script("--deployments-dir", str(tmp_path), "--setup", str(setup), "--dry-run", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    steps = [t["step"] for t in report["transactions"]]
    assert steps[0] == "deploy:RecordRegistry" and "deploy:ConsentRegistry" in steps
    assert steps[-1] == "handoff:renounce:PreauthRegistry:DEFAULT_ADMIN_ROLE:deployer"
    assert all(t["gas"] > 21_000 for t in report["transactions"])
    assert report["totalGas"] == sum(t["gas"] for t in report["transactions"])
    assert report["maxCost"] >= report["expectedCost"] > 0
    assert (w3.eth.block_number, w3.eth.get_transaction_count(dev_key(0).address)) == (block, nonce)
    assert not list(tmp_path.glob("*.json"))


def test_a_node_of_another_chain_is_refused_before_anything_is_sent(anvil: AnvilNode, tmp_path: Path) -> None:
    networks = tmp_path / "networks.toml"
    networks.write_text(f'[networks.wrong]\nrpc_url = "{anvil.url}"\nchain_id = 11155111\n')
    block = anvil.w3().eth.block_number
    with pytest.raises(ConfigurationError, match="chain 31337, not 11155111"):
        get_network("wrong", networks).connect()
    assert anvil.w3().eth.block_number == block


def test_verify_deployment_flags_a_role_granted_outside_the_manifest(anvil: AnvilNode, tmp_path: Path) -> None:
    deployer = anvil.transactor(0)
    path = manifest_path(tmp_path, CHAIN_ID)
    manifest = deploy(deployer, manifest_path=path, network="anvil").manifest
    w3 = deployer.w3
    assert verify_deployment(w3, manifest).ok

    Deployment.from_manifest(manifest).clients(w3, deployer).consent.grant_role("BREAK_GLASS_ROLE", EMERGENCY)
    report = verify_deployment(w3, load_manifest(path))
    assert [(c.subject, c.detail) for c in report.failures] == [
        (f"ConsentRegistry BREAK_GLASS_ROLE held by {EMERGENCY}", "not in the manifest")
    ]


def test_verify_deployment_flags_code_that_is_not_the_artifact(anvil: AnvilNode, tmp_path: Path) -> None:
    path = manifest_path(tmp_path, CHAIN_ID)
    manifest = deploy(anvil.transactor(0), manifest_path=path, network="anvil").manifest
    records, consent = manifest.contracts["RecordRegistry"], manifest.contracts["ConsentRegistry"]
    records.address, consent.address = consent.address, records.address  # each now points at the other's code
    report = verify_deployment(anvil.w3(), manifest)
    failed = {c.subject for c in report.failures}
    assert f"RecordRegistry code at {records.address} matches the artifact (immutables masked)" in failed
    assert f"ConsentRegistry code at {consent.address} matches the artifact (immutables masked)" in failed


def test_resuming_with_another_key_is_refused(anvil: AnvilNode, tmp_path: Path) -> None:
    path = manifest_path(tmp_path, CHAIN_ID)
    deploy(anvil.transactor(0), manifest_path=path, network="anvil")
    setup = parse_setup({"emergency_accounts": [{"account": EMERGENCY}]})
    with pytest.raises(ConfigurationError, match="was deployed by"):
        deploy(anvil.transactor(3), manifest_path=path, network="anvil", setup=setup)
    with pytest.raises(ConfigurationError, match="was deployed by"):
        plan_deployment(anvil.transactor(3), manifest_path=path, network="anvil", setup=setup)


def test_a_setup_step_the_deployer_may_no_longer_do_raises_the_decoded_error(anvil: AnvilNode, tmp_path: Path) -> None:
    path = manifest_path(tmp_path, CHAIN_ID)
    deployer = anvil.transactor(0)
    deploy(deployer, manifest_path=path, network="anvil", handoff_to=NEW_ADMIN)
    recorded = path.read_bytes()
    late = parse_setup({"emergency_accounts": [{"account": EMERGENCY}]})
    with pytest.raises(errors.AccessControlUnauthorizedAccount) as exc:
        deploy(deployer, manifest_path=path, network="anvil", setup=late)
    assert exc.value.args == (deployer.address, bytes(32))
    assert path.read_bytes() == recorded  # refused before sending: the manifest still tells the truth


def test_the_deployer_key_can_come_from_an_encrypted_keystore(
    anvil: AnvilNode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    keystore = dev_key(8).to_keystore(tmp_path / "deployer.json", "correct horse battery staple")
    monkeypatch.setenv("ANVIL_RPC_URL", anvil.url)
    monkeypatch.delenv("RADLEDGER_DEPLOYER_KEY", raising=False)
    monkeypatch.setenv("RADLEDGER_KEYSTORE_PASSWORD", "correct horse battery staple")
    args = ["deploy", "--network", "anvil", "--networks", str(ROOT / "networks.toml"), "--dry-run", "--json"]
    assert main([*args, "--keystore", str(keystore)]) == 0
    assert json.loads(capsys.readouterr().out)["deployer"] == dev_key(8).address

    monkeypatch.setenv("RADLEDGER_KEYSTORE_PASSWORD", "wrong")
    assert main([*args, "--keystore", str(keystore)]) == 1
    assert "wrong password" in capsys.readouterr().err
