"""Connections: the in-process eth-tester chain, or any JSON-RPC endpoint."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from web3 import Web3

from radledger.chain.errors import ChainError, ConfigurationError

DEFAULT_START_TIMESTAMP = 1_900_000_000
"""A fixed genesis time (2030-03-17) for reproducible runs: later blocks add one second each."""

GAS_ESTIMATOR_ENV = "GAS_ESTIMATOR_BACKEND_FUNC"
"""py-evm's variable naming the gas estimator function (a dotted path) of chains built from then on."""


def in_process_chain(start_timestamp: int | None = None, accounts: int = 10) -> Web3:
    """A fresh in-process chain (eth-tester on py-evm, Prague rules) with funded test accounts.

    With `start_timestamp`, genesis takes that time and every block adds one second (while the
    wall clock is behind it), so timestamps and gas figures repeat exactly from run to run.
    """
    try:
        from eth_tester import EthereumTester, PyEVMBackend
    except ImportError as exc:  # pragma: no cover - eth-tester is a dependency
        raise ConfigurationError("the in-process chain needs eth-tester[py-evm]") from exc
    from web3 import EthereumTesterProvider

    overrides = {"gas_limit": 30_000_000}
    if start_timestamp is not None:
        overrides["timestamp"] = start_timestamp
    params = PyEVMBackend.generate_genesis_params(overrides=overrides)
    state = PyEVMBackend.generate_genesis_state(num_accounts=accounts)
    backend = PyEVMBackend(genesis_parameters=params, genesis_state=state)
    return Web3(EthereumTesterProvider(EthereumTester(backend)))


@contextmanager
def gas_estimator(function: str) -> Iterator[None]:
    """Select the gas estimator `function` (a dotted path) for in-process chains built inside the block.

    py-evm reads the variable when a chain object is built (``Chain.__init__`` calls
    ``eth.estimators.get_gas_estimator()``), and eth-tester rebuilds its chain object on some
    reverts, so the variable stays set for the whole block and is restored afterwards.
    """
    previous = os.environ.get(GAS_ESTIMATOR_ENV)
    os.environ[GAS_ESTIMATOR_ENV] = function
    try:
        yield
    finally:
        if previous is None:
            del os.environ[GAS_ESTIMATOR_ENV]
        else:
            os.environ[GAS_ESTIMATOR_ENV] = previous


def tester_private_keys(w3: Web3) -> list[bytes]:
    """The private keys of the in-process chain's funded accounts, in account order."""
    backend = getattr(getattr(w3.provider, "ethereum_tester", None), "backend", None)
    keys = getattr(backend, "account_keys", None)
    if keys is None:
        raise ConfigurationError("not an in-process chain: its account keys are unknown")
    return [key.to_bytes() for key in keys]


def connect(rpc_url: str, timeout: float = 30.0, expected_chain_id: int | None = None) -> Web3:
    """Connect to a JSON-RPC endpoint (http(s)://) and check that it answers.

    With `expected_chain_id`, a node of another chain is refused before anything is sent.
    """
    if not rpc_url.startswith(("http://", "https://")):
        raise ConfigurationError(f"unsupported RPC URL {rpc_url!r}: use http:// or https://")
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    try:
        chain_id = w3.eth.chain_id
    except Exception as exc:
        raise ChainError(f"cannot reach the node at {rpc_url}: {exc}") from exc
    if expected_chain_id is not None and chain_id != expected_chain_id:
        raise ConfigurationError(f"node at {rpc_url} is chain {chain_id}, expected {expected_chain_id}")
    return w3


def is_in_process(w3: Web3) -> bool:
    """Whether `w3` talks to the in-process eth-tester chain."""
    return hasattr(w3.provider, "ethereum_tester")


def time_travel(w3: Web3, seconds: int) -> int:
    """Move the in-process chain `seconds` forward: mines a block whose timestamp is the latest
    block's plus `seconds` (nothing for 0); returns that timestamp, which views now see."""
    if seconds < 0:
        raise ValueError("time only moves forward")
    target = int(w3.eth.get_block("latest")["timestamp"]) + seconds
    if seconds:
        # eth-tester mines the block at one second before the time asked (the pending block gets it).
        w3.provider.ethereum_tester.time_travel(target + 1)  # type: ignore[attr-defined]
    return target
