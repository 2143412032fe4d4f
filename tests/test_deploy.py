"""The deployment engine on the in-process chain: manifests, re-runs, setup, hand-over, dry runs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3

from radledger.chain import errors
from radledger.chain.connection import in_process_chain
from radledger.chain.errors import ConfigurationError
from radledger.chain.signers import UnlockedAccount
from radledger.chain.transactions import Transactor
from radledger.deployment.addresses import Deployment
from radledger.deployment.deploy import deploy, deploy_core, plan_deployment
from radledger.deployment.manifest import (
    Manifest,
    load_manifest,
    manifest_path,
    save_manifest,
    standard_input_dir,
)
from radledger.deployment.setup_file import parse_setup
from radledger.deployment.verification import verify_deployment


def account(w3: Web3, index: int) -> Transactor:
    return Transactor(w3, UnlockedAccount(w3.eth.accounts[index]), poll_latency=0.005)


@pytest.fixture(scope="module")
def fresh_chain() -> Web3:
    """A chain of this module only (short histories keep eth-tester's log queries fast)."""
    return in_process_chain()


@pytest.fixture(scope="module")
def recorded(fresh_chain: Web3, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One recorded deployment by account 0, made once: the chain of every test starts with it."""
    path = manifest_path(tmp_path_factory.mktemp("recorded"), fresh_chain.eth.chain_id)
    deploy(account(fresh_chain, 0), manifest_path=path)
    return path


@pytest.fixture
def chain(fresh_chain: Web3, recorded: Path) -> Iterator[Web3]:
    snapshot = fresh_chain.testing.snapshot()
    try:
        yield fresh_chain
    finally:
        fresh_chain.testing.revert(snapshot)


@pytest.fixture
def path(tmp_path: Path, chain: Web3) -> Path:
    """Where this test's manifest goes (nothing there yet: a new deployment)."""
    return manifest_path(tmp_path, chain.eth.chain_id)


@pytest.fixture
def deployed(path: Path, recorded: Path) -> Path:
    """`path` holding a copy of the module's recorded deployment (account 0 deployed it)."""
    shutil.copy(recorded, path)
    shutil.copytree(standard_input_dir(recorded), standard_input_dir(path))
    return path


def roles(manifest: Manifest) -> set[tuple[str, str, str]]:
    return {(r.contract, r.role, r.account) for r in manifest.roles}


def test_deploy_core_gives_an_outside_admin_everything_and_the_deployer_nothing(chain: Web3) -> None:
    deployer, admin = account(chain, 0), account(chain, 1)
    deployment = deploy_core(deployer, admin=admin.address, break_glass_seconds=3600)
    records, consent = deployment.records(chain), deployment.consent(chain)
    assert records.has_role("DEFAULT_ADMIN_ROLE", admin.address)
    assert consent.has_role("DEFAULT_ADMIN_ROLE", admin.address)
    assert not records.has_role("CUSTODIAN_REGISTRAR_ROLE", admin.address)  # the admin grants it itself
    assert not records.has_role("DEFAULT_ADMIN_ROLE", deployer.address)
    assert consent.break_glass_duration() == 3600


def test_a_recorded_deployment_lists_contracts_steps_and_roles(chain: Web3, path: Path) -> None:
    deployer = account(chain, 0)
    result = deploy(deployer, manifest_path=path, network="in-process")
    manifest = load_manifest(path)
    assert result.sent == [
        "deploy:RecordRegistry",
        "roles:grant:RecordRegistry:CUSTODIAN_REGISTRAR_ROLE:admin",
        "deploy:ConsentRegistry",
        "deploy:CredentialRegistry",
        "roles:grant:CredentialRegistry:SCHEMA_REGISTRAR_ROLE:admin",
        "roles:grant:CredentialRegistry:ISSUER_AUTHORIZER_ROLE:admin",
        "deploy:PreauthRegistry",
        "roles:grant:PreauthRegistry:PAYER_REGISTRAR_ROLE:admin",
    ]
    assert [s.id for s in manifest.steps] == result.sent
    assert manifest.status == "complete" and manifest.deployer == deployer.address
    assert manifest.options == {"breakGlassSeconds": 86400, "admin": deployer.address, "handoffTo": None}
    addresses = manifest.addresses
    assert manifest.contracts["ConsentRegistry"].constructor_args == [
        deployer.address,
        addresses["RecordRegistry"],
        86400,
    ]
    assert manifest.contracts["PreauthRegistry"].constructor_args == [
        deployer.address, addresses["CredentialRegistry"], addresses["RecordRegistry"]
    ]  # fmt: skip
    assert roles(manifest) == {
        ("RecordRegistry", "DEFAULT_ADMIN_ROLE", deployer.address),
        ("RecordRegistry", "CUSTODIAN_REGISTRAR_ROLE", deployer.address),
        ("ConsentRegistry", "DEFAULT_ADMIN_ROLE", deployer.address),
        ("CredentialRegistry", "DEFAULT_ADMIN_ROLE", deployer.address),
        ("CredentialRegistry", "SCHEMA_REGISTRAR_ROLE", deployer.address),
        ("CredentialRegistry", "ISSUER_AUTHORIZER_ROLE", deployer.address),
        ("PreauthRegistry", "DEFAULT_ADMIN_ROLE", deployer.address),
        ("PreauthRegistry", "PAYER_REGISTRAR_ROLE", deployer.address),
    }
    assert verify_deployment(chain, manifest).ok


def test_a_rerun_against_a_matching_deployment_sends_nothing_and_leaves_the_manifest(
    chain: Web3, deployed: Path
) -> None:
    path = deployed
    before, block = path.read_bytes(), chain.eth.block_number
    again = deploy(account(chain, 0), manifest_path=path)
    assert again.up_to_date and again.sent == [] and again.found == []
    assert chain.eth.block_number == block
    assert path.read_bytes() == before


def test_setup_registers_custodians_and_emergency_accounts_and_skips_what_the_chain_already_shows(
    chain: Web3, deployed: Path
) -> None:
    path = deployed
    deployer, site, other, emergency = (account(chain, i) for i in (0, 1, 2, 5))
    clients = Deployment.from_manifest(path).clients(chain, deployer)
    clients.records.register_custodian(site.address, "https://gateway.site-a.example/dicomweb")  # done by hand
    setup = parse_setup(
        {
            "custodians": [
                {"account": site.address, "gateway_url": "https://gateway.site-a.example/dicomweb"},
                {"account": other.address, "gateway_url": "https://gateway.site-b.example/dicomweb", "label": "B"},
            ],
            "emergency_accounts": [{"account": emergency.address}],
        }
    )
    result = deploy(deployer, manifest_path=path, setup=setup)
    assert result.found == [f"setup:RecordRegistry:registerCustodian:{site.address}"]
    assert result.sent == [
        f"setup:RecordRegistry:registerCustodian:{other.address}",
        f"setup:grant:ConsentRegistry:BREAK_GLASS_ROLE:{emergency.address}",
    ]
    assert clients.records.get_custodian(other.address).gateway_url == "https://gateway.site-b.example/dicomweb"
    assert clients.consent.has_role("BREAK_GLASS_ROLE", emergency.address)
    assert ("ConsentRegistry", "BREAK_GLASS_ROLE", emergency.address) in roles(load_manifest(path))
    assert deploy(deployer, manifest_path=path, setup=setup).up_to_date


def test_setup_registers_schemas_authorizes_issuers_by_schema_name_and_registers_payers(
    chain: Web3, deployed: Path
) -> None:
    path = deployed
    deployer, board, payer = account(chain, 0), account(chain, 2), account(chain, 3)
    setup = parse_setup(
        {
            "schemas": [
                {
                    "name": "radledger test: state medical license",
                    "revocable": True,
                    "max_validity_seconds": 86400 * 730,
                }
            ],
            "issuers": [{"account": board.address, "schema": "radledger test: state medical license"}],
            "payers": [{"account": payer.address, "label": "a synthetic health plan"}],
        }
    )
    result = deploy(deployer, manifest_path=path, setup=setup)
    assert result.sent[-3:] == [
        "setup:CredentialRegistry:registerSchema:radledger test: state medical license",
        f"setup:CredentialRegistry:authorizeIssuer:radledger test: state medical license:{board.address}",
        f"setup:PreauthRegistry:registerPayer:{payer.address}",
    ]
    clients = Deployment.from_manifest(path).clients(chain)
    schema = clients.credentials.schema_id_of("radledger test: state medical license")
    assert schema is not None and clients.credentials.is_authorized_issuer(schema, board.address)
    assert clients.preauth.is_payer(payer.address)
    assert deploy(deployer, manifest_path=path, setup=setup).up_to_date


def test_an_issuer_of_an_unknown_schema_is_refused_by_name(chain: Web3, deployed: Path) -> None:
    path = deployed
    setup = parse_setup({"issuers": [{"account": account(chain, 2).address, "schema": "no such schema"}]})
    with pytest.raises(ConfigurationError, match="no credential schema named 'no such schema'"):
        deploy(account(chain, 0), manifest_path=path, setup=setup)


def test_handoff_leaves_the_new_admin_as_the_only_role_holder(chain: Web3, path: Path) -> None:
    deployer, multisig = account(chain, 0), account(chain, 6)
    deploy(deployer, manifest_path=path, handoff_to=multisig.address)
    manifest = load_manifest(path)
    contracts = ("RecordRegistry", "ConsentRegistry", "CredentialRegistry", "PreauthRegistry")
    assert roles(manifest) == {(name, "DEFAULT_ADMIN_ROLE", multisig.address) for name in contracts}
    clients = Deployment.from_manifest(manifest).clients(chain)
    for name in contracts:
        assert clients[name].has_role("DEFAULT_ADMIN_ROLE", multisig.address)
        assert not clients[name].has_role("DEFAULT_ADMIN_ROLE", deployer.address)
    assert not clients.records.has_role("CUSTODIAN_REGISTRAR_ROLE", deployer.address)
    assert not clients.credentials.has_role("ISSUER_AUTHORIZER_ROLE", deployer.address)
    assert not clients.preauth.has_role("PAYER_REGISTRAR_ROLE", deployer.address)
    assert manifest.options["handoffTo"] == multisig.address
    assert verify_deployment(chain, manifest).ok


def test_the_deployer_never_renounces_admin_while_the_new_admin_lacks_it(chain: Web3, path: Path) -> None:
    deployer, multisig = account(chain, 0), account(chain, 6)

    def sabotage(step_id: str, manifest: Manifest) -> None:
        if step_id == "handoff:grant:ConsentRegistry:DEFAULT_ADMIN_ROLE:" + multisig.address:
            Deployment.from_manifest(manifest).clients(chain, deployer).records.revoke_role(
                "DEFAULT_ADMIN_ROLE", multisig.address
            )

    with pytest.raises(ConfigurationError, match="refusing to renounce RecordRegistry's admin role"):
        deploy(deployer, manifest_path=path, handoff_to=multisig.address, on_step=sabotage)
    assert Deployment.from_manifest(path).clients(chain).records.has_role("DEFAULT_ADMIN_ROLE", deployer.address)


def test_a_manifest_of_other_artifacts_or_options_is_refused_unless_fresh(chain: Web3, deployed: Path) -> None:
    path = deployed
    deployer = account(chain, 0)
    with pytest.raises(ConfigurationError, match="break-glass 86400 s, not 3600 s"):
        deploy(deployer, manifest_path=path, break_glass_seconds=3600)
    manifest = load_manifest(path)
    manifest.contracts["ConsentRegistry"].bytecode_hash = "0x" + "00" * 32
    save_manifest(manifest, path)
    with pytest.raises(ConfigurationError, match="built from other sources"):
        deploy(deployer, manifest_path=path)
    fresh = deploy(deployer, manifest_path=path, fresh=True)
    assert "deploy:RecordRegistry" in fresh.sent
    assert load_manifest(path).addresses != manifest.addresses


def test_a_manifest_whose_contracts_are_not_on_this_chain_is_refused(chain: Web3, deployed: Path) -> None:
    path = deployed
    other = in_process_chain()  # the same chain id, none of the code
    with pytest.raises(ConfigurationError, match="has no code there"):
        deploy(account(other, 0), manifest_path=path)


def test_dry_run_sends_nothing_and_measures_what_the_run_then_uses(chain: Web3, path: Path) -> None:
    deployer, site, emergency = account(chain, 0), account(chain, 1), account(chain, 5)
    setup = parse_setup(
        {
            "custodians": [{"account": site.address, "gateway_url": "https://gateway.site-a.example/dicomweb"}],
            "emergency_accounts": [{"account": emergency.address}],
        }
    )
    block = chain.eth.block_number
    report = plan_deployment(deployer, manifest_path=path, setup=setup)
    assert chain.eth.block_number == block and not path.exists()
    result = deploy(deployer, manifest_path=path, setup=setup)
    assert [t.step for t in report.transactions] == result.sent
    used = {s.id: s.gas_used for s in load_manifest(path).steps}
    for planned in report.transactions:
        assert abs(planned.gas - int(used[planned.step] or 0)) <= 200, planned  # calldata of other addresses
    assert report.expected_cost == report.total_gas * (report.base_fee + report.priority_fee)
    assert report.max_cost >= report.expected_cost
    assert plan_deployment(deployer, manifest_path=path, setup=setup).transactions == []


def test_a_dry_run_of_a_partial_deployment_lists_only_the_missing_steps(chain: Web3, deployed: Path) -> None:
    path = deployed
    setup = parse_setup({"emergency_accounts": [{"account": account(chain, 5).address}]})
    report = plan_deployment(account(chain, 0), manifest_path=path, setup=setup)
    assert [t.step for t in report.transactions] == [
        f"setup:grant:ConsentRegistry:BREAK_GLASS_ROLE:{account(chain, 5).address}"
    ]
    assert "ConsentRegistry.grantRole(BREAK_GLASS_ROLE" in report.lines()[3]


def test_setup_sections_no_contract_handles_are_refused_before_anything_is_sent(chain: Web3, path: Path) -> None:
    block = chain.eth.block_number
    with pytest.raises(ConfigurationError, match=r"unknown section \[\[auditors\]\]"):
        deploy(account(chain, 0), manifest_path=path, setup=parse_setup({"auditors": [{"account": "0x" + "11" * 20}]}))
    bad_role = {"roles": [{"contract": "RecordRegistry", "role": "ISSUER_ROLE", "account": "0x" + "11" * 20}]}
    with pytest.raises(ConfigurationError, match="RecordRegistry has no role 'ISSUER_ROLE'"):
        deploy(account(chain, 0), manifest_path=path, setup=parse_setup(bad_role))
    assert chain.eth.block_number == block


def test_a_reverting_step_raises_the_decoded_error_and_records_nothing(chain: Web3, deployed: Path) -> None:
    path = deployed
    deployer, emergency = account(chain, 0), account(chain, 5)
    # The deployer gives up ConsentRegistry's admin role outside the deployment ...
    Deployment.from_manifest(path).clients(chain, deployer).consent.revoke_role("DEFAULT_ADMIN_ROLE", deployer.address)
    recorded = path.read_bytes()
    # ... so a later setup step reverts: the contract's error, raised before anything is sent.
    setup = parse_setup({"emergency_accounts": [{"account": emergency.address}]})
    with pytest.raises(errors.AccessControlUnauthorizedAccount) as exc:
        deploy(deployer, manifest_path=path, setup=setup)
    assert exc.value.args == (deployer.address, bytes(32))
    assert path.read_bytes() == recorded
