"""Sending transactions the same way on the in-process chain and on a real node.

Unlocked accounts transact through the node; key signers build EIP-1559 transactions,
sign locally and send them raw, with a nonce kept per account under a lock so that
concurrent senders from one account never collide. Every revert, from eth-tester or a
node, becomes the decoded :class:`radledger.errors.ContractError`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import requests
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import Web3Exception
from web3.types import TxParams, TxReceipt, Wei

from radledger.chain.errors import (
    ChainError,
    NodeUnreachable,
    RadledgerError,
    TransactionReverted,
    decode_revert,
    is_revert,
    revert_data_of,
    unreachable_reason,
)
from radledger.chain.signers import Signer

T = TypeVar("T")

DEFAULT_PRIORITY_FEE = 1_000_000_000  # 1 gwei, when the node has no opinion


@contextmanager
def decoded_reverts(tx_hash: str | None = None) -> Iterator[None]:
    """Turn a revert raised inside the block into the decoded contract error."""
    try:
        yield
    except TransactionReverted:
        raise
    except Exception as exc:
        if not is_revert(exc):
            raise
        data = revert_data_of(exc)
        raise decode_revert(data or b"", tx_hash) from exc


def endpoint_of(w3: Any) -> str | None:
    """The URL of `w3`'s node, when it is one over HTTP or WebSocket (None in process)."""
    uri = getattr(getattr(w3, "provider", None), "endpoint_uri", None)
    return str(uri) if uri else None


@contextmanager
def node_errors(url: str | None = None) -> Iterator[None]:
    """Turn a node's refusal (insufficient funds, nonce too low...) into ChainError, and a lost
    connection to the node (at `url`) into :class:`NodeUnreachable`."""
    try:
        yield
    except RadledgerError:
        raise
    except (Web3Exception, requests.RequestException, OSError) as exc:
        reason = unreachable_reason(exc)
        if reason is not None:
            raise NodeUnreachable(url, reason) from exc
        response = getattr(exc, "rpc_response", None)
        error = response.get("error") if isinstance(response, dict) else None
        detail = error.get("message") if isinstance(error, dict) and error.get("message") else str(exc)
        raise ChainError(f"the node refused or could not be reached: {detail}") from exc


def call(fn: ContractFunction, sender: ChecksumAddress | None = None, block: Any = "latest") -> Any:
    """Call a view (or simulate a transaction) with decoded reverts."""
    with decoded_reverts():
        params: TxParams = {"from": sender} if sender else {}
        return fn.call(params, block_identifier=block)


@dataclass
class _NonceTracker:
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_nonce: int | None = None
    last_hash: str | None = None


@dataclass
class Transactor:
    """Sends transactions from one signer over one connection."""

    w3: Web3
    signer: Signer
    confirmations: int = 0
    timeout: float = 120.0
    gas_margin: float = 1.2
    poll_latency: float = 0.1
    _nonces: _NonceTracker = field(default_factory=_NonceTracker, repr=False)

    @property
    def address(self) -> ChecksumAddress:
        return self.signer.address

    def send(self, fn: ContractFunction, value: int = 0, gas: int | None = None) -> TxReceipt:
        """Send `fn` as a transaction and wait for its receipt; raise the decoded error on revert."""
        with node_errors(endpoint_of(self.w3)):
            return self._send(fn, value, gas)

    def submit(self, fn: ContractFunction, value: int = 0, gas: int | None = None) -> str:
        """Send `fn` and return its transaction hash at once, without waiting (a relay that answers
        with the hash first); the estimate runs first, so a call that would revert raises here."""
        with node_errors(endpoint_of(self.w3)):
            return self._submit(fn, value, gas)

    def wait(self, tx_hash: str, fn: ContractFunction | None = None) -> TxReceipt:
        """The receipt of a submitted transaction; raise the decoded error if it reverted."""
        with node_errors(endpoint_of(self.w3)):
            return self._wait(tx_hash, fn)

    def _send(self, fn: ContractFunction, value: int, gas: int | None) -> TxReceipt:
        return self._wait(self._submit(fn, value, gas), fn)

    def _submit(self, fn: ContractFunction, value: int, gas: int | None) -> str:
        params: TxParams = {"from": self.address, "value": Wei(value)}
        with decoded_reverts():
            estimate = fn.estimate_gas(params)
        params["gas"] = gas or self._with_margin(estimate)
        if self.signer.can_sign:
            tx_hash = self._send_signed(lambda p: fn.build_transaction(p), params)
        else:
            with decoded_reverts():
                tx_hash = fn.transact(params).to_0x_hex()
        return tx_hash

    def deploy(self, abi: Any, bytecode: str, *args: Any) -> TxReceipt:
        """Deploy a contract and wait for its receipt (`contractAddress`)."""
        with node_errors(endpoint_of(self.w3)):
            return self._deploy(abi, bytecode, *args)

    def _deploy(self, abi: Any, bytecode: str, *args: Any) -> TxReceipt:
        factory = self.w3.eth.contract(abi=abi, bytecode=bytecode)
        constructor = factory.constructor(*args)
        params: TxParams = {"from": self.address}
        with decoded_reverts():
            estimate = constructor.estimate_gas(params)
        params["gas"] = self._with_margin(estimate)
        if self.signer.can_sign:
            tx_hash = self._send_signed(lambda p: constructor.build_transaction(p), params)
        else:
            with decoded_reverts():
                tx_hash = constructor.transact(params).to_0x_hex()
        return self._wait(tx_hash, None)

    def _with_margin(self, estimate: int) -> int:
        limit = int(self.w3.eth.get_block("latest")["gasLimit"])
        return min(int(estimate * self.gas_margin) + 10_000, limit)

    def fees(self) -> dict[str, int]:
        """EIP-1559 fee fields: twice the current base fee plus the node's priority fee."""
        base = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0))
        try:
            priority = int(self.w3.eth.max_priority_fee)
        except Exception:
            priority = DEFAULT_PRIORITY_FEE if base else 0
        return {"maxFeePerGas": 2 * base + priority, "maxPriorityFeePerGas": priority}

    def _send_signed(self, build: Callable[[TxParams], TxParams], params: TxParams) -> str:
        tracker = self._nonces
        with tracker.lock:
            # Under the lock, the node's pending count already includes every transaction this
            # transactor sent before (send_raw_transaction returned), so it is the next nonce. A
            # local counter is kept only to notice a node that lags behind its own pool.
            nonce: int = self.w3.eth.get_transaction_count(self.address, "pending")
            if tracker.next_nonce is not None and tracker.last_hash and nonce < tracker.next_nonce:
                nonce = tracker.next_nonce if self._known(tracker.last_hash) else nonce
            tx = build(cast(TxParams, {**params, **self.fees(), "nonce": nonce, "chainId": self.w3.eth.chain_id}))
            raw = self.signer.sign_transaction(dict(tx))
            try:
                with decoded_reverts():
                    tx_hash = self.w3.eth.send_raw_transaction(raw).to_0x_hex()
            except Exception:
                tracker.next_nonce = None
                raise
            tracker.next_nonce = nonce + 1
            tracker.last_hash = tx_hash
            return tx_hash

    def _known(self, tx_hash: str) -> bool:
        try:
            self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except Exception:
            return False
        return True

    def _wait(self, tx_hash: str, fn: ContractFunction | None) -> TxReceipt:
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(
                tx_hash,  # type: ignore[arg-type]
                timeout=self.timeout,
                poll_latency=self.poll_latency,
            )
        except Exception as exc:
            raise ChainError(f"no receipt for {tx_hash}: {exc}") from exc
        if receipt["status"] != 1:
            raise self._replay_error(tx_hash, receipt, fn)
        self._await_confirmations(receipt)
        return receipt

    def _replay_error(self, tx_hash: str, receipt: TxReceipt, fn: ContractFunction | None) -> TransactionReverted:
        """Recover a mined, reverted transaction's error: from the node's trace when it has one
        (exact, even when an earlier transaction of the same block caused the revert), else by
        re-running it as a call on the parent state."""
        traced = self._traced_revert(tx_hash)
        if traced is not None:
            return traced
        if fn is not None:
            try:
                call(fn, self.address, block=max(int(receipt["blockNumber"]) - 1, 0))
            except TransactionReverted as exc:
                exc.tx_hash = tx_hash
                return exc
            except Exception:
                pass
        return TransactionReverted(f"transaction {tx_hash} reverted", tx_hash=tx_hash)

    def _traced_revert(self, tx_hash: str) -> TransactionReverted | None:
        """The revert data of `tx_hash` from debug_traceTransaction's callTracer (anvil, geth), if served."""
        try:
            response = self.w3.provider.make_request(
                "debug_traceTransaction",  # type: ignore[arg-type]
                [tx_hash, {"tracer": "callTracer"}],
            )
        except Exception:
            return None
        result = response.get("result") if isinstance(response, dict) else None
        output = result.get("output") if isinstance(result, dict) else None
        if not isinstance(output, str) or not output.startswith("0x") or len(output) < 10:
            return None
        try:
            return decode_revert(bytes.fromhex(output[2:]), tx_hash)
        except ValueError:
            return None

    def _await_confirmations(self, receipt: TxReceipt) -> None:
        if self.confirmations <= 0:
            return
        target = int(receipt["blockNumber"]) + self.confirmations
        deadline = time.monotonic() + self.timeout
        while self.w3.eth.block_number < target:
            if time.monotonic() > deadline:
                raise ChainError(f"{self.confirmations} confirmations not reached within {self.timeout}s")
            time.sleep(self.poll_latency)
