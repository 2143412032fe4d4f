"""Networks to deploy to and connect with, from `networks.toml`.

    [networks.anvil]
    rpc_url = "http://127.0.0.1:8545"   # a default; the variable below overrides it
    rpc_url_env = "ANVIL_RPC_URL"
    chain_id = 31337
    confirmations = 0

    [networks.sepolia]
    rpc_url_env = "SEPOLIA_RPC_URL"     # the URL (it often embeds an API key) stays in the environment
    chain_id = 11155111
    confirmations = 2
    max_fee_gwei = 50                   # refuse to pay more than this per gas
    priority_fee_gwei = 1.5

`kind = "in-process"` is the embedded eth-tester chain. The file is found at `--networks
PATH`, `$RADLEDGER_NETWORKS`, or `networks.toml` in the current folder; without one, the
built-in `in-process` and `anvil` entries apply. A node whose chain id differs from the
entry's is refused before anything is sent.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from web3 import Web3

from radledger.chain.connection import connect, in_process_chain
from radledger.chain.errors import ChainError, ConfigurationError
from radledger.chain.files import read_document
from radledger.chain.signers import Signer
from radledger.chain.transactions import Transactor

NETWORKS_ENV = "RADLEDGER_NETWORKS"
NETWORKS_FILE = "networks.toml"
DEPLOYER_KEY_ENV = "RADLEDGER_DEPLOYER_KEY"
"""The environment variable holding the deployer's key when the network names none."""
IN_PROCESS = "in-process"
RPC = "rpc"
GWEI = 10**9

BUILTIN: dict[str, dict[str, Any]] = {
    "in-process": {"kind": IN_PROCESS, "description": "the embedded eth-tester chain (gone when the process ends)"},
    "anvil": {
        "rpc_url": "http://127.0.0.1:8545",
        "rpc_url_env": "ANVIL_RPC_URL",
        "chain_id": 31337,
        "description": "a local anvil (npx anvil, or node_modules/.bin/anvil)",
    },
}

_KEYS = {
    "kind",
    "description",
    "rpc_url",
    "rpc_url_env",
    "chain_id",
    "confirmations",
    "timeout",
    "max_fee_gwei",
    "priority_fee_gwei",
    "key_env",
    "explorer",
    "deployments_dir",
}


@dataclass(frozen=True)
class Network:
    """One entry of networks.toml."""

    name: str
    kind: str = RPC
    description: str = ""
    rpc_url: str | None = None
    rpc_url_env: str | None = None
    chain_id: int | None = None
    confirmations: int = 0
    timeout: float = 120.0
    max_fee_gwei: float | None = None
    priority_fee_gwei: float | None = None
    key_env: str = DEPLOYER_KEY_ENV
    explorer: str | None = None
    deployments_dir: Path = field(default=Path("deployments"))

    @property
    def in_process(self) -> bool:
        return self.kind == IN_PROCESS

    @property
    def local(self) -> bool:
        """Whether the node is on this machine (receipts are polled briskly)."""
        if self.in_process:
            return True
        url = os.environ.get(self.rpc_url_env or "") or self.rpc_url or ""
        return urlsplit(url).hostname in {"127.0.0.1", "localhost", "::1"}

    @property
    def persistent(self) -> bool:
        """Whether a manifest of this network is worth writing (the in-process chain vanishes)."""
        return not self.in_process

    def url(self) -> str:
        """The RPC URL: the environment variable when set, else the file's default."""
        if self.rpc_url_env and os.environ.get(self.rpc_url_env):
            return os.environ[self.rpc_url_env].strip()
        if self.rpc_url:
            return self.rpc_url
        raise ConfigurationError(f"network {self.name}: set {self.rpc_url_env} to the node's RPC URL")

    def connect(self) -> Web3:
        """A connection to this network; a node of another chain id is refused."""
        if self.in_process:
            return in_process_chain()
        url = self.url()
        try:
            w3 = connect(url, timeout=min(self.timeout, 60.0))
        except ChainError:
            raise ChainError(f"network {self.name}: cannot reach the node at {redact(url)}") from None
        chain_id = w3.eth.chain_id
        if self.chain_id is not None and chain_id != self.chain_id:
            raise ConfigurationError(
                f"network {self.name}: the node at {redact(url)} is chain {chain_id}, not {self.chain_id}: "
                "refusing to send anything"
            )
        return w3

    def transactor(self, w3: Web3, signer: Signer, confirmations: int | None = None) -> Transactor:
        """A transactor with this network's confirmations and fee limits."""
        return FeeLimitedTransactor(
            w3,
            signer,
            confirmations=self.confirmations if confirmations is None else confirmations,
            timeout=self.timeout,
            poll_latency=0.01 if self.in_process or self.local else 0.5,
            max_fee=int(self.max_fee_gwei * GWEI) if self.max_fee_gwei is not None else None,
            priority_fee=int(self.priority_fee_gwei * GWEI) if self.priority_fee_gwei is not None else None,
        )


@dataclass
class FeeLimitedTransactor(Transactor):
    """EIP-1559 fees with an optional fixed priority fee and a cap on the maximum fee per gas."""

    max_fee: int | None = None
    priority_fee: int | None = None

    def fees(self) -> dict[str, int]:
        fees = super().fees()
        if self.priority_fee is None and self.max_fee is None:
            return fees
        base = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0))
        priority = self.priority_fee if self.priority_fee is not None else fees["maxPriorityFeePerGas"]
        max_fee = 2 * base + priority
        if self.max_fee is not None:
            if base + priority > self.max_fee:
                raise ChainError(
                    f"base fee {base / GWEI:.2f} gwei plus priority {priority / GWEI:.2f} gwei is above the network's "
                    f"max_fee_gwei {self.max_fee / GWEI:.2f}: wait for cheaper blocks or raise the limit"
                )
            max_fee = min(max_fee, self.max_fee)
        return {"maxFeePerGas": max_fee, "maxPriorityFeePerGas": priority}


def redact(url: str) -> str:
    """scheme://host[:port] only: RPC URLs often carry an API key in the path or query."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}" + ("/…" if parts.path.strip("/") or parts.query else "")


def find_networks_file(explicit: Path | str | None = None) -> Path | None:
    if explicit:
        return Path(explicit)
    if os.environ.get(NETWORKS_ENV):
        return Path(os.environ[NETWORKS_ENV])
    local = Path.cwd() / NETWORKS_FILE
    return local if local.is_file() else None


def load_networks(path: Path | str | None = None) -> dict[str, Network]:
    """The networks of `path` (or the file found by :func:`find_networks_file`, or the built-ins)."""
    source = find_networks_file(path)
    if source is None:
        return {name: _network(name, dict(entry), Path.cwd()) for name, entry in BUILTIN.items()}
    doc = read_document(source, "networks file", tomllib.loads)
    entries = doc.get("networks")
    if not isinstance(entries, dict) or not entries:
        raise ConfigurationError(f"{source}: no [networks.NAME] entries")
    unknown = set(doc) - {"networks"}
    if unknown:
        raise ConfigurationError(f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))}")
    return {name: _network(name, dict(entry), source.parent, str(source)) for name, entry in entries.items()}


def get_network(name: str, path: Path | str | None = None) -> Network:
    networks = load_networks(path)
    if name not in networks:
        raise ConfigurationError(f"unknown network {name!r}; configured: {', '.join(sorted(networks))}")
    return networks[name]


def _network(name: str, entry: dict[str, Any], base: Path, source: str = "built-in networks") -> Network:
    unknown = set(entry) - _KEYS
    if unknown:
        raise ConfigurationError(f"{source}: network {name}: unknown key(s) {', '.join(sorted(unknown))}")
    kind = entry.get("kind", RPC)
    if kind not in (RPC, IN_PROCESS):
        raise ConfigurationError(f"{source}: network {name}: kind must be {RPC!r} or {IN_PROCESS!r}")
    if kind == RPC and not (entry.get("rpc_url") or entry.get("rpc_url_env")):
        raise ConfigurationError(f"{source}: network {name}: give rpc_url_env (or rpc_url for a local node)")
    if kind == RPC and entry.get("chain_id") is None:
        raise ConfigurationError(f"{source}: network {name}: chain_id is required (a wrong node is then refused)")
    try:
        return Network(
            name=name,
            kind=kind,
            description=str(entry.get("description", "")),
            rpc_url=entry.get("rpc_url"),
            rpc_url_env=entry.get("rpc_url_env"),
            chain_id=int(entry["chain_id"]) if entry.get("chain_id") is not None else None,
            confirmations=int(entry.get("confirmations", 0)),
            timeout=float(entry.get("timeout", 120.0)),
            max_fee_gwei=float(entry["max_fee_gwei"]) if entry.get("max_fee_gwei") is not None else None,
            priority_fee_gwei=float(entry["priority_fee_gwei"]) if entry.get("priority_fee_gwei") is not None else None,
            key_env=str(entry.get("key_env", DEPLOYER_KEY_ENV)),
            explorer=entry.get("explorer"),
            deployments_dir=base / str(entry.get("deployments_dir", "deployments")),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{source}: network {name}: {exc}") from exc
