"""Deploying the contracts of :data:`~radledger.deployment.specs.CONTRACTS`, on the in-process chain or any node.

- :func:`deploy`: a recorded deployment: ``deployments/<chainId>.json``, resumable, idempotent,
  with setup and admin hand-over (what ``radledger deploy`` and ``scripts/deploy.py`` run);
  :func:`plan_deployment` is its dry run.
- :func:`deploy_core`: the consent contracts in one call, nothing written (tests, the demo).
- :func:`deploy_credentials`, :func:`deploy_preauth`: one more registry on its own, with the role
  grants its spec declares (tests, benchmarks, the gas snapshot).
- :func:`deploy_contract`: any artifact (test mocks), nothing granted.

Registry clients never deploy anything: deploying lives here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from eth_typing import ChecksumAddress

from radledger.chain import validation
from radledger.chain.artifacts import load_artifact
from radledger.chain.transactions import Transactor
from radledger.deployment.addresses import Deployment
from radledger.deployment.plan import DEFAULT_BREAK_GLASS_SECONDS, DeployContext, DeployOptions
from radledger.deployment.runner import DeployResult, DryRunReport, Log, StepHook, dry_run, run_deployment
from radledger.deployment.setup_file import SetupConfig
from radledger.deployment.specs import CONTRACTS, CORE_CONTRACTS, spec_of
from radledger.registries.credentials.client import CredentialRegistryClient

__all__ = [
    "deploy",
    "deploy_contract",
    "deploy_core",
    "deploy_credentials",
    "deploy_one",
    "deploy_preauth",
    "plan_deployment",
]


def deploy_contract(transactor: Transactor, name: str, *args: object, artifacts_dir: Path | None = None) -> str:
    """Deploy contract `name` from its artifact; returns its address."""
    artifact = load_artifact(name, artifacts_dir)
    receipt = transactor.deploy(list(artifact.abi), artifact.bytecode, *args)
    return str(receipt["contractAddress"])


def deploy_one(
    transactor: Transactor,
    name: str,
    *,
    admin: str | None = None,
    addresses: Mapping[str, str] | None = None,
    options: DeployOptions | None = None,
    artifacts_dir: Path | None = None,
) -> ChecksumAddress:
    """Deploy contract `name` of :data:`CONTRACTS` on its own, with its spec's constructor arguments
    (`addresses`: the contracts it links to, by name) and role grants; nothing is recorded.

    `admin` (default: the deployer) gets the admin role; when the deployer is the admin it also takes
    the roles the spec grants the admin, so a fresh in-process registry can be used straight away.
    """
    spec = spec_of(name)
    chosen = _with_admin(options or DeployOptions(), admin)
    links = {n: validation.nonzero_address(a, f"{n} address") for n, a in (addresses or {}).items()}
    ctx = DeployContext(transactor.address, chosen.admin or transactor.address, chosen, links)
    address = validation.nonzero_address(
        deploy_contract(transactor, spec.name, *spec.constructor_args(ctx), artifacts_dir=artifacts_dir)
    )
    client = spec.client(transactor.w3, address, transactor)
    for grant in spec.roles:
        account = grant.account(ctx)
        if account is not None:
            client.grant_role(grant.role, account)
    return address


def _with_admin(options: DeployOptions, admin: str | None) -> DeployOptions:
    """`options` with `admin` (checked) as the constructors' admin, when one is given."""
    return replace(options, admin=validation.nonzero_address(admin, "admin")) if admin else options


def deploy_credentials(
    transactor: Transactor, admin: str | None = None, artifacts_dir: Path | None = None
) -> CredentialRegistryClient:
    """Deploy CredentialRegistry with `admin` (default: the deployer) as admin; returns its client.

    When the deployer is the admin it also takes the schema-registrar and issuer-authorizer roles,
    so a fresh in-process deployment can register schemas and issuers straight away.
    """
    address = deploy_one(transactor, "CredentialRegistry", admin=admin, artifacts_dir=artifacts_dir)
    return CredentialRegistryClient(transactor.w3, address, transactor)


def deploy_preauth(
    transactor: Transactor,
    credential_registry_address: str,
    record_registry_address: str,
    admin: str | None = None,
    artifacts_dir: Path | None = None,
) -> ChecksumAddress:
    """Deploy PreauthRegistry checking credentials against `credential_registry_address`, and taking the
    active custodians of `record_registry_address` as the sites that may request; returns its address.

    `admin` (default: the deployer) gets the admin role; when the deployer is the admin it also takes
    PAYER_REGISTRAR_ROLE, so a fresh in-process deployment can register payers straight away.
    """
    links = {"CredentialRegistry": credential_registry_address, "RecordRegistry": record_registry_address}
    return deploy_one(transactor, "PreauthRegistry", admin=admin, addresses=links, artifacts_dir=artifacts_dir)


def deploy_core(
    transactor: Transactor,
    admin: str | None = None,
    break_glass_seconds: int = DEFAULT_BREAK_GLASS_SECONDS,
    artifacts_dir: Path | None = None,
) -> Deployment:
    """Deploy RecordRegistry and ConsentRegistry with `admin` (default: the deployer) as admin;
    nothing is recorded: the Deployment holds their addresses only (its readers start at block 0).

    When the deployer is the admin it also takes the custodian-registrar role, so a fresh
    in-process deployment can register sites straight away.
    """
    options = _with_admin(DeployOptions(break_glass_seconds=break_glass_seconds), admin)
    result = run_deployment(transactor, CORE_CONTRACTS, options, artifacts_dir=artifacts_dir)
    return Deployment.from_addresses(result.manifest.chain_id, result.manifest.addresses)


def deploy(
    transactor: Transactor,
    *,
    manifest_path: Path | None,
    network: str = "",
    break_glass_seconds: int = DEFAULT_BREAK_GLASS_SECONDS,
    handoff_to: str | None = None,
    setup: SetupConfig | None = None,
    fresh: bool = False,
    artifacts_dir: Path | None = None,
    on_step: StepHook | None = None,
    log: Log | None = None,
) -> DeployResult:
    """A recorded deployment: resume or confirm the one in `manifest_path`, or start it.

    The deployer is the admin while it deploys and runs `setup`; with `handoff_to` (or the
    setup file's `[admin] handoff_to`), that address then gets the admin role of every
    contract and the deployer renounces every role it holds.
    """
    options = _deploy_options(break_glass_seconds, handoff_to)
    return run_deployment(
        transactor,
        CONTRACTS,
        options,
        setup=setup,
        network=network,
        manifest_path=manifest_path,
        fresh=fresh,
        artifacts_dir=artifacts_dir,
        on_step=on_step,
        log=log or (lambda _: None),
    )


def _deploy_options(break_glass_seconds: int, handoff_to: str | None) -> DeployOptions:
    return DeployOptions(
        break_glass_seconds=break_glass_seconds,
        handoff_to=validation.nonzero_address(handoff_to, "hand-over address") if handoff_to else None,
    )


def plan_deployment(
    transactor: Transactor,
    *,
    manifest_path: Path | None,
    network: str = "",
    break_glass_seconds: int = DEFAULT_BREAK_GLASS_SECONDS,
    handoff_to: str | None = None,
    setup: SetupConfig | None = None,
    fresh: bool = False,
    artifacts_dir: Path | None = None,
) -> DryRunReport:
    """The dry run of :func:`deploy`: each transaction it would send, its gas and the cost; nothing sent."""
    options = _deploy_options(break_glass_seconds, handoff_to)
    return dry_run(
        transactor,
        CONTRACTS,
        options,
        setup=setup,
        network=network,
        manifest_path=manifest_path,
        fresh=fresh,
        artifacts_dir=artifacts_dir,
    )
