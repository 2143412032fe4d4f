"""Operator errors on a real node: one line that says what failed and what to do next."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from radledger.audit.index import AuditIndex
from radledger.audit.syncer import sync
from radledger.chain.errors import NoContractCode
from radledger.chain.transactions import Transactor
from radledger.cli import main
from radledger.deployment.addresses import Deployment
from radledger.deployment.manifest import load_manifest, manifest_path
from tests.integration.conftest import CHAIN_ID, ROOT, AnvilNode, dev_key


def test_deploy_cli_prints_one_line_when_the_node_dies_mid_deploy(
    own_anvil: AnvilNode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    own_anvil.start()
    monkeypatch.setenv("ANVIL_RPC_URL", own_anvil.url)
    monkeypatch.setenv("RADLEDGER_DEPLOYER_KEY", "0x" + dev_key(0).account.key.hex())
    monkeypatch.setenv("RADLEDGER_NETWORKS", str(ROOT / "networks.toml"))
    sent: list[str] = []
    original = Transactor.send

    def send_then_die(self: Transactor, *args: Any, **kwargs: Any) -> Any:
        receipt = original(self, *args, **kwargs)
        sent.append(receipt["transactionHash"].to_0x_hex())
        if len(sent) == 1:  # the first registry's role grant is confirmed; then the node dies
            own_anvil.stop(crash=True)
        return receipt

    monkeypatch.setattr(Transactor, "send", send_then_die)
    capsys.readouterr()
    assert main(["deploy", "--network", "anvil", "--deployments-dir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    path = manifest_path(tmp_path, CHAIN_ID)
    assert captured.err == (
        "radledger: error: DeploymentInterrupted: deployment interrupted while reading the deployer's nonce: "
        f"the node at {own_anvil.url} could not be reached (connection refused); "
        f"the manifest {path} holds every confirmed step: re-run to resume\n"
    )
    assert "Traceback" not in captured.out
    manifest = load_manifest(path)
    assert manifest.status == "in-progress" and list(manifest.contracts) == ["RecordRegistry"]


NOWHERE = "0x00000000000000000000000000000000DeaDBeef"


def test_a_site_command_at_an_address_without_code_says_so_in_one_line(
    anvil: AnvilNode, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    code = main(["record", "show", "--record-id", "0x" + "11" * 32, "--records", NOWHERE, "--rpc-url", anvil.url])
    captured = capsys.readouterr()
    assert (code, captured.out) == (1, "")
    assert captured.err == (
        f"radledger: error: NoContractCode: chain {CHAIN_ID} has no code at {NOWHERE}, where RecordRegistry "
        "should be (wrong address or network, or was the chain reset?)\n"
    )


def test_audit_sync_of_addresses_without_code_is_refused_not_an_empty_index(
    anvil: AnvilNode, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "audit.sqlite"
    capsys.readouterr()
    code = main(["audit", "sync", "--rpc-url", anvil.url, "--records", NOWHERE, "--db", str(db)])
    captured = capsys.readouterr()
    assert (code, captured.out) == (1, "")
    assert captured.err.splitlines()[-1] == (
        f"radledger: error: NoContractCode: chain {CHAIN_ID} has no code at {NOWHERE}, where RecordRegistry "
        "should be (wrong address or network, or was the chain reset?)"
    )


def test_sync_checks_the_code_of_every_contract_before_reading(anvil: AnvilNode, tmp_path: Path) -> None:
    deployment = Deployment.from_addresses(CHAIN_ID, {"RecordRegistry": NOWHERE})
    with AuditIndex(tmp_path / "audit.sqlite") as index:
        with pytest.raises(NoContractCode) as exc:
            sync(anvil.w3(), index, deployment)
        assert exc.value.args == ("RecordRegistry", NOWHERE, CHAIN_ID)
        assert index.count() == 0
