"""A deployment interrupted halfway: a clear ChainError, a valid manifest, and a re-run that resumes."""

from __future__ import annotations

from pathlib import Path

import pytest

from radledger.chain.errors import ChainError, ConfigurationError, DeploymentInterrupted
from radledger.deployment.deploy import deploy
from radledger.deployment.manifest import Manifest, load_manifest, manifest_path
from radledger.deployment.setup_file import parse_setup
from radledger.deployment.verification import verify_deployment
from tests.integration.conftest import CHAIN_ID, AnvilNode, dev_key

SETUP = parse_setup(
    {
        "custodians": [{"account": dev_key(1).address, "gateway_url": "https://gateway.site-a.example/dicomweb"}],
        "emergency_accounts": [{"account": dev_key(5).address}],
    }
)


def test_a_node_that_goes_away_mid_deploy_leaves_a_valid_manifest_and_a_rerun_resumes(
    own_anvil: AnvilNode, tmp_path: Path
) -> None:
    own_anvil.start()
    path = manifest_path(tmp_path / "deployments", CHAIN_ID)
    sent: list[str] = []

    def node_goes_away_after_two_steps(step_id: str, manifest: Manifest) -> None:
        sent.append(step_id)
        if len(sent) == 2:
            own_anvil.stop()  # SIGTERM: anvil writes its chain to the state file and exits

    with pytest.raises(DeploymentInterrupted) as exc:
        deploy(
            own_anvil.transactor(0),
            manifest_path=path,
            network="anvil",
            setup=SETUP,
            on_step=node_goes_away_after_two_steps,
        )
    assert exc.value.args == ("reading the deployer's nonce", path, own_anvil.url, "connection refused")
    assert str(exc.value).endswith(f"the manifest {path} holds every confirmed step: re-run to resume")
    assert sent == ["deploy:RecordRegistry", "roles:grant:RecordRegistry:CUSTODIAN_REGISTRAR_ROLE:admin"]

    interrupted = load_manifest(path)
    assert interrupted.status == "in-progress"
    assert list(interrupted.contracts) == ["RecordRegistry"]
    assert [s.id for s in interrupted.steps] == sent
    assert not list(path.parent.glob(".*.tmp"))

    own_anvil.start()  # the same port, the chain loaded from the state file
    resumed = deploy(own_anvil.transactor(0), manifest_path=path, network="anvil", setup=SETUP)
    assert resumed.sent == [
        "deploy:ConsentRegistry",
        "deploy:CredentialRegistry",
        "roles:grant:CredentialRegistry:SCHEMA_REGISTRAR_ROLE:admin",
        "roles:grant:CredentialRegistry:ISSUER_AUTHORIZER_ROLE:admin",
        "deploy:PreauthRegistry",
        "roles:grant:PreauthRegistry:PAYER_REGISTRAR_ROLE:admin",
        f"setup:RecordRegistry:registerCustodian:{dev_key(1).address}",
        f"setup:grant:ConsentRegistry:BREAK_GLASS_ROLE:{dev_key(5).address}",
    ]
    manifest = load_manifest(path)
    assert manifest.status == "complete"
    assert manifest.addresses["RecordRegistry"] == interrupted.addresses["RecordRegistry"]
    assert manifest.contracts["ConsentRegistry"].constructor_args[1] == interrupted.addresses["RecordRegistry"]
    assert verify_deployment(own_anvil.w3(), manifest).ok


def test_a_chain_that_was_reset_under_a_manifest_is_refused(own_anvil: AnvilNode, tmp_path: Path) -> None:
    own_anvil.start()
    path = manifest_path(tmp_path, CHAIN_ID)
    deploy(own_anvil.transactor(0), manifest_path=path, network="anvil")
    own_anvil.stop(crash=True)  # SIGKILL: no state written, the chain is gone
    assert own_anvil.state is not None and not own_anvil.state.exists()
    own_anvil.start()
    assert own_anvil.w3().eth.block_number == 0
    with pytest.raises(ConfigurationError, match="was the chain reset"):
        deploy(own_anvil.transactor(0), manifest_path=path, network="anvil")


def test_a_creation_sent_but_not_confirmed_is_adopted_not_deployed_twice(anvil: AnvilNode, tmp_path: Path) -> None:
    path = manifest_path(tmp_path, CHAIN_ID)
    deployer = anvil.transactor(4, confirmations=0)
    deployer.timeout = 0.5
    nonce = deployer.w3.eth.get_transaction_count(deployer.address)
    anvil.rpc("evm_setAutomine", False)
    try:
        with pytest.raises(ChainError, match="no receipt"):
            deploy(deployer, manifest_path=path, network="anvil")
        pending = load_manifest(path).pending
        assert pending is not None and pending.step == "deploy:RecordRegistry" and pending.nonce == nonce
        anvil.rpc("evm_mine")
    finally:
        anvil.rpc("evm_setAutomine", True)

    result = deploy(anvil.transactor(4), manifest_path=path, network="anvil")
    assert result.found == ["deploy:RecordRegistry"]
    assert "deploy:RecordRegistry" not in result.sent
    manifest = load_manifest(path)
    record = manifest.contracts["RecordRegistry"]
    assert record.address == pending.predicted_address and record.adopted
    assert record.tx_hash is not None and record.block_number is not None
    assert manifest.pending is None
    # nonce: the adopted creation, then exactly the steps sent in the re-run
    assert deployer.w3.eth.get_transaction_count(deployer.address) == nonce + 1 + len(result.sent)
    assert verify_deployment(anvil.w3(), manifest).ok
