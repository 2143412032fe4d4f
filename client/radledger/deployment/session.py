"""Working with a deployment: a :class:`Session` (a node, the deployment on it and, to send, a
transactor), and a :class:`SigningSetup` (what a message signed for a contract commits to, with
or without a node).

The command line opens one session per command; a script does the same::

    session = open_session(lambda: connect(url), environ=os.environ, signer=load_signer())
    session.consent().grant(...)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from eth_typing import ChecksumAddress
from web3 import Web3

from radledger.chain import validation
from radledger.chain.contract import SigningContractClient
from radledger.chain.eip712 import Domain
from radledger.chain.errors import ConfigurationError, SignerError
from radledger.chain.signers import Signer
from radledger.chain.transactions import Transactor
from radledger.deployment.addresses import Deployment, resolve_deployment
from radledger.registries.consent.client import ConsentRegistryClient
from radledger.registries.credentials.client import CredentialRegistryClient
from radledger.registries.parsing import parse_when, wall_clock
from radledger.registries.preauth.client import PreauthRegistryClient
from radledger.registries.records.client import RecordRegistryClient

RPC_URL_ENV = "RADLEDGER_RPC_URL"
"""The environment variable holding the node's JSON-RPC URL when none is given."""


@dataclass
class Session:
    """A node, the deployment on it and (for sending) a transactor; every client reads its events
    from its contract's start block."""

    w3: Web3
    deployment: Deployment
    transactor: Transactor | None = None
    _with_code: set[str] = field(default_factory=set, repr=False)

    def records(self) -> RecordRegistryClient:
        """RecordRegistry: its own address, else the one the ConsentRegistry reads."""
        self.deployment = self.deployment.linked(self.w3)
        self._check_code("RecordRegistry")
        return self.deployment.records(self.w3, self.transactor)

    def consent(self) -> ConsentRegistryClient:
        self._check_code("ConsentRegistry")
        return self.deployment.consent(self.w3, self.transactor)

    def credentials(self) -> CredentialRegistryClient:
        self._check_code("CredentialRegistry")
        return self.deployment.credentials(self.w3, self.transactor)

    def preauth(self) -> PreauthRegistryClient:
        self._check_code("PreauthRegistry")
        return self.deployment.preauth(self.w3, self.transactor)

    def _check_code(self, name: str) -> None:
        """Once per contract: NoContractCode when the node has no code at its address."""
        address = self.deployment.require(name)
        if address not in self._with_code:
            self.deployment.require_code(self.w3, name)
            self._with_code.add(address)

    def now(self) -> int:
        """The chain's time (the latest block's timestamp)."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    @property
    def sender(self) -> ChecksumAddress:
        if self.transactor is None:
            raise SignerError("this session has no signer")
        return self.transactor.address


def open_session(
    node: Web3 | Callable[[], Web3],
    *,
    addresses: Mapping[str, str | None] | None = None,
    manifest: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    signer: Signer | None = None,
) -> Session:
    """A session on `node` (a connection, or a function making one, called once) with the deployment
    :func:`~radledger.deployment.addresses.resolve_deployment` finds from `addresses`, `manifest` and
    `environ`; it sends as `signer` when one is given.

    The addresses are resolved before the node is asked anything but the chain id a manifest (or
    their chain) needs; a manifest of another chain than the node's is refused.
    """
    connected: list[Web3] = [node] if isinstance(node, Web3) else []

    def w3() -> Web3:
        if not connected:
            assert callable(node)
            connected.append(node())
        return connected[0]

    deployment = resolve_deployment(addresses, manifest, chain_id=lambda: int(w3().eth.chain_id), environ=environ)
    return Session(w3(), deployment, Transactor(w3(), signer) if signer is not None else None)


SignedFor = TypeVar("SignedFor", bound=SigningContractClient)


@dataclass(frozen=True)
class SigningSetup(Generic[SignedFor]):
    """What a message is signed for: the signer, the contract's EIP-712 domain, the time its
    deadline counts from and, when a node is at hand, the contract's client (it reads the counters
    the message commits to; offline they are given)."""

    signer: Signer
    domain: Domain
    now: int
    client: SignedFor | None = None

    @classmethod
    def offline(cls, signer: Signer, domain: Domain) -> SigningSetup[SignedFor]:
        """No node: the domain is given, and deadlines count from this machine's clock."""
        return cls(signer, domain, wall_clock())

    @classmethod
    def online(cls, signer: Signer, client: SignedFor, chain_id: int | None = None) -> SigningSetup[SignedFor]:
        """From the contract on a node (refused when it is not chain `chain_id`), at the chain's time."""
        node_chain = int(client.w3.eth.chain_id)
        if chain_id is not None and node_chain != chain_id:
            raise ConfigurationError(f"the node is chain {node_chain}, not --chain-id {chain_id}")
        return cls(signer, client.domain(), client.now(), client)

    def deadline(self, text: str) -> int:
        """The deadline `text` names (an ISO time, unix seconds, a duration from now), checked."""
        return validation.deadline(parse_when(text, self.now, "--deadline"), self.now)
