"""Integration fixtures: a real anvil node from node_modules on 127.0.0.1, on a free port.

Every test here is marked `integration`; without node_modules/.bin/anvil they are skipped
with the reason. The node is started by a fixture and stopped (its whole process group)
when the fixture ends; nothing listens anywhere but the loopback interface.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from radledger.chain.connection import connect
from radledger.chain.signers import KeySigner
from radledger.chain.transactions import Transactor

ROOT = Path(__file__).resolve().parents[2]
ANVIL = ROOT / "node_modules" / ".bin" / "anvil"
MNEMONIC = "test test test test test test test test test test test junk"
"""anvil's default (public) test mnemonic: its accounts hold test ETH on the local node only."""
CHAIN_ID = 31337


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    skip = pytest.mark.skip(reason=f"anvil is not installed at {ANVIL} (run `npm ci` at the project root)")
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)
            if not ANVIL.exists():
                item.add_marker(skip)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dev_key(index: int) -> KeySigner:
    """Account `index` of anvil's test mnemonic."""
    Account.enable_unaudited_hdwallet_features()
    return KeySigner(Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}"))


class AnvilNode:
    """One anvil process; `state` (a file) makes it dump its chain on stop and load it on start."""

    def __init__(self, state: Path | None = None, port: int | None = None) -> None:
        self.state = state
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *extra: str) -> AnvilNode:
        args = [str(ANVIL), "--host", "127.0.0.1", "--port", str(self.port), "--silent", "--hardfork", "prague"]
        if self.state is not None:
            args += ["--state", str(self.state)]
        self.process = subprocess.Popen(
            [*args, *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"anvil exited with {self.process.returncode} on port {self.port}")
            try:
                if self.rpc("eth_chainId") == hex(CHAIN_ID):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"anvil did not answer on {self.url}")

    def rpc(self, method: str, *params: object) -> object:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
        request = urllib.request.Request(self.url, body, {"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())["result"]

    def stop(self, crash: bool = False) -> None:
        """SIGTERM to the node's process group (anvil dumps its state), SIGKILL if it lingers.

        `crash`: SIGKILL at once, so nothing is written (a node that dies). The whole group is
        signalled: node_modules/.bin/anvil is a wrapper that runs the real binary as a child.
        """
        process, self.process = self.process, None
        if process is None:
            return
        graceful = self.state is not None and not crash  # without a state file there is nothing to write
        self._signal_group(process.pid, signal.SIGTERM if graceful else signal.SIGKILL)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        # The wrapper may exit before the binary has written its state: wait for the group to go.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not self._signal_group(process.pid, 0):
                return
            time.sleep(0.05)
        self._signal_group(process.pid, signal.SIGKILL)

    @staticmethod
    def _signal_group(pgid: int, sig: int) -> bool:
        """Signal the process group `pgid` (the node's own session); False when it is gone."""
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return False
        return True

    def w3(self) -> Web3:
        return connect(self.url, expected_chain_id=CHAIN_ID)

    def transactor(self, index: int, **kwargs: object) -> Transactor:
        return Transactor(self.w3(), dev_key(index), poll_latency=0.01, timeout=30, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def anvil() -> Iterator[AnvilNode]:
    """One node for the tests that do not stop it; each deploys into its own manifest folder."""
    node = AnvilNode().start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def own_anvil(tmp_path: Path) -> Iterator[AnvilNode]:
    """A node of this test only, keeping its chain in a state file across restarts."""
    node = AnvilNode(state=tmp_path / "anvil-state.json")
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def anvil_env(anvil: AnvilNode, monkeypatch: pytest.MonkeyPatch) -> AnvilNode:
    """The environment `radledger deploy --network anvil` reads: the node's URL and the deployer's key."""
    monkeypatch.setenv("ANVIL_RPC_URL", anvil.url)
    monkeypatch.setenv("RADLEDGER_DEPLOYER_KEY", "0x" + dev_key(0).account.key.hex())
    return anvil
