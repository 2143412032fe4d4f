"""What a deployment is made of: contract specs and the steps they expand to.

A :class:`ContractSpec` names a contract's artifact, its constructor arguments (functions of
the deployer, the admin, the options and the addresses of earlier contracts), the roles to
grant right after it is deployed, and the sections of the setup file it handles. The
project's list lives in :mod:`radledger.deployment.specs`; a later contract joins by adding a spec.

A plan is a list of :class:`Step`: deploy a contract, make sure an account holds (or no
longer holds) a role, or make a setup call. Every step but a contract creation checks the
chain first (`is_done`), so re-running a plan sends only what is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress
from eth_utils import keccak
from web3 import Web3

from radledger.chain import validation
from radledger.chain.artifacts import Artifact, load_artifact
from radledger.chain.contract import ContractClient
from radledger.chain.errors import ConfigurationError
from radledger.chain.transactions import Transactor
from radledger.deployment.manifest import Manifest
from radledger.deployment.setup_file import GENERIC_SECTIONS, SetupConfig

DEFAULT_BREAK_GLASS_SECONDS = 24 * 3600
ADMIN_ROLE = "DEFAULT_ADMIN_ROLE"
ROLE_GRANTED = keccak(text="RoleGranted(bytes32,address,address)")
ROLE_REVOKED = keccak(text="RoleRevoked(bytes32,address,address)")
"""The topics of OpenZeppelin AccessControl's role events (what the manifest's roles follow)."""


@dataclass(frozen=True)
class DeployOptions:
    """Choices that shape the contracts (recorded in the manifest; a re-run must agree)."""

    break_glass_seconds: int = DEFAULT_BREAK_GLASS_SECONDS
    admin: ChecksumAddress | None = None
    """The admin the constructors get (default: the deployer, who can then run the setup)."""
    handoff_to: ChecksumAddress | None = None
    """At the end, give this address (a multisig) the admin role and renounce the deployer's roles."""

    def to_json(self, deployer: str) -> dict[str, Any]:
        return {
            "breakGlassSeconds": self.break_glass_seconds,
            "admin": self.admin or deployer,
            "handoffTo": self.handoff_to,
        }


@dataclass(frozen=True)
class DeployContext:
    """What constructor arguments and role grants are computed from."""

    deployer: ChecksumAddress
    admin: ChecksumAddress
    options: DeployOptions
    addresses: Mapping[str, ChecksumAddress]

    def address(self, name: str) -> ChecksumAddress:
        try:
            return self.addresses[name]
        except KeyError:
            raise ConfigurationError(f"{name} must be deployed before the contracts that use its address") from None


@dataclass(frozen=True)
class RoleGrant:
    """Right after its contract is deployed, grant `role` to `account(ctx)` (skipped when None).

    `who` names the account in the step id ("admin", "ConsentRegistry"), so the id is stable.
    """

    role: str
    who: str
    account: Callable[[DeployContext], str | None]


SetupBuilder = Callable[[list[dict[str, Any]], str], list["Step"]]
"""Turns a setup section's entries (and the setup file's name, for messages) into steps."""


@dataclass(frozen=True)
class ContractSpec:
    """One contract of the deployment."""

    name: str
    """Artifact (and Solidity contract) name."""
    address_field: str
    """Its address field in :class:`radledger.deployment.addresses.Deployment`."""
    client_attr: str
    """Its wrapper's attribute in :class:`radledger.deployment.addresses.Clients` (``records``); the
    command line's address option is named after it (``--records``)."""
    address_env: str
    """The environment variable that may hold its address (``RADLEDGER_RECORDS``)."""
    client: type[ContractClient]
    constructor_args: Callable[[DeployContext], tuple[Any, ...]]
    roles: tuple[RoleGrant, ...] = ()
    setup: Mapping[str, SetupBuilder] = field(default_factory=dict)
    checks: Callable[[ContractClient, DeployContext], list[tuple[str, Any, Any]]] | None = None
    """verify-deployment's extra checks: (what, expected, found) read from the deployed contract."""


# ----------------------------------------------------------------------------- environment


@dataclass
class StepEnv:
    """What steps run against: the chain, the sender, the manifest being built."""

    w3: Web3
    transactor: Transactor
    manifest: Manifest
    specs: Mapping[str, ContractSpec]
    options: DeployOptions
    artifacts_dir: Path | None = None
    _role_names: dict[str, dict[bytes, str]] = field(default_factory=dict)

    @property
    def deployer(self) -> ChecksumAddress:
        return self.transactor.address

    def context(self) -> DeployContext:
        return DeployContext(
            self.deployer, self.options.admin or self.deployer, self.options, dict(self.manifest.addresses)
        )

    def artifact(self, name: str) -> Artifact:
        return load_artifact(name, self.artifacts_dir)

    def client(self, name: str) -> ContractClient:
        spec = self.specs[name]
        return spec.client(self.w3, self.manifest.address_of(name), self.transactor, self.artifact(name))

    def role_names(self, name: str) -> dict[bytes, str]:
        """Role id → constant name for contract `name` (every public `*_ROLE` constant)."""
        if name not in self._role_names:
            client = self.client(name)
            self._role_names[name] = {client.role(r): r for r in role_constants(self.artifact(name))}
        return self._role_names[name]

    def role_name(self, name: str, role_id: bytes) -> str:
        return self.role_names(name).get(bytes(role_id), "0x" + bytes(role_id).hex())


def role_constants(artifact: Artifact) -> list[str]:
    """Names of the contract's role constants (`DEFAULT_ADMIN_ROLE`, `*_ROLE`), admin first."""
    names = [
        entry["name"]
        for entry in artifact.abi
        if entry.get("type") == "function"
        and entry["name"].endswith("_ROLE")
        and not entry.get("inputs")
        and [o["type"] for o in entry.get("outputs", [])] == ["bytes32"]
    ]
    return sorted(names, key=lambda n: (n != ADMIN_ROLE, n))


def label(value: Any, labels: Mapping[str, str]) -> str:
    """An argument for people: known addresses by name."""
    if isinstance(value, str) and value in labels:
        return labels[value]
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str) and not Web3.is_address(value):
        return repr(value)
    return str(value)


# ----------------------------------------------------------------------------------- steps


class Step:
    """One unit of a deployment; `id` is stable across runs (it keys the manifest)."""

    id: str
    contract: str

    def describe(self, env: StepEnv, labels: Mapping[str, str]) -> str:
        raise NotImplementedError

    def is_done(self, env: StepEnv) -> bool:
        """Whether the chain already shows this step's effect (never true for a creation)."""
        return False

    def precondition(self, env: StepEnv) -> None:
        """Raise ConfigurationError when sending now would do harm."""

    def function(self, env: StepEnv) -> Any:
        """The contract function to send."""
        raise NotImplementedError

    def expected_effect(self, env: StepEnv) -> None:
        """Record this step's effect in the manifest when no receipt shows it (found done)."""

    @property
    def record_when_found(self) -> bool:
        """Whether a step found already done is worth a line in the manifest."""
        return True


@dataclass
class DeployContract(Step):
    spec: ContractSpec

    def __post_init__(self) -> None:
        self.id = f"deploy:{self.spec.name}"
        self.contract = self.spec.name

    def describe(self, env: StepEnv, labels: Mapping[str, str]) -> str:
        try:
            args = self.spec.constructor_args(env.context())
        except ConfigurationError:
            return f"deploy {self.spec.name}"
        return f"deploy {self.spec.name}({', '.join(label(a, labels) for a in args)})"

    def is_done(self, env: StepEnv) -> bool:
        return self.spec.name in env.manifest.contracts

    def constructor_args(self, env: StepEnv) -> tuple[Any, ...]:
        return self.spec.constructor_args(env.context())


@dataclass
class RoleStep(Step):
    """Make sure `account` holds `role` on `contract` (grant), or that the deployer no longer does (renounce)."""

    contract: str
    role: str
    who: str
    account_of: Callable[[StepEnv], ChecksumAddress | None]
    renounce: bool = False
    prefix: str = "role"

    def __post_init__(self) -> None:
        action = "renounce" if self.renounce else "grant"
        self.id = f"{self.prefix}:{action}:{self.contract}:{self.role}:{self.who}"

    def describe(self, env: StepEnv, labels: Mapping[str, str]) -> str:
        account = self.account_of(env)
        who = label(account, labels) if account else self.who
        if self.renounce:
            return f"{self.contract}.renounceRole({self.role}, {who})"
        return f"{self.contract}.grantRole({self.role}, {who})"

    def is_done(self, env: StepEnv) -> bool:
        if self.contract not in env.manifest.contracts:
            return False
        account = self.account_of(env)
        if account is None:
            return True
        client = env.client(self.contract)
        return bool(client.has_role(self.role, account)) != self.renounce

    def precondition(self, env: StepEnv) -> None:
        if self.renounce and self.role == ADMIN_ROLE:
            successor = env.options.handoff_to
            client = env.client(self.contract)
            if successor is None or not client.has_role(ADMIN_ROLE, successor):
                raise ConfigurationError(
                    f"refusing to renounce {self.contract}'s admin role: the new admin {successor} does not hold it"
                )

    def function(self, env: StepEnv) -> Any:
        client = env.client(self.contract)
        account = self.account_of(env)
        if self.renounce:
            return client.contract.functions.renounceRole(client.role(self.role), env.deployer)
        return client.contract.functions.grantRole(client.role(self.role), account)

    def expected_effect(self, env: StepEnv) -> None:
        account = self.account_of(env)
        if account is None:
            return
        if self.renounce:
            env.manifest.revoke(self.contract, self.role, account)
        else:
            env.manifest.grant(self.contract, self.role, account)

    @property
    def record_when_found(self) -> bool:
        return not self.renounce


@dataclass
class CallStep(Step):
    """A setup call (`fn_name(*args)` on `contract`), skipped when `done(client)` says it happened.

    `args` may be a function of the contract's client, for arguments read from the chain when
    the step runs (a schema id registered by an earlier step); `shown` then describes them.
    """

    contract: str
    fn_name: str
    args: tuple[Any, ...] | Callable[[ContractClient], tuple[Any, ...]]
    done: Callable[[ContractClient], bool]
    key: str
    shown: str = ""

    def __post_init__(self) -> None:
        self.id = f"setup:{self.contract}:{self.fn_name}:{self.key}"

    def describe(self, env: StepEnv, labels: Mapping[str, str]) -> str:
        if callable(self.args):
            return f"{self.contract}.{self.fn_name}({self.shown})"
        return f"{self.contract}.{self.fn_name}({', '.join(label(a, labels) for a in self.args)})"

    def is_done(self, env: StepEnv) -> bool:
        return self.contract in env.manifest.contracts and self.done(env.client(self.contract))

    def function(self, env: StepEnv) -> Any:
        client = env.client(self.contract)
        args = self.args(client) if callable(self.args) else self.args
        return getattr(client.contract.functions, self.fn_name)(*args)


# ------------------------------------------------------------------------------------ plan


def fixed(address: str) -> Callable[[StepEnv], ChecksumAddress]:
    checked = validation.nonzero_address(address)
    return lambda env: checked


def build_plan(
    specs: Sequence[ContractSpec],
    options: DeployOptions,
    setup: SetupConfig | None,
    artifacts_dir: Path | None = None,
) -> list[Step]:
    """Every step of a deployment, in order: contracts and their roles, the setup, the hand-over."""
    steps: list[Step] = []
    for spec in specs:
        steps.append(DeployContract(spec))
        for grant in spec.roles:
            steps.append(RoleStep(spec.name, grant.role, grant.who, _grant_account(grant), prefix="roles"))
    if setup is not None:
        steps.extend(setup_steps(specs, setup, artifacts_dir))
    if options.handoff_to is not None:
        steps.extend(handoff_steps(specs, options.handoff_to, artifacts_dir))
    ids = [s.id for s in steps]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigurationError(f"the deployment plan repeats step(s): {', '.join(duplicates)}")
    return steps


def _grant_account(grant: RoleGrant) -> Callable[[StepEnv], ChecksumAddress | None]:
    def account(env: StepEnv) -> ChecksumAddress | None:
        value = grant.account(env.context())
        return None if value is None else validation.nonzero_address(value, f"{grant.role} account")

    return account


def setup_steps(specs: Sequence[ContractSpec], setup: SetupConfig, artifacts_dir: Path | None = None) -> list[Step]:
    """The steps of a setup file; a section no contract of the deployment handles is refused."""
    owners = {section: spec for spec in specs for section in spec.setup}
    names = {spec.name for spec in specs}
    steps: list[Step] = []
    for section, entries in setup.sections.items():
        if section in GENERIC_SECTIONS:
            continue
        spec = owners.get(section)
        if spec is None:
            known = ", ".join(sorted([*owners, "roles", "admin"]))
            raise ConfigurationError(f"{setup.source}: unknown section [[{section}]] (known: {known})")
        steps.extend(spec.setup[section](entries, setup.source))
    for i, entry in enumerate(setup.entries("roles")):
        contract, role = str(entry["contract"]), str(entry["role"])
        if contract not in names:
            raise ConfigurationError(f"{setup.source}: roles[{i}]: no contract {contract!r} in this deployment")
        spec = next(s for s in specs if s.name == contract)
        if role not in role_constants(load_artifact(spec.name, artifacts_dir)):
            raise ConfigurationError(f"{setup.source}: roles[{i}]: {contract} has no role {role!r}")
        account = entry["account"]
        steps.append(RoleStep(contract, role, account, fixed(account), prefix="setup"))
    return steps


def handoff_steps(
    specs: Sequence[ContractSpec], successor: ChecksumAddress, artifacts_dir: Path | None = None
) -> list[Step]:
    """Grant the admin role of every contract to `successor`, then renounce every role the deployer holds."""
    steps: list[Step] = [RoleStep(s.name, ADMIN_ROLE, successor, fixed(successor), prefix="handoff") for s in specs]
    for spec in specs:
        roles = role_constants(load_artifact(spec.name, artifacts_dir))
        # The admin role last: while the deployer holds it, a failed renounce can still be repaired.
        for role in [r for r in roles if r != ADMIN_ROLE] + [ADMIN_ROLE]:
            steps.append(RoleStep(spec.name, role, "deployer", _deployer, renounce=True, prefix="handoff"))
    return steps


def _deployer(env: StepEnv) -> ChecksumAddress:
    return env.deployer
