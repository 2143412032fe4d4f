"""networks.toml, EIP-1559 fee limits, and the deploy commands of the CLI (no network needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radledger.chain.connection import in_process_chain
from radledger.chain.errors import ChainError, ConfigurationError
from radledger.chain.signers import UnlockedAccount
from radledger.cli import main
from radledger.deployment.networks import GWEI, FeeLimitedTransactor, get_network, load_networks, redact

ROOT = Path(__file__).resolve().parent.parent


def test_the_project_networks_file_has_local_and_testnet_entries_with_urls_from_the_environment() -> None:
    networks = load_networks(ROOT / "networks.toml")
    assert networks["in-process"].in_process
    assert networks["anvil"].chain_id == 31337 and networks["anvil"].rpc_url == "http://127.0.0.1:8545"
    sepolia = networks["sepolia"]
    assert (sepolia.chain_id, sepolia.rpc_url, sepolia.rpc_url_env) == (11155111, None, "SEPOLIA_RPC_URL")
    assert sepolia.confirmations >= 1 and sepolia.deployments_dir == ROOT / "deployments"
    for network in networks.values():
        assert network.in_process or network.chain_id is not None


def test_the_rpc_url_comes_from_the_environment_and_its_absence_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sepolia = get_network("sepolia", ROOT / "networks.toml")
    monkeypatch.delenv("SEPOLIA_RPC_URL", raising=False)
    with pytest.raises(ConfigurationError, match="set SEPOLIA_RPC_URL"):
        sepolia.url()
    monkeypatch.setenv("SEPOLIA_RPC_URL", "https://sepolia.example/v3/secret-api-key")
    assert sepolia.url() == "https://sepolia.example/v3/secret-api-key"
    anvil = get_network("anvil", ROOT / "networks.toml")
    monkeypatch.setenv("ANVIL_RPC_URL", "http://127.0.0.1:9999")
    assert anvil.url() == "http://127.0.0.1:9999"


def test_redacted_urls_keep_the_host_and_drop_keys() -> None:
    assert redact("https://sepolia.example/v3/secret-api-key") == "https://sepolia.example/…"
    assert redact("https://node.example:8545/?apikey=secret") == "https://node.example:8545/…"
    assert redact("http://127.0.0.1:8545") == "http://127.0.0.1:8545"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('rpc_url_env = "X"', "chain_id is required"),
        ("chain_id = 5", "give rpc_url_env"),
        ('rpc_url_env = "X"\nchain_id = 5\nrpc_urll = "typo"', r"unknown key\(s\) rpc_urll"),
        ('kind = "ipc"', "kind must be"),
    ],
)
def test_a_malformed_network_entry_is_refused(tmp_path: Path, entry: str, message: str) -> None:
    path = tmp_path / "networks.toml"
    path.write_text(f"[networks.broken]\n{entry}\n")
    with pytest.raises(ConfigurationError, match=message):
        load_networks(path)


def test_without_a_networks_file_the_builtin_entries_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RADLEDGER_NETWORKS", raising=False)
    assert set(load_networks()) == {"in-process", "anvil"}
    with pytest.raises(ConfigurationError, match="unknown network 'sepolia'"):
        get_network("sepolia")


def test_fees_are_eip1559_with_a_fixed_priority_and_a_cap() -> None:
    w3 = in_process_chain()
    base = int(w3.eth.get_block("latest")["baseFeePerGas"])
    signer = UnlockedAccount(w3.eth.accounts[0])
    capped = FeeLimitedTransactor(w3, signer, max_fee=base + 3 * GWEI, priority_fee=2 * GWEI)
    assert capped.fees() == {
        "maxFeePerGas": min(2 * base + 2 * GWEI, base + 3 * GWEI),
        "maxPriorityFeePerGas": 2 * GWEI,
    }
    too_low = FeeLimitedTransactor(w3, signer, max_fee=base, priority_fee=GWEI)
    with pytest.raises(ChainError, match="above the network's max_fee_gwei"):
        too_low.fees()


def test_cli_dry_run_on_the_in_process_network_prints_each_transaction(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", "--network", "in-process", "--networks", str(ROOT / "networks.toml"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "nothing is sent" in out
    assert "deploy RecordRegistry(deployer)" in out and "deploy ConsentRegistry(deployer, RecordRegistry, 86400)" in out
    assert "deploy PreauthRegistry(deployer, CredentialRegistry, RecordRegistry)" in out
    assert "total: 8 transaction(s)" in out


def test_cli_deploy_to_the_in_process_network_writes_no_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["deploy", "--network", "in-process", "--deployments-dir", str(tmp_path), "--json", "--break-glass", "2h"]
    assert main([*args, "--networks", str(ROOT / "networks.toml")]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert set(manifest["contracts"]) == {"RecordRegistry", "ConsentRegistry", "CredentialRegistry", "PreauthRegistry"}
    assert manifest["options"]["breakGlassSeconds"] == 7200
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_a_network_without_its_url_and_verify_on_an_ephemeral_chain(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SEPOLIA_RPC_URL", raising=False)
    networks = ["--networks", str(ROOT / "networks.toml")]
    assert main(["deploy", "--network", "sepolia", *networks]) == 1
    assert "set SEPOLIA_RPC_URL" in capsys.readouterr().err
    assert main(["verify-deployment", "--network", "in-process", *networks]) == 1
    assert "no deployment to verify" in capsys.readouterr().err


def test_cli_lists_networks_without_revealing_urls(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SEPOLIA_RPC_URL", "https://sepolia.example/v3/secret-api-key")
    assert main(["networks", "--networks", str(ROOT / "networks.toml")]) == 0
    out = capsys.readouterr().out
    assert "sepolia" in out and "$SEPOLIA_RPC_URL" in out and "secret-api-key" not in out


def test_a_networks_confirmations_reach_its_transactor_unless_overridden() -> None:
    w3 = in_process_chain()
    sepolia = get_network("sepolia", ROOT / "networks.toml")
    signer = UnlockedAccount(w3.eth.accounts[0])
    assert sepolia.transactor(w3, signer).confirmations == 2
    assert sepolia.transactor(w3, signer, confirmations=5).confirmations == 5
    assert sepolia.transactor(w3, signer).max_fee == 50 * GWEI  # type: ignore[attr-defined]
