"""Where a deployment's contracts are: the :class:`Deployment` value, and :func:`resolve_deployment`,
the one function that finds it from addresses given (command-line options, a configuration file),
a deployment manifest and the environment.

A Deployment holds the chain id, each contract's address and the block each was created in. Every
event reader made from it (``deployment.consent(w3)``, ``deployment.clients(w3)``, the audit's
sync, the gateway's reconciliation) starts at that block instead of block 0::

    deployment = Deployment.from_manifest("deployments/11155111.json")
    clients = deployment.clients(w3, transactor)
    clients.records, clients.consent, ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress
from web3 import Web3

from radledger.chain import validation
from radledger.chain.contract import ContractClient
from radledger.chain.errors import ConfigurationError, NoContractCode
from radledger.chain.transactions import Transactor, endpoint_of, node_errors
from radledger.deployment.manifest import Manifest, load_deployment_manifest, load_manifest, manifest_file
from radledger.deployment.specs import CONTRACTS, spec_of
from radledger.registries.consent.client import ConsentRegistryClient
from radledger.registries.credentials.client import CredentialRegistryClient
from radledger.registries.preauth.client import PreauthRegistryClient
from radledger.registries.records.client import RecordRegistryClient

DEPLOYMENT_ENV = "RADLEDGER_DEPLOYMENT"
"""The environment variable naming a deployment manifest, or a folder of them (``deployments/``)."""


class MissingContract(ConfigurationError):
    """The deployment has no address for `contract`, and something needs it."""

    def __init__(self, contract: str) -> None:
        super().__init__(f"the deployment has no {contract} address")
        self.contract = contract


_ADDRESS_FIELDS = {spec.address_field: spec.name for spec in CONTRACTS}


@dataclass(frozen=True)
class Deployment:
    """The contracts of one deployment on chain `chain_id`: their addresses (any may be missing until
    something needs it) and the block each was created in, where reading its events starts."""

    chain_id: int
    record_registry: ChecksumAddress | None = None
    consent_registry: ChecksumAddress | None = None
    credential_registry: ChecksumAddress | None = None
    preauth_registry: ChecksumAddress | None = None
    start_blocks: Mapping[str, int] = field(default_factory=dict)
    """Contract name → the block it was created in (0, the default, when unknown)."""
    source: Path | None = field(default=None, compare=False)
    """The manifest the addresses came from, if one did."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "chain_id", int(self.chain_id))
        for attr, name in _ADDRESS_FIELDS.items():
            value = getattr(self, attr)
            if value is not None:
                object.__setattr__(self, attr, validation.nonzero_address(value, f"{name} address"))
        present = self.addresses()
        if len(set(present.values())) != len(present):
            raise ConfigurationError("two contracts of the deployment share an address")
        unknown = set(self.start_blocks) - set(present)
        if unknown:
            raise ConfigurationError(f"start blocks of contracts without an address: {', '.join(sorted(unknown))}")
        object.__setattr__(self, "start_blocks", {n: max(0, int(b)) for n, b in sorted(self.start_blocks.items())})

    # ------------------------------------------------------------------ queries

    def addresses(self) -> dict[str, ChecksumAddress]:
        """Contract name → address, for every contract this deployment has."""
        found = {spec.name: getattr(self, spec.address_field) for spec in CONTRACTS}
        return {name: address for name, address in found.items() if address is not None}

    def address_of(self, name: str) -> ChecksumAddress | None:
        """The address of contract `name` (``ConsentRegistry``), None when this deployment has none."""
        address: ChecksumAddress | None = getattr(self, spec_of(name).address_field)
        return address

    def require(self, name: str) -> ChecksumAddress:
        """The address of contract `name`; :class:`MissingContract` when this deployment has none."""
        address = self.address_of(name)
        if address is None:
            raise MissingContract(name)
        return address

    def start_block(self, name: str) -> int:
        """The block contract `name` was created in: where its events start (0 when unknown)."""
        return self.start_blocks.get(name, 0)

    # ----------------------------------------------------------------- variants

    def with_contracts(self, addresses: Mapping[str, str]) -> Deployment:
        """This deployment and the contracts `addresses` names (name → address), read from block 0."""
        values: dict[str, Any] = {spec_of(name).address_field: address for name, address in addresses.items()}
        starts = {name: block for name, block in self.start_blocks.items() if name not in addresses}
        return replace(self, **values, start_blocks=starts)

    def linked(self, w3: Web3) -> Deployment:
        """This deployment with its RecordRegistry, when it has none, read from its ConsentRegistry
        (which names the RecordRegistry it checks records against)."""
        if self.record_registry is not None:
            return self
        if self.consent_registry is None:
            raise MissingContract("RecordRegistry")
        self.require_code(w3, "ConsentRegistry")
        linked = self.consent(w3).contract.functions.recordRegistry().call()
        return self.with_contracts({"RecordRegistry": Web3.to_checksum_address(linked)})

    def require_code(self, w3: Web3, name: str) -> ChecksumAddress:
        """The address of `name`, once the node has shown there is code there: else
        :class:`NoContractCode` (a wrong address or network, or a chain reset under a manifest)."""
        address = self.require(name)
        with node_errors(endpoint_of(w3)):
            code = w3.eth.get_code(address)
        if not code:
            raise NoContractCode(name, address, self.chain_id)
        return address

    def reading_from(self, block: int) -> Deployment:
        """The same contracts, every one's events read from `block`."""
        return replace(self, start_blocks={name: block for name in self.addresses()})

    # ------------------------------------------------------------------ clients

    def records(self, w3: Web3, transactor: Transactor | None = None) -> RecordRegistryClient:
        return RecordRegistryClient(**self._client_args("RecordRegistry", w3, transactor))

    def consent(self, w3: Web3, transactor: Transactor | None = None) -> ConsentRegistryClient:
        return ConsentRegistryClient(**self._client_args("ConsentRegistry", w3, transactor))

    def credentials(self, w3: Web3, transactor: Transactor | None = None) -> CredentialRegistryClient:
        return CredentialRegistryClient(**self._client_args("CredentialRegistry", w3, transactor))

    def preauth(self, w3: Web3, transactor: Transactor | None = None) -> PreauthRegistryClient:
        return PreauthRegistryClient(**self._client_args("PreauthRegistry", w3, transactor))

    def _client_args(self, name: str, w3: Web3, transactor: Transactor | None) -> dict[str, Any]:
        return {
            "w3": w3,
            "address": self.require(name),
            "transactor": transactor,
            "start_block": self.start_block(name),
        }

    def clients(self, w3: Web3, transactor: Transactor | None = None, check_chain: bool = True) -> Clients:
        """Every contract wrapper of this deployment, sending as `transactor` (read-only without); each
        reads its events from the block it was created in. With `check_chain`, a node of another
        chain is refused."""
        if check_chain:
            chain_id = int(w3.eth.chain_id)
            if chain_id != self.chain_id:
                raise ConfigurationError(f"this deployment is for chain {self.chain_id}; the node is chain {chain_id}")
        wrappers: dict[str, ContractClient] = {}
        attrs: dict[str, str] = {}
        for spec in CONTRACTS:
            address = self.address_of(spec.name)
            if address is not None:
                wrappers[spec.name] = spec.client(w3, address, transactor, start_block=self.start_block(spec.name))
                attrs[spec.client_attr] = spec.name
        return Clients(self, wrappers, attrs)

    # ------------------------------------------------------------- constructors

    @classmethod
    def from_addresses(
        cls,
        chain_id: int,
        addresses: Mapping[str, str],
        start_blocks: Mapping[str, int] | None = None,
        source: Path | None = None,
    ) -> Deployment:
        """From contract name → address (and → start block); a name radledger does not know is refused."""
        values: dict[str, Any] = {spec_of(name).address_field: address for name, address in addresses.items()}
        return cls(chain_id, **values, start_blocks=dict(start_blocks or {}), source=source)

    @classmethod
    def from_manifest(cls, manifest: Manifest | Path | str) -> Deployment:
        """The contracts a manifest (or the manifest file at a path) records, with their creation blocks."""
        source = None
        if not isinstance(manifest, Manifest):
            source = Path(manifest)
            manifest = load_manifest(source)
        known = {spec.name for spec in CONTRACTS}
        listed = {name: record for name, record in manifest.contracts.items() if name in known}
        return cls.from_addresses(
            manifest.chain_id,
            {name: record.address for name, record in listed.items()},
            {name: record.block_number for name, record in listed.items() if record.block_number is not None},
            source,
        )


class Clients:
    """The wrappers of one deployment: ``clients.records``, ``clients.consent`` (and each later
    contract's attribute), or ``clients["RecordRegistry"]``."""

    def __init__(self, deployment: Deployment, wrappers: dict[str, ContractClient], attrs: dict[str, str]) -> None:
        self.deployment = deployment
        self._wrappers = wrappers
        self._attrs = attrs

    @property
    def records(self) -> RecordRegistryClient:
        client = self["RecordRegistry"]
        assert isinstance(client, RecordRegistryClient)
        return client

    @property
    def consent(self) -> ConsentRegistryClient:
        client = self["ConsentRegistry"]
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


def resolve_deployment(
    addresses: Mapping[str, str | None] | None = None,
    manifest: Path | str | None = None,
    *,
    chain_id: int | Callable[[], int] | None = None,
    environ: Mapping[str, str] | None = None,
    default_manifest: Path | None = None,
) -> Deployment:
    """The deployment to work with: the one place addresses are resolved (the CLI, the gateway and
    the audit all come here).

    Each contract's address comes from, in order: `addresses` (contract name → address, from
    command-line options or a configuration file), the `manifest` given, its variable in `environ`
    (``RADLEDGER_CONSENT``...), the manifest ``RADLEDGER_DEPLOYMENT`` of `environ` names (what is
    given before the environment; a single address before a manifest), and last `default_manifest`
    if that file exists. A manifest's addresses bring their creation blocks.

    A manifest may be a folder of ``<chainId>.json`` files: it needs the chain id (`chain_id`, or a
    function asking the node, called once when needed); a manifest of another chain than `chain_id`
    is refused. Without a manifest the chain id is `chain_id`'s.
    """
    env: Mapping[str, str] = environ if environ is not None else {}
    given = {name: value for name, value in (addresses or {}).items() if value}
    for name in given:
        spec_of(name)  # an unknown contract is refused
    source = Path(manifest) if manifest else None
    if source is None and env.get(DEPLOYMENT_ENV):
        source = Path(env[DEPLOYMENT_ENV])
    if source is None and default_manifest is not None and default_manifest.is_file():
        source = default_manifest
    known: int | None = None
    loaded: Manifest | None = None
    path: Path | None = None
    if source is not None:
        known = chain_id() if callable(chain_id) else chain_id
        path = manifest_file(source, known)
        loaded = load_deployment_manifest(path, known)
    found: dict[str, ChecksumAddress] = {}
    start_blocks: dict[str, int] = {}
    for spec in CONTRACTS:
        listed = loaded is not None and spec.name in loaded.contracts
        value = given.get(spec.name)
        if value is None and not (listed and manifest):
            value = env.get(spec.address_env) or None
        if value is not None:
            found[spec.name] = validation.nonzero_address(value.strip(), f"{spec.name} address")
        elif loaded is not None and listed:
            found[spec.name] = loaded.address_of(spec.name)
            start_blocks[spec.name] = loaded.start_block(spec.name)
    if loaded is not None:
        chain = loaded.chain_id
    elif known is not None:
        chain = known
    elif chain_id is not None:
        chain = chain_id() if callable(chain_id) else chain_id
    else:
        raise ConfigurationError("the deployment's chain is unknown: give its chain id, or a deployment manifest")
    return Deployment.from_addresses(chain, found, start_blocks, path)


def consent_deployment(
    w3: Web3, records: str | None, consent: str | None, manifest: Path | str | None, what: str
) -> Deployment:
    """What a site service (the gateway, the portal) works with: a ConsentRegistry and the
    RecordRegistry it checks records against, from its configuration's addresses or manifest,
    with their start blocks; without a RecordRegistry, the one the ConsentRegistry reads."""
    if manifest is None and consent is None:
        raise ConfigurationError(f"the {what} configuration names no contracts: [chain] manifest, or consent")
    given = {"RecordRegistry": records, "ConsentRegistry": consent}
    deployment = resolve_deployment(given, manifest, chain_id=int(w3.eth.chain_id))
    deployment.require("ConsentRegistry")
    return deployment.linked(w3)


__all__ = ["DEPLOYMENT_ENV", "Clients", "Deployment", "MissingContract", "consent_deployment", "resolve_deployment"]
