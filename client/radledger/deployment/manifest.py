"""Deployment manifests: `deployments/<chainId>.json`, what was deployed where, and how.

A manifest records, for one chain, the address, transaction and block of every contract, the
artifact hashes it was deployed from, the deployer, every step done (role grants, setup,
admin hand-over) and the roles each account should hold afterwards. It is rewritten
atomically (a temporary file in the same folder, flushed, then ``os.replace``) after every
confirmed step, so an interrupted deployment leaves a valid manifest to resume from.

A manifest is a file format only: it builds no clients. Sites, issuers, payers and auditors
connect through :class:`radledger.deployment.addresses.Deployment`::

    clients = Deployment.from_manifest("deployments/11155111.json").clients(w3, transactor)
    clients.records, clients.consent, ...
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress

from radledger.chain import validation
from radledger.chain.errors import ConfigurationError
from radledger.chain.files import read_document

MANIFEST_FORMAT = "radledger-deployment/1"
STATUS_IN_PROGRESS = "in-progress"
STATUS_COMPLETE = "complete"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def manifest_path(deployments_dir: Path | str, chain_id: int) -> Path:
    """Where the manifest of chain `chain_id` lives."""
    return Path(deployments_dir) / f"{chain_id}.json"


def standard_input_dir(manifest: Path) -> Path:
    """The folder, beside a manifest, holding each contract's standard-JSON compiler input."""
    return manifest.with_name(manifest.stem + ".standard-input")


@dataclass
class ContractRecord:
    """One deployed contract."""

    address: ChecksumAddress
    tx_hash: str | None
    block_number: int | None
    constructor_args: list[Any]
    source_name: str
    source_hash: str
    bytecode_hash: str
    """keccak256 of the artifact's creation bytecode (without constructor arguments)."""
    standard_input: str | None = None
    """Path of the contract's standard-JSON input, relative to the manifest's folder."""
    adopted: bool = False
    """Found at the address its pending transaction would create (the run was interrupted
    between sending and confirming); its transaction hash may then be unknown."""

    def to_json(self) -> dict[str, Any]:
        doc = {
            "address": self.address,
            "txHash": self.tx_hash,
            "blockNumber": self.block_number,
            "constructorArgs": self.constructor_args,
            "sourceName": self.source_name,
            "sourceHash": self.source_hash,
            "bytecodeHash": self.bytecode_hash,
            "standardInput": self.standard_input,
        }
        if self.adopted:
            doc["adopted"] = True
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ContractRecord:
        return cls(
            address=validation.nonzero_address(doc["address"], "manifest contract address"),
            tx_hash=doc.get("txHash"),
            block_number=doc.get("blockNumber"),
            constructor_args=list(doc.get("constructorArgs", [])),
            source_name=doc["sourceName"],
            source_hash=doc["sourceHash"],
            bytecode_hash=doc["bytecodeHash"],
            standard_input=doc.get("standardInput"),
            adopted=bool(doc.get("adopted", False)),
        )


@dataclass
class StepRecord:
    """One confirmed step. `tx_hash` is None when the chain already showed the step done."""

    id: str
    description: str
    tx_hash: str | None
    block_number: int | None
    gas_used: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "description": self.description,
            "txHash": self.tx_hash,
            "blockNumber": self.block_number,
            "gasUsed": self.gas_used,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> StepRecord:
        return cls(doc["id"], doc.get("description", ""), doc.get("txHash"), doc.get("blockNumber"), doc.get("gasUsed"))


@dataclass(frozen=True, order=True)
class RoleRecord:
    """`account` holds `role` (its constant's name) on `contract`."""

    contract: str
    role: str
    account: ChecksumAddress

    def to_json(self) -> dict[str, Any]:
        return {"contract": self.contract, "role": self.role, "account": self.account}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> RoleRecord:
        return cls(doc["contract"], doc["role"], validation.address(doc["account"], "manifest role account"))


@dataclass
class PendingTransaction:
    """A contract creation sent but not yet confirmed when the manifest was last written."""

    step: str
    nonce: int
    predicted_address: ChecksumAddress
    sent_at_block: int

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "nonce": self.nonce,
            "predictedAddress": self.predicted_address,
            "sentAtBlock": self.sent_at_block,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> PendingTransaction:
        return cls(
            doc["step"],
            int(doc["nonce"]),
            validation.address(doc["predictedAddress"], "pending predicted address"),
            int(doc["sentAtBlock"]),
        )


@dataclass
class Manifest:
    """What is deployed on one chain (the content of `deployments/<chainId>.json`)."""

    chain_id: int
    network: str
    deployer: ChecksumAddress
    compiler_version: str
    options: dict[str, Any]
    status: str = STATUS_IN_PROGRESS
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    contracts: dict[str, ContractRecord] = field(default_factory=dict)
    steps: list[StepRecord] = field(default_factory=list)
    roles: list[RoleRecord] = field(default_factory=list)
    pending: PendingTransaction | None = None

    # ------------------------------------------------------------------ queries

    def address_of(self, name: str) -> ChecksumAddress:
        try:
            return self.contracts[name].address
        except KeyError:
            raise ConfigurationError(f"the deployment on chain {self.chain_id} has no {name}") from None

    @property
    def addresses(self) -> dict[str, ChecksumAddress]:
        return {name: record.address for name, record in self.contracts.items()}

    def step(self, step_id: str) -> StepRecord | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def start_block(self, name: str) -> int:
        """The block contract `name` was created in: where its events start (0 when unknown)."""
        record = self.contracts.get(name)
        return (record.block_number or 0) if record is not None else 0

    @property
    def first_block(self) -> int:
        """The lowest block a recorded contract was created in (0 when unknown)."""
        blocks = [r.block_number for r in self.contracts.values() if r.block_number is not None]
        return min(blocks) if blocks else 0

    # ---------------------------------------------------------------- mutation

    def grant(self, contract: str, role: str, account: str) -> None:
        record = RoleRecord(contract, role, validation.address(account, "role account"))
        if record not in self.roles:
            self.roles.append(record)
            self.roles.sort()

    def revoke(self, contract: str, role: str, account: str) -> None:
        record = RoleRecord(contract, role, validation.address(account, "role account"))
        self.roles = [r for r in self.roles if r != record]

    # ----------------------------------------------------------------- (de)serialization

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "chainId": self.chain_id,
            "network": self.network,
            "status": self.status,
            "deployer": self.deployer,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "compiler": {"version": self.compiler_version},
            "options": self.options,
            "contracts": {name: record.to_json() for name, record in self.contracts.items()},
            "steps": [s.to_json() for s in self.steps],
            "roles": [r.to_json() for r in sorted(self.roles)],
            "pending": self.pending.to_json() if self.pending else None,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Manifest:
        if doc.get("format") != MANIFEST_FORMAT:
            raise ConfigurationError(f"not a radledger deployment manifest (format {doc.get('format')!r})")
        pending = doc.get("pending")
        return cls(
            chain_id=int(doc["chainId"]),
            network=str(doc.get("network", "")),
            deployer=validation.address(doc["deployer"], "manifest deployer"),
            compiler_version=str(doc.get("compiler", {}).get("version", "")),
            options=dict(doc.get("options", {})),
            status=str(doc.get("status", STATUS_IN_PROGRESS)),
            created_at=str(doc.get("createdAt", "")),
            updated_at=str(doc.get("updatedAt", "")),
            contracts={name: ContractRecord.from_json(c) for name, c in doc.get("contracts", {}).items()},
            steps=[StepRecord.from_json(s) for s in doc.get("steps", [])],
            roles=sorted(RoleRecord.from_json(r) for r in doc.get("roles", [])),
            pending=PendingTransaction.from_json(pending) if pending else None,
        )

    def render(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"


def load_manifest(path: Path | str) -> Manifest:
    """Read a manifest; a missing or damaged file is a ConfigurationError naming it."""
    target = Path(path)
    doc = read_document(target, "deployment manifest", json.loads)
    try:
        return Manifest.from_json(doc)
    except ConfigurationError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"deployment manifest {target} is malformed: {exc!r}") from exc


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` so that a reader sees the old or the new file, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # a manifest is public information (mkstemp makes 0600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save_manifest(manifest: Manifest, path: Path) -> None:
    """Write `manifest` to `path` atomically, stamping its update time."""
    manifest.updated_at = now_iso()
    write_atomically(path, manifest.render())


def archive_manifest(path: Path) -> Path | None:
    """Move an existing manifest (and its standard inputs) aside before a --fresh deployment."""
    if not path.is_file():
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.stem}.replaced-{stamp}.json")
    os.replace(path, target)
    inputs = standard_input_dir(path)
    if inputs.is_dir():
        os.replace(inputs, standard_input_dir(target))
    return target


def find_manifest(deployments_dir: Path | str, chain_id: int) -> Manifest | None:
    path = manifest_path(deployments_dir, chain_id)
    return load_manifest(path) if path.is_file() else None


def manifest_file(path: Path | str, chain_id: int | None = None) -> Path:
    """`path` when it is a manifest; `<path>/<chain_id>.json` when it is a folder of manifests."""
    given = Path(path)
    if not given.is_dir():
        return given
    if chain_id is None:
        raise ConfigurationError(f"{given} is a folder of manifests: name the manifest file, or give the chain")
    return manifest_path(given, chain_id)


def load_deployment_manifest(path: Path | str, chain_id: int | None = None) -> Manifest:
    """The manifest at `path` (a manifest file, or a folder holding `<chainId>.json`); with
    `chain_id`, a manifest of another chain is refused."""
    target = manifest_file(path, chain_id)
    manifest = load_manifest(target)
    if chain_id is not None and manifest.chain_id != chain_id:
        raise ConfigurationError(f"{target} is a deployment on chain {manifest.chain_id}; the node is chain {chain_id}")
    return manifest
