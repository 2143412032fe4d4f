"""The base of the typed contract wrappers: a contract, a connection and an optional sender."""

from __future__ import annotations

from typing import Any

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from radledger.chain import validation
from radledger.chain.artifacts import Artifact, load_artifact
from radledger.chain.connection import is_in_process
from radledger.chain.eip712 import Domain
from radledger.chain.errors import SignerError
from radledger.chain.events.reader import ContractEvents
from radledger.chain.transactions import Transactor, call

SIGNATURE_LIFETIME = 24 * 3600
"""How long a signed message may be relayed when no deadline is given, in seconds (the library's
default and the command line's ``--deadline`` default alike)."""


class ContractClient:
    """A deployed contract with reads for anyone and writes for the transactor's signer."""

    CONTRACT_NAME = ""

    def __init__(
        self,
        w3: Web3,
        address: str,
        transactor: Transactor | None = None,
        artifact: Artifact | None = None,
        start_block: int = 0,
    ) -> None:
        self.w3 = w3
        self.start_block = max(0, int(start_block))
        """The first block that can hold this contract's events (its creation block; 0 when unknown)."""
        self.artifact = artifact or load_artifact(self.CONTRACT_NAME)
        self.address: ChecksumAddress = validation.nonzero_address(address, f"{self.CONTRACT_NAME} address")
        self.contract: Contract = w3.eth.contract(address=self.address, abi=list(self.artifact.abi))
        self.event_reader = ContractEvents(w3, self.address, self.artifact)
        """This contract's events, from the chain (the package's log reader) or from receipts."""
        self.transactor = transactor
        self._read_as: ChecksumAddress | None = None

    def with_sender(self, transactor: Transactor) -> Any:
        """The same contract, sending from another signer."""
        return type(self)(self.w3, self.address, transactor, self.artifact, self.start_block)

    def _send(self, fn_name: str, *args: Any) -> TxReceipt:
        if self.transactor is None:
            raise SignerError(f"{self.CONTRACT_NAME}.{fn_name}: this client is read-only (no signer)")
        return self.transactor.send(getattr(self.contract.functions, fn_name)(*args))

    def _call(self, fn_name: str, *args: Any) -> Any:
        return call(getattr(self.contract.functions, fn_name)(*args), self._reader())

    def _reader(self) -> ChecksumAddress | None:
        """The `from` of read calls: the sender, or on the in-process chain its first account
        (without one, the provider looks the accounts up on every call: a third of a call's time)."""
        if self.transactor is not None:
            return self.transactor.address
        if self._read_as is None and is_in_process(self.w3):
            self._read_as = self.w3.eth.accounts[0]
        return self._read_as

    def now(self) -> int:
        """The latest block's timestamp."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def role(self, name: str) -> bytes:
        """The id of role `name` (a public constant of the contract; DEFAULT_ADMIN_ROLE is zero)."""
        return bytes(self._call(name))

    def has_role(self, role_name: str, account: str) -> bool:
        return bool(self._call("hasRole", self.role(role_name), validation.address(account)))

    def grant_role(self, role_name: str, account: str) -> TxReceipt:
        return self._send("grantRole", self.role(role_name), validation.nonzero_address(account))

    def revoke_role(self, role_name: str, account: str) -> TxReceipt:
        return self._send("revokeRole", self.role(role_name), validation.address(account))

    def events(self, receipt: TxReceipt, event_name: str) -> list[dict[str, Any]]:
        """The arguments of the `event_name` logs this contract emitted in `receipt`, in order."""
        return [event.args for event in self.event_reader.in_receipt(receipt, event_name)]


class SigningContractClient(ContractClient):
    """A contract that also acts on EIP-712 signatures (its domain read through ERC-5267)."""

    def domain(self) -> Domain:
        """The contract's EIP-712 domain (ERC-5267)."""
        _, name, version, chain_id, contract, _, _ = self._call("eip712Domain")
        return Domain(name, version, chain_id, contract)

    def _deadline(self, deadline: int | None) -> int:
        """A signature's deadline: the one given (checked against the chain's time), else
        :data:`SIGNATURE_LIFETIME` from now."""
        if deadline is None:
            return self.now() + SIGNATURE_LIFETIME
        return validation.deadline(deadline, self.now())
