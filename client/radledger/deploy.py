"""Deploying the contracts (in-process chain or any node) and the clients of a deployment.

The deployment is the list :data:`CONTRACTS` of :class:`~radledger.deploy_plan.ContractSpec`:
each names an artifact, its constructor arguments (functions of the admin, the options and
the addresses of the contracts before it), the roles granted right after it is deployed and
the setup-file sections it handles. A later contract joins by appending a spec (and an
address field to :class:`Deployment`); deploying, resuming, dry runs, manifests,
verify-deployment and :meth:`Deployment.clients` follow from the list.

- :func:`deploy_core`: deploy the consent contracts in one call, nothing written (tests, the demo).
- :func:`deploy`: a recorded deployment: `deployments/<chainId>.json`, resumable,
  idempotent, with setup and admin hand-over (what `radledger deploy` and
  `scripts/deploy.py` run).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress
from web3 import Web3

from radledger import errors, validation
from radledger.artifacts import load_artifact
from radledger.consent import ConsentRegistryClient
from radledger.contract import ContractClient
from radledger.credentials import NO_MAXIMUM, CredentialRegistryClient
from radledger.deploy_plan import (
    DEFAULT_BREAK_GLASS_SECONDS,
    CallStep,
    ContractSpec,
    DeployContext,
    DeployOptions,
    RoleGrant,
    RoleStep,
    Step,
    fixed,
)
from radledger.deployer import DeployResult, DryRunReport, Log, StepHook, dry_run, run_deployment
from radledger.errors import ConfigurationError
from radledger.preauth import PreauthRegistryClient
from radledger.records import RecordRegistryClient
from radledger.setup_config import SetupConfig, entry_address, entry_text
from radledger.transactions import Transactor

__all__ = [
    "CONTRACTS",
    "CORE_CONTRACTS",
    "DEFAULT_BREAK_GLASS_SECONDS",
    "Clients",
    "DeployOptions",
    "DeployResult",
    "Deployment",
    "DryRunReport",
    "deploy",
    "deploy_contract",
    "deploy_core",
    "plan_deployment",
]


# --------------------------------------------------------------------- setup sections


def _custodian_steps(entries: list[dict[str, Any]], source: str) -> list[Step]:
    steps: list[Step] = []
    for i, entry in enumerate(entries):
        what = f"{source}: custodians[{i}]"
        account = entry_address(entry, "account", what, optional={"gateway_url"})
        url = entry_text(entry, "gateway_url", what)
        if not url.startswith(("https://", "http://")):
            raise ConfigurationError(f"{what}.gateway_url: {url!r} must be an http(s) URL (the site's gateway)")
        steps.append(
            CallStep("RecordRegistry", "registerCustodian", (account, url), _custodian_check(account), account)
        )
    return steps


def _custodian_check(account: ChecksumAddress) -> Callable[[ContractClient], bool]:
    def registered(client: ContractClient) -> bool:
        assert isinstance(client, RecordRegistryClient)
        try:
            client.get_custodian(account)
        except errors.CustodianNotRegistered:
            return False
        return True

    return registered


def _emergency_steps(entries: list[dict[str, Any]], source: str) -> list[Step]:
    steps: list[Step] = []
    for i, entry in enumerate(entries):
        account = entry_address(entry, "account", f"{source}: emergency_accounts[{i}]")
        steps.append(RoleStep("ConsentRegistry", "BREAK_GLASS_ROLE", account, fixed(account), prefix="setup"))
    return steps


def _schema_steps(entries: list[dict[str, Any]], source: str) -> list[Step]:
    steps: list[Step] = []
    for i, entry in enumerate(entries):
        what = f"{source}: schemas[{i}]"
        unknown = set(entry) - {"name", "revocable", "max_validity_seconds", "label"}
        if unknown:
            raise ConfigurationError(f"{what}: unknown key(s) {', '.join(sorted(unknown))}")
        name = entry_text(entry, "name", what)
        revocable = entry.get("revocable", True)
        max_validity = entry.get("max_validity_seconds", NO_MAXIMUM)
        if not isinstance(revocable, bool):
            raise ConfigurationError(f"{what}.revocable: expected true or false")
        if not isinstance(max_validity, int) or not 0 < max_validity <= NO_MAXIMUM:
            raise ConfigurationError(f"{what}.max_validity_seconds: expected seconds between 1 and {NO_MAXIMUM}")
        steps.append(
            CallStep("CredentialRegistry", "registerSchema", (name, revocable, max_validity), _schema_known(name), name)
        )
    return steps


def _schema_known(name: str) -> Callable[[ContractClient], bool]:
    def known(client: ContractClient) -> bool:
        assert isinstance(client, CredentialRegistryClient)
        return client.schema_id_of(name) is not None

    return known


def _issuer_steps(entries: list[dict[str, Any]], source: str) -> list[Step]:
    """Issuers authorized per schema, the schema named (its id is read when the step runs)."""
    steps: list[Step] = []
    for i, entry in enumerate(entries):
        what = f"{source}: issuers[{i}]"
        issuer = entry_address(entry, "account", what, optional={"schema"})
        schema = entry_text(entry, "schema", what)

        def args(client: ContractClient, schema: str = schema, issuer: ChecksumAddress = issuer) -> tuple[Any, ...]:
            return (_schema_id(client, schema), issuer)

        def done(client: ContractClient, schema: str = schema, issuer: ChecksumAddress = issuer) -> bool:
            assert isinstance(client, CredentialRegistryClient)
            found = client.schema_id_of(schema)
            return found is not None and client.is_authorized_issuer(found, issuer)

        steps.append(
            CallStep(
                "CredentialRegistry", "authorizeIssuer", args, done, f"{schema}:{issuer}", shown=f"{schema!r}, {issuer}"
            )
        )
    return steps


def _schema_id(client: ContractClient, name: str) -> int:
    assert isinstance(client, CredentialRegistryClient)
    found = client.schema_id_of(name)
    if found is None:
        raise ConfigurationError(f"no credential schema named {name!r}: add it to [[schemas]] of the setup file")
    return found


def _payer_steps(entries: list[dict[str, Any]], source: str) -> list[Step]:
    steps: list[Step] = []
    for i, entry in enumerate(entries):
        payer = entry_address(entry, "account", f"{source}: payers[{i}]")

        def registered(client: ContractClient, payer: ChecksumAddress = payer) -> bool:
            assert isinstance(client, PreauthRegistryClient)
            return client.is_payer(payer)

        steps.append(CallStep("PreauthRegistry", "registerPayer", (payer,), registered, payer))
    return steps


# ----------------------------------------------------------------------------- specs


def _admin_if_deployer(ctx: DeployContext) -> str | None:
    """The admin, when the deployer is the admin (an outside admin grants roles itself)."""
    return ctx.admin if ctx.admin == ctx.deployer else None


def _consent_checks(client: ContractClient, ctx: DeployContext) -> list[tuple[str, Any, Any]]:
    functions = client.contract.functions
    return [
        (
            "recordRegistry()",
            ctx.address("RecordRegistry"),
            Web3.to_checksum_address(functions.recordRegistry().call()),
        ),
        ("breakGlassDuration()", ctx.options.break_glass_seconds, int(functions.breakGlassDuration().call())),
    ]


def _preauth_checks(client: ContractClient, ctx: DeployContext) -> list[tuple[str, Any, Any]]:
    found = Web3.to_checksum_address(client.contract.functions.credentialRegistry().call())
    records = Web3.to_checksum_address(client.contract.functions.recordRegistry().call())
    return [
        ("credentialRegistry()", ctx.address("CredentialRegistry"), found),
        ("recordRegistry()", ctx.address("RecordRegistry"), records),
    ]


CONTRACTS: tuple[ContractSpec, ...] = (
    ContractSpec(
        name="RecordRegistry",
        address_field="record_registry",
        client_attr="records",
        client=RecordRegistryClient,
        constructor_args=lambda ctx: (ctx.admin,),
        roles=(RoleGrant("CUSTODIAN_REGISTRAR_ROLE", "admin", _admin_if_deployer),),
        setup={"custodians": _custodian_steps},
    ),
    ContractSpec(
        name="ConsentRegistry",
        address_field="consent_registry",
        client_attr="consent",
        client=ConsentRegistryClient,
        constructor_args=lambda ctx: (ctx.admin, ctx.address("RecordRegistry"), ctx.options.break_glass_seconds),
        setup={"emergency_accounts": _emergency_steps},
        checks=_consent_checks,
    ),
    ContractSpec(
        name="CredentialRegistry",
        address_field="credential_registry",
        client_attr="credentials",
        client=CredentialRegistryClient,
        constructor_args=lambda ctx: (ctx.admin,),
        roles=(
            RoleGrant("SCHEMA_REGISTRAR_ROLE", "admin", _admin_if_deployer),
            RoleGrant("ISSUER_AUTHORIZER_ROLE", "admin", _admin_if_deployer),
        ),
        setup={"schemas": _schema_steps, "issuers": _issuer_steps},
    ),
    ContractSpec(
        name="PreauthRegistry",
        address_field="preauth_registry",
        client_attr="preauth",
        client=PreauthRegistryClient,
        constructor_args=lambda ctx: (ctx.admin, ctx.address("CredentialRegistry"), ctx.address("RecordRegistry")),
        roles=(RoleGrant("PAYER_REGISTRAR_ROLE", "admin", _admin_if_deployer),),
        setup={"payers": _payer_steps},
        checks=_preauth_checks,
    ),
)
"""The contracts of a radledger deployment, in deployment order."""

CORE_CONTRACTS: tuple[ContractSpec, ...] = CONTRACTS[:2]
"""RecordRegistry and ConsentRegistry: what :func:`deploy_core` deploys (the consent story)."""


# ------------------------------------------------------------------------ deployment


@dataclass(frozen=True)
class Deployment:
    """Addresses of one deployment of the contracts."""

    chain_id: int
    record_registry: ChecksumAddress
    consent_registry: ChecksumAddress
    credential_registry: ChecksumAddress | None = None
    preauth_registry: ChecksumAddress | None = None

    def records(self, w3: Web3, transactor: Transactor | None = None) -> RecordRegistryClient:
        return RecordRegistryClient(w3, self.record_registry, transactor)

    def consent(self, w3: Web3, transactor: Transactor | None = None) -> ConsentRegistryClient:
        return ConsentRegistryClient(w3, self.consent_registry, transactor)

    def credentials(self, w3: Web3, transactor: Transactor | None = None) -> CredentialRegistryClient:
        return CredentialRegistryClient(w3, self._require("credential_registry", "CredentialRegistry"), transactor)

    def preauth(self, w3: Web3, transactor: Transactor | None = None) -> PreauthRegistryClient:
        return PreauthRegistryClient(w3, self._require("preauth_registry", "PreauthRegistry"), transactor)

    def _require(self, attr: str, name: str) -> ChecksumAddress:
        address: ChecksumAddress | None = getattr(self, attr)
        if address is None:
            raise ConfigurationError(f"this deployment has no {name} (deploy_core deploys the consent contracts only)")
        return address

    @classmethod
    def from_addresses(
        cls, chain_id: int, addresses: Mapping[str, str], specs: Sequence[ContractSpec] = CONTRACTS
    ) -> Deployment:
        """From contract name → address (a manifest's); contracts a spec marks optional may be missing."""
        names = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for spec in specs:
            if spec.name in addresses and spec.address_field in names:
                values[spec.address_field] = validation.nonzero_address(addresses[spec.name], f"{spec.name} address")
        try:
            return cls(chain_id=chain_id, **values)
        except TypeError:
            missing = [s.name for s in specs if s.address_field in names and s.address_field not in values]
            raise ConfigurationError(f"the deployment lacks {', '.join(missing)}") from None

    def addresses(self, specs: Sequence[ContractSpec] = CONTRACTS) -> dict[str, ChecksumAddress]:
        """Contract name → address, for every contract this deployment has."""
        return {s.name: getattr(self, s.address_field) for s in specs if getattr(self, s.address_field, None)}

    def clients(
        self, w3: Web3, transactor: Transactor | None = None, specs: Sequence[ContractSpec] = CONTRACTS
    ) -> Clients:
        """Every contract wrapper of this deployment, sending as `transactor` (read-only without)."""
        wrappers: dict[str, ContractClient] = {}
        attrs: dict[str, str] = {}
        for spec in specs:
            address = getattr(self, spec.address_field, None)
            if address:
                wrappers[spec.name] = spec.client(w3, address, transactor)
                attrs[spec.client_attr] = spec.name
        return Clients(self, wrappers, attrs)


class Clients:
    """The wrappers of one deployment: ``clients.records``, ``clients.consent`` (and each later
    contract's attribute), or ``clients["RecordRegistry"]``."""

    def __init__(self, deployment: Deployment, wrappers: dict[str, ContractClient], attrs: dict[str, str]) -> None:
        self.deployment = deployment
        self._wrappers = wrappers
        self._attrs = attrs

    @property
    def records(self) -> RecordRegistryClient:
        client = self._wrappers["RecordRegistry"]
        assert isinstance(client, RecordRegistryClient)
        return client

    @property
    def consent(self) -> ConsentRegistryClient:
        client = self._wrappers["ConsentRegistry"]
        assert isinstance(client, ConsentRegistryClient)
        return client

    @property
    def credentials(self) -> CredentialRegistryClient:
        client = self["CredentialRegistry"]
        assert isinstance(client, CredentialRegistryClient)
        return client

    @property
    def preauth(self) -> PreauthRegistryClient:
        client = self["PreauthRegistry"]
        assert isinstance(client, PreauthRegistryClient)
        return client

    def __getattr__(self, attr: str) -> ContractClient:
        attrs = self.__dict__.get("_attrs", {})
        if attr in attrs:
            return self._wrappers[attrs[attr]]
        raise AttributeError(f"this deployment has no {attr!r} contract")

    def __getitem__(self, name: str) -> ContractClient:
        try:
            return self._wrappers[name]
        except KeyError:
            raise KeyError(f"this deployment has no {name}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._wrappers)

    def with_sender(self, transactor: Transactor) -> Clients:
        """The same wrappers, sending as another signer."""
        return Clients(
            self.deployment, {n: c.with_sender(transactor) for n, c in self._wrappers.items()}, dict(self._attrs)
        )


# ---------------------------------------------------------------------------- deploy


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
    """Deploy RecordRegistry and ConsentRegistry with `admin` (default: the deployer) as admin;
    nothing is written.

    When the deployer is the admin it also takes the custodian-registrar role, so a fresh
    in-process deployment can register sites straight away.
    """
    options = DeployOptions(
        break_glass_seconds=break_glass_seconds,
        admin=validation.nonzero_address(admin, "admin") if admin else None,
    )
    result = run_deployment(transactor, CORE_CONTRACTS, options, artifacts_dir=artifacts_dir)
    return result.manifest.deployment()


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
